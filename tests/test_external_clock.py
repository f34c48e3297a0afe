# amaranth: UnusedElaboratable=no
"""ExternalClockDivider and ExternalClockMeter (gateware/clock/external_clock.py) in amaranth.sim
with two unrelated clocks: ``sync`` at 8 ns and ``audio_ext`` near 12.288 MHz with a known error.

The testbench's wallclock advances exactly with simulated time (or, for the frequency meter,
exactly `scale` times faster, so that a wallclock "second" takes a few thousand cycles: the
meter only counts MCLK cycles per wallclock second, and `nominal_hz` is scaled alike). All
references are integer / `Fraction` arithmetic on the exact clock edges: ``sync`` edges at even
femtoseconds, ``audio_ext`` edges at odd ones, so no two ever coincide.
"""

from fractions import Fraction

import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Module, Value
from amaranth.sim import Simulator

from stagebox.gateware.clock.external_clock import (
    BCLK_PER_FRAME,
    MCLK_PER_FRAME,
    PPB_SCALE,
    ExternalClockDivider,
    ExternalClockMeter,
)
from stagebox.gateware.ptp_time import NS_PER_SEC, SEC_BITS, PtpTime
from stagebox.regmap.map import SAMPLE_RATES_HZ

FS_PER_NS = 1_000_000
SYNC_FS = 8_000_000
SYNC_PHASE_FS = 4_000_000
SYS_CLK_HZ = 125_000_000
MCLK_NOMINAL_HZ = 256 * SAMPLE_RATES_HZ[1]             # 12.288 MHz
NS_OFFSET, SEC_OFFSET = PtpTime["ns"].offset, PtpTime["sec"].offset


def _raw_time(ns):
    """The bits of a `PtpTime` holding `ns` nanoseconds since the epoch (fast to ``ctx.set``)."""
    sec, ns = divmod(ns, NS_PER_SEC)
    return ns << NS_OFFSET | (sec % (1 << SEC_BITS)) << SEC_OFFSET


def _audio_period_fs(ppm):
    """An even period in fs for a 12.288 MHz clock off by about `ppm`."""
    period = round(Fraction(10 ** 15) / (MCLK_NOMINAL_HZ * (1 + Fraction(ppm, 10 ** 6))))
    return period + period % 2


def _add_clock(sim, period_fs, phase_fs, domain):
    """A simulator clock with rising edges exactly at ``phase_fs + k * period_fs``."""
    assert period_fs % 2 == 0
    # amaranth.sim truncates seconds * 1e15 to whole femtoseconds: aim a quarter above.
    period, phase = (period_fs + 0.25) / 1e15, (phase_fs + 0.25) / 1e15
    assert int(period * 1e15) == period_fs and int(phase * 1e15) == phase_fs
    sim.add_clock(period, phase=phase, domain=domain)


def _edges_before(x_fs, phase_fs, period_fs):
    """Rising edges strictly before the instant `x_fs` of a clock (edge k at phase + k * P)."""
    return 0 if x_fs <= phase_fs else (x_fs - phase_fs + period_fs - 1) // period_fs


def _sync_edge(n):
    return SYNC_PHASE_FS + n * SYNC_FS


class _Top(Elaboratable):
    def __init__(self, *duts):
        self.duts = duts

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.domains.audio_ext = ClockDomain()
        for i, dut in enumerate(self.duts):
            m.submodules[f"dut{i}"] = dut
        if len(self.duts) == 2:
            divider, meter = self.duts
            m.d.comb += meter.frame_start.eq(divider.frame_start)
        return m


# --- the frequency meter ----------------------------------------------------------------------

