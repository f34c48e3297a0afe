# amaranth: UnusedElaboratable=no
"""`Wallclock` (gateware/clock/wallclock.py) in amaranth.sim against an exact integer model of the
law its docstring states: every tick adds 2**32 * (10**12 + freq_adj) / (1000 * sys_clk_hz) units
of 2**-32 ns (quotient plus a remainder accumulated modulo the denominator), plus the slew extra;
set and step act at their documented ticks. The model keeps time as one integer in 2**-32 ns."""

from fractions import Fraction

import pytest
from amaranth.sim import Simulator

from stagebox.gateware.clock.wallclock import FRAC_BITS, PPT_PER_ONE, Wallclock
from stagebox.gateware.ptp_time import NS_PER_SEC, SEC_BITS, ptp_time_to_ns
from stagebox.regmap.map import CLOCK_ERRORS, SLEW_RATE_MAX_PPM

ERROR = {name: code for code, name, _ in CLOCK_ERRORS}
UNIT = 1 << FRAC_BITS                       # 2**-32 ns units per ns
MOD = (NS_PER_SEC << SEC_BITS) * UNIT       # the wallclock wraps here (units)
SEC = NS_PER_SEC * UNIT
CLOCKS_HZ = (125_000_000, 100_000_000, 50_000_000, 27_000_000, 24_576_000)


def increment(sys_clk_hz, freq_adj):
    """The law: (quotient, remainder) of the per-tick increment over 1000 * sys_clk_hz."""
    return divmod((PPT_PER_ONE + freq_adj) * UNIT, 1000 * sys_clk_hz)


