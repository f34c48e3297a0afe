"""``stagebox build BOARD``: generate the SoC for a board and variant, run its flow, report.

Everything goes under ``build/BOARD-VARIANT/`` (or `out_dir`):

``gateware/``  LiteX's top (``stagebox.v``), pins (``.cst`` / ``.qsf``), clock constraints
               (``.sdc``), the exported core (``stagebox_core.v``), tool logs, the bitstream;
``software/``  (single-chip) LiteX's BIOS and generated headers;
``report.json`` resources in total and per block, block-RAM budget, Fmax per clock and whether
               timing is met, tool times.

Gowin boards run the open-source flow to a bitstream (`boards.gowin_flow`); Cyclone 10 LP
boards get a complete Quartus project (bitstream when ``quartus_sh`` is on PATH) and a Yosys
``synth_intel`` resource estimate (`boards.quartus_flow`).
"""

import json
import os
import sys
import time
from pathlib import Path

from stagebox.regmap.generate import REPO_ROOT

__all__ = ["build", "build_dir", "format_report", "generate"]

#: The top module LiteX writes.
TOP = "stagebox"
#: Bytes per GW2A BSRAM block as LiteX uses them (16 Kbit data).
GOWIN_BSRAM_BYTES = 2048


def build_dir(board, variant):
    return REPO_ROOT / "build" / f"{board.name}-{variant}"


def generate(board, variant, out_dir, *, config=None):
    """Write the LiteX project for `board` / `variant` into `out_dir`; returns the SoC.

    The single-chip variant compiles LiteX's BIOS (it initialises the ROM in the Verilog).
    """
    from litex.soc.integration.builder import Builder

    from stagebox.gateware.config import source_revision

    from .soc import StageboxSoC, core_config_for

    _venv_tools_on_path()
    out_dir = Path(out_dir)
    platform = board.platform()
    platform.stagebox_source_dir = str(out_dir / "gateware")
    if config is None:
        rev, dirty = source_revision()
        config = core_config_for(board, variant, source_rev=rev, source_dirty=dirty)
    soc = StageboxSoC(board, variant, platform=platform, config=config)
    builder = Builder(soc, output_dir=str(out_dir), compile_software=variant == "soc",
                      compile_gateware=False, bios_console="lite")
    builder.build(build_name=TOP, run=False)
    return soc