def _run_meter(*, scale, audio_fs, nominal, gate, t0_ns, cycles, jump=None, audio_phase_fs=1):
    """Simulate an `ExternalClockMeter` alone. The wallclock in cycle ``n`` (which starts at
    ``sync`` edge ``n``) is ``t0_ns + scale * edge_n`` (ns), plus ``jump[1]`` from cycle
    ``jump[0]`` on. Returns the wallclock per cycle and the results ``(cycle, cycles, ppb,
    measurements, valid)`` in each cycle in which ``measurements`` moved."""
    dut = ExternalClockMeter(sys_clk_hz=SYS_CLK_HZ)
    assert scale * SYNC_FS % FS_PER_NS == 0 and scale * SYNC_PHASE_FS % FS_PER_NS == 0
    jump_at, jump_ns = jump if jump else (None, 0)

    def wall(n):
        return t0_ns + scale * _sync_edge(n) // FS_PER_NS + (jump_ns if jump_at and n >= jump_at
                                                             else 0)

    walls = [wall(n) for n in range(-1, cycles + 1)]     # walls[n + 1] is cycle n's
    results = []
    time, time_next = Value.cast(dut.time), Value.cast(dut.time_next)

    async def bench(ctx):
        ctx.set(dut.gate_sec, gate)
        ctx.set(dut.nominal_hz, nominal)
        ctx.set(time, _raw_time(walls[0]))
        ctx.set(time_next, _raw_time(walls[1]))
        last = 0
        for n in range(cycles):
            await ctx.tick()
            ctx.set(time, _raw_time(walls[n + 1]))
            ctx.set(time_next, _raw_time(walls[n + 2]))
            ctx.set(dut.jump, n + 1 == jump_at)
            count = ctx.get(dut.measurements)
            if count != last:
                last = count
                results.append((n, ctx.get(dut.cycles), ctx.get(dut.ppb), count,
                                ctx.get(dut.valid)))

    sim = Simulator(_Top(dut))
    _add_clock(sim, SYNC_FS, SYNC_PHASE_FS, "sync")
    _add_clock(sim, audio_fs, audio_phase_fs, "audio_ext")
    sim.add_testbench(bench)
    sim.run()
    return dut, walls[1:-1], results


def _reference_gates(walls, gate, jump_at=None):
    """The gates the spec defines: (first cycle, last cycle) pairs of cycles that enter a new
    wallclock second; the first boundary (and the first after a jump) starts a gate."""
    gates, start, seconds = [], None, 0
    for n in range(1, len(walls)):
        if n == jump_at:
            start = None
            continue
        if walls[n] // NS_PER_SEC == walls[n - 1] // NS_PER_SEC:
            continue
        if start is None:
            start, seconds = n, 0
            continue
        seconds += 1
        if seconds == gate:
            gates.append((start, n))
            start, seconds = n, 0
    return gates


def _expected_ppb(cycles, target):
    magnitude = abs(cycles - target) * PPB_SCALE // target        # rounded towards zero
    magnitude = min(magnitude, (1 << 31) - 1)
    return -magnitude if cycles < target else magnitude


def _check_meter(dut, walls, results, *, audio_fs, nominal, gate, audio_phase_fs=1,
                 jump_at=None):
    gates = _reference_gates(walls, gate, jump_at)
    assert len(results) >= 1 and len(results) in (len(gates), len(gates) - 1)
    delay = dut.count_delay
    for (start, end), (cycle, cycles, ppb, _, valid) in zip(gates, results, strict=False):
        assert end < cycle < end + 100                      # the arithmetic takes ~83 cycles
        counted = (_edges_before(_sync_edge(end - delay), audio_phase_fs, audio_fs)
                   - _edges_before(_sync_edge(start - delay), audio_phase_fs, audio_fs))
        assert cycles == counted % (1 << 32)
        target = gate * nominal
        if target:
            assert valid == 1
            assert ppb == _expected_ppb(counted, target)
        else:
            assert (valid, ppb) == (0, 0)
    assert [count for *_, count, _ in results] == list(range(1, len(results) + 1))
    return gates


