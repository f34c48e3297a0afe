"""cocotb testbench: the Tang Primer 20K's CPU-less top, as LiteX generates it, through its pins.

Run by tests/test_board_top_cocotb.py on the generated ``stagebox`` top (board CRG, rPLL, reset
synchronizers, tristate MISO, the core) inside the simulation wrapper of
`stagebox.testing.board_top`. The host side is the project's own: the Python register driver
over `SpiRegisterBus` and the cocotb SPI master, on the ``stagebox_spi_*`` pins.

The rPLL model passes its input straight through (sim/models/gowin_rpll.v), so the testbench
drives the 27 MHz oscillator pin at the board's *sys* frequency: the core then runs at its real
clock rate and its microsecond and nanosecond arithmetic holds in simulated time. The whole
power-on delay is simulated (2^POR_CYCLES_LOG2 oscillator cycles, ~20 s here): its end is
visible on the PHY's reset pin, and its length is checked exactly.

Expected register values come from the board module and `core_config_for`, not from the build.
"""

from types import SimpleNamespace

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge, with_timeout
from cocotb.utils import get_sim_time

from stagebox.boards.gowin_crg import POR_CYCLES_LOG2
from stagebox.boards.tang_primer_20k import TangPrimer20k
from stagebox.driver.device import Device
from stagebox.driver.regs import REGISTERS, REGMAP_HASH
from stagebox.driver.spi import SpiRegisterBus
from stagebox.gateware.ptp_time import NS_PER_SEC
from stagebox.regmap.map import MAGIC, PhyType
from stagebox.soc.soc import core_config_for
from stagebox.testing.cocotb_bus import CocotbSpiTransport

BOARD = TangPrimer20k()
CONFIG = core_config_for(BOARD, "spi")
#: The oscillator pin, driven at the sys frequency (see the module docstring), in whole ps.
OSC_PERIOD_PS = round(1e12 / BOARD.sys_clk_hz)
RMII_REF_PERIOD_PS = 20_000  # the PHY's 50 MHz reference clock
#: Cycles from the end of the power-on delay until the SPI host starts: the PLL model's lock
#: delay plus the two-flop reset synchronizers, with room to spare.
SETTLE_CYCLES = 64


def pack(name, **fields):
    reg = REGISTERS[name]
    return sum(int(value) << reg.field(field).lsb for field, value in fields.items())


def expected_identity():
    """The IDENT registers of the Tang Primer 20K's CPU-less build."""
    assert CONFIG.sys_clk_hz == BOARD.sys_clk_hz == 81_000_000
    assert (CONFIG.phy, CONFIG.spi_bridge, CONFIG.cpu) == (BOARD.phy, True, False)
    major, minor, patch = CONFIG.version
    return {
        "IDENT_MAGIC": MAGIC,
        "IDENT_VERSION": pack("IDENT_VERSION", major=major, minor=minor, patch=patch),
        "IDENT_SOURCE_REV": CONFIG.source_rev,
        "IDENT_BUILD_FLAGS": pack("IDENT_BUILD_FLAGS", dirty=CONFIG.source_dirty, cpu=False,
                                  external_audio_clock=CONFIG.external_audio_clock),
        "IDENT_REGMAP_HASH": REGMAP_HASH,
        "IDENT_SYS_CLK_HZ": BOARD.sys_clk_hz,
        "IDENT_PHY": pack("IDENT_PHY", type=PhyType.NAMES[BOARD.phy]),
        "IDENT_STREAMS": pack("IDENT_STREAMS", tx_streams=CONFIG.tx_streams,
                              rx_streams=CONFIG.rx_streams, tx_channels=CONFIG.tx_channels,
                              rx_channels=CONFIG.rx_channels),
        "IDENT_SAMPLE_RATES": CONFIG.sample_rate_mask,
    }


def spi_pins(dut):
    """The board's SPI header as the cocotb SPI master expects it; its clock is the oscillator
    pin, which (through the pass-through PLL model) is the sys clock."""
    return SimpleNamespace(clk=dut.clk27, sclk=dut.stagebox_spi_sclk, mosi=dut.stagebox_spi_mosi,
                           miso=dut.stagebox_spi_miso, cs_n=dut.stagebox_spi_cs_n)


