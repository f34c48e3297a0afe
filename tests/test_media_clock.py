# amaranth: UnusedElaboratable=no
"""MediaClock (gateware/clock/media_clock.py) in amaranth.sim against an exact integer model.

The testbench is the wallclock: it keeps the time as an unbounded integer number of nanoseconds,
presents it as a `PtpTime` (seconds wrapping at 2**48), and advances it by large random amounts
per cycle (always below one sample period, the block's premise) so that long spans pass in few
cycles; steps and sets raise ``jump`` in the cycle whose ``time_next`` is the first new value.
In every cycle in which ``valid`` is high the count must equal ``floor(T * fs / 1e9) mod 2**32``
and ``strobe`` must be high exactly when a boundary lies in ``(T_prev, T]``.
"""

import random

import pytest
from amaranth.sim import Simulator

from stagebox.gateware.clock.media_clock import COUNT_BITS, MediaClock
from stagebox.gateware.ptp_time import NS_PER_SEC, SEC_BITS, ns_to_ptp_time, ptp_time_to_ns
from stagebox.regmap.map import SAMPLE_RATES_HZ

SYS_CLK_HZ = 125_000_000
ACQUIRE_CYCLES = 130      # acquisition budget (serial arithmetic), before catching up
PTP_WRAP_NS = NS_PER_SEC << SEC_BITS


def samples(t_ns, fs):
    """Samples whose boundary lies at or before t: floor(t * fs / 1e9)."""
    return t_ns * fs // NS_PER_SEC


