"""The wallclock in a PHY clock domain: a local replica, re-aligned to ``sync`` continually.

Frame timestamps are taken in the PHY's clock domain, next to the wire (`SfdTimestamper`), so
that domain needs the time. The PHY clocks (GMII/RGMII receive and transmit, 125 MHz; MII,
25 MHz; RMII, 50 MHz) are not related to ``sync``: other frequencies, other crystals. `PhyTime`
runs a copy of the wallclock there that advances by the PHY clock's nominal period every cycle
and is reloaded from ``sync`` through a toggle handshake as often as the handshake allows.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..ptp_time import NS_PER_SEC, PtpTime, ptp_add_ns

__all__ = ["PhyTime"]


class PhyTime(wiring.Component):
    """A replica of the ``sync`` wallclock in the PHY clock domain `domain`.

    Parameters: `period_ps`, the PHY clock's nominal period; `sync_period_ps`, the ``sync``
    clock's nominal period (both integer picoseconds; they only set the latency compensation).

    Ports:

    - ``sync_time`` (in, `PtpTime`, ``sync``): the wallclock, the time of the current ``sync``
      cycle (the stand-in `FreeRunningWallclock`'s ``time``, or the real wallclock's; any
      register between them delays the replica by its period).
    - ``time`` (out, `PtpTime`, `domain`, registered): the replica, the time of the rising edge
      that starts the current PHY cycle.
    - ``aligned`` (out, `domain`): high from the first re-alignment on; ``time`` counts from
      zero before that.

    How: ``sync`` copies ``sync_time`` into a holding register and toggles ``req``; ``req``
    crosses to `domain` through a two-stage `FFSynchronizer`; the cycle after the toggle arrives
    the replica loads the held time plus the nominal latency of the crossing, and toggles
    ``ack``, which crosses back the same way and lets ``sync`` take the next sample. Between
    loads the replica adds `period_ps` per cycle (a picosecond remainder is carried). The
    held time is read at least two PHY cycles after it was written and stays put until the
    acknowledgement is back, so it needs no synchroniser of its own: constrain its path to
    at most two PHY periods (a max-delay / false-path constraint on ``sample``). A re-alignment
    happens every ``3 * P + 3 * S`` or so (``P``, ``S``: PHY and ``sync`` periods), for any
    ratio of the clocks: equal, unrelated, either one faster.

    Accuracy, against the wallclock ``W`` (``W`` of an instant ``t`` being the exact time the
    wallclock's law gives; ``sync_time`` is ``W`` of its cycle's edge): the sample written at the
    ``sync`` edge ``A`` is ``W(A) - S`` (the value of the cycle before). The first PHY edge after
    ``A`` captures the toggle at ``A + d``, ``0 < d <= P`` (a metastable first stage that
    settles to the old value moves this to the next edge: ``d`` up to ``P`` plus the flop's
    aperture, still a window of one period); the second stage passes it on at ``+ P``, and the
    replica loads at the edge ``L = A + d + 2 * P``, where ``W(L) = W(A) + d + 2 * P``. The
    replica loads ``W(A) - S + C`` with ``C = S + 2 * P + P / 2`` (`compensation_ps`), so::

        time - W  =  P / 2 - d,    in  [-P / 2, P / 2)

    and every following cycle adds ``P``, against a PHY clock whose true period differs from
    its nominal one by its frequency error ``e`` (ppm of both crystals, against the
    disciplined wallclock): ``|time - W|`` grows by ``e * P`` per cycle, i.e. by at most
    ``e * 4 * (P + S)`` before the next load (0.2 ps at GMII with ``e`` = 200 ppm). The
    replica's own output is floored to whole nanoseconds (exact if `period_ps`,
    `sync_period_ps` and the wallclock's steps are whole nanoseconds), and a wallclock that
    floors a finer count hands over up to 1 ns less. Altogether, ``time - W`` stays within
    ``[-P / 2 - q, P / 2 + e * 4 * (P + S)]`` with ``q`` the quantisations (0 to 2 ns): the
    spread around the constant is one PHY period, plus drift and quantisation. With clocks of
    the same frequency and phase, ``d`` is constant and so is the error. Often ``d`` varies
    over less than ``P``: the handshake ties the sampling edge ``A`` to the PHY clock to within
    one ``sync`` period, so when ``S < P`` and that window does not straddle a PHY edge the
    spread is below ``S``.

    Hazards: the sample crosses without a synchroniser (see above); resets of either side
    only cost a round of the handshake (it recovers by itself, it never stalls).
    """

    def __init__(self, *, domain, period_ps, sync_period_ps):
        for name, value in (("period_ps", period_ps), ("sync_period_ps", sync_period_ps)):
            if not isinstance(value, int) or not 0 < value < 1_000_000:
                raise ValueError(f"{name} must be a positive integer below 1 us, not {value!r}")
        if domain == "sync":
            raise ValueError("PhyTime crosses from sync into another domain; use the wallclock")
        self._domain = domain
        self.period_ps = period_ps
        self.sync_period_ps = sync_period_ps
        #: Picoseconds added to the held sample when it is loaded.
        self.compensation_ps = sync_period_ps + 2 * period_ps + period_ps // 2
        super().__init__({
            "sync_time": In(PtpTime),
            "time": Out(PtpTime),
            "aligned": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        dom = self._domain

        # sync side: a new sample whenever the previous one has been acknowledged.
        sample = Signal(PtpTime)
        req = Signal()
        ack = Signal()                           # PHY domain
        ack_sync = Signal()
        m.submodules.ack_cdc = FFSynchronizer(ack, ack_sync, o_domain="sync")
        with m.If(req == ack_sync):
            m.d.sync += [sample.eq(self.sync_time), req.eq(~req)]

        # PHY side: load on the toggle, else advance.
        req_phy = Signal()
        m.submodules.req_cdc = FFSynchronizer(req, req_phy, o_domain=dom)
        load = Signal()
        m.d.comb += load.eq(req_phy != ack)
        m.d[dom] += ack.eq(req_phy)
        with m.If(load):
            m.d[dom] += self.aligned.eq(1)

        step_ns, step_ps = divmod(self.period_ps, 1000)
        comp_ns, comp_ps = divmod(self.compensation_ps, 1000)
        fraction = Signal(range(1000))           # picoseconds beyond time.ns
        total_ps = Signal(range(2000))
        carry = Signal()
        m.d.comb += [
            total_ps.eq(Mux(load, comp_ps, fraction + step_ps)),
            carry.eq(total_ps >= 1000),
        ]
        # One adder for both cases: the base and the increment are multiplexed in front of it.
        base = Signal(PtpTime)
        m.d.comb += base.eq(Mux(load, sample, self.time))
        assert comp_ns + 1 < NS_PER_SEC
        increment = Mux(load, comp_ns, step_ns) + carry
        m.d[dom] += [
            fraction.eq(total_ps - carry * 1000),
            self.time.eq(ptp_add_ns(m, base, increment, name="next")),
        ]
        return m
