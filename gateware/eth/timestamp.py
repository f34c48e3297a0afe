"""Frame timestamps: a stand-in time source and an SFD timestamper.

`FreeRunningTime` counts nanoseconds from reset, exactly, for any clock period in picoseconds; it
stands in for the PTP wallclock until that exists (anything with a 64-bit ``time_ns`` in the
same domain can replace it). `SfdTimestamper` latches that time at an `EthernetPort` SFD pulse
and moves it back (receive) or forward (transmit) to the SFD's instant at the pins.

Which instant is stamped, with ``E`` the rising edge that starts the cycle in which ``sfd`` is
high, ``P`` the clock period and ``time_ns`` read in that cycle (so ``time_ns`` is the time of
``E``):

- Receive, ``latency_cycles = SFD_LATENCY + 1`` (the receive adapter's, see `EthernetPort`):
  the stamp is ``E - (SFD_LATENCY + 1) * P``, the rising edge at which the SFD's last symbol
  (GMII: the 0xD5 byte; MII: its D nibble; RMII: its last dibit, 11) was sampled at ``rxd``.
- Transmit, ``latency_cycles = -PIN_LATENCY`` (the transmit adapter's, 1): the stamp is
  ``E + PIN_LATENCY * P``, the rising edge that launches the SFD's first symbol onto ``txd``,
  i.e. the start of the first cycle in which the SFD is on the pins.

Both are clock edges at the FPGA's pins; ``correction_ns`` adds what lies outside (the PHY's
own latency, board delays), and the difference between the two reference symbols (last SFD
symbol received, first SFD symbol sent) is the caller's to fold in, e.g. towards 1588's
message timestamp point (the first bit after the SFD).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FreeRunningTime", "SfdTimestamper", "latency_ns"]


def latency_ns(latency_cycles, period_ps):
    """``latency_cycles * period_ps`` in nanoseconds, rounded to the nearest, halves away from
    zero (so a latency and its negative round to opposite values). Exact for whole-nanosecond
    periods (8000, 20000, 40000 ps)."""
    ps = latency_cycles * period_ps
    magnitude = (abs(ps) + 500) // 1000
    return magnitude if ps >= 0 else -magnitude


class FreeRunningTime(wiring.Component):
    """Nanoseconds since reset, in `domain`, advancing by exactly `period_ps` picoseconds per
    cycle.

    Ports: ``time_ns`` (out, 64 bits): ``floor(n * period_ps / 1000)`` in the cycle that starts
    ``n`` rising edges after the last edge at which the domain's reset was sampled high (0
    during reset); wraps modulo 2**64. Whole nanoseconds (``period_ps // 1000``) are added every
    cycle and a picosecond remainder (below 1000) carries the rest, so there is no drift.
    """

    def __init__(self, *, domain="sync", period_ps):
        if not isinstance(period_ps, int) or period_ps <= 0:
            raise ValueError(f"period_ps must be a positive integer, not {period_ps!r}")
        self._domain = domain
        self.period_ps = period_ps
        super().__init__({"time_ns": Out(64)})

    def elaborate(self, platform):
        m = Module()
        step_ns, step_ps = divmod(self.period_ps, 1000)
        if step_ps == 0:
            m.d[self._domain] += self.time_ns.eq(self.time_ns + step_ns)
            return m
        remainder = Signal(range(1000))
        total = Signal(range(2000))
        m.d.comb += total.eq(remainder + step_ps)
        with m.If(total >= 1000):
            m.d[self._domain] += [
                self.time_ns.eq(self.time_ns + step_ns + 1),
                remainder.eq(total - 1000),
            ]
        with m.Else():
            m.d[self._domain] += [
                self.time_ns.eq(self.time_ns + step_ns),
                remainder.eq(total),
            ]
        return m


class SfdTimestamper(wiring.Component):
    """Latches ``time_ns`` at an SFD pulse, compensated to the SFD's instant at the pins.

    Ports (all in `domain`): ``sfd`` (in, one-cycle pulse), ``time_ns`` (in, 64 bits),
    ``correction_ns`` (in, signed 32 bits: board calibration, added to the stamp);
    ``stamp_ns`` (out, 64 bits, registered; holds the last stamp) and ``stamp_valid`` (out,
    registered: high for one cycle, the cycle after ``sfd``, when ``stamp_ns`` is new).

    ``stamp_ns = time_ns - latency_ns(latency_cycles, period_ps) + correction_ns`` (modulo
    2**64), with ``time_ns`` and ``correction_ns`` as they were in the ``sfd`` cycle.
    `latency_cycles` is signed: how many cycles the pin instant lies *before* the ``sfd`` cycle.
    Use ``SFD_LATENCY + 1`` for ``status.rx.sfd`` and ``-PIN_LATENCY`` for ``status.tx.sfd``;
    the instants stamped are in the module docstring.
    """

    def __init__(self, *, domain="sync", latency_cycles, period_ps):
        if not isinstance(period_ps, int) or period_ps <= 0:
            raise ValueError(f"period_ps must be a positive integer, not {period_ps!r}")
        self._domain = domain
        self.latency_cycles = latency_cycles
        self.period_ps = period_ps
        self.latency_ns = latency_ns(latency_cycles, period_ps)
        super().__init__({
            "sfd": In(1),
            "time_ns": In(64),
            "correction_ns": In(32),
            "stamp_ns": Out(64),
            "stamp_valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        # One signed adjustment, then a 64-bit add that wraps like the time does.
        adjust = Signal(range(-2**33, 2**33))
        m.d.comb += adjust.eq(self.correction_ns.as_signed() - self.latency_ns)
        m.d[self._domain] += self.stamp_valid.eq(self.sfd)
        with m.If(self.sfd):
            m.d[self._domain] += self.stamp_ns.eq(self.time_ns + adjust)
        return m