async def power_on(dut):
    """Idle every input, start the clocks, wait out the power-on reset; check its length."""
    for name in ("eth_crs_dv", "eth_rx_er", "eth_rx_data", "stagebox_audio_sdin",
                 "stagebox_time_event_in", "stagebox_spi_sclk", "stagebox_spi_mosi"):
        getattr(dut, name).value = 0
    dut.stagebox_spi_cs_n.value = 1
    Clock(dut.clk27, OSC_PERIOD_PS, unit="ps").start()
    Clock(dut.eth_clocks_ref_clk, RMII_REF_PERIOD_PS, unit="ps").start()
    await ClockCycles(dut.clk27, 4)
    assert int(dut.eth_rst_n.value) == 0, "the PHY must be held in reset at power-on"
    await RisingEdge(dut.eth_rst_n)
    # The first oscillator edge is at t = 0 and the counter's top bit sets on the 2^N-th edge.
    assert get_sim_time("ps") == (2**POR_CYCLES_LOG2 - 1) * OSC_PERIOD_PS
    await ClockCycles(dut.clk27, SETTLE_CYCLES)


@cocotb.test()
async def identity_over_spi_pins(dut):
    """Power on, then the driver reads the Tang build's identity over the SPI header, writes
    and reads SCRATCH, sees the interrupt pin follow the core's interrupt, and sees the LED
    light with the PPS pulse."""
    await power_on(dut)
    transport = CocotbSpiTransport(spi_pins(dut), ratio=4, clk_hz=BOARD.sys_clk_hz)
    dev = Device(SpiRegisterBus(transport))

    await dev.check_identity()
    for name, value in expected_identity().items():
        assert await dev.read(name) == value, name

    assert await dev.read("IDENT_SCRATCH") == REGISTERS["IDENT_SCRATCH"].reset
    for value in (0xA5A5_0F0F, 0x0000_0000, 0xFFFF_FFFF):
        await dev.write("IDENT_SCRATCH", value)
        assert await dev.read("IDENT_SCRATCH") == value

    # Interrupt pin: low at reset, high while the SOFTWARE source is enabled and pending,
    # low again once the host clears it.
    software = REGISTERS["IRQ_TEST"].field("SOFTWARE").mask
    assert int(dut.stagebox_spi_irq.value) == 0
    await dev.write("IRQ_ENABLE", software)
    assert int(dut.stagebox_spi_irq.value) == 0
    await dev.write("IRQ_TEST", software)
    await ClockCycles(dut.clk27, 2)
    assert int(dut.stagebox_spi_irq.value) == 1
    assert await dev.read("IRQ_PENDING") & software
    await dev.write("IRQ_PENDING", software)
    await ClockCycles(dut.clk27, 2)
    assert int(dut.stagebox_spi_irq.value) == 0

    # PPS pin and LED (active low, lit while the pulse is high). The wallclock starts at second
    # 0 when sys leaves reset, so the power-on pulse of the default width is still running.
    elapsed_ns = get_sim_time("ns") - (2**POR_CYCLES_LOG2) * OSC_PERIOD_PS / 1000
    assert elapsed_ns < REGISTERS["CLOCK_PPS_WIDTH_NS"].reset
    assert (int(dut.stagebox_time_pps.value), int(dut.led.value)) == (1, 0)
    await dev.write("CLOCK_PPS_WIDTH_NS", 2_000)
    await ClockCycles(dut.clk27, 2)
    assert (int(dut.stagebox_time_pps.value), int(dut.led.value)) == (0, 1)
    # Then a whole pulse: set the wallclock 200 us before a second and wait for it.
    await dev.write("CLOCK_SET_TIME", 41 << 32 | (NS_PER_SEC - 200_000))
    await dev.write("CLOCK_COMMAND", REGISTERS["CLOCK_COMMAND"].field("SET").mask)
    await with_timeout(RisingEdge(dut.stagebox_time_pps), 300, "us")
    rise = get_sim_time("ns")
    await ReadOnly()
    assert int(dut.led.value) == 0
    await FallingEdge(dut.stagebox_time_pps)
    assert abs(get_sim_time("ns") - rise - 2_000) <= OSC_PERIOD_PS / 1000
    await ReadOnly()
    assert int(dut.led.value) == 1

    assert dev.bus.errors == 0
