"""A small unsigned divider that produces one quotient bit per cycle.

The clock blocks divide rarely (when the frequency correction, the slew or the sample rate
changes, or after the time jumps) and never on a per-cycle path, so a restoring long division
with one subtractor is all they need: a few dozen LUTs instead of a combinational divider that
would not meet timing anyway.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SerialDivider"]


class SerialDivider(wiring.Component):
    """``quotient, remainder = divmod(dividend, divisor)`` over `dividend_width` cycles.

    Clock domain: `domain` (``sync``). Ports:

    - ``start`` (in): one-cycle pulse; ``dividend`` and ``divisor`` are sampled in that cycle
      (they may change afterwards). A ``start`` while ``busy`` restarts the division.
    - ``busy`` (out): high from the cycle after ``start`` until the result is ready.
    - ``done`` (out): one-cycle pulse when ``quotient`` and ``remainder`` are valid;
      they hold until the next ``start``.
    - ``quotient`` (out, `dividend_width` bits), ``remainder`` (out, `divisor_width` bits).
    - ``div_by_zero`` (out): with ``done``, the divisor was zero (quotient all ones,
      remainder the dividend's low bits: meaningless, callers must reject it).

    Latency: ``done`` rises ``dividend_width + 1`` cycles after ``start``.

    How: the dividend sits in a shift register whose top bit moves into the partial remainder
    every cycle; the quotient bit enters at the bottom of the same register, so after
    `dividend_width` shifts it holds the quotient. The partial remainder stays below the divisor,
    so one bit beyond `divisor_width` is enough for the trial subtraction.
    """

    def __init__(self, dividend_width, divisor_width, *, domain="sync"):
        if dividend_width < 1 or divisor_width < 1:
            raise ValueError("widths must be positive")
        self._domain = domain
        self.dividend_width = dividend_width
        self.divisor_width = divisor_width
        super().__init__({
            "start": In(1),
            "dividend": In(dividend_width),
            "divisor": In(divisor_width),
            "busy": Out(1),
            "done": Out(1),
            "quotient": Out(dividend_width),
            "remainder": Out(divisor_width),
            "div_by_zero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        sync = m.d[self._domain]
        divisor = Signal(self.divisor_width)
        partial = Signal(self.divisor_width + 1)
        count = Signal(range(self.dividend_width + 1))
        shifted = Signal(self.divisor_width + 1)
        difference = Signal(self.divisor_width + 2)
        m.d.comb += [
            shifted.eq(Cat(self.quotient[-1], partial[:self.divisor_width])),
            difference.eq(shifted - divisor),
        ]
        fits = ~difference[-1]
        sync += self.done.eq(0)
        with m.If(self.start):
            sync += [
                divisor.eq(self.divisor),
                self.quotient.eq(self.dividend),
                partial.eq(0),
                count.eq(self.dividend_width),
                self.busy.eq(1),
                self.div_by_zero.eq(self.divisor == 0),
            ]
        with m.Elif(self.busy):
            sync += [
                partial.eq(Mux(fits, difference[:-1], shifted)),
                self.quotient.eq(Cat(fits, self.quotient[:-1])),
                count.eq(count - 1),
            ]
            with m.If(count == 1):
                sync += [self.busy.eq(0), self.done.eq(1)]
        m.d.comb += self.remainder.eq(partial)
        return m
