"""The MDIO master through the core's Wishbone port, against a clause 22 PHY model."""

import math

import pytest
from amaranth.sim import Simulator

from stagebox.driver.device import Device
from stagebox.gateware.config import CoreConfig
from stagebox.gateware.core import StageboxCore
from stagebox.gateware.eth.mdio import MAX_MDC_HZ, mdc_half_period
from stagebox.regmap.map import MDIO_OP_READ, MDIO_OP_WRITE
from stagebox.testing.amaranth_sim import AmaranthWishboneBus

PHY_DELAY_S = 300e-9            # the slowest read data 802.3 allows after the MDC rising edge


def bits(value, width):
    return [(value >> i) & 1 for i in reversed(range(width))]


def command(op, phy, reg, data=0):
    return data | reg << 16 | phy << 21 | op << 26


def expected_frame(op, phy, reg, data):
    ta = [1, 0]                 # write: driven 10; read: released (pull-up) then the PHY's 0
    return [1] * 32 + [0, 1] + bits(op, 2) + bits(phy, 5) + bits(reg, 5) + ta + bits(data, 16)


class PhyModel:
    """Clause 22 PHYs at the addresses of `registers` (``{phy: {reg: value}}``).

    Samples the line at each MDC rising edge; answers reads `delay` cycles after rising edges.
    Records every frame's bits, the MDC edge times, contention and master drive while released.
    """

    def __init__(self, core, registers, delay):
        self.core, self.registers, self.delay = core, registers, delay
        self.frames = []                 # (bits from the last 32 preamble ones, op, phy, reg, data)
        self.leading_ones = []           # ones before each frame's ST (preamble and idle clocks)
        self.rises, self.falls = [], []
        self.contention = 0              # cycles the master and the PHY both drove MDIO
        self.driven_while_released = 0   # cycles the master drove MDIO in a read's TA or data

    async def run(self, ctx):
        core = self.core
        cycle, mdc_prev, drive, pending, frame, released = 0, 0, None, [], [], False
        async for _, _, mdc, o, oe in ctx.tick().sample(core.mdc, core.mdio_o, core.mdio_oe):
            cycle += 1
            self.contention += bool(oe and drive is not None)
            self.driven_while_released += bool(oe and released)
            line = o if oe else (1 if drive is None else drive)
            if mdc and not mdc_prev:
                self.rises.append(cycle)
                frame.append(line)
                for when, value in self._respond(frame):
                    # The sample shows the edge one cycle after it happened.
                    pending.append((cycle + self.delay - 1 + when, value))
                if len(frame) >= 32 and 0 in frame and len(frame) == frame.index(0) + 32:
                    self._complete(frame)
                    frame, released = [], False
            elif mdc_prev and not mdc:
                self.falls.append(cycle)
                if self._is_read(frame) and len(frame) == frame.index(0) + 14:
                    released = True
            mdc_prev = mdc
            for item in [p for p in pending if p[0] <= cycle]:
                pending.remove(item)
                drive = item[1]
            ctx.set(core.mdio_i, o if oe else (1 if drive is None else drive))

    @staticmethod
    def _header(frame):
        k = frame.index(0)
        head = frame[k:k + 14]
        op, phy, reg = (int("".join(map(str, head[a:b])), 2) for a, b in ((2, 4), (4, 9), (9, 14)))
        return k, op, phy, reg

    def _is_read(self, frame):
        return 0 in frame and len(frame) >= frame.index(0) + 14 and self._header(frame)[1] == 2

    def _respond(self, frame):
        """Drive changes (cycles after this edge's delay, value) for a read addressed to us."""
        if not self._is_read(frame):
            return []
        k, _, phy, reg = self._header(frame)
        if phy not in self.registers:
            return []
        n = len(frame) - k - 14          # bits after REGAD seen so far
        word = bits(self.registers[phy].get(reg, 0xFFFF), 16)
        if n == 1:                       # after TA1: drive TA2 low
            return [(0, 0)]
        if 2 <= n <= 17:                 # after TA2 and each data bit: the next data bit
            return [(0, word[n - 2])]
        if n == 18:                      # after the last data bit: release
            return [(0, None)]
        return []

    def _complete(self, frame):
        k, op, phy, reg = self._header(frame)
        data = int("".join(map(str, frame[k + 16:k + 32])), 2)
        if op == 1 and phy in self.registers and frame[k + 14:k + 16] == [1, 0]:
            self.registers[phy][reg] = data
        self.leading_ones.append(k)
        self.frames.append((frame[k - 32:], op, phy, reg, data))


def simulate(testbench, sys_clk_hz=125_000_000, registers=None):
    core = StageboxCore(CoreConfig(spi_bridge=False, sys_clk_hz=sys_clk_hz))
    phy = PhyModel(core, registers if registers is not None else {1: {}, 17: {}},
                   delay=math.ceil(PHY_DELAY_S * sys_clk_hz))

    async def bench(ctx):
        await testbench(ctx, Device(AmaranthWishboneBus(ctx, core.bus)), phy)

    sim = Simulator(core)
    sim.add_clock(1 / sys_clk_hz)
    sim.add_process(phy.run)
    sim.add_testbench(bench)
    sim.run()
    return phy


async def transact(dev, op, phy, reg, data=0):
    await dev.write("MAC_MDIO_COMMAND", command(op, phy, reg, data))
    while await dev.read_field("MAC_MDIO_STATUS", "BUSY"):
        pass
    return await dev.read_field("MAC_MDIO_STATUS", "READ_DATA")


