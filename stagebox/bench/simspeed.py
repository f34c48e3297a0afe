"""Simulator speed: the cocotb SPI-bridge testbench on Verilator and on Icarus.

The figure is simulated clock cycles per wall-clock second of the testbench that drives the
CPU-less core's SPI pins from Python every two cycles (`identity_and_driver_round_trip`), the
shape of every cocotb test of the bridge. It is why the test suite runs cocotb on Verilator.
"""

import dataclasses
import json
import statistics

from stagebox.regmap.generate import REPO_ROOT

__all__ = ["cocotb_speed"]

TESTCASE = "identity_and_driver_round_trip"


def cocotb_speed(simulators=("verilator", "icarus"), repeats=3):
    """``{simulator: {"cycles_per_s": median, "runs": [...]}}``."""
    from stagebox.gateware.config import CoreConfig
    from stagebox.gateware.core import StageboxCore
    from stagebox.testing.cocotb_runner import run_cocotb

    config = CoreConfig(source_rev=0x5EB0_C0DE)
    result = {}
    for simulator in simulators:
        runs = []
        for _ in range(repeats):
            (timing,) = run_cocotb(
                StageboxCore(config), toplevel="stagebox_core", test_module="spi_bridge_tb",
                test_dir=REPO_ROOT / "tests" / "cocotb", testcase=TESTCASE, simulator=simulator,
                extra_env={"STAGEBOX_TEST_CONFIG": json.dumps(dataclasses.asdict(config))})
            cycles = timing["sim_time_ns"] * 1e-9 * config.sys_clk_hz
            runs.append(round(cycles / timing["real_time_s"]))
        result[simulator] = {"cycles_per_s": statistics.median(runs), "runs": runs,
                             "testcase": TESTCASE}
    return result
