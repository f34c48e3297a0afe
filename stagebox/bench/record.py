"""The benchmark record: ``bench/results.jsonl`` in the repository, one JSON object per line.

Each entry: ``date`` (UTC, ISO 8601), ``commit`` (``git rev-parse HEAD``) and ``dirty`` (tracked
files modified), ``machine`` (``nproc``, ``platform``, ``python``), ``name`` (e.g.
``"synth/gowin"``) and ``figures`` (a dict of whatever the benchmark measured).
"""

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["DEFAULT_PATH", "append", "load", "entries_from_report", "entry_from_build",
           "add_arguments", "run"]

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO / "bench" / "results.jsonl"


def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _machine():
    return {"nproc": os.cpu_count(), "platform": platform.platform(),
            "machine": platform.machine(), "python": platform.python_version()}


def append(name, figures, path=None):
    """Append one entry to the record (default `DEFAULT_PATH`); return the entry."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    entry = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "HEAD"),
        "dirty": None if status is None else bool(status),
        "machine": _machine(),
        "name": name,
        "figures": figures,
    }
    path = Path(path or DEFAULT_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def load(path=None):
    """All entries of the record, oldest first ([] if there is none)."""
    path = Path(path or DEFAULT_PATH)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def entries_from_report(report):
    """(name, figures) pairs to record from a `stagebox.bench.synth.synth_report` dict."""
    variant = report["variant"]
    timings = report.get("timings_s", {})
    out = []
    if "gowin" in report:
        g = report["gowin"]
        out.append((f"synth/gowin/{variant}", {
            "device": g["device"], "sys_clk_mhz": report["sys_clk_mhz"],
            "blocks": g["blocks"], "total": g["total"],
            "flat": {k: v for k, v in g["flat"].items() if k != "utilization"},
            "times_s": {k: v for k, v in timings.items() if k.startswith(("gowin", "amaranth"))},
        }))
    if "cyclone10lp" in report:
        c = report["cyclone10lp"]
        out.append((f"synth/cyclone10lp/{variant}", {
            "blocks": c["blocks"], "total": c["total"], "flat": c["flat"], "note": c["note"],
            "times_s": {k: v for k, v in timings.items() if k.startswith("cyclone10lp")},
        }))
    return out


def entry_from_build(report):
    """(name, figures) to record from a `stagebox.soc.build.build` report."""
    name = f"build/{report['board']}/{report['variant']}"
    keep = ("device", "sys_clk_hz", "phy", "resources", "blocks", "clocks", "timing_met",
            "hold_violations", "critical_path", "bram", "utilization", "estimate", "times_s")
    return name, {k: report[k] for k in keep if k in report}


def _bench_board(args):
    import tempfile

    from stagebox.boards import get_board
    from stagebox.soc.build import build, format_report

    board = get_board(args.board)
    for variant in [args.board_variant] if args.board_variant else ["spi", "soc"]:
        with tempfile.TemporaryDirectory(prefix=f"stagebox-{board.name}-{variant}-") as out:
            where = Path(args.workdir) / f"{board.name}-{variant}" if args.workdir else out
            report = build(board, variant, out_dir=where)
        print(format_report(report))
        if args.append:
            print(_summary(append(*entry_from_build(report), args.record)))
    return 0


def _summary(entry):
    f = entry["figures"]
    total, flat = f.get("total", {}), f.get("flat", {})
    bits = []
    if entry["name"].startswith("build/") and "estimate" in f:
        est = f["estimate"]
        bits.append(f"LEs {est.get('les')} ff {est.get('ff')} m9k {est.get('m9k')} (synth_intel "
                    f"estimate) {f.get('times_s', {}).get('total')} s")
    elif entry["name"].startswith("build/"):
        res = f.get("resources", {})
        clocks = ", ".join(f"{c['fmax_mhz']}/{c['constraint_mhz']}"
                           for c in f.get("clocks", {}).values())
        bits.append(f"lut4 {res.get('lut4')} alu {res.get('alu')} dff {res.get('dff')} "
                    f"bsram {res.get('bsram')} fmax/target MHz {clocks} "
                    f"met {f.get('timing_met')} {f.get('times_s', {}).get('total')} s")
    elif "logic" in total:
        bits.append(f"logic {total['logic']} (flat {flat.get('logic')}) dff {total['dff']} "
                    f"bsram {total['bsram']} fmax {flat.get('fmax_mhz')} MHz")
    elif entry["name"].startswith("sim/system/") and "cycles_per_s" in f:
        bits.append(f"{f['cycles_per_s']:,} cycles/s median of {len(f.get('runs', []))} "
                    f"({f.get('seconds_per_simulated_second')} s per simulated s), compile "
                    f"{f.get('compile_s')} s")
    elif "verilator" in f:
        bits.append(" ".join(f"{k} {v['cycles_per_s']} cycles/s" for k, v in f.items()))
    elif "les" in total:
        bits.append(f"LEs {total['les']} (flat {flat.get('les')}) ff {total['ff']} "
                    f"m9k {total['m9k']}")
    commit = (entry.get("commit") or "?")[:10] + ("+dirty" if entry.get("dirty") else "")
    return f"{entry['date']}  {commit:<17} {entry['name']:<26} {' '.join(bits)}"


def add_arguments(parser):
    from . import synth
    synth.add_arguments(parser)
    parser.add_argument("--append", action="store_true",
                        help=f"append the figures to the record ({DEFAULT_PATH.relative_to(REPO)})")
    parser.add_argument("--show", nargs="?", type=int, const=10, metavar="N",
                        help="print the last N entries of the record (default 10) and exit")
    parser.add_argument("--record", metavar="FILE", help="use this record file instead")
    parser.add_argument("--board", metavar="BOARD",
                        help="build a board (both variants, or --board-variant) and record per "
                             "variant: resources, Fmax per clock, timing, build time")
    parser.add_argument("--board-variant", choices=("soc", "spi"),
                        help="with --board: only this variant")
    parser.add_argument("--sim", action="store_true",
                        help="measure simulator speed (cocotb on Verilator and Icarus, median of "
                             "3) instead of synthesizing")
    return parser


def run(args):
    from . import synth
    if args.show is not None:
        entries = load(args.record)
        for entry in entries[-args.show:]:
            print(_summary(entry))
        if not entries:
            print("no entries", file=sys.stderr)
        return 0
    if args.board:
        return _bench_board(args)
    if args.sim:
        from .simspeed import cocotb_speed
        figures = cocotb_speed()
        for simulator, f in figures.items():
            print(f"cocotb on {simulator:<10} {f['cycles_per_s']:>9,} cycles/s (median of "
                  f"{len(f['runs'])}: {f['runs']})")
        if args.append:
            print(_summary(append("sim/cocotb/spi_bridge", figures, args.record)))
        return 0
    try:
        report = synth.report_from_args(args)
    except synth.ToolError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print(synth.format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.append:
        for name, figures in entries_from_report(report):
            entry = append(name, figures, args.record)
            print(_summary(entry))
    return 0


if __name__ == "__main__":
    import argparse
    sys.exit(run(add_arguments(argparse.ArgumentParser()).parse_args()))
