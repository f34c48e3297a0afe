"""cocotb testbench: the core's Wishbone variant (what LiteX attaches), driven by the same
register driver as every other backend. Run by tests/test_core_cocotb.py."""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer
from cocotb.utils import get_sim_time

from stagebox.driver.device import Device
from stagebox.driver.regs import REGISTERS
from stagebox.gateware.config import CoreConfig
from stagebox.gateware.ptp_time import NS_PER_SEC
from stagebox.regmap.map import SAMPLE_RATES_HZ, STAGEBOX_MAP
from stagebox.testing.cocotb_bus import CocotbWishboneBus

CONFIG = CoreConfig(**json.loads(os.environ["STAGEBOX_TEST_CONFIG"]))


@cocotb.test()
async def registers_over_wishbone(dut):
    Clock(dut.clk, 1e9 / CONFIG.sys_clk_hz, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    dev = Device(CocotbWishboneBus(dut))
    await dev.check_identity()
    assert await dev.read("IDENT_SYS_CLK_HZ") == CONFIG.sys_clk_hz
    assert await dev.read("IDENT_SOURCE_REV") == CONFIG.source_rev
    assert await dev.read("IDENT_SCRATCH") == REGISTERS["IDENT_SCRATCH"].reset
    await dev.write("IDENT_SCRATCH", 0xC0C07B00)
    assert await dev.read("IDENT_SCRATCH") == 0xC0C07B00
    # The 64-bit uptime, read low word first, is consistent and moves forward.
    first = await dev.read("IDENT_UPTIME")
    second = await dev.read("IDENT_UPTIME")
    assert 0 < first < second < first + 100
    # Unmapped: the defined value, counted.
    assert await dev.bus.read(0x4000, 1) == [STAGEBOX_MAP.unmapped_read_value]
    assert await dev.read("IDENT_BUS_ERROR_COUNT") == 1
    # The interrupt line follows IRQ_TEST / IRQ_ENABLE / IRQ_PENDING.
    software = REGISTERS["IRQ_TEST"].field("SOFTWARE").mask
    await dev.write("IRQ_ENABLE", software)
    await dev.write("IRQ_TEST", software)
    await ClockCycles(dut.clk, 2)
    assert int(dut.irq.value) == 1
    await dev.write("IRQ_PENDING", software)
    await ClockCycles(dut.clk, 2)
    assert int(dut.irq.value) == 0


async def _edge_times(signal, rising, times, stop):
    """Append the simulation time (ns) of every rising (or falling) edge of `signal`."""
    trigger = RisingEdge if rising else FallingEdge
    while not stop():
        await trigger(signal)
        times.append(get_sim_time("ns"))


@cocotb.test()
async def time_pins(dut):
    """PPS and the audio clocks at the core's pins, on the Verilog the boards get: the PPS
    rises on the edge where the wallclock enters a second, LRCK falls on every sample
    boundary of 44.1 kHz (where 1e9 / fs is no whole number of ns) within one system clock
    period of its exact time, and BCLK and MCLK keep their ratios across the second."""
    period_ns = 1e9 / CONFIG.sys_clk_hz
    Clock(dut.clk, period_ns, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    dev = Device(CocotbWishboneBus(dut))
    fs = 44_100
    control = REGISTERS["CLOCK_MEDIA_CONTROL"]
    await dev.write("CLOCK_MEDIA_CONTROL", control.field("AUDIO_ENABLE").mask
                    | SAMPLE_RATES_HZ.index(fs) << control.field("RATE").lsb)
    await dev.write("CLOCK_PPS_WIDTH_NS", 1_000)
    second = 13
    await dev.write("CLOCK_SET_TIME", (second - 1) << 32 | (NS_PER_SEC - 200_000))
    await dev.write("CLOCK_COMMAND", REGISTERS["CLOCK_COMMAND"].field("SET").mask)
    pps, lrck_falls, bclk_rises, mclk_rises = [], [], [], []
    done = []
    for signal, rising, times in ((dut.pps, True, pps), (dut.lrck, False, lrck_falls),
                                  (dut.bclk, True, bclk_rises), (dut.mclk, True, mclk_rises)):
        cocotb.start_soon(_edge_times(signal, rising, times, lambda: done))
    await Timer(500, unit="us")
    done.append(True)

    assert len(pps) == 1
    t_pps = pps[0]
    assert await dev.read("CLOCK_DISCONTINUITIES") == 1
    # Sample boundary k (counted from the second) is at k / fs s; the pin edge is the first
    # clock edge at or after it, and the PPS is that edge for k = 0: so every LRCK fall lies
    # within one period after t_pps + k / fs, and one of them is the PPS edge itself.
    falls = [t for t in lrck_falls if t > t_pps - 150_000]
    assert t_pps in falls
    assert len(falls) > 15
    for t in falls:
        k = round((t - t_pps) * fs / 1e9)
        exact = k * 1e9 / fs
        assert -period_ns < (t - t_pps) - exact < period_ns, (k, t - t_pps, exact)
    # 64 BCLK and 256 MCLK periods per sample, across the second boundary.
    first, last = falls[0], falls[-1]
    samples = round((last - first) * fs / 1e9)
    assert sum(first <= t < last for t in bclk_rises) == 64 * samples
    assert sum(first <= t < last for t in mclk_rises) == 256 * samples
