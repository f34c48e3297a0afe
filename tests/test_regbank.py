"""Register bank: every access type, byte selects, unmapped addresses, snapshot atomicity."""

import random

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring

from stagebox.driver.device import Device
from stagebox.driver.reginfo import FieldInfo, RegisterInfo
from stagebox.gateware.regbank import RegisterBank
from stagebox.regmap.model import Access, Block, Field, Register, RegisterMap
from stagebox.testing.amaranth_sim import AmaranthWishboneBus, run_testbench

RW80_RESET = 0x1234_5678_9ABC_DEF0_1357
TEST_MAP = RegisterMap("test", 12, blocks=(Block("T", 0x000, 0x100, "bank under test", (
    Register("RO32", 0x00, 32, Access.RO, "driven by the testbench"),
    Register("RW32", 0x04, 32, Access.RW, "storage", reset=0xA5A5_5A5A),
    Register("RW12", 0x08, 12, Access.RW, "narrow storage with fields", reset=0x123, fields=(
        Field("LO", 0, 4, "low"), Field("HI", 4, 8, "high"))),
    Register("FLAGS", 0x0C, 8, Access.W1C, "event flags"),
    Register("STROBE", 0x10, 32, Access.WS, "write strobe"),
    Register("RO80", 0x20, 80, Access.RO, "wide, changes every cycle"),
    Register("RW80", 0x30, 80, Access.RW, "wide storage", reset=RW80_RESET),
)),))
UNMAPPED = 0x80


def registers_of(regmap):
    """Driver table for a map (what the generator writes for the real map)."""
    return {
        f"{b.name}_{r.name}": RegisterInfo(
            f"{b.name}_{r.name}", b.base + r.offset, r.width, r.access.value, r.reset,
            tuple(FieldInfo(f.name, f.lsb, f.width) for f in r.fields))
        for b, r in regmap.registers()
    }


class Harness(wiring.Component):
    """The bank plus a free-running counter on RO80 whose three words all change each cycle:
    word 0 = count, word 1 = count, word 2 = ~count[:16]. A torn snapshot breaks that relation."""

    def __init__(self):
        self.bank = RegisterBank(TEST_MAP)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = self.bank
        count = Signal(32)
        m.d.sync += count.eq(count + 1)
        m.d.comb += self.bank.t.ro80.eq(Cat(count, count, ~count[:16]))
        return m


def simulate(testbench):
    harness = Harness()

    async def bench(ctx):
        await testbench(ctx, harness.bank)

    run_testbench(harness, bench)


def test_reset_values_and_ro():
    async def testbench(ctx, bank):
        dev = Device(AmaranthWishboneBus(ctx, bank.bus), registers_of(TEST_MAP))
        assert await dev.read("T_RW32") == 0xA5A5_5A5A
        assert await dev.read("T_RW12") == 0x123
        assert await dev.read_field("T_RW12", "HI") == 0x12
        assert await dev.read("T_RW80") == RW80_RESET
        ctx.set(bank.t.ro32, 0xCAFEF00D)
        assert await dev.read("T_RO32") == 0xCAFEF00D
        assert ctx.get(bank.t.rw32) == 0xA5A5_5A5A
        assert await AmaranthWishboneBus(ctx, bank.bus).read(0x10, 1) == [0]
    simulate(testbench)


def test_byte_selects_on_rw():
    rng = random.Random(1)

    async def testbench(ctx, bank):
        wb = AmaranthWishboneBus(ctx, bank.bus)
        expected = 0xA5A5_5A5A
        for _ in range(40):
            sel, data = rng.randrange(16), rng.getrandbits(32)
            wb.sel = sel
            await wb.write(0x04, [data])
            mask = sum(0xFF << (8 * i) for i in range(4) if sel >> i & 1)
            expected = (expected & ~mask) | (data & mask)
            wb.sel = 0b1111
            assert (await wb.read(0x04, 1))[0] == expected
            assert ctx.get(bank.t.rw32) == expected
        # A 12-bit register keeps only its bits; the field view agrees.
        await wb.write(0x08, [0xFFFF_F5A7])
        assert (await wb.read(0x08, 1))[0] == 0x5A7
        assert ctx.get(bank.t.rw12.hi) == 0x5A and ctx.get(bank.t.rw12.lo) == 0x7
    simulate(testbench)


def test_write_one_to_clear_and_set_wins():
    async def testbench(ctx, bank):
        wb = AmaranthWishboneBus(ctx, bank.bus)
        ctx.set(bank.t.flags_set, 0b1011_0001)
        await ctx.tick()
        ctx.set(bank.t.flags_set, 0)
        assert (await wb.read(0x0C, 1))[0] == 0b1011_0001
        await wb.write(0x0C, [0b0000_0001])
        assert (await wb.read(0x0C, 1))[0] == 0b1011_0000
        wb.sel = 0b0010          # the flags live in byte 0: this write must clear nothing
        await wb.write(0x0C, [0xFFFF_FFFF])
        wb.sel = 0b1111
        assert (await wb.read(0x0C, 1))[0] == 0b1011_0000
        # Clear and set of the same bit in the same cycle: the new event survives.
        ctx.set(bank.t.flags_set, 0b1000_0000)
        await wb.write(0x0C, [0b1111_0000])
        ctx.set(bank.t.flags_set, 0)
        assert (await wb.read(0x0C, 1))[0] == 0b1000_0000
    simulate(testbench)