def boundary_ceil(n, fs):
    """Ceiling of the instant of boundary n, in ns."""
    return -(-n * NS_PER_SEC // fs)


class Plan:
    """Segments of cycles for the wallclock model: each starts with optional events (a set to
    an absolute time, a signed step, a rate index) and then advances by ``tick`` ns per cycle,
    a (low, high) range drawn at random, a function of the rate in use giving one, or
    ``"boundaries"``: to one ns before the next boundary's ceiling, then onto it."""

    def __init__(self):
        self.segments = []

    def add(self, cycles, tick, *, set_to=None, step=None, rate=None):
        self.segments.append((cycles, tick, set_to, step, rate))
        return self


def run(plan, *, t0, rate, sample_rates_hz=SAMPLE_RATES_HZ, seed=0):
    """Simulate `plan` and check every cycle; returns statistics for coverage assertions."""
    dut = MediaClock(sys_clk_hz=SYS_CLK_HZ, sample_rates_hz=sample_rates_hz)
    rng = random.Random(seed)
    stats = {"valid": 0, "strobes": 0, "second_strobes": 0, "count_wraps": 0, "sec_wraps": 0,
             "rate_errors": 0, "rates": set(), "acquire_max": 0}

    async def bench(ctx):
        t = t0
        fs = SAMPLE_RATES_HZ[rate]
        expect_errors = 0
        if fs not in sample_rates_hz:
            fs = sample_rates_hz[0]
            expect_errors = 1
        ctx.set(dut.rate, rate)
        ctx.set(dut.time_next, ns_to_ptp_time(t))
        await ctx.tick()
        stats["rate_errors"] += ctx.get(dut.rate_error)
        invalid_since = 0
        for cycles, tick, set_to, step, new_rate in plan.segments:
            for i in range(cycles):
                jump = restart = False
                if i == 0 and set_to is not None:
                    t_next, jump = set_to, True
                elif i == 0 and step is not None:
                    t_next, jump = t + step, True
                elif tick == "boundaries":
                    # One ns before the next boundary's ceiling, then exactly on it.
                    edge = boundary_ceil(samples(t, fs) + 1, fs)
                    t_next = edge - 1 if t < edge - 1 else edge
                else:
                    low, high = tick(fs) if callable(tick) else tick
                    t_next = t + rng.randint(low, high)
                if i == 0 and new_rate is not None:
                    ctx.set(dut.rate, new_rate)
                    if SAMPLE_RATES_HZ[new_rate] in sample_rates_hz:
                        changed = SAMPLE_RATES_HZ[new_rate] != fs
                        fs = SAMPLE_RATES_HZ[new_rate]
                    else:
                        changed = False
                        expect_errors += 1
                    restart = changed
                ctx.set(dut.time_next, ns_to_ptp_time(t_next))
                ctx.set(dut.jump, jump)
                await ctx.tick()
                t_prev, t = t, t_next
                if ctx.get(dut.rate_error):
                    stats["rate_errors"] += 1
                valid = ctx.get(dut.valid)
                if jump or restart:
                    assert not valid, "valid right after a jump or rate change"
                    invalid_since = 0
                if not valid:
                    invalid_since += 1
                    continue
                stats["acquire_max"] = max(stats["acquire_max"], invalid_since)
                invalid_since = 0
                stats["valid"] += 1
                stats["rates"].add(fs)
                n = samples(t, fs)
                count = ctx.get(dut.count)
                assert count == n % (1 << COUNT_BITS), (t, fs, count, n)
                crossed = n != samples(t_prev, fs)
                assert ctx.get(dut.strobe) == crossed, (t_prev, t, fs)
                if crossed:
                    stats["strobes"] += 1
                    assert n == samples(t_prev, fs) + 1
                    edge = boundary_ceil(n, fs)
                    assert t_prev < edge <= t
                    assert ptp_time_to_ns(ctx.get(dut.boundary)) == edge % PTP_WRAP_NS
                    if n % fs == 0:
                        stats["second_strobes"] += 1
                    if n % (1 << COUNT_BITS) == 0:
                        stats["count_wraps"] += 1
                    if t % PTP_WRAP_NS < t_prev % PTP_WRAP_NS:
                        stats["sec_wraps"] += 1
        await ctx.tick()
        assert stats["rate_errors"] == expect_errors

    sim = Simulator(dut)
    sim.add_clock(1 / SYS_CLK_HZ)
    sim.add_testbench(bench)
    sim.run()
    return stats


def big_ticks(fs):
    """Random advances up to 60 % of a sample period: long spans in few cycles, and the clock
    still catches up after acquisition."""
    return (997, NS_PER_SEC * 6 // (10 * fs))


@pytest.mark.parametrize("rate", range(len(SAMPLE_RATES_HZ)))
def test_count_across_seconds_and_wraps(rate):
    fs = SAMPLE_RATES_HZ[rate]
    # Near a second's end; then where the count wraps (sec * fs crosses 2**32); then where the
    # PTP seconds wrap (2**48), where the count must stay continuous.
    count_wrap_t = boundary_ceil(1 << COUNT_BITS, fs)
    plan = (Plan()
            .add(400, big_ticks)
            .add(500, big_ticks, set_to=count_wrap_t - 100 * NS_PER_SEC // fs)
            .add(500, big_ticks, set_to=PTP_WRAP_NS - 100 * NS_PER_SEC // fs)
            # Acquired inside a second's last sample (that second's end passes while acquiring,
            # so it is not a checked strobe), and exactly at a boundary instant.
            .add(300, big_ticks, set_to=9 * NS_PER_SEC - NS_PER_SEC // (3 * fs))
            .add(300, big_ticks, set_to=boundary_ceil(12345 * fs + 678, fs))
            .add(400, "boundaries"))
    stats = run(plan, t0=5 * NS_PER_SEC - 100 * NS_PER_SEC // fs - 77, rate=rate, seed=rate)
    # sec * fs wraps 2**32 near count_wrap_t; 2**48 * fs is a multiple of 2**32, so the count
    # wraps exactly where the PTP seconds do.
    assert stats["second_strobes"] == 2 and stats["count_wraps"] == 2
    assert stats["sec_wraps"] == 1
    assert stats["acquire_max"] <= ACQUIRE_CYCLES + 2 * ACQUIRE_CYCLES


def test_steps_both_directions():
    rng = random.Random(4)
    plan = Plan().add(200, big_ticks)
    for _ in range(12):
        step = rng.choice([
            rng.randint(-NS_PER_SEC // 1000, NS_PER_SEC // 1000),     # small, either way
            rng.randint(-50 * NS_PER_SEC, 50 * NS_PER_SEC),           # whole seconds
            -rng.randint(1, 30_000),                                  # back over a boundary
        ])
        plan.add(rng.randint(250, 450), big_ticks, step=step)
    plan.add(200, big_ticks, set_to=123_456 * NS_PER_SEC + NS_PER_SEC - 40_000)
    stats = run(plan, t0=1_700_000_000 * NS_PER_SEC + 999_000_000, rate=1, seed=5)
    assert stats["valid"] > 1000 and stats["strobes"] > 500


def test_rate_changes_and_rejected_rates():
    rates = (48_000, 88_200)        # a build without 44.1 and 96 kHz
    index = SAMPLE_RATES_HZ.index
    plan = (Plan()
            .add(300, big_ticks)
            .add(300, big_ticks, rate=index(88_200))
            .add(300, big_ticks, rate=index(96_000))     # rejected: stays at 88.2
            .add(300, big_ticks, rate=index(44_100))     # rejected again
            .add(300, big_ticks, rate=index(48_000))
            .add(5, big_ticks, rate=index(88_200))       # change during acquisition
            .add(300, big_ticks, rate=index(48_000)))
    stats = run(plan, t0=77 * NS_PER_SEC + 999_990_000, rate=index(48_000),
                sample_rates_hz=rates, seed=9)
    assert stats["rates"] == {48_000, 88_200}
    assert stats["rate_errors"] == 2


def test_rate_error_at_reset():
    plan = Plan().add(300, big_ticks)
    stats = run(plan, t0=10 * NS_PER_SEC, rate=3, sample_rates_hz=(44_100,), seed=1)
    assert stats["rate_errors"] == 1 and stats["rates"] == {44_100}


def test_no_drift_at_44k1_over_seconds():
    # Ticks just below one sample period cross 44.1 kHz's non-integer period (22675.73 ns)
    # at nearly every cycle, for a little over a second: two second boundaries and every
    # boundary in between checked exactly (a schedule drifting by 1 ns in a second would fail).
    # Small ticks first, so that the clock acquires quickly.
    fs = 44_100
    period_low = NS_PER_SEC // fs - 1_000
    plan = Plan().add(300, (900, 1100)).add(fs * 104 // 100, (period_low, NS_PER_SEC // fs))
    stats = run(plan, t0=1_000_000 * NS_PER_SEC + NS_PER_SEC - 3_000_000, rate=0, seed=2)
    assert stats["second_strobes"] == 2 and stats["strobes"] > fs


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="subset"):
        MediaClock(sys_clk_hz=SYS_CLK_HZ, sample_rates_hz=(32_000,))
    with pytest.raises(ValueError, match="sys_clk_hz"):
        MediaClock(sys_clk_hz=100_000)
