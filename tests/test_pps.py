"""PpsGenerator (gateware/clock/pps.py) in amaranth.sim against the law written in integers:
``pps == (time.ns < width_ns)`` in every cycle, ``second`` when ``time.sec`` changed, and the
rising edge within one tick after the second boundary."""

import random
from fractions import Fraction

from amaranth.sim import Simulator

from stagebox.gateware.clock.pps import PpsGenerator
from stagebox.gateware.ptp_time import NS_PER_SEC, SEC_BITS, ns_to_ptp_time

MOD = NS_PER_SEC << SEC_BITS      # the wallclock wraps here (ns)


def _run(times, widths):
    """Drive ``time`` = ``times[n]`` (ns) and ``width_ns`` = ``widths[n]`` in cycle ``n``; return
    ``(pps, second)`` as read in each cycle ``n >= 1``."""
    dut = PpsGenerator()
    seen = []

    async def bench(ctx):
        for n in range(len(times) - 1):
            ctx.set(dut.time, ns_to_ptp_time(times[n]))
            ctx.set(dut.time_next, ns_to_ptp_time(times[n + 1]))
            ctx.set(dut.width_ns, widths[n])
            await ctx.tick()
            seen.append((ctx.get(dut.pps), ctx.get(dut.second)))

    sim = Simulator(dut)
    sim.add_clock(8e-9)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _check(times, widths):
    seen = _run(times, widths)
    for n, (pps, second) in enumerate(seen, start=1):
        now, before = times[n] % MOD, times[n - 1] % MOD
        # The width in force is the one the register saw at the edge that started the cycle.
        assert pps == int(now % NS_PER_SEC < widths[n - 1]), (n, now)
        assert second == int(now // NS_PER_SEC != before // NS_PER_SEC), (n, now, before)
    return seen


def _steady(start_ns, period, cycles):
    """A wallclock advancing by `period` ns (a `Fraction`) per cycle, floored to whole ns."""
    return [start_ns + int(n * period) for n in range(cycles)]


def test_edge_within_one_tick_at_8ns():
    period = 8
    for phase in range(0, 8, 3):
        start = 7 * NS_PER_SEC - 400 + phase
        times = _steady(start, Fraction(period), 120)
        seen = _check(times, [100] * len(times))
        rises = [n for n in range(2, len(times)) if seen[n - 1][0] and not seen[n - 2][0]]
        assert len(rises) == 1
        [n] = rises
        boundary = 7 * NS_PER_SEC
        assert times[n - 1] < boundary <= times[n]
        assert 0 <= times[n] - boundary < period
        highs = sum(pps for pps, _ in seen)
        assert highs == len([t for t in times[1:] if 0 <= t - boundary < 100])
        assert [n for n, (_, s) in enumerate(seen, start=1) if s] == [n]


def test_fractional_period_and_fast_model():
    # 8.016 ns per tick (a +2000 ppm wallclock), and a model that covers 40 seconds in 100 ticks.
    _check(_steady(3 * NS_PER_SEC - 900, Fraction(8016, 1000), 150), [500] * 150)
    times = _steady(NS_PER_SEC - 3, Fraction(399_999_937), 100)
    widths = [250_000_000] * 100
    seen = _check(times, widths)
    assert sum(s for _, s in seen) == times[-1] // NS_PER_SEC - times[0] // NS_PER_SEC


def test_width_extremes_and_changes():
    times = _steady(NS_PER_SEC - 50, Fraction(7), 200)
    widths = [0] * 60 + [NS_PER_SEC - 1] * 60 + [NS_PER_SEC] * 40 + [3] * 40
    seen = _check(times, widths)
    assert not any(pps for pps, _ in seen[:59])
    # The comparison is strict: ns == width is already outside the pulse, 0 with width 0 too.
    base = 11 * NS_PER_SEC
    times = [base - 1, base, base + 1, base + 99, base + 100, base + 101, base + NS_PER_SEC]
    seen = _check(times, [0, 100, 100, 100, 100, 100, 100])
    assert [pps for pps, _ in seen] == [0, 1, 1, 0, 0, 1]


def test_jumps_and_seconds_wrap():
    rng = random.Random(4)
    times = [MOD - 2 * NS_PER_SEC - 20]
    while len(times) < 400:
        choice = rng.random()
        if choice < 0.1:          # a step anywhere, either direction
            times.append(rng.randrange(MOD))
        elif choice < 0.2:        # a step to just before a boundary, or just after it
            times.append(times[-1] - times[-1] % NS_PER_SEC + rng.choice([-20, 0, 3, 999]))
        else:
            times.append(times[-1] + 8)
    times = [t % MOD for t in times]
    times += [MOD - 16, MOD - 8, 0, 8, 16]       # the 48-bit seconds wrap
    _check(times, [1000] * len(times))
