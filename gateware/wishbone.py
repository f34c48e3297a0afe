"""The register bus: Wishbone B4 classic, 32-bit data, word addresses, byte selects.

This is the bus LiteX attaches at a fixed base (LiteX's own Wishbone is word addressed with the
same signal set) and the bus the SPI bridge masters in the CPU-less variant.

Classic cycle: the master holds ``cyc``, ``stb``, ``adr``, ``we``, ``sel`` and ``dat_w`` until the
slave answers with ``ack`` (or ``err``) for exactly one cycle; the master then drops ``stb`` or
starts the next access. No pipelining, no burst tags.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Signature", "DATA_WIDTH", "SEL_WIDTH"]

DATA_WIDTH = 32
SEL_WIDTH = DATA_WIDTH // 8


class Signature(wiring.Signature):
    """Wishbone B4 classic, seen from the master (flip it for a slave).

    `addr_width` counts 32-bit words: byte address = ``adr << 2``.
    """

    def __init__(self, addr_width):
        if addr_width < 1:
            raise ValueError("addr_width must be at least 1")
        self.addr_width = addr_width
        super().__init__({
            "cyc": Out(1),
            "stb": Out(1),
            "we": Out(1),
            "adr": Out(addr_width),
            "sel": Out(SEL_WIDTH),
            "dat_w": Out(DATA_WIDTH),
            "dat_r": In(DATA_WIDTH),
            "ack": In(1),
            "err": In(1),
        })

    def __eq__(self, other):
        return isinstance(other, Signature) and self.addr_width == other.addr_width

    def __hash__(self):
        return hash((Signature, self.addr_width))

    def __repr__(self):
        return f"wishbone.Signature({self.addr_width})"
