"""The core's own blocks through its Wishbone port: identity, interrupts, bus diagnostics."""

from stagebox.driver.device import Device
from stagebox.gateware.config import CoreConfig
from stagebox.gateware.core import StageboxCore
from stagebox.regmap.map import IRQ_SOURCES, STAGEBOX_MAP
from stagebox.testing.amaranth_sim import AmaranthWishboneBus, run_testbench

CONFIG = CoreConfig(spi_bridge=False, sys_clk_hz=48_000_000, phy="rmii", tx_streams=4,
                    rx_streams=2, tx_channels=8, rx_channels=6, sample_rates_hz=(48_000,),
                    source_rev=0xABCD1234, source_dirty=True, version=(1, 2, 3))
BIT = {f.name: 1 << f.lsb for f in IRQ_SOURCES}


def simulate(testbench):
    core = StageboxCore(CONFIG)

    async def bench(ctx):
        await testbench(ctx, core, Device(AmaranthWishboneBus(ctx, core.bus)))

    run_testbench(core, bench, clk_hz=CONFIG.sys_clk_hz)


def test_build_configuration_reads_back():
    async def testbench(ctx, core, dev):
        await dev.check_identity()
        assert await dev.read_field("IDENT_VERSION", "MAJOR") == 1
        assert await dev.read_field("IDENT_VERSION", "MINOR") == 2
        assert await dev.read_field("IDENT_VERSION", "PATCH") == 3
        assert await dev.read("IDENT_SOURCE_REV") == 0xABCD1234
        assert await dev.read_field("IDENT_BUILD_FLAGS", "DIRTY") == 1
        assert await dev.read_field("IDENT_BUILD_FLAGS", "CPU") == 0
        assert await dev.read("IDENT_SYS_CLK_HZ") == 48_000_000
        assert await dev.read_field("IDENT_PHY", "TYPE") == CONFIG.phy_type
        assert await dev.read_field("IDENT_STREAMS", "TX_STREAMS") == 4
        assert await dev.read_field("IDENT_STREAMS", "RX_CHANNELS") == 6
        assert await dev.read("IDENT_SAMPLE_RATES") == CONFIG.sample_rate_mask == 0b10
        # Without the bridge its registers read as zero, and the uptime runs.
        assert await dev.read("SPI_MAX_WORDS") == 0
        first = await dev.read("IDENT_UPTIME")
        assert 0 < first < await dev.read("IDENT_UPTIME")
    simulate(testbench)


def test_interrupts():
    async def testbench(ctx, core, dev):
        assert not ctx.get(core.irq)
        await dev.write("IRQ_TEST", BIT["SOFTWARE"])       # pending, but not enabled
        assert await dev.read("IRQ_PENDING") == BIT["SOFTWARE"]
        assert not ctx.get(core.irq)
        await dev.write("IRQ_ENABLE", BIT["SOFTWARE"])
        await ctx.tick().repeat(2)
        assert ctx.get(core.irq)
        await dev.write("IRQ_PENDING", BIT["SOFTWARE"])    # write 1 to clear
        await ctx.tick().repeat(2)
        assert not ctx.get(core.irq)
        assert await dev.read("IRQ_PENDING") == 0
    simulate(testbench)


def test_bus_errors_are_counted_raise_an_interrupt_and_clear():
    async def testbench(ctx, core, dev):
        bus = dev.bus
        await dev.write("IRQ_ENABLE", BIT["BUS_ERROR"])
        assert await bus.read(0x1EFC, 1) == [STAGEBOX_MAP.unmapped_read_value]
        await bus.write(0x0000, [0])                        # IDENT_MAGIC is read-only
        await bus.read(0x7FFC, 1)
        assert await dev.read("IDENT_BUS_ERROR_COUNT") == 3
        assert await dev.read("IDENT_BUS_ERROR_ADDR") == 0x7FFC
        assert await dev.read("IDENT_MAGIC") == 0x53424F58
        assert await dev.read_field("IRQ_PENDING", "BUS_ERROR") == 1
        assert ctx.get(core.irq)
        await dev.write("IDENT_BUS_ERROR_CLEAR", 1)
        assert await dev.read("IDENT_BUS_ERROR_COUNT") == 0
    simulate(testbench)
