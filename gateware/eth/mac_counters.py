"""MAC statistics: the counters of `stagebox.regmap.map.MAC_COUNTERS`, in the ``sync`` domain.

Each counter has an event input (one-cycle pulse, ``sync``); events in PHY clock domains are
brought over with `amaranth.lib.cdc.PulseSynchronizer` by the caller. Traffic counters (32 bits)
wrap; error counters (16 bits) saturate at all ones, so a flood of errors never wraps to a small
number that looks healthy.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import MAC_COUNTERS

__all__ = ["MacCounters"]


class MacCounters(wiring.Component):
    """One counter per entry of `MAC_COUNTERS`.

    Ports (``sync``): ``events`` (in, one bit per counter, named after it in lower case: pulse
    to count one), ``clear`` (in: zero all; an event in the same cycle is lost to the clear),
    ``values`` (out, one member per counter, its width). Latency: a value includes an event
    from the next cycle on.
    """

    def __init__(self):
        super().__init__({
            "events": In(wiring.Signature({n.lower(): Out(1) for n, _, _ in MAC_COUNTERS})),
            "clear": In(1),
            "values": Out(wiring.Signature({n.lower(): Out(w) for n, w, _ in MAC_COUNTERS})),
        })

    def elaborate(self, platform):
        m = Module()
        for name, width, _ in MAC_COUNTERS:
            value = getattr(self.values, name.lower())
            event = getattr(self.events, name.lower())
            with m.If(self.clear):
                m.d.sync += value.eq(0)
            with m.Elif(event & ((width == 32) | (value != (1 << width) - 1))):
                m.d.sync += value.eq(value + 1)
        return m
