"""Frame timestamps: a stand-in wallclock and an SFD timestamper.

`FreeRunningWallclock` publishes a `PtpTime` in ``sync`` that advances by exactly one clock
period per cycle; it stands in for the PTP wallclock until that exists (anything publishing a
`PtpTime` in ``sync`` replaces it). `PhyTime` (see `time_crossing`) carries that time into a PHY
clock domain, and `SfdTimestamper` latches it there at an `EthernetPort` SFD pulse and moves it
back (receive) or forward (transmit) to the SFD's instant at the pins.

Which instant is stamped, with ``E`` the rising edge that starts the cycle in which ``sfd`` is
high, ``P`` the clock period and ``time`` read in that cycle (so ``time`` is the time of ``E``):

- Receive, ``latency_cycles = SFD_LATENCY + 1`` (the receive adapter's, see `EthernetPort`):
  the stamp is ``E - (SFD_LATENCY + 1) * P``, the rising edge at which the SFD's last symbol
  (GMII: the 0xD5 byte; MII: its D nibble; RMII: its last dibit, 11) was sampled at ``rxd``.
- Transmit, ``latency_cycles = -PIN_LATENCY`` (the transmit adapter's, 1): the stamp is
  ``E + PIN_LATENCY * P``, the rising edge that launches the SFD's first symbol onto ``txd``,
  i.e. the start of the first cycle in which the SFD is on the pins.

Both are clock edges at the FPGA's pins. What lies outside (the PHY's own latency, board delays)
is a calibration in nanoseconds that the crossings into ``sync`` add (`RxCrossing`,
`TxStampCrossing`), as is the difference between the two reference symbols (last SFD symbol
received, first SFD symbol sent), e.g. towards 1588's message timestamp point (the first bit
after the SFD).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..ptp_time import NS_PER_SEC, PtpTime, ns_to_ptp_time, ptp_add_ns

__all__ = ["FreeRunningWallclock", "SfdTimestamper", "latency_ns"]


def latency_ns(latency_cycles, period_ps):
    """``latency_cycles * period_ps`` in nanoseconds, rounded to the nearest, halves away from
    zero (so a latency and its negative round to opposite values). Exact for whole-nanosecond
    periods (8000, 20000, 40000 ps)."""
    ps = latency_cycles * period_ps
    magnitude = (abs(ps) + 500) // 1000
    return magnitude if ps >= 0 else -magnitude


def _check_period(period_ps, name="period_ps"):
    if not isinstance(period_ps, int) or not 0 < period_ps < 1000 * NS_PER_SEC:
        raise ValueError(f"{name} must be a positive integer below one second, not {period_ps!r}")


class FreeRunningWallclock(wiring.Component):
    """A stand-in wallclock: `PtpTime` in `domain`, advancing by exactly `period_ps`
    picoseconds per cycle.

    Ports: ``time`` (out, `PtpTime`, registered): ``init_ns + floor(n * period_ps / 1000)``
    nanoseconds (seconds modulo 2**48) in the cycle that starts ``n`` rising edges after the
    last edge at which the domain's reset was sampled high (``init_ns`` during reset). Whole
    nanoseconds are added every cycle and a picosecond remainder (below 1000) carries the rest,
    so there is no drift; nanoseconds carry into seconds at `NS_PER_SEC`.
    """

    def __init__(self, *, domain="sync", period_ps, init_ns=0):
        _check_period(period_ps)
        self._domain = domain
        self.period_ps = period_ps
        self.init_ns = init_ns
        super().__init__({"time": Out(PtpTime, init=ns_to_ptp_time(init_ns))})

    def elaborate(self, platform):
        m = Module()
        step_ns, step_ps = divmod(self.period_ps, 1000)
        if step_ps == 0:
            m.d[self._domain] += self.time.eq(ptp_add_ns(m, self.time, step_ns, name="next"))
            return m
        remainder = Signal(range(1000))
        total = Signal(range(2000))
        carry = Signal()
        m.d.comb += [total.eq(remainder + step_ps), carry.eq(total >= 1000)]
        m.d[self._domain] += remainder.eq(total - carry * 1000)
        # step_ns + carry stays below NS_PER_SEC: the period is below one second.
        m.d[self._domain] += self.time.eq(ptp_add_ns(m, self.time, step_ns + carry, name="next"))
        return m


class SfdTimestamper(wiring.Component):
    """Latches ``time`` at an SFD pulse, compensated to the SFD's instant at the pins.

    Ports (all in `domain`, a PHY clock domain): ``sfd`` (in, one-cycle pulse), ``time`` (in,
    `PtpTime`: the time of the current cycle, e.g. `PhyTime`'s); ``stamp`` (out, `PtpTime`,
    registered; holds the last stamp) and ``stamp_valid`` (out, registered: high for one cycle,
    the cycle after ``sfd``, when ``stamp`` is new).

    ``stamp = time - latency_ns(latency_cycles, period_ps)`` with the borrow (or carry) into
    seconds, ``time`` as it was in the ``sfd`` cycle. `latency_cycles` is signed: how many
    cycles the pin instant lies *before* the ``sfd`` cycle. Use ``SFD_LATENCY + 1`` for
    ``status.rx.sfd`` and ``-PIN_LATENCY`` for ``status.tx.sfd``; the instants stamped are in
    the module docstring. Board calibration is added behind the crossing into ``sync``.
    """

    def __init__(self, *, domain="sync", latency_cycles, period_ps):
        _check_period(period_ps)
        self._domain = domain
        self.latency_cycles = latency_cycles
        self.period_ps = period_ps
        self.latency_ns = latency_ns(latency_cycles, period_ps)
        super().__init__({
            "sfd": In(1),
            "time": In(PtpTime),
            "stamp": Out(PtpTime),
            "stamp_valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        if self.latency_ns == 0:
            # Nothing to move: a plain capture (callers may fold the latency in elsewhere).
            compensated = self.time
        else:
            compensated = ptp_add_ns(m, self.time, -self.latency_ns, name="compensated")
        m.d[self._domain] += self.stamp_valid.eq(self.sfd)
        with m.If(self.sfd):
            m.d[self._domain] += self.stamp.eq(compensated)
        return m
