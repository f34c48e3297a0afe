"""The core's Wishbone variant in cocotb on Verilator (see cocotb/core_bus_tb.py)."""

import dataclasses
import json
from pathlib import Path

import pytest

from stagebox.gateware.config import CoreConfig
from stagebox.gateware.core import StageboxCore
from stagebox.testing.cocotb_runner import run_cocotb

CONFIG = CoreConfig(spi_bridge=False, sys_clk_hz=50_000_000, source_rev=0x0B05_0B05)


@pytest.mark.slow
def test_core_over_wishbone():
    run_cocotb(StageboxCore(CONFIG), toplevel="stagebox_core_bus", test_module="core_bus_tb",
               test_dir=Path(__file__).parent / "cocotb",
               extra_env={"STAGEBOX_TEST_CONFIG": json.dumps(dataclasses.asdict(CONFIG))})
