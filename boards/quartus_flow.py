"""Quartus project for a Cyclone 10 LP board, and a Yosys resource estimate of it.

`quartus_project` generates the SoC of a board and variant through LiteX's Quartus toolchain
without running it (``Builder(compile_gateware=False)``, ``build(run=False)``): under
``out_dir`` (``build/BOARD-VARIANT/``) it leaves ``gateware/`` with the top (``stagebox.v``), the
exported core (``stagebox_core.v``), ``stagebox.qsf`` (device, family, sources, every pin with
its location and IO standard), ``stagebox.sdc`` and ``build_stagebox.sh`` (quartus_map, fit,
asm, sta, then .rbf/.svf conversion), and, for the single-chip variant, ``software/`` with the
compiled BIOS (the ROM's initial contents). What the flow adds to LiteX's SDC:

* every clock is constrained by a named ``create_clock`` at its exact period (oscillator,
  PHY clocks on their ports, each PLL output on its net); LiteX's ``derive_pll_clocks`` lines
  are dropped because they would define the PLL outputs a second time;
* the core's synchronizer false paths (`soc.export.false_path_sdc`);
* ``set_clock_groups -asynchronous`` over the clocks that have no fixed phase relation (each
  PHY clock, ``sys``, the oscillator; the CRG names the related ones, `AlteraCrg.clock_groups`).

When ``quartus_sh`` is on PATH the build script runs and the report names the ``.sof``;
otherwise ``bitstream`` is None and ``bitstream_note`` says why.

`cyclone_estimate` runs Yosys' ``synth_intel -family cyclone10lp`` on the generated top and
its sources (flattened, with the M9K mapping step of `stagebox.bench.synth`): an upper-bound
LE count, flip-flops and M9K blocks. Quartus primitives the top instantiates (ALTPLL,
ALTDDIO_IN/OUT, DFF/DFFE of LiteX's reset synchronizers) are black boxes there.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from stagebox.bench.synth import _cyclone_figures, _flat_cells, _yosys

__all__ = ["quartus_project", "cyclone_estimate", "TOP"]

#: The top module LiteX writes.
TOP = "stagebox"

#: Parameters of LiteX's ALTPLL instance (Yosys checks them against the black box).
_ALTPLL_PARAMS = ("BANDWIDTH_TYPE", "COMPENSATE_CLOCK", "INCLK0_INPUT_FREQUENCY",
                  "OPERATION_MODE", *(f"CLK{n}_{p}" for n in range(5)
                                      for p in ("DIVIDE_BY", "DUTY_CYCLE", "MULTIPLY_BY",
                                                "PHASE_SHIFT")))


def _primitives():
    """Black-box declarations of the Quartus primitives LiteX's Altera lowering instantiates."""
    altpll = "".join(f"  parameter {p} = 0;\n" for p in _ALTPLL_PARAMS)
    return (
        "(* blackbox *) module ALTPLL(input [1:0] INCLK, input ARESET, input [4:0] CLKENA,\n"
        "    input [3:0] EXTCLKENA, input FBIN, input PFDENA, input PLLENA,\n"
        "    output [4:0] CLK, output LOCKED);\n" + altpll + "endmodule\n"
        "(* blackbox *) module ALTDDIO_IN(input inclock, input datain, output dataout_h,\n"
        "    output dataout_l);\n  parameter WIDTH = 1;\nendmodule\n"
        "(* blackbox *) module ALTDDIO_OUT(input outclock, input datain_h, input datain_l,\n"
        "    output dataout);\n  parameter WIDTH = 1;\nendmodule\n"
        "(* blackbox *) module DFF(input d, input clk, input clrn, input prn, output q);\n"
        "endmodule\n"
        "(* blackbox *) module DFFE(input d, input clk, input ena, input clrn, input prn,\n"
        "    output q);\nendmodule\n")


def _venv_tools_on_path():
    """LiteX runs ``meson``/``ninja`` (the BIOS build) by name: they live next to this
    interpreter, whose environment need not be activated."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in path:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *path])


def _generate(board, variant, out_dir, config):
    from litex.soc.integration.builder import Builder

    from stagebox.soc.soc import StageboxSoC

    _venv_tools_on_path()
    platform = board.platform()
    platform.stagebox_source_dir = str(out_dir / "gateware")
    soc = StageboxSoC(board, variant, platform=platform, config=config)
    builder = Builder(soc, output_dir=str(out_dir), compile_software=variant == "soc",
                      compile_gateware=False, bios_console="lite")
    builder.build(build_name=TOP, run=False)
    return soc


def _clock_names(sdc):
    return re.findall(r"^create_clock -name (\S+) ", sdc, re.M)


def _finish_sdc(path, crg):
    """Drop LiteX's PLL clock derivation; append the false paths and clock groups."""
    from stagebox.soc.export import false_path_sdc

    lines = [ln for ln in path.read_text().splitlines()
             if not ln.startswith("derive_pll_clocks")]
    names = _clock_names("\n".join(lines))
    related = [g for g in getattr(crg, "clock_groups", []) if set(g) <= set(names)]
    grouped = {n for g in related for n in g}
    groups = related + [[n] for n in names if n not in grouped]
    lines += [
        "",
        "# Every PLL output is constrained above by name; LiteX's derive_pll_clocks would",
        "# define them a second time.",
        "derive_clock_uncertainty",
        *false_path_sdc("quartus"),
        "# The core crosses every pair of these clocks through synchronizers / async FIFOs.",
        "set_clock_groups -asynchronous " + " ".join(f"-group {{{' '.join(g)}}}"
                                                     for g in groups),
    ]
    path.write_text("\n".join(_dedup_uncertainty(lines)) + "\n")
    return groups


