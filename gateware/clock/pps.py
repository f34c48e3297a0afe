"""The PPS output: a pulse at every wallclock second boundary.

A lab measures PTP accuracy by comparing this pin with a reference receiver's PPS on a scope or
a time-interval counter, so the rising edge must be the edge of the ``sync`` clock at which the
published ``time`` enters a new second, and nothing else may move it.

Exactness: the wallclock publishes ``time_next``, the value ``time`` takes after the next rising
edge (see the wallclock's contract). `PpsGenerator` registers ``time_next.ns < width_ns``, so in
every cycle ``pps == (time.ns < width_ns)``: the output changes at the very edge at which
``time`` crosses the second (or the end of the pulse). That edge is the first edge whose
wallclock time is at or past the boundary, so it follows the true boundary by less than one
tick (``[0, P)`` with ``P`` the clock period, 8 ns at 125 MHz), plus the pad's output delay.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..ptp_time import NS_BITS, PtpTime

__all__ = ["PpsGenerator"]


class PpsGenerator(wiring.Component):
    """PPS pulse and a once-per-second interrupt strobe from the wallclock.

    Clock domain: ``sync``. Ports:

    - ``time_next``, ``time`` (in, `PtpTime`): the wallclock's outputs of the same names.
    - ``width_ns`` (in, 30 bits): pulse width in nanoseconds; 0 keeps ``pps`` low, a width of
      `NS_PER_SEC` or more keeps it high.
    - ``pps`` (out, registered): ``time.ns < width_ns`` in every cycle (from the second cycle
      after reset on). Rises at the edge where ``time`` enters a new second, also when a jump
      lands in the first ``width_ns`` of a second; a jump can therefore shorten or lengthen the
      pulse around it. A change of ``width_ns`` shows one cycle later.
    - ``second`` (out, registered): high for one cycle in every cycle in which ``time.sec``
      differs from the previous cycle's: each second boundary, and each jump that changes the
      seconds (in either direction). For the CLOCK PPS interrupt.

    Latency: none with respect to ``time``; both outputs are registered from ``time_next``.
    Hazards: none (one domain). Logic: a 30-bit comparator and a 48-bit equality comparator.
    """

    time_next: In(PtpTime)
    time: In(PtpTime)
    width_ns: In(NS_BITS)
    pps: Out(1)
    second: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [
            self.pps.eq(self.time_next.ns < self.width_ns),
            # time_next.sec is the seconds of the next cycle, time.sec those of this one.
            self.second.eq(self.time_next.sec != self.time.sec),
        ]
        return m
