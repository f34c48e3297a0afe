"""Interrupt controller: latches source events, masks them, drives one level-sensitive output."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import STAGEBOX_MAP

from .regbank import block_signature

__all__ = ["InterruptController"]


class InterruptController(wiring.Component):
    """IRQ_STATUS shows ``sources``; a rising source sets its IRQ_PENDING bit; ``irq`` is high
    while any pending bit is enabled.

    Clock domain ``sync``. Latency: a source's rising edge reaches ``irq`` three cycles later
    (the sources are registered first, so no block's logic reaches into this one's: then the
    pending register, then the registered output). Sources are level or pulse signals already
    in ``sync``; a source held high sets PENDING once, clearing it while the source stays high
    does not re-raise it.
    """

    def __init__(self, regmap=STAGEBOX_MAP):
        width = regmap.block("IRQ").register("STATUS").width
        super().__init__({
            "regs": Out(block_signature(regmap.block("IRQ"))),
            "sources": In(width),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        regs = self.regs
        sources = Signal.like(self.sources)
        previous = Signal.like(self.sources)
        m.d.sync += [sources.eq(self.sources), previous.eq(sources)]
        rising = sources & ~previous
        software = regs.test.as_value() & regs.test_stb.replicate(len(self.sources))
        m.d.comb += [
            regs.status.as_value().eq(sources),
            regs.pending_set.as_value().eq(rising | software),
        ]
        m.d.sync += self.irq.eq((regs.pending.as_value() & regs.enable.as_value()).any())
        return m