def test_divider_rounds_down_the_clock_and_rejects_impossible_values():
    assert 2 * mdc_half_period(125_000_000) == 50           # exactly 2.5 MHz
    assert 2 * mdc_half_period(125_000_000, 1_000_000) == 126
    assert 2 * mdc_half_period(33_000_000, 2_000_000) == 18   # 1.83 MHz, not 2.06
    assert 2 * mdc_half_period(25_000_000) == 12            # slower: room for the PHY's delay
    for sys_clk_hz in (1_000_000, 33_333_333, 125_000_000, 200_000_000):
        for mdc_hz in (100_000, 1_234_567, MAX_MDC_HZ):
            divider = 2 * mdc_half_period(sys_clk_hz, mdc_hz)
            assert sys_clk_hz / divider <= mdc_hz
            assert (divider - 3) / sys_clk_hz >= PHY_DELAY_S
    for sys_clk_hz, mdc_hz in ((125_000_000, 2_500_001), (125_000_000, 0), (0, 1_000_000),
                               (125_000_000, -1), (10**12, 1)):
        with pytest.raises(ValueError):
            mdc_half_period(sys_clk_hz, mdc_hz)


@pytest.mark.parametrize("sys_clk_hz", [125_000_000, 25_000_000])
def test_write_then_read_back_at_two_phy_addresses(sys_clk_hz):
    writes = [(1, 0, 0x1140), (1, 4, 0x01E1), (1, 31, 0xA5C3), (17, 0, 0x8000), (17, 9, 0x0F0F)]
    if sys_clk_hz > 50_000_000:          # a slow simulation: fewer frames
        writes = writes[0:1] + writes[3:4]

    async def testbench(ctx, dev, phy):
        divider = await dev.read("MAC_MDIO_DIVIDER")
        assert divider == 2 * mdc_half_period(sys_clk_hz)
        assert not ctx.get(phy.core.mdio_oe) and not ctx.get(phy.core.mdc)
        for address, reg, value in writes:
            await transact(dev, MDIO_OP_WRITE, address, reg, value)
        stored = {1: {}, 17: {}}
        for address, reg, value in writes:
            stored[address][reg] = value
        assert phy.registers == stored
        for address, reg, value in writes:
            assert await transact(dev, MDIO_OP_READ, address, reg) == value
        assert await transact(dev, MDIO_OP_READ, 17, 2) == 0xFFFF     # unset: reads as ones
        assert await transact(dev, MDIO_OP_READ, 5, 2) == 0xFFFF      # nobody: the pull-up
        assert await dev.read("MAC_MDIO_ERRORS") == 0
        assert not ctx.get(phy.core.mdio_oe) and not ctx.get(phy.core.mdc)

    phy = simulate(testbench, sys_clk_hz)

    # Every frame, bit for bit: 32 ones, ST 01, OP, PHYAD, REGAD, TA, data.
    reads = [(a, r, v) for a, r, v in writes] + [(17, 2, 0xFFFF), (5, 2, 0xFFFF)]
    expected = ([expected_frame(MDIO_OP_WRITE, *w) for w in writes]
                + [expected_frame(MDIO_OP_READ, a, r, v) for a, r, v in reads[:-1]]
                + [expected_frame(MDIO_OP_READ, 5, 2, 0xFFFF)[:-18] + [1] * 18])
    assert [f[0] for f in phy.frames] == expected
    assert [f[1:4] for f in phy.frames] == ([(1, a, r) for a, r, _ in writes]
                                             + [(2, a, r) for a, r, _ in reads])

    # Exactly 32 preamble ones; each frame ends with one idle clock (MDIO released, reads 1).
    assert phy.leading_ones == [32] + [33] * (len(expected) - 1)

    # MDC: never faster than mdc_hz, 50 % duty cycle, 64 clocks per frame and the idle one.
    divider = 2 * mdc_half_period(sys_clk_hz)
    assert len(phy.rises) == len(phy.falls) == 65 * len(expected)
    periods = [b - a for a, b in zip(phy.rises[:-1], phy.rises[1:], strict=True)]
    assert min(periods) == divider and min(periods) / sys_clk_hz >= 1 / MAX_MDC_HZ
    assert {fall - rise for rise, fall in zip(phy.rises, phy.falls, strict=True)} == {divider // 2}
    # The master let go of MDIO for every read's TA and data, and never fought the PHY.
    assert phy.driven_while_released == 0
    assert phy.contention == 0


def test_commands_while_busy_or_with_invalid_op_are_ignored_and_counted():
    async def testbench(ctx, dev, phy):
        await dev.write("MAC_MDIO_COMMAND", command(MDIO_OP_READ, 1, 3))
        assert await dev.read_field("MAC_MDIO_STATUS", "BUSY") == 1
        await dev.write("MAC_MDIO_COMMAND", command(MDIO_OP_WRITE, 1, 3, 0xDEAD))   # busy
        assert await dev.read("MAC_MDIO_ERRORS") == 1
        while await dev.read_field("MAC_MDIO_STATUS", "BUSY"):
            pass
        assert await dev.read_field("MAC_MDIO_STATUS", "READ_DATA") == 0x7949
        for op in (0, 3):
            await dev.write("MAC_MDIO_COMMAND", command(op, 1, 3, 0xBEEF))
            assert await dev.read_field("MAC_MDIO_STATUS", "BUSY") == 0
        assert await dev.read("MAC_MDIO_ERRORS") == 3
        await ctx.tick().repeat(200)
        assert await dev.read("MAC_MDIO_STATUS") == 0x7949 << 16     # not busy, data kept

    phy = simulate(testbench, registers={1: {3: 0x7949}})
    assert [f[1:] for f in phy.frames] == [(MDIO_OP_READ, 1, 3, 0x7949)]
    assert phy.registers == {1: {3: 0x7949}}