def slew_step(sys_clk_hz, rate):
    """Documented S: rate times the nominal increment's millionth, in units per tick."""
    return rate * (increment(sys_clk_hz, 0)[0] // 10**6)


# --- Reference model ------------------------------------------------------------------------

def model(dut, events, cycles):
    """Expected outputs per cycle for `events` ({cycle: [(kind, *args)]}, kinds ``set`` (sec,
    ns), ``step`` (sec, ns), ``slew`` (ns, rate), ``cancel``, ``freq`` (a level from then on))."""
    hz = dut.sys_clk_hz
    denominator = 1000 * hz
    first_slew = dut.slew_first_tick
    decide = dut.SLEW_STOP_TICK + 1         # a slew's extra for tick t is decided in cycle t - 6
    set_ticks, step_ticks, extras = {}, {}, {}
    pair_changes = [(1, increment(hz, 0))]
    out = [dict(jump=0, error=0, error_code=None, slewing=0, freq_updating=0, remaining=0)
           for _ in range(cycles)]
    freq, applied, running = 0, 0, None     # running: (start cycle, value)
    slew = None                             # dict: start, sign, total, S, stop
    slews = []
    for k in range(cycles):
        evs = events.get(k, ())
        kinds = {ev[0]: ev[1:] for ev in evs}
        if "freq" in kinds:
            freq = kinds["freq"][0]
        # Frequency: one recomputation at a time; applied at the end of its last cycle.
        if running is not None:
            out[k]["freq_updating"] = 1
            if k == running[0] + dut.freq_cycles:
                applied = running[1]
                running = None
        elif freq != applied:
            out[k]["freq_updating"] = 1
            running = (k, freq)
            pair_changes.append((k + dut.freq_first_tick, increment(hz, freq)))
        # Commands.
        codes = []
        set_ok = step_ok = slew_ok = False
        if "set" in kinds:
            sec, ns = kinds["set"]
            set_ok = ns < NS_PER_SEC
            if set_ok:
                set_ticks[k + dut.SET_TICK] = (sec * NS_PER_SEC + ns) * UNIT
            else:
                codes.append(ERROR["SET_RANGE"])
        if "step" in kinds:
            sec, ns = kinds["step"]
            if abs(ns) >= NS_PER_SEC:
                codes.append(ERROR["STEP_RANGE"])
            elif not set_ok:
                step_ok = True
                step_ticks[k + dut.STEP_TICK] = (sec * NS_PER_SEC + ns) * UNIT
        if "slew" in kinds:
            ns, rate = kinds["slew"]
            slew_ok = 1 <= rate <= SLEW_RATE_MAX_PPM
            if not slew_ok:
                codes.append(ERROR["SLEW_RATE"])
        if codes and k + 1 < cycles:
            out[k + 1]["error"] = 1
            out[k + 1]["error_code"] = codes[0]
        if slew is not None and (slew_ok or set_ok or step_ok or "cancel" in kinds):
            slew["stop"] = k
            slew = None
        if slew_ok:
            slew = dict(start=k, sign=-1 if ns < 0 else 1, total=abs(ns) * UNIT,
                        S=slew_step(hz, rate), stop=None)
            slews.append(slew)
    # Slews: floor(total / S) ticks of S, then the rest, from the first tick; a stop in cycle x
    # keeps only the extras decided before x (ticks up to x + 5).
    for s in slews:
        count, rest = divmod(s["total"], s["S"])
        sizes = [s["S"]] * count + [rest]
        first = s["start"] + first_slew
        last_decision = first + len(sizes) - 1 - decide
        end = last_decision if s["stop"] is None else min(last_decision, s["stop"])
        decided = 0
        for k in range(s["start"] + 1, min(end + 1, cycles)):
            out[k]["slewing"] = 1
        for k in range(s["start"] + 1, min(end + 2, cycles)):
            n = max(0, k - (first - decide))       # decisions made before cycle k
            decided = sum(sizes[:n])
            left = s["total"] - decided
            out[k]["remaining"] = s["sign"] * (left // UNIT) if k <= end else 0
        for i, size in enumerate(sizes):
            tick = first + i
            if s["stop"] is not None and tick > s["stop"] + dut.SLEW_STOP_TICK:
                break
            extras[tick] = extras.get(tick, 0) + s["sign"] * size
    # Time, tick by tick.
    times = [dut.init_ns * UNIT]
    acc = 0
    changes = sorted(pair_changes)
    for t in range(1, cycles + 1):
        q, r = [pair for first, pair in changes if first <= t][-1]
        acc += r
        carry = acc >= denominator
        acc -= carry * denominator
        if t in set_ticks:
            times.append(set_ticks[t])
        else:
            times.append((times[-1] + q + carry + extras.get(t, 0) + step_ticks.get(t, 0)) % MOD)
    for k in range(cycles):
        out[k]["time"] = times[k]
        out[k]["time_next"] = times[k + 1] >> FRAC_BITS
        out[k]["jump"] = int(k + 1 in set_ticks or k + 1 in step_ticks)
    return out, times


# --- Simulation -----------------------------------------------------------------------------

def simulate(dut, events, cycles, probe=None):
    """Drive `events`, return per-cycle outputs (and `probe` signals if given)."""
    record = []

    async def bench(ctx):
        freq = 0
        for k in range(cycles):
            strobes = dict(set_stb=0, step_stb=0, slew_stb=0, slew_cancel=0)
            for kind, *args in events.get(k, ()):
                if kind == "set":
                    ctx.set(dut.set_time, {"sec": args[0], "ns": args[1]})
                    strobes["set_stb"] = 1
                elif kind == "step":
                    ctx.set(dut.step_sec, args[0])
                    ctx.set(dut.step_ns, args[1])
                    strobes["step_stb"] = 1
                elif kind == "slew":
                    ctx.set(dut.slew_ns, args[0])
                    ctx.set(dut.slew_rate_ppm, args[1])
                    strobes["slew_stb"] = 1
                elif kind == "cancel":
                    strobes["slew_cancel"] = 1
                elif kind == "freq":
                    freq = args[0]
            ctx.set(dut.freq_adj, freq)
            for name, value in strobes.items():
                ctx.set(getattr(dut, name), value)
            time, time_next = ctx.get(dut.time), ctx.get(dut.time_next)
            assert time.ns < NS_PER_SEC and time_next.ns < NS_PER_SEC, f"cycle {k}"
            row = dict(
                time=ptp_time_to_ns(time) * UNIT + ctx.get(dut.frac),
                time_next=ptp_time_to_ns(time_next),
                jump=ctx.get(dut.jump), error=ctx.get(dut.error),
                error_code=ctx.get(dut.error_code), slewing=ctx.get(dut.slewing),
                freq_updating=ctx.get(dut.freq_updating),
                remaining=ctx.get(dut.slew_remaining_ns))
            if probe:
                row.update({name: ctx.get(sig) for name, sig in probe.items()})
            record.append(row)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1 / dut.sys_clk_hz)
    sim.add_testbench(bench)
    sim.run()
    return record


def check(dut, events, cycles):
    """Simulate and compare every output in every cycle with the model; returns both."""
    got = simulate(dut, events, cycles)
    want, times = model(dut, events, cycles)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        for key in ("time", "time_next", "jump", "error", "slewing", "freq_updating",
                    "remaining"):
            assert g[key] == w[key], f"cycle {k}: {key} {g[key]} != {w[key]}"
        if w["error"]:
            assert g["error_code"] == w["error_code"], f"cycle {k}: error_code"
    # time_next is the next cycle's time, from the design alone.
    for k in range(cycles - 1):
        assert got[k]["time_next"] == got[k + 1]["time"] >> FRAC_BITS
    return got, times


# --- Free running ---------------------------------------------------------------------------

@pytest.mark.parametrize("sys_clk_hz", CLOCKS_HZ)
def test_free_running(sys_clk_hz):
    # 3000 cycles of 8..41 ns: start 20 us below a second boundary so that it is crossed.
    init_ns = 7 * NS_PER_SEC - 20_000 + 3
    dut = Wallclock(sys_clk_hz=sys_clk_hz, init_ns=init_ns)
    cycles = 3000
    got, times = check(dut, {}, cycles)
    # Independent closed form: time(n) = init + floor(n * 10**12 * 2**32 / (1000 * hz)).
    for n in range(cycles):
        assert got[n]["time"] == init_ns * UNIT + n * PPT_PER_ONE * UNIT // (1000 * sys_clk_hz)
    assert got[0]["time"] // SEC == 6 and got[-1]["time"] // SEC == 7


def test_seconds_wrap():
    last = ((1 << SEC_BITS) - 1) * NS_PER_SEC
    dut = Wallclock(sys_clk_hz=27_000_000, init_ns=last + NS_PER_SEC - 1000)
    got, _ = check(dut, {}, 100)
    assert got[0]["time"] // SEC == (1 << SEC_BITS) - 1 and got[-1]["time"] // SEC == 0


def test_parameters():
    with pytest.raises(ValueError):
        Wallclock(sys_clk_hz=999)
    with pytest.raises(ValueError):
        Wallclock(sys_clk_hz=125e6)
    with pytest.raises(ValueError):
        Wallclock(sys_clk_hz=125_000_000, init_ns=-1)


# --- Frequency ------------------------------------------------------------------------------

PPB = 1000
FREQ_VALUES = (37 * PPB, -37 * PPB, 1, -1, 123_456_789, 10**9, -10**9, 2**31 - 1, -2**31, 0)


def read_increments(dut, values):
    """Apply each freq_adj in turn and read back the (Q, R) the design switched to."""
    found = []

    async def bench(ctx):
        for value in values:
            ctx.set(dut.freq_adj, value)
            await ctx.tick()
            cycles = 1
            while ctx.get(dut.freq_updating):
                await ctx.tick()
                cycles += 1
            assert cycles == dut.freq_cycles + 1
            found.append((ctx.get(dut.inc_q), ctx.get(dut.inc_r)))

    sim = Simulator(dut)
    sim.add_clock(1 / dut.sys_clk_hz)
    sim.add_testbench(bench)
    sim.run()
    return found


@pytest.mark.parametrize("sys_clk_hz", (125_000_000, 27_000_000, 24_576_000))
def test_frequency_scale_exact(sys_clk_hz):
    dut = Wallclock(sys_clk_hz=sys_clk_hz)
    den = dut.inc_denominator
    assert (1000 * sys_clk_hz) % den == 0
    for freq_adj, (q, r) in zip(FREQ_VALUES, read_increments(dut, FREQ_VALUES), strict=True):
        assert 0 <= r < den
        # The increment is exactly the law's, as a fraction.
        assert q + Fraction(r, den) == Fraction((PPT_PER_ONE + freq_adj) * UNIT,
                                                1000 * sys_clk_hz)
        # One second of ticks advances by exactly 1e9 + freq_adj / 1000 ns (integers only).
        assert 1000 * sys_clk_hz * (q * den + r) == (PPT_PER_ONE + freq_adj) * UNIT * den
        if freq_adj % PPB == 0:
            n_ppb = freq_adj // PPB
            assert sys_clk_hz * (q * den + r) == (NS_PER_SEC + n_ppb) * UNIT * den
        # 10**6 s of ticks from any accumulator state: exactly 10**6 * (1e9 + ppb) ns.
        ticks = 10**6 * sys_clk_hz
        exact = 10**6 * (PPT_PER_ONE + freq_adj) * UNIT // 1000
        assert 10**6 * (PPT_PER_ONE + freq_adj) * UNIT % 1000 == 0
        for acc in (0, den - 1):
            assert ticks * q + (acc + ticks * r) // den == exact


@pytest.mark.parametrize("sys_clk_hz", (125_000_000, 27_000_000))
def test_frequency_tick_by_tick(sys_clk_hz):
    dut = Wallclock(sys_clk_hz=sys_clk_hz, init_ns=NS_PER_SEC - 3000)
    gap = dut.freq_cycles + 40
    # Includes a change during a recomputation and one back to the applied value.
    events = {3: [("freq", 250 * PPB)], 3 + gap: [("freq", -250 * PPB)],
              3 + 2 * gap: [("freq", 1)], 3 + 2 * gap + 10: [("freq", 2**31 - 1)],
              3 + 4 * gap: [("freq", -2**31)], 3 + 4 * gap + 5: [("freq", 1)],
              3 + 6 * gap: [("freq", 10**9)]}
    check(dut, events, 7 * gap + 200)


def test_frequency_observed_advance():
    # With +1000 ppm at 100 MHz a tick is 10.01 ns exactly: 100 ticks advance 1001 ns.
    dut = Wallclock(sys_clk_hz=100_000_000)
    got, _ = check(dut, {0: [("freq", 10**9)]}, dut.freq_first_tick + 300)
    start = dut.freq_first_tick + 50
    for n in (100, 200):
        assert got[start + n]["time"] - got[start]["time"] == n * 1001 * UNIT // 100


# --- Set and step ---------------------------------------------------------------------------

def test_set_and_step():
    dut = Wallclock(sys_clk_hz=27_000_000, init_ns=5 * NS_PER_SEC + 123)
    last_sec = (1 << SEC_BITS) - 1
    events = {
        5: [("set", 1000, NS_PER_SEC - 200)],                  # crosses a second 6 ticks later
        20: [("step", 0, 150)],
        30: [("step", 0, -150)],
        40: [("step", 0, NS_PER_SEC - 1)],                     # carry into seconds
        50: [("step", 0, -(NS_PER_SEC - 1))],                  # borrow
        60: [("step", 3, 500)],
        70: [("step", -3, -500)],
        80: [("step", -1, 999_999_000)],                       # whole seconds, mixed signs
        90: [("step", 2, -999_999_999)],
        100: [("step", -1001, 0)],                             # below 0 s: wraps modulo 2**48
        110: [("step", 1001, 0)],
        120: [("step", 2**31 - 1, NS_PER_SEC - 1)],
        121: [("step", -2**31, -(NS_PER_SEC - 1))],            # back to back
        130: [("set", last_sec, NS_PER_SEC - 1000)],
        140: [("step", 0, 1000)],                              # crosses 2**48 s: wraps
        150: [("set", 7, 0), ("step", 0, 5)],                  # simultaneous: set wins
        160: [("step", 0, 5)], 161: [("set", 9, 9)],           # step then set: set wins
        170: [("set", 11, 11)], 171: [("step", 0, -11)],       # set then step: both
        180: [("set", 1, NS_PER_SEC)],                         # rejected: SET_RANGE
        190: [("step", 0, NS_PER_SEC)],                        # rejected: STEP_RANGE
        200: [("step", 5, -NS_PER_SEC)],
        210: [("set", 1, (1 << 30) - 1), ("step", 0, -2**31)], # both rejected: SET_RANGE
        220: [("set", 1, NS_PER_SEC), ("step", 0, 77)],        # rejected set, step applies
        230: [("step", 0, 0)],                                 # a zero step still jumps
        # Steps that, with the tick, reach past the next second boundary but one (the
        # delta is normalized): ns 20 below a boundary plus a 37 ns tick plus ~1 s.
        240: [("set", 50, NS_PER_SEC - 57)], 241: [("step", 0, NS_PER_SEC - 1)],
        250: [("set", 60, NS_PER_SEC - 57)], 251: [("step", 2, -1)],
    }
    got, times = check(dut, events, 280)
    jumps = [k for k, row in enumerate(got) if row["jump"]]
    assert jumps == sorted({5 + 2, 20 + 3, 30 + 3, 40 + 3, 50 + 3, 60 + 3, 70 + 3, 80 + 3,
                            90 + 3, 100 + 3, 110 + 3, 120 + 3, 121 + 3, 130 + 2, 140 + 3,
                            150 + 2, 161 + 2, 170 + 2, 171 + 3, 220 + 3, 230 + 3,
                            240 + 2, 241 + 3, 250 + 2, 251 + 3})
    # jump rises in the cycle time_next shows the new value; set loads exactly (frac 0).
    assert got[5 + 2]["time_next"] == 1000 * NS_PER_SEC + NS_PER_SEC - 200
    assert got[5 + 3]["time"] == (1001 * NS_PER_SEC - 200) * UNIT
    assert got[130 + 3]["time"] == (last_sec * NS_PER_SEC + NS_PER_SEC - 1000) * UNIT
    assert got[140 + 3]["time"] // SEC == last_sec and got[140 + 4]["time"] // SEC == 0
    errors = [(k, row["error_code"]) for k, row in enumerate(got) if row["error"]]
    assert errors == [(181, ERROR["SET_RANGE"]), (191, ERROR["STEP_RANGE"]),
                      (201, ERROR["STEP_RANGE"]), (211, ERROR["SET_RANGE"]),
                      (221, ERROR["SET_RANGE"])]
    assert got[241 + 4]["time"] // UNIT == 52 * NS_PER_SEC + 16
    assert got[251 + 4]["time"] // UNIT == 63 * NS_PER_SEC + 16
    # A step adds exactly its amount on top of the tick.
    for cycle, (sec, ns) in ((60, (3, 500)), (100, (-1001, 0))):
        tick = cycle + dut.STEP_TICK
        free = (got[tick - 1]["time"] + (got[tick + 1]["time"] - got[tick]["time"])) % MOD
        assert abs((got[tick]["time"] - free) % MOD - (sec * NS_PER_SEC + ns) * UNIT % MOD) \
            <= 1


# --- Slew -----------------------------------------------------------------------------------

def test_slew_exact_and_bounded():
    hz = 125_000_000
    dut = Wallclock(sys_clk_hz=hz, init_ns=NS_PER_SEC - 2000)
    # +3 ns at 1000 ppm (about 375 ticks), then -2 ns at 700 ppm.
    events = {4: [("slew", 3, 1000)], 700: [("slew", -2, 700)]}
    cycles = 1400
    got, times = check(dut, events, cycles)
    free, _ = model(dut, {}, cycles + 1)
    offset = [got[k]["time"] - free[k]["time"] for k in range(cycles)]
    assert offset[690] == 3 * UNIT and offset[-1] == UNIT
    for k in range(1, cycles):
        extra = offset[k] - offset[k - 1]
        s = slew_step(hz, 1000 if k < 700 + dut.slew_first_tick else 700)
        assert -s <= extra <= s
        assert (extra >= 0) if k < 700 + dut.slew_first_tick else (extra <= 0)
    assert not any(row["jump"] for row in got)
    assert got[5]["remaining"] == 3 and got[701]["remaining"] == -2
    assert got[600]["slewing"] == 0 and got[600]["remaining"] == 0


def test_slew_cancel_replace_reject():
    hz = 27_000_000
    dut = Wallclock(sys_clk_hz=hz)
    events = {
        2: [("slew", 40, 1000)],
        150: [("cancel",)],                                    # stops where it is
        160: [("slew", 0, 0)],                                 # rejected
        161: [("slew", 5, SLEW_RATE_MAX_PPM + 1)],             # rejected
        162: [("slew", 5, 65535)],                             # rejected
        170: [("slew", -40, 300)],
        300: [("slew", 2, 1)],                                 # replaces at 1 ppm
        320: [("step", 0, 1)],                                 # a step cancels it
        330: [("slew", 9, 999), ("cancel",)],                  # a new slew wins over cancel
        400: [("set", 3, 3)],                                  # a set cancels it
        420: [("slew", -1, 1000)],
        450: [("slew", 7, 0)],                                 # rejected: no effect on -1
        480: [("slew", 0, 5)],                                 # a zero slew ends at once
    }
    got, _ = check(dut, events, 700)
    errors = [(k, row["error_code"]) for k, row in enumerate(got) if row["error"]]
    assert errors == [(161, ERROR["SLEW_RATE"]), (162, ERROR["SLEW_RATE"]),
                      (163, ERROR["SLEW_RATE"]), (451, ERROR["SLEW_RATE"])]
    assert [k for k, row in enumerate(got) if row["jump"]] == [320 + 3, 400 + 2]
    assert got[149]["slewing"] and not got[151]["slewing"]
    assert 0 < got[149]["remaining"] < 40 and got[151]["remaining"] == 0
    assert got[425]["slewing"] and got[425]["remaining"] == -1
