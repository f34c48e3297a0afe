# amaranth: UnusedElaboratable=no
"""EventCapture (gateware/clock/event_capture.py) in amaranth.sim: the pin changes at known
instants between clock edges, the wallclock advances exactly with simulated time, and every
stamp must lie within one tick after the true edge (``stamp - t_edge`` in ``[0, P)`` for a
whole-nanosecond period, the documented rounding window otherwise)."""

import random
from fractions import Fraction

import pytest
from amaranth.sim import Simulator

from stagebox.gateware.clock.event_capture import EventCapture
from stagebox.gateware.ptp_time import NS_PER_SEC, ns_to_ptp_time, ptp_time_to_ns

FS_PER_NS = 1_000_000


def _add_clock(sim, period_fs, phase_fs, domain="sync"):
    """A simulator clock whose rising edges are exactly at ``phase_fs + k * period_fs``."""
    assert period_fs % 2 == 0
    # amaranth.sim truncates seconds * 1e15 to whole femtoseconds: aim a quarter above.
    period, phase = (period_fs + 0.25) / 1e15, (phase_fs + 0.25) / 1e15
    assert int(period * 1e15) == period_fs and int(phase * 1e15) == phase_fs
    sim.add_clock(period, phase=phase, domain=domain)


def _simulate(dut, *, period_fs, cycles, toggles, settings, t0_ns):
    """Run `cycles` clock cycles. The wallclock's exact time at simulated instant ``t`` (fs) is
    ``t0_ns + t / 1e6``; ``time`` shows it floored at each edge. ``toggles`` maps a cycle
    index ``n`` to a delay (fs, ``0 < d < period``) after edge ``n`` at which the pin inverts;
    ``settings`` maps a cycle index to ``(enable, falling)`` applied from that cycle on.
    Returns the true edges ``[(t_ns as Fraction, rising)]``, the events ``[(cycle, stamp, count)]``
    and the clock phase."""
    phase_fs = period_fs // 2

    def wall(n):
        return Fraction(t0_ns) + Fraction(phase_fs + n * period_fs, FS_PER_NS)

    edges, events = [], []

    async def bench(ctx):
        pin = 0
        ctx.set(dut.time, ns_to_ptp_time(int(wall(-1))))
        for n in range(cycles):
            await ctx.tick()
            ctx.set(dut.time, ns_to_ptp_time(int(wall(n))))
            if ctx.get(dut.event):
                events.append((n, ptp_time_to_ns(ctx.get(dut.stamp)), ctx.get(dut.count)))
            if n in settings:
                enable, falling = settings[n]
                ctx.set(dut.enable, enable)
                ctx.set(dut.falling, falling)
            if n in toggles:
                delay = toggles[n]
                assert 0 < delay < period_fs
                await ctx.delay((delay + 0.25) / 1e15)
                pin ^= 1
                ctx.set(dut.pin, pin)
                edges.append((n, wall(n) + Fraction(delay, FS_PER_NS), pin))

    sim = Simulator(dut)
    _add_clock(sim, period_fs, phase_fs)
    sim.add_testbench(bench)
    sim.run()
    return edges, events


def _toggle_plan(rng, cycles, *, min_gap):
    plan, n = {}, 10
    while n < cycles - 20:
        plan[n] = None
        n += rng.randrange(min_gap, min_gap + 6)
    return plan


@pytest.mark.parametrize("sys_clk_hz, stages", [(125_000_000, 2), (100_000_000, 3),
                                                 (156_250_000, 2), (125_000_000, 4),
                                                 (Fraction(10 ** 10, 66), 2)])
def test_stamps_within_one_tick(sys_clk_hz, stages):
    rng = random.Random(int(sys_clk_hz) + stages)
    period = Fraction(NS_PER_SEC, sys_clk_hz)                 # ns
    period_fs = int(period * FS_PER_NS)
    dut = EventCapture(sys_clk_hz=sys_clk_hz, stages=stages)
    latency = stages - 1
    offset = int(latency * period + Fraction(1, 2))           # nearest, halves up
    assert dut.offset_ns == offset
    cycles = 700
    toggles = _toggle_plan(rng, cycles, min_gap=stages + 1)
    for n in toggles:
        toggles[n] = rng.choice([1, 2, period_fs // 2, period_fs - 2, rng.randrange(1, period_fs)])
    # Rising edges first; falling from cycle 250; disabled between 450 and 550; rising again.
    settings = {0: (1, 0), 250: (1, 1), 450: (0, 0), 550: (1, 0)}
    t0_ns = 5 * NS_PER_SEC - 1500        # crosses a second boundary early on
    edges, events = _simulate(dut, period_fs=period_fs, cycles=cycles, toggles=toggles,
                              settings=settings, t0_ns=t0_ns)

    def setting_at(n):
        return settings[max(k for k in settings if k <= n)]

    # A level set after edge n is first sampled at edge n + 1 (E0) and stamped with the
    # wallclock of that edge; the event shows in the cycle that starts at E0 + stages periods.
    expected = []
    for n, t_ns, level in edges:
        first = n + 1
        detect = first + latency
        enable, falling = setting_at(detect)
        if enable and level == (0 if falling else 1):
            wall_detect = Fraction(t0_ns) + Fraction(period_fs // 2 + detect * period_fs,
                                                     FS_PER_NS)
            expected.append((first + stages, int(wall_detect) - offset, t_ns))
    assert len(expected) > 30
    assert [(cycle, stamp) for cycle, stamp, _ in events] == \
        [(cycle, stamp) for cycle, stamp, _ in expected]
    assert [count for _, _, count in events] == list(range(1, len(expected) + 1))
    error = offset - latency * period                         # the rounding, |error| <= 0.5
    for (_, stamp, _), (_, _, t_ns) in zip(events, expected, strict=True):
        # Within one tick after the true edge; the floor of the wallclock and the rounding of
        # the offset move that window by at most 1 ns and 0.5 ns.
        assert -1 - error < stamp - t_ns < period - error
        if period.denominator == 1:
            assert 0 <= stamp - t_ns < period


def test_short_gaps_and_bad_parameters():
    with pytest.raises(ValueError):
        EventCapture(sys_clk_hz=125_000_000, stages=1)
    with pytest.raises(ValueError):
        EventCapture(sys_clk_hz=0)
    # Levels of exactly one period each: every rising edge is still seen.
    dut = EventCapture(sys_clk_hz=125_000_000)
    toggles = {n: 4_000_000 for n in range(20, 60)}
    edges, events = _simulate(dut, period_fs=8_000_000, cycles=80, toggles=toggles,
                              settings={0: (1, 0)}, t0_ns=0)
    rising = [t for _, t, level in edges if level]
    assert [stamp for _, stamp, _ in events] == [int(t) + 4 for t in rising]