@pytest.mark.parametrize("ppm", [37, -250])
def test_meter_measures_the_frequency_error(ppm):
    scale, gate = 6000, 2                     # a wallclock second is 20833.3 cycles here
    nominal = MCLK_NOMINAL_HZ // scale        # MCLK cycles per (scaled) wallclock second
    assert nominal * scale == MCLK_NOMINAL_HZ
    audio_fs = _audio_period_fs(ppm)
    t0_ns = 41 * NS_PER_SEC - 2_000_000      # the first boundary comes after ~40 cycles
    dut, walls, results = _run_meter(scale=scale, audio_fs=audio_fs, nominal=nominal,
                                     gate=gate, t0_ns=t0_ns, cycles=2 * 20834 + 250)
    [(start, end)] = _check_meter(dut, walls, results, audio_fs=audio_fs, nominal=nominal,
                                  gate=gate)
    [(_, cycles, ppb, _, _)] = results
    # Against the truth: the gate lasts `gate` wallclock seconds, i.e. gate * 1e9 / scale ns of
    # simulated time; the count is within 1 + f * S of f times that, and ppb follows.
    true_cycles = Fraction(gate * NS_PER_SEC * FS_PER_NS, scale * audio_fs)
    bound = 1 + Fraction(SYNC_FS, audio_fs)
    assert abs(cycles - true_cycles) < bound
    target = gate * nominal
    true_ppb = (true_cycles - target) * PPB_SCALE / target
    assert abs(true_ppb - ppm * 1000) < 100       # the clock is what we asked for
    assert abs(ppb - true_ppb) < bound * PPB_SCALE / target + 1


@pytest.mark.parametrize("nominal, gate", [
    (1, 1),                  # saturates at +(2**31 - 1)
    (205, 1),                # about the true rate: a few thousand ppm either way
    (4_000_000_000, 1),      # nearly -1e9 ppb
    ((1 << 32) - 1, 3),      # gate * nominal above 2**33
    (0, 2),                  # no nominal rate: not valid
])
def test_meter_arithmetic(nominal, gate):
    scale = 60_000                             # a wallclock second is 2083.3 cycles
    audio_fs = _audio_period_fs(-250)
    dut, walls, results = _run_meter(scale=scale, audio_fs=audio_fs, nominal=nominal, gate=gate,
                                     t0_ns=7 * NS_PER_SEC - 5_000_000,
                                     cycles=(2 * gate + 1) * 2084)
    _check_meter(dut, walls, results, audio_fs=audio_fs, nominal=nominal, gate=gate)
    assert len(results) >= 2
    if (nominal, gate) == (1, 1):
        assert {ppb for _, _, ppb, _, _ in results} == {(1 << 31) - 1}


def test_meter_discards_a_gate_with_a_jump():
    scale, gate, nominal = 60_000, 2, 205
    audio_fs = _audio_period_fs(37)
    jump_at = 3000                               # inside the first gate
    dut, walls, results = _run_meter(scale=scale, audio_fs=audio_fs, nominal=nominal, gate=gate,
                                     t0_ns=7 * NS_PER_SEC - 5_000_000, cycles=8 * 2084,
                                     jump=(jump_at, -300_000_000))
    gates = _check_meter(dut, walls, results, audio_fs=audio_fs, nominal=nominal, gate=gate,
                         jump_at=jump_at)
    assert gates[0][0] > jump_at


def test_meter_stopped_with_gate_zero():
    dut, _, results = _run_meter(scale=60_000, audio_fs=_audio_period_fs(0), nominal=205,
                                 gate=0, t0_ns=0, cycles=5000)
    assert results == []


# --- the divider ------------------------------------------------------------------------------

