"""The event-capture input: stamps an edge at an input pin with the wallclock.

The counterpart of the PPS output: feed a reference PPS (a GNSS receiver's, another PTP
device's) into the pin and read the stamps to see the offset between the two time bases.

What is stamped: the pin is asynchronous, so it passes through a `FFSynchronizer` of `stages`
flip-flops and then an edge detector. Let ``E0`` be the rising edge of the ``sync`` clock that
first samples the new level into the synchroniser. The detector sees the edge in the cycle that
starts at ``E0 + L * P`` (``L = stages - 1`` cycles of synchroniser latency, ``P`` the nominal
clock period), where ``time`` reads ``W(E0 + L * P)``. The stamp is that ``time`` minus
``offset_ns = round(L * P)`` nanoseconds, i.e. ``W(E0)``: the wallclock time of the clock edge
that first sampled the new level. The true edge lies in the period before ``E0``, so::

    stamp - t_edge  in  [0, P)

Error terms beyond that window:

- ``L * P`` is not a whole number of nanoseconds when the clock period is not (e.g. 6.4 ns at
  156.25 MHz): ``offset_ns`` is rounded to the nearest, an error of at most 0.5 ns.
- The wallclock's frequency correction: between ``E0`` and the detection cycle the wallclock
  advances ``L`` periods of its corrected rate, not exactly ``L * P``; at the correction's limit
  (about +-2000 ppm) and ``L`` = 1..3 at 8 ns that is at most 0.05 ns.
- A wallclock that publishes whole nanoseconds of a finer count floors its time: up to 1 ns.
- Metastability: a level change very close to ``E0`` may settle only at the next edge, so
  the stamp is one period late; still within one tick of the true edge, as the window above
  is one period wide at either edge.

A wallclock jump between ``E0`` and the detection cycle stamps the edge in the new timescale
(it is ``time`` after the jump minus the latency).
"""

from fractions import Fraction

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..ptp_time import NS_PER_SEC, PtpTime, ptp_add_ns

__all__ = ["EventCapture"]


class EventCapture(wiring.Component):
    """Stamps rising (or falling) edges of an asynchronous pin with the wallclock.

    Parameters: `sys_clk_hz`, the nominal ``sync`` frequency (an integer or a `Fraction`; only
    the latency compensation depends on it); `stages`, the synchroniser's length (>= 2).

    Clock domain: ``sync`` (``pin`` is asynchronous). Ports:

    - ``pin`` (in, asynchronous): the input. Each level must last at least one clock period
      (plus the flip-flop's setup and hold time) to be seen; shorter pulses may be missed.
    - ``time`` (in, `PtpTime`): the wallclock's ``time``.
    - ``enable`` (in): stamp edges; edges while low are ignored (not counted).
    - ``falling`` (in): 1 stamps falling edges, 0 rising ones. Changing it creates no edge.
    - ``stamp`` (out, `PtpTime`): the wallclock time of the clock edge that first sampled the
      new level (see the module docstring: ``stamp - t_edge`` is in ``[0, P)``).
    - ``count`` (out, 32 bits): edges stamped since reset; wraps.
    - ``event`` (out): high for one cycle when ``stamp`` and ``count`` are new.

    Latency: ``event`` is high in the cycle that starts ``stages`` clock edges after ``E0``
    (the edge that first sampled the new level). Attributes: ``latency_cycles`` (``stages -
    1``, the cycles from ``E0`` to the detection cycle) and ``offset_ns`` (what is subtracted).
    Logic: the synchroniser, a flop for the edge detector, a `ptp_add_ns` of a constant and the
    32-bit counter.
    """

    pin: In(1)
    time: In(PtpTime)
    enable: In(1)
    falling: In(1)
    stamp: Out(PtpTime)
    count: Out(32)
    event: Out(1)

    def __init__(self, *, sys_clk_hz, stages=2):
        sys_clk_hz = Fraction(sys_clk_hz)
        if not 0 < sys_clk_hz <= 2 * NS_PER_SEC:
            raise ValueError(f"sys_clk_hz must be positive and at most 2 GHz, not {sys_clk_hz}")
        if not isinstance(stages, int) or stages < 2:
            raise ValueError(f"stages must be an integer >= 2, not {stages!r}")
        self.sys_clk_hz = sys_clk_hz
        self.stages = stages
        self.latency_cycles = stages - 1
        exact = Fraction(self.latency_cycles * NS_PER_SEC) / sys_clk_hz
        if exact >= NS_PER_SEC:
            raise ValueError("the synchroniser's latency must stay below one second")
        #: Nanoseconds subtracted from ``time`` of the detection cycle (nearest, halves up).
        self.offset_ns = int(exact + Fraction(1, 2))
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        level = Signal()
        m.submodules.pin_cdc = FFSynchronizer(self.pin, level, stages=self.stages)
        previous = Signal()
        m.d.sync += previous.eq(level)
        edge = Mux(self.falling, previous & ~level, level & ~previous)

        # The sum is combinational from the wallclock's register into ours: one adder stage.
        stamp = self.time
        if self.offset_ns:
            stamp = ptp_add_ns(m, self.time, -self.offset_ns, name="stamp_sum")
        m.d.sync += self.event.eq(0)
        with m.If(edge & self.enable):
            m.d.sync += [
                self.event.eq(1),
                self.count.eq(self.count + 1),
                self.stamp.eq(stamp),
            ]
        return m
