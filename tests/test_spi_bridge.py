"""SPI register bridge through the CPU-less core, in cocotb on Verilator (see cocotb/)."""

import dataclasses
import json
from pathlib import Path

import pytest

from stagebox.gateware.config import CoreConfig
from stagebox.gateware.core import StageboxCore
from stagebox.testing.cocotb_runner import run_cocotb

CONFIG = CoreConfig(sys_clk_hz=125_000_000, source_rev=0x5EB0_C0DE, source_dirty=True)
TESTS = ["identity_and_driver_round_trip", "random_transactions_match_the_model",
         "corrupted_and_truncated_requests_change_nothing",
         "corrupted_responses_are_detected_and_retried", "bad_requests_get_a_status"]


@pytest.mark.slow
@pytest.mark.parametrize("testcase", TESTS)
def test_spi_bridge(testcase):
    run_cocotb(StageboxCore(CONFIG), toplevel="stagebox_core", test_module="spi_bridge_tb",
               test_dir=Path(__file__).parent / "cocotb", testcase=testcase,
               extra_env={"STAGEBOX_TEST_CONFIG": json.dumps(dataclasses.asdict(CONFIG))})