def _pattern(mclk_512, tdm):
    """One frame of (bclk, lrck) per MCLK cycle, from the frame start, as the spec says."""
    frame = MCLK_PER_FRAME[mclk_512]
    divide = frame // BCLK_PER_FRAME["tdm" if tdm else "i2s"]
    out = []
    for i in range(frame):
        bclk = int(i % divide >= divide // 2)
        lrck = int(i < divide) if tdm else int(i >= frame // 2)
        out.append((bclk, lrck))
    return out


def _run_divider(*, audio_fs, audio_phase_fs, cycles, schedule, meter=None, boundary=None,
                 t0_ns=0):
    """Simulate a divider (and optionally a meter fed by it) for `cycles` ``sync`` cycles.
    `schedule` maps a cycle to settings applied during it (``align`` lasts that cycle only);
    `boundary(n)` gives the meter's ``boundary`` (ns) in cycle n. Returns the outputs after
    every MCLK edge, the frame start pulse cycles and (meter) ``phase_ns`` in each cycle after
    a pulse. The wallclock is ``t0_ns`` plus the simulated time."""
    divider = ExternalClockDivider()
    duts = (divider, meter) if meter else (divider,)
    outputs, pulses, phases = [], [], []
    audio_edges = _edges_before(_sync_edge(cycles), audio_phase_fs, audio_fs) - 1

    async def sync_bench(ctx):
        if meter:
            time, time_next = Value.cast(meter.time), Value.cast(meter.time_next)
            bound = Value.cast(meter.boundary)
        for n in range(cycles):
            await ctx.tick()
            ctx.set(divider.align, 0)
            for name, value in schedule.get(n, {}).items():
                ctx.set(getattr(divider, name), value)
            if ctx.get(divider.frame_start):
                pulses.append(n)
            if meter:
                ctx.set(time, _raw_time(t0_ns + _sync_edge(n) // FS_PER_NS))
                ctx.set(time_next, _raw_time(t0_ns + _sync_edge(n + 1) // FS_PER_NS))
                ctx.set(bound, _raw_time(boundary(n)))
                if pulses and pulses[-1] == n - 1:
                    phases.append((n, ctx.get(meter.phase_ns)))

    async def audio_bench(ctx):
        for _ in range(audio_edges):
            await ctx.tick("audio_ext")
            outputs.append((ctx.get(divider.bclk), ctx.get(divider.lrck)))

    sim = Simulator(_Top(*duts))
    _add_clock(sim, SYNC_FS, SYNC_PHASE_FS, "sync")
    _add_clock(sim, audio_fs, audio_phase_fs, "audio_ext")
    sim.add_testbench(sync_bench)
    sim.add_testbench(audio_bench)
    sim.run()
    return divider, outputs, pulses, phases


def _frame_starts(outputs, patterns):
    """MCLK edges at which a whole frame of one of `patterns` begins: {edge: pattern index}."""
    starts = {}
    for index, pattern in enumerate(patterns):
        frame = len(pattern)
        for m in range(len(outputs) - frame + 1):
            if outputs[m] == pattern[0] and outputs[m:m + frame] == pattern:
                starts[m] = index
    return starts


def _runs(values):
    """(value, length) of the maximal runs of `values`, without the first and last run."""
    runs, length = [], 1
    for before, now in zip(values, values[1:], strict=False):
        if now == before:
            length += 1
        else:
            runs.append((before, length))
            length = 1
    return runs[1:]


def _check_no_runts(outputs, mclk_512, tdm):
    frame = MCLK_PER_FRAME[mclk_512]
    divide = frame // BCLK_PER_FRAME["tdm" if tdm else "i2s"]
    for level, length in _runs([b for b, _ in outputs]):
        assert length >= divide // 2, (level, length)
    for level, length in _runs([lr for _, lr in outputs]):
        if tdm:
            assert length == divide if level else length >= frame - divide
        else:
            assert length >= frame // 2, (level, length)


def _first_audio_edge_after(x_fs, audio_phase_fs, audio_fs):
    return _edges_before(x_fs, audio_phase_fs, audio_fs)     # index of the first edge >= x


@pytest.mark.parametrize("mclk_512, tdm", [(0, 0), (1, 0), (1, 1)])
def test_divider_ratios_alignment_and_no_runts(mclk_512, tdm):
    # An MCLK faster than a real one (about 42 MHz) keeps the simulation short; the divider
    # only sees its own edges and the synchronisers.
    audio_fs, audio_phase_fs = 23_700_002, 7_777_777
    frame = MCLK_PER_FRAME[mclk_512]
    frame_sync = frame * audio_fs // SYNC_FS + 1             # sync cycles per frame, about
    align_at = 5 * frame_sync + 37
    stop_at = align_at + 4 * frame_sync
    cycles = stop_at + 3 * frame_sync
    schedule = {3: {"enable": 1, "mclk_512": mclk_512, "tdm": tdm}, align_at: {"align": 1},
                stop_at: {"enable": 0}}
    divider, outputs, pulses, _ = _run_divider(audio_fs=audio_fs, audio_phase_fs=audio_phase_fs,
                                               cycles=cycles, schedule=schedule)
    pattern = _pattern(mclk_512, tdm)
    starts = sorted(_frame_starts(outputs, [pattern]))
    assert len(starts) >= 8
    # Ratios: BCLK cycles per frame and LRCK duty, counted on the recorded frames.
    first = outputs[starts[0]:starts[0] + frame]
    rises = sum(1 for a, b in zip(first, first[1:] + [outputs[starts[0] + frame]], strict=True)
                if b[0] and not a[0])
    assert rises == BCLK_PER_FRAME["tdm" if tdm else "i2s"]
    if not tdm:
        assert sum(lr for _, lr in first) == frame // 2
    # Alignment: the frame start follows the first MCLK edge after the toggle by the latency.
    a1 = _first_audio_edge_after(_sync_edge(align_at + 1), audio_phase_fs, audio_fs)
    aligned = a1 + divider.align_latency
    assert aligned in starts
    # Before the alignment: back-to-back frames from the first start; after it, the same.
    before = [m for m in starts if m < aligned]
    assert before == list(range(starts[0], before[-1] + 1, frame))
    after = [m for m in starts if m >= aligned]
    assert after == list(range(aligned, after[-1] + 1, frame))
    # Between them, the last cycle of a frame is held (stretched), nothing else.
    for m in range(before[-1] + frame, aligned):
        assert outputs[m] == pattern[-1]
    # Disable: the running frame completes, then everything stays low.
    assert all(out == (0, 0) for out in outputs[after[-1] + frame:])
    assert len(outputs) - (after[-1] + frame) > frame
    _check_no_runts(outputs, mclk_512, tdm)
    # A frame start pulse per frame, in the cycle `frame_start_latency` after the first sync
    # edge that follows the frame start's MCLK edge.
    expected = []
    for m in starts:
        edge_fs = audio_phase_fs + m * audio_fs
        first_sync = _edges_before(edge_fs, SYNC_PHASE_FS, SYNC_FS)
        expected.append(first_sync + divider.frame_start_latency)
    assert pulses == expected


def test_divider_tdm_needs_mclk_512_and_settings_wait_for_the_frame_end():
    audio_fs, audio_phase_fs = 23_700_002, 1_234_567
    frame_sync = 512 * audio_fs // SYNC_FS + 1
    switch_at = 2 * frame_sync + 11
    cycles = 5 * frame_sync
    schedule = {2: {"enable": 1, "mclk_512": 0, "tdm": 0}, switch_at: {"mclk_512": 1}}
    _, outputs, pulses, _ = _run_divider(audio_fs=audio_fs, audio_phase_fs=audio_phase_fs,
                                         cycles=cycles, schedule=schedule)
    starts = _frame_starts(outputs, [_pattern(0, 0), _pattern(1, 0)])
    ordered = sorted(starts)
    kinds = [starts[m] for m in ordered]
    assert kinds == sorted(kinds) and 0 in kinds and 1 in kinds
    for m, following in zip(ordered, ordered[1:], strict=False):
        assert following - m == MCLK_PER_FRAME[starts[m]]
    _check_no_runts(outputs[:ordered[kinds.index(1)]], 0, 0)
    _check_no_runts(outputs[ordered[kinds.index(1)]:], 1, 0)
    # TDM8 with MCLK at 256 fs cannot be divided: the outputs stay low.
    _, outputs, pulses, _ = _run_divider(audio_fs=audio_fs, audio_phase_fs=audio_phase_fs,
                                         cycles=frame_sync,
                                         schedule={2: {"enable": 1, "tdm": 1, "mclk_512": 0}})
    assert set(outputs) == {(0, 0)} and pulses == []


# --- the phase meter with the divider ---------------------------------------------------------

@pytest.mark.parametrize("shift_ns", [0, 252, 10_450])
def test_phase_after_alignment(shift_ns):
    """The divider aligns to the strobes of a 48 kHz media clock; the meter is given that
    clock's boundaries moved later by `shift_ns`: the aligned phase (about 250 ns), a phase
    crossing zero where each frame start's pulse comes just after a boundary and the next
    pulse before the next boundary is seen (252), and near minus half a sample (10 450)."""
    fs = SAMPLE_RATES_HZ[1]
    audio_fs, audio_phase_fs = _audio_period_fs(37), 3_333_333

    def strobe_boundary(k):                   # the first whole ns at or after sample k
        return -(-k * NS_PER_SEC // fs)

    t0_ns = 5 * NS_PER_SEC - 150_000         # the wallclock enters a new second mid-test

    def wall(n):
        return t0_ns + _sync_edge(n) // FS_PER_NS

    def sample_at(n):                         # the last sample boundary at or before cycle n
        k = wall(n) * fs // NS_PER_SEC
        while strobe_boundary(k + 1) <= wall(n):
            k += 1
        while strobe_boundary(k) > wall(n):
            k -= 1
        return k

    def boundary(n):
        k = sample_at(n)
        return strobe_boundary(k) + shift_ns if wall(n) >= strobe_boundary(k) + shift_ns \
            else strobe_boundary(k - 1) + shift_ns

    frame_sync = 256 * audio_fs // SYNC_FS + 1
    align_at = next(n for n in range(200, 10_000) if sample_at(n) != sample_at(n - 1))
    cycles = align_at + 10 * frame_sync
    meter = ExternalClockMeter(sys_clk_hz=SYS_CLK_HZ)
    schedule = {3: {"enable": 1}, align_at: {"align": 1}}
    divider, outputs, pulses, phases = _run_divider(
        audio_fs=audio_fs, audio_phase_fs=audio_phase_fs, cycles=cycles, schedule=schedule,
        meter=meter, boundary=boundary, t0_ns=t0_ns)
    assert meter.phase_compensation_ns == (2 * divider.frame_start_latency + 1) * SYNC_FS \
        // FS_PER_NS // 2
    starts = sorted(_frame_starts(outputs, [_pattern(0, 0)]))
    a1 = _first_audio_edge_after(_sync_edge(align_at + 1), audio_phase_fs, audio_fs)
    aligned = a1 + divider.align_latency
    assert aligned in starts
    # The aligned frame start, against the sample boundary that the align strobe marked.
    marked = (strobe_boundary(sample_at(align_at)) - t0_ns) * FS_PER_NS
    start_fs = audio_phase_fs + aligned * audio_fs
    latency_fs = start_fs - marked - divider.align_latency * audio_fs
    assert SYNC_FS <= latency_fs < 2 * SYNC_FS + audio_fs
    # Every frame's phase, read in the cycle after the next frame's pulse.
    boundaries = [strobe_boundary(k) + shift_ns
                  for k in range(sample_at(0) - 2, sample_at(cycles) + 3)]
    checked = 0
    for m, pulse in zip(starts, pulses, strict=False):
        following = [(n, value) for n, value in phases if n > pulse + 1]
        if m < aligned or not following:
            continue
        _, reported = following[0]
        start = t0_ns + Fraction(audio_phase_fs + m * audio_fs, FS_PER_NS)        # wallclock
        nearest = min(boundaries, key=lambda b: (abs(start - b), b))
        exact = start - nearest
        assert -SYNC_FS // FS_PER_NS // 2 < reported - exact <= SYNC_FS // FS_PER_NS // 2, \
            (m, reported, exact)
        checked += 1
    assert checked >= 6