def _venv_tools_on_path():
    """LiteX runs ``meson``/``ninja`` (BIOS build) by name: they are installed in this
    interpreter's environment, which need not be activated."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in path:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *path])


def _verilog_sources(soc, gateware_dir):
    """The Verilog files the top needs besides itself (the core, the CPU)."""
    return [path for path, language, _ in soc.platform.sources
            if language in ("verilog", "systemverilog")
            and Path(path).resolve() != (Path(gateware_dir) / f"{TOP}.v").resolve()]


def _gowin_clocks(soc, board):
    """``{("nets", net): hz}`` for every clock domain the CRG made (LiteX names them
    ``<domain>_clk`` in the top)."""
    clocks = {("nets", "sys_clk"): board.sys_clk_hz}
    crg = soc.crg
    if hasattr(crg, "cd_por"):
        clocks[("nets", "por_clk")] = crg.osc_hz
    for domain, hz in (("eth", 50e6), ("eth_rx", 125e6), ("eth_tx", 125e6)):
        if hasattr(crg, f"cd_{domain}"):
            clocks[("nets", f"{domain}_clk")] = hz
    return clocks


def _bram_budget(soc, board, variant, report):
    """How the block RAM is split between the CPU's memories and the core."""
    total = report.get("utilization", {})
    bsram = next((v for k, v in total.items() if k.upper() in ("BSRAM", "BSRAM_BLOCK")), None)
    budget = {"available": bsram["available"] if bsram else None,
              "used": bsram["used"] if bsram else None}
    if variant == "soc":
        budget["cpu_rom_bytes"] = board.rom_bytes
        budget["cpu_sram_bytes"] = board.sram_bytes
        budget["cpu_memories_blocks"] = -(-(board.rom_bytes + board.sram_bytes)
                                          // GOWIN_BSRAM_BYTES)
    blocks = report.get("blocks", {})
    budget["core_blocks"] = sum(v["bsram"] for k, v in blocks.items() if k.startswith("core."))
    budget["cpu_blocks"] = blocks.get("cpu", {}).get("bsram", 0)
    budget["soc_blocks"] = blocks.get("soc", {}).get("bsram", 0)
    return budget


def _firmware(board, variant, out_dir):
    """Single-chip builds with a flash: the identity program, linked to run from the flash,
    as the image the BIOS boots (length + CRC header) at `FIRMWARE_FLASH_OFFSET`."""
    if variant != "soc" or board.spi_flash_module() is None:
        return None
    from .firmware import build_ident_app, flash_image, xip_link_base
    from .soc import FIRMWARE_FLASH_OFFSET

    app_dir = out_dir / "software" / "ident"
    binary = build_ident_app(out_dir, app_dir, link_base=xip_link_base(out_dir))
    image = flash_image(binary, app_dir / "ident.fbi")
    command = (f"openFPGALoader -b {board.programmer} -f -o {FIRMWARE_FLASH_OFFSET:#x} {image}"
               if board.programmer else None)
    return {"image": str(image), "flash_offset": FIRMWARE_FLASH_OFFSET, "bytes":
            image.stat().st_size, "program": command}


def build(board, variant, *, out_dir=None, bitstream=True, hierarchy=True):
    """Build `board` (a `Board`) in `variant`; returns the report (also written as JSON)."""
    out_dir = Path(out_dir or build_dir(board, variant))
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    soc = generate(board, variant, out_dir)
    generated = round(time.monotonic() - start, 2)
    firmware = _firmware(board, variant, out_dir)
    gateware = out_dir / "gateware"
    report = {"board": board.name, "title": board.title, "variant": variant,
              "device": board.device, "sys_clk_hz": board.sys_clk_hz, "phy": board.phy,
              "config": {k: v for k, v in vars(soc.stagebox_config).items()}}
    if board.family == "gowin":
        from stagebox.boards.gowin_flow import gowin_build

        options = getattr(soc.platform.toolchain, "options", {})
        pack = [f"--{k[4:]}" for k, v in options.items()
                if k.startswith("use_") and v and k != "use_mode_as_gpio"]
        flow = gowin_build(gateware, TOP, device=board.device,
                           sources=_verilog_sources(soc, gateware),
                           clocks=_gowin_clocks(soc, board), pack_options=pack,
                           bitstream=bitstream, hierarchy=hierarchy)
        report.update(flow)
        report["bram"] = _bram_budget(soc, board, variant, flow)
    else:
        from stagebox.boards.quartus_flow import cyclone_estimate, quartus_project

        report.update(quartus_project(board, variant, out_dir, soc=soc, bitstream=bitstream))
        report["estimate"] = cyclone_estimate(gateware, TOP, _verilog_sources(soc, gateware))
    if firmware:
        report["firmware"] = firmware
    report.setdefault("times_s", {})["generate"] = generated
    report["times_s"]["total"] = round(time.monotonic() - start, 2)
    config = report["config"]
    config["sample_rates_hz"] = list(config["sample_rates_hz"])
    config["version"] = list(config["version"])
    (out_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def _row(name, fig, keys):
    return f"  {name:<22}" + "".join(f"{fig.get(k, 0):>8}" for k in keys)


def format_report(report):
    """The printed summary of a build report."""
    lines = [f"{report['title']} -- variant {report['variant']} ({report['device']}, "
             f"sys {report['sys_clk_hz'] / 1e6:g} MHz, {report['phy'].upper()})"]
    if "resources" in report:
        keys = ("lut4", "alu", "dff", "bsram", "lutram")
        lines.append("  " + f"{'block':<22}" + "".join(f"{k:>8}" for k in keys))
        for name, fig in report.get("blocks", {}).items():
            lines.append(_row(name, fig, keys))
        lines.append(_row("whole design (flat)", report["resources"], keys))
        for cell, v in report.get("utilization", {}).items():
            if cell in ("LUT4", "DFF", "ALU", "BSRAM", "RAM16SDP4", "IOB", "rPLL"):
                lines.append(f"  utilization {cell:<10} {v['used']:>6} / {v['available']}")
        lines.append("  clock                  Fmax (MHz)  constraint  met")
        for net, c in report.get("clocks", {}).items():
            lines.append(f"  {net:<22} {c['fmax_mhz']:>10.2f}  {c['constraint_mhz']:>10.2f}  "
                         f"{'yes' if c['met'] else 'NO'}")
        lines.append(f"  timing met: {'yes' if report.get('timing_met') else 'NO'}"
                     f" (setup, every clock at its real frequency; hold warnings: "
                     f"{report.get('hold_violations')}, worst "
                     f"{report.get('hold_worst_slack_ns')} ns)")
        if "bram" in report:
            lines.append(f"  block RAM: {json.dumps(report['bram'])}")
    if "estimate" in report:
        est = report["estimate"]
        lines.append(f"  Yosys synth_intel estimate: {est.get('les')} LEs, {est.get('ff')} FFs, "
                     f"{est.get('m9k')} M9K (upper bound)")
    if report.get("quartus"):
        lines.append(f"  Quartus project: {report['quartus']}")
    lines.append(f"  bitstream: {report.get('bitstream') or report.get('bitstream_note', 'none')}")
    if report.get("firmware"):
        fw = report["firmware"]
        lines.append(f"  firmware (identity program, {fw['bytes']} bytes): {fw['image']}")
        if fw.get("program"):
            lines.append(f"    write it to the flash with: {fw['program']}")
    times = report.get("times_s", {})
    lines.append("  times (s): " + ", ".join(f"{k} {v}" for k, v in times.items()))
    return "\n".join(lines)
