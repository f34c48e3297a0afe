"""Splits the register bus between the register bank and the memory windows.

The bank decodes every register itself; memory windows (the control-plane packet buffers) are
answered by the block that owns the memory. `BusDecoder` routes each access by address.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import wishbone

__all__ = ["BusDecoder"]


class BusDecoder(wiring.Component):
    """Wishbone B4 classic decoder: one master, the bank and N windows.

    `windows` is a sequence of ``(name, base, size)`` in bytes (size a power of two dividing
    base); each gets a slave port of that name whose ``adr`` counts words from the window's
    base. Every other address goes to ``bank``. Ports: ``bus`` (from the master), ``bank``
    (to the register bank, full addresses) and one port per window.

    Clock domain: none (combinational). Latency: none added: ``ack``, ``err`` and ``dat_r`` come
    straight from the selected slave. Hazard: a slave must only answer while its ``cyc`` is
    high; the decoder keeps ``cyc``/``stb`` low on the slaves not addressed.
    """

    def __init__(self, addr_width, windows):
        self.addr_width = addr_width
        self.windows = []
        for name, base, size in windows:
            if size & (size - 1) or base % size or size % 4:
                raise ValueError(f"window {name}: size must be a power of two dividing the base")
            self.windows.append((name, base, size))
        members = {
            "bus": In(wishbone.Signature(addr_width)),
            "bank": Out(wishbone.Signature(addr_width)),
        }
        for name, _, size in self.windows:
            members[name] = Out(wishbone.Signature(max(1, (size // 4 - 1).bit_length())))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        slaves = []
        for name, base, size in self.windows:
            port = getattr(self, name)
            hit = Signal(name=f"{name}_hit")
            word_bits = (size // 4 - 1).bit_length()
            m.d.comb += hit.eq((bus.adr >> word_bits) == (base >> (2 + word_bits)))
            m.d.comb += port.adr.eq(bus.adr[:len(port.adr)])
            slaves.append((hit, port))
        in_window = Signal()
        m.d.comb += in_window.eq(Cat(hit for hit, _ in slaves).any())
        slaves.append((~in_window, self.bank))
        m.d.comb += self.bank.adr.eq(bus.adr)
        for hit, port in slaves:
            m.d.comb += [
                port.cyc.eq(bus.cyc & hit), port.stb.eq(bus.stb & hit),
                port.we.eq(bus.we), port.sel.eq(bus.sel), port.dat_w.eq(bus.dat_w),
            ]
            with m.If(hit):
                m.d.comb += [bus.ack.eq(port.ack), bus.err.eq(port.err), bus.dat_r.eq(port.dat_r)]
        return m