def test_write_strobe_pulses_once_with_selected_bytes():
    async def testbench(ctx, bank):
        wb = AmaranthWishboneBus(ctx, bank.bus)
        pulses = []

        async def write():
            wb.sel = 0b0101
            await wb.write(0x10, [0x1122_3344])

        ctx.set(bank.bus.cyc, 0)
        # Run the write and watch the strobe for a few cycles after it.
        await write()
        for _ in range(4):
            pulses.append((ctx.get(bank.t.strobe_stb), ctx.get(bank.t.strobe)))
            await ctx.tick()
        strobes = [p for p in pulses if p[0]]
        assert len(strobes) <= 1
        assert ctx.get(bank.t.strobe) == 0x0022_0044
        # The strobe pulsed exactly once: count it over a second write, cycle by cycle.
        seen = 0
        ctx.set(bank.bus.adr, 0x10 >> 2)
        ctx.set(bank.bus.we, 1)
        ctx.set(bank.bus.sel, 0b1111)
        ctx.set(bank.bus.dat_w, 0xDEAD_BEEF)
        ctx.set(bank.bus.cyc, 1)
        ctx.set(bank.bus.stb, 1)
        for _ in range(6):
            _, _, ack, stb = await ctx.tick().sample(bank.bus.ack, bank.t.strobe_stb)
            if ack:
                ctx.set(bank.bus.cyc, 0)
                ctx.set(bank.bus.stb, 0)
            seen += stb
        assert seen == 1
        assert ctx.get(bank.t.strobe) == 0xDEAD_BEEF
    simulate(testbench)


def test_unmapped_and_read_only_accesses_are_errors_without_side_effects():
    async def testbench(ctx, bank):
        wb = AmaranthWishboneBus(ctx, bank.bus)
        dev = Device(wb, registers_of(TEST_MAP))
        before = [await dev.read(n) for n in ("T_RW32", "T_RW12", "T_RW80", "T_FLAGS")]
        errors = 0
        for address, write in ((UNMAPPED, False), (UNMAPPED, True), (0x00, True),
                               (0xFFC, False), (0x14, False)):
            ctx.set(bank.bus.adr, address >> 2)
            ctx.set(bank.bus.we, write)
            ctx.set(bank.bus.dat_w, 0xFFFF_FFFF)
            ctx.set(bank.bus.sel, 0b1111)
            ctx.set(bank.bus.cyc, 1)
            ctx.set(bank.bus.stb, 1)
            signals = (bank.bus.ack, bank.bus.dat_r, bank.bus_error, bank.bus_error_addr)
            _, _, ack, data, error, where = await ctx.tick().sample(*signals)
            while not ack:
                assert not error
                _, _, ack, data, error, where = await ctx.tick().sample(*signals)
            ctx.set(bank.bus.cyc, 0)
            ctx.set(bank.bus.stb, 0)
            assert not ctx.get(bank.bus.err)
            if not write:
                assert data == TEST_MAP.unmapped_read_value
            assert error and where == address   # reported with the ack, for one cycle
            _, _, error = await ctx.tick().sample(bank.bus_error)
            assert not error
            errors += 1
        assert errors == 5
        after = [await dev.read(n) for n in ("T_RW32", "T_RW12", "T_RW80", "T_FLAGS")]
        assert after == before
    simulate(testbench)


def test_snapshot_is_atomic_while_the_value_changes():
    rng = random.Random(2)

    async def testbench(ctx, bank):
        wb = AmaranthWishboneBus(ctx, bank.bus)
        for _ in range(30):
            low = (await wb.read(0x20, 1))[0]
            await ctx.tick().repeat(rng.randrange(1, 5))
            middle = (await wb.read(0x24, 1))[0]
            await ctx.tick().repeat(rng.randrange(1, 5))
            top = (await wb.read(0x28, 1))[0]
            assert middle == low and top == (~low & 0xFFFF)
        # Without the snapshot the words would disagree: the live value moves every cycle.
        assert (await wb.read(0x20, 1))[0] != (await wb.read(0x20, 1))[0]
    simulate(testbench)


def test_wide_write_commits_on_last_word_only():
    async def testbench(ctx, bank):
        wb = AmaranthWishboneBus(ctx, bank.bus)
        new = 0xFEDC_BA98_7654_3210_0F1E
        words = [new & 0xFFFF_FFFF, (new >> 32) & 0xFFFF_FFFF, new >> 64]
        await wb.write(0x30, words[:1])
        await wb.write(0x34, words[1:2])
        assert ctx.get(bank.t.rw80) == RW80_RESET      # staged, not yet visible
        await wb.write(0x38, words[2:])
        assert ctx.get(bank.t.rw80) == new
        assert await Device(wb, registers_of(TEST_MAP)).read("T_RW80") == new
    simulate(testbench)


def test_classic_cycle_timing():
    """ack comes on the third cycle of every access, lasts one cycle, and err never rises."""
    async def testbench(ctx, bank):
        for we in (0, 1):
            ctx.set(bank.bus.adr, 0x04 >> 2)
            ctx.set(bank.bus.we, we)
            ctx.set(bank.bus.sel, 0b1111)
            ctx.set(bank.bus.cyc, 1)
            ctx.set(bank.bus.stb, 1)
            acks = []
            for _ in range(6):
                _, _, ack, err = await ctx.tick().sample(bank.bus.ack, bank.bus.err)
                acks.append(ack)
                assert not err
            # Held request: ack, then a free cycle, then the next access (classic, no
            # pipelining): captured, decoded, acknowledged.
            assert acks == [0, 0, 1, 0, 0, 1]
            ctx.set(bank.bus.cyc, 0)
            ctx.set(bank.bus.stb, 0)
            await ctx.tick()
    simulate(testbench)
