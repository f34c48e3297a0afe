"""cocotb testbench: the core's Wishbone variant (what LiteX attaches), driven by the same
register driver as every other backend. Run by tests/test_core_cocotb.py."""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from stagebox.driver.device import Device
from stagebox.driver.regs import REGISTERS
from stagebox.gateware.config import CoreConfig
from stagebox.regmap.map import STAGEBOX_MAP
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
