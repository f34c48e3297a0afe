# amaranth: UnusedElaboratable=no
"""BusDecoder (gateware/bus_decoder.py) and MacCounters (gateware/eth/mac_counters.py) in
amaranth.sim."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

from stagebox.gateware import wishbone
from stagebox.gateware.bus_decoder import BusDecoder
from stagebox.gateware.eth.mac_counters import MacCounters
from stagebox.regmap.map import MAC_COUNTERS
from stagebox.testing.amaranth_sim import AmaranthWishboneBus, run_testbench


class _Memory(wiring.Component):
    """A word store answering one cycle after the request, tagged so reads show who answered."""

    def __init__(self, addr_width, tag):
        self.tag = tag
        self.words = 1 << addr_width
        super().__init__({"bus": wiring.In(wishbone.Signature(addr_width)),
                          "accesses": wiring.Out(16)})

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        store = Signal(32 * 4)   # only the low four words are kept; enough for the test
        with m.If(bus.cyc & bus.stb & ~bus.ack):
            m.d.sync += [bus.ack.eq(1), self.accesses.eq(self.accesses + 1)]
            with m.If(bus.we):
                m.d.sync += store.word_select(bus.adr[:2], 32).eq(bus.dat_w)
            m.d.sync += bus.dat_r.eq(store.word_select(bus.adr[:2], 32) ^ self.tag)
        with m.Else():
            m.d.sync += bus.ack.eq(0)
        return m


class _Top(wiring.Component):
    def __init__(self):
        self.decoder = BusDecoder(14, [("low", 0x8000, 0x4000), ("high", 0xC000, 0x4000)])
        self.bank = _Memory(14, 0xB000_0000)
        self.low = _Memory(12, 0x1000_0000)
        self.high = _Memory(12, 0x2000_0000)
        super().__init__({"bus": wiring.In(wishbone.Signature(14))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.decoder, m.submodules.bank = self.decoder, self.bank
        m.submodules.low, m.submodules.high = self.low, self.high
        wiring.connect(m, wiring.flipped(self.bus), self.decoder.bus)
        wiring.connect(m, self.decoder.bank, self.bank.bus)
        wiring.connect(m, self.decoder.low, self.low.bus)
        wiring.connect(m, self.decoder.high, self.high.bus)
        return m


def test_decoder_routes_by_address():
    dut = _Top()
    targets = {"bank": (dut.bank, 0xB000_0000), "low": (dut.low, 0x1000_0000),
               "high": (dut.high, 0x2000_0000)}

    def owner(address):
        if 0x8000 <= address < 0xC000:
            return "low"
        return "high" if address >= 0xC000 else "bank"

    async def testbench(ctx):
        bus = AmaranthWishboneBus(ctx, dut.bus)
        rng = random.Random(7)
        counts = dict.fromkeys(targets, 0)
        addresses = [0x0000, 0x7FFC, 0x8000, 0xBFFC, 0xC000, 0xFFFC, 0x1F00]
        addresses += [rng.randrange(0, 0x10000, 4) for _ in range(40)]
        for address in addresses:
            name = owner(address)
            mem, tag = targets[name]
            value = rng.getrandbits(32)
            await bus.write(address, [value])
            assert await bus.read(address, 1) == [value ^ tag], hex(address)
            counts[name] += 2
            for other, (mem, _) in targets.items():
                assert ctx.get(mem.accesses) == counts[other], (hex(address), other)

    run_testbench(dut, testbench)


def test_decoder_rejects_misaligned_windows():
    with pytest.raises(ValueError):
        BusDecoder(14, [("w", 0x8000, 0x3000)])
    with pytest.raises(ValueError):
        BusDecoder(14, [("w", 0x6000, 0x4000)])


def test_counters_wrap_saturate_and_clear():
    dut = MacCounters()
    wide = next(n.lower() for n, w, _ in MAC_COUNTERS if w == 32)
    narrow = next(n.lower() for n, w, _ in MAC_COUNTERS if w == 16)

    async def testbench(ctx):
        # Count a few events on every counter at once, each exactly once per pulse.
        for _ in range(3):
            for name, _, _ in MAC_COUNTERS:
                ctx.set(getattr(dut.events, name.lower()), 1)
            await ctx.tick()
        for name, _, _ in MAC_COUNTERS:
            ctx.set(getattr(dut.events, name.lower()), 0)
        await ctx.tick()
        for name, _, _ in MAC_COUNTERS:
            assert ctx.get(getattr(dut.values, name.lower())) == 3, name
        # Drive one 16-bit counter to its ceiling and past it: it stays at all ones.
        ctx.set(getattr(dut.events, narrow), 1)
        ctx.set(getattr(dut.events, wide), 1)
        await ctx.tick().repeat(0xFFFF)
        ctx.set(getattr(dut.events, narrow), 0)
        ctx.set(getattr(dut.events, wide), 0)
        await ctx.tick()
        assert ctx.get(getattr(dut.values, narrow)) == 0xFFFF
        assert ctx.get(getattr(dut.values, wide)) == 3 + 0xFFFF
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        await ctx.tick()
        assert all(ctx.get(getattr(dut.values, n.lower())) == 0 for n, _, _ in MAC_COUNTERS)

    run_testbench(dut, testbench)