def _dedup_uncertainty(lines):
    """Keep one ``derive_clock_uncertainty`` (litex-boards' CYC1000 platform adds one too)."""
    seen = False
    out = []
    for ln in lines:
        if ln.strip() == "derive_clock_uncertainty":
            if seen:
                continue
            seen = True
        out.append(ln)
    return out


def verilog_sources(soc, gateware_dir):
    """The Verilog files the top needs besides itself (the core, the CPU)."""
    top = (Path(gateware_dir) / f"{TOP}.v").resolve()
    return [path for path, language, *_ in soc.platform.sources
            if language in ("verilog", "systemverilog") and Path(path).resolve() != top]


def quartus_project(board, variant, out_dir, *, config=None, soc=None, bitstream=True):
    """Write the Quartus project of `board` / `variant` under `out_dir`; build the bitstream
    when `bitstream` and ``quartus_sh`` is on PATH. `soc`: an SoC already generated into
    `out_dir` (skips the generation). Returns the report dictionary (paths are strings)."""
    from stagebox.soc.soc import core_config_for

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    times = {}
    start = time.monotonic()
    if soc is None:
        soc = _generate(board, variant, out_dir, config or core_config_for(board, variant))
        times["generate"] = round(time.monotonic() - start, 2)
    gateware = out_dir / "gateware"
    groups = _finish_sdc(gateware / f"{TOP}.sdc", soc.crg)
    script = gateware / f"build_{TOP}.sh"
    report = {
        "board": board.name, "variant": variant, "device": board.device,
        "family": "Cyclone 10 LP",
        "gateware_dir": str(gateware),
        "quartus": str(gateware / f"{TOP}.qsf"),
        "qsf": str(gateware / f"{TOP}.qsf"),
        "sdc": str(gateware / f"{TOP}.sdc"),
        "verilog": str(gateware / f"{TOP}.v"),
        "sources": [str(s) for s in verilog_sources(soc, gateware)],
        "script": str(script),
        "clock_groups": groups,
        "bitstream": None,
        "times_s": times,
    }
    if not bitstream:
        report["bitstream_note"] = "not requested (--no-bitstream)"
    elif shutil.which("quartus_sh") is None:
        report["bitstream_note"] = (f"quartus_sh is not on PATH: run {script.name} in "
                                    f"{gateware} on a machine with Quartus Prime Lite")
    else:
        start = time.monotonic()
        with open(gateware / "quartus.log", "w") as log:
            proc = subprocess.run(["bash", script.name], cwd=gateware, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        times["quartus"] = round(time.monotonic() - start, 2)
        sof = gateware / f"{TOP}.sof"
        if proc.returncode == 0 and sof.exists():
            report["bitstream"] = str(sof)
        else:
            report["bitstream_note"] = (f"Quartus failed (exit code {proc.returncode}); see "
                                        f"{gateware / 'quartus.log'}")
    return report


def cyclone_estimate(gateware_dir, name, sources):
    """Flat ``synth_intel -family cyclone10lp`` of `name`.v plus `sources` in `gateware_dir`.

    Returns ``{"les", "ff", "m9k", "other", "times_s", "note"}`` (see `stagebox.bench.synth`
    for what each figure counts). The YoWASP Yosys sees only relative paths (it maps its own
    /tmp), so the sources and the ROM/RAM init files are read from `gateware_dir`.
    """
    cwd = Path(gateware_dir)
    local = []
    for src in sources:
        dst = cwd / Path(src).name
        if Path(src).resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        local.append(dst.name)
    (cwd / "quartus_primitives_bb.v").write_text(_primitives())
    timings = {}
    est = f"{name}_c10lp"
    reads = "read_verilog -lib quartus_primitives_bb.v\n" + "".join(
        f"read_verilog -defer {s}\n" for s in [*local, f"{name}.v"])
    _yosys(reads +
           f"synth_intel -family cyclone10lp -top {name} -run begin:map_bram\n"
           # Yosys skips BRAM mapping for cyclone10lp; the M9K is Cyclone IV E's.
           "memory_bram -rules +/intel/common/brams_m9k.txt\n"
           f"synth_intel -family cyclone10lp -top {name} -run map_ffram:check\n"
           f"tee -q -o {est}_stat.json stat -json\n",
           cwd=cwd, name=est, timings=timings, key="yosys/synth_intel")
    fig = _cyclone_figures(_flat_cells(json.loads((cwd / f"{est}_stat.json").read_text())))
    fig["times_s"] = timings
    fig["note"] = ("Yosys synth_intel (experimental, no carry chains): upper-bound LEs; "
                   "M9K from Yosys' Cyclone IV E rules; Quartus primitives as black boxes")
    return fig
