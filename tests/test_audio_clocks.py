# amaranth: UnusedElaboratable=no
"""AudioClockGenerator (gateware/clock/audio_clocks.py) with a MediaClock in amaranth.sim, against
the exact law of the pins.

The testbench is the wallclock (an exact integer model advancing about 8 ns per cycle, with the
odd 7 or 9 ns of a wallclock running off nominal). While the generator runs, the pins must show
``pin_levels(floor(T * fs * E / 1e9) mod E)`` in every cycle, ``T`` the wallclock time of the
cycle: that is, every edge in the first cycle at or past its exact instant, the LRCK / frame
sync edge in the cycle of the media strobe. Independently of that law the testbench measures, in
real time (which a step does not move), every high and low phase of every pin: none may be
shorter than its nominal length minus one clock period, across steps in both directions, rate
and format changes.
"""

import random
from fractions import Fraction

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from stagebox.gateware.clock.audio_clocks import (
    AudioClockGenerator,
    edges_per_sample,
    mclk_hz,
    pin_levels,
)
from stagebox.gateware.clock.media_clock import MediaClock
from stagebox.gateware.ptp_time import NS_PER_SEC, PtpTime, ns_to_ptp_time
from stagebox.regmap.map import SAMPLE_RATES_HZ

PINS = ("mclk", "bclk", "lrck")


class Clocks(wiring.Component):
    """MediaClock and AudioClockGenerator wired as the time base wires them."""

    def __init__(self, sys_clk_hz):
        self.sys_clk_hz = sys_clk_hz
        super().__init__({
            "time_next": In(PtpTime), "jump": In(1), "rate": In(2),
            "mclk_512": In(1), "tdm": In(1), "enable": In(1),
            "media_strobe": Out(1), "media_valid": Out(1),
            "mclk": Out(1), "bclk": Out(1), "lrck": Out(1),
            "bclk_rise": Out(1), "bclk_fall": Out(1), "frame_start": Out(1),
            "restart": Out(1), "running": Out(1), "too_fast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.media = media = MediaClock(sys_clk_hz=self.sys_clk_hz)
        m.submodules.audio = audio = AudioClockGenerator(sys_clk_hz=self.sys_clk_hz)
        wiring.connect(m, media.schedule, audio.schedule)
        m.d.comb += [
            media.time_next.eq(self.time_next), media.jump.eq(self.jump),
            media.rate.eq(self.rate),
            audio.time_next.eq(self.time_next), audio.jump.eq(self.jump),
            audio.mclk_512.eq(self.mclk_512), audio.tdm.eq(self.tdm),
            audio.enable.eq(self.enable),
            self.media_strobe.eq(media.strobe), self.media_valid.eq(media.valid),
        ]
        for name in (*PINS, "bclk_rise", "bclk_fall", "frame_start", "restart", "running",
                     "too_fast"):
            m.d.comb += getattr(self, name).eq(getattr(audio, name))
        return m


def nominal_phases(fs, mclk_512, tdm):
    """Nominal (high, low) lengths in ns of each pin: multiples of the edge spacing."""
    spacing = Fraction(NS_PER_SEC, fs * edges_per_sample(mclk_512))
    edges = edges_per_sample(mclk_512)
    bclk_edges = edges // (256 if tdm else 64) // 2
    lrck = (2 * bclk_edges, edges - 2 * bclk_edges) if tdm else (edges // 2, edges // 2)
    return {"mclk": (spacing, spacing), "bclk": (bclk_edges * spacing,) * 2,
            "lrck": (lrck[0] * spacing, lrck[1] * spacing)}


class Config:
    def __init__(self, rate, mclk_512, tdm, enable=1):
        self.rate, self.mclk_512, self.tdm, self.enable = rate, mclk_512, tdm, enable

    @property
    def fs(self):
        return SAMPLE_RATES_HZ[self.rate]


def run(segments, *, t0, sys_clk_hz=125_000_000, seed=0, wobble=True):
    """Simulate `segments`, each ``(cycles, config, step_ns)``: at its first cycle the inputs
    take `config` and, if `step_ns` is not None, the wallclock steps by it (``jump``).
    Checks every cycle; returns statistics. With `wobble` the wallclock advances by 7 or 9 ns
    instead of 8 in one cycle out of 16 (a clock off nominal), else by exactly one period."""
    dut = Clocks(sys_clk_hz)
    rng = random.Random(seed)
    tick_ns = NS_PER_SEC // sys_clk_hz
    max_tick = tick_ns + wobble
    stats = {"restarts": 0, "frames": 0, "locked_cycles": 0, "max_relock": 0, "too_fast": 0,
             "ratios": set(), "mclk_phases": 0}

    async def bench(ctx):
        t = t0              # wallclock (ns)
        real = 0            # the wallclock without its steps: what a scope sees
        cfg = segments[0][1]
        locked = False
        lock_fs = lock_cfg = None
        levels = {pin: 0 for pin in PINS}
        # Per pin: (real time of the last change, nominal phases in force then)
        last_change = {pin: None for pin in PINS}
        mclk_cycles = [[]]          # MCLK phase lengths in cycles, one list per lock
        cycle, cycle_mclk = 0, None
        frozen_at = None            # real time and cycle at which the last freeze began
        frame = None                # edges counted in the current frame
        for cycles, new_cfg, step in segments:
            for i in range(cycles):
                disturb = None
                t_next = t + tick_ns + (rng.choice((0,) * 14 + (-1, 1)) if wobble else 0)
                if i == 0:
                    if step is not None:
                        t_next, disturb = t + step, "jump"
                    if new_cfg is not cfg:
                        if (new_cfg.mclk_512, new_cfg.tdm, new_cfg.enable) != \
                                (cfg.mclk_512, cfg.tdm, cfg.enable):
                            disturb = "jump"        # the same: the pins freeze at once
                        elif new_cfg.rate != cfg.rate and disturb is None:
                            disturb = "rate"        # the media clock reacts one edge later
                        cfg = new_cfg
                    for name in ("rate", "mclk_512", "tdm", "enable"):
                        ctx.set(getattr(dut, name), getattr(cfg, name))
                ctx.set(dut.time_next, ns_to_ptp_time(t_next))
                ctx.set(dut.jump, step is not None and i == 0)
                await ctx.tick()
                t_prev, t = t, t_next
                real += tick_ns if disturb == "jump" else t - t_prev
                cycle += 1
                now = {pin: ctx.get(getattr(dut, pin)) for pin in PINS}
                strobes = {name: ctx.get(getattr(dut, name))
                           for name in ("bclk_rise", "bclk_fall", "frame_start", "restart",
                                        "media_strobe", "running", "too_fast")}
                stats["too_fast"] += strobes["too_fast"]
                if disturb == "jump" and locked:
                    locked, frozen_at = False, real
                    assert now == levels, "the pins must freeze in the cycle of the cause"
                if strobes["restart"]:
                    assert not locked and strobes["frame_start"] and strobes["media_strobe"]
                    assert frozen_at is None or real - frozen_at >= \
                        Fraction(NS_PER_SEC, cfg.fs) - tick_ns
                    locked, lock_cfg, lock_fs, frame = True, cfg, cfg.fs, None
                    stats["restarts"] += 1
                if locked:
                    stats["locked_cycles"] += 1
                    edges = edges_per_sample(lock_cfg.mclk_512)
                    position = t * lock_fs * edges // NS_PER_SEC
                    law = pin_levels(position % edges, mclk_512=lock_cfg.mclk_512,
                                     tdm=lock_cfg.tdm)
                    assert tuple(now[pin] for pin in PINS) == law, (t, position % edges)
                    boundary = position // edges != t_prev * lock_fs // NS_PER_SEC
                    assert strobes["frame_start"] == boundary == strobes["media_strobe"]
                    assert strobes["bclk_rise"] == (now["bclk"] and not levels["bclk"])
                    assert strobes["bclk_fall"] == (levels["bclk"] and not now["bclk"])
                    if boundary:
                        if frame is not None:
                            stats["ratios"].add((lock_cfg.mclk_512, lock_cfg.tdm, *frame))
                            stats["frames"] += 1
                        frame = [0, 0]
                    if frame is not None:
                        frame[0] += strobes["bclk_rise"]
                        frame[1] += now["mclk"] and not levels["mclk"]
                else:
                    assert now == levels, "a stopped generator holds its pins"
                    assert not any(strobes[name] for name in
                                   ("bclk_rise", "bclk_fall", "frame_start"))
                if locked and disturb == "rate":
                    locked, frozen_at = False, real
                if disturb is not None:
                    cycle_mclk = None
                    mclk_cycles.append([])
                if now["mclk"] != levels["mclk"]:
                    if locked and cycle_mclk is not None:
                        mclk_cycles[-1].append(cycle - cycle_mclk)
                    cycle_mclk = cycle if locked else None
                for pin in PINS:
                    if now[pin] == levels[pin]:
                        continue
                    nominal = nominal_phases(lock_fs, lock_cfg.mclk_512, lock_cfg.tdm)[pin]
                    if last_change[pin] is not None:
                        since, was = last_change[pin]
                        # The phase that just ended had level levels[pin]; index 0 is high.
                        need = min(was[1 - levels[pin]], nominal[1 - levels[pin]])
                        assert real - since >= need - max_tick, (pin, real - since, need)
                    last_change[pin] = (real, nominal)
                    levels[pin] = now[pin]
        # MCLK duty: high and low phases (consecutive lengths) differ by at most one cycle (at
        # a constant advance per cycle; a wobbling one moves single edges by a cycle).
        for phases in mclk_cycles if not wobble else ():
            for a, b in zip(phases, phases[1:], strict=False):
                assert abs(a - b) <= 1
        stats["mclk_phases"] = sum(len(phases) for phases in mclk_cycles)

    sim = Simulator(dut)
    sim.add_clock(1 / sys_clk_hz)
    sim.add_testbench(bench)
    sim.run()
    return stats


def samples_cycles(fs, count, sys_clk_hz=125_000_000):
    return count * sys_clk_hz // fs


@pytest.mark.parametrize("rate", [0, 3])
def test_formats_law_and_ratios(rate):
    fs = SAMPLE_RATES_HZ[rate]
    configs = [Config(rate, mclk_512, tdm) for tdm in (0, 1) for mclk_512 in (0, 1)]
    # Each format: acquisition, up to two samples to restart, then at least two frames.
    segments = [(200 + samples_cycles(fs, 5), c, None) for c in configs]
    stats = run(segments, t0=41 * NS_PER_SEC - 3 * NS_PER_SEC // fs, seed=rate, wobble=False)
    assert stats["restarts"] == 4
    # (mclk_512, tdm, BCLK rises per frame, MCLK rises per frame)
    assert stats["ratios"] == {(0, 0, 64, 256), (1, 0, 64, 512), (0, 1, 256, 256),
                               (1, 1, 256, 512)}
    assert stats["mclk_phases"] > 2000


def test_steps_both_directions_and_rate_changes():
    rng = random.Random(7)
    fast = Config(3, 1, 0)
    segments = [(200 + samples_cycles(96_000, 3), fast, None)]
    steps = [-3_000, 2_500, -NS_PER_SEC // 96_000 // 2, 7 * NS_PER_SEC + 1_234,
             -5 * NS_PER_SEC - 77_777]
    for step in steps:
        segments.append((200 + samples_cycles(96_000, 3), fast, step))
    # Format and rate changes (the second and fourth change only the rate), each followed by a
    # step back.
    for rate, mclk_512, tdm in ((2, 1, 1), (3, 1, 1), (1, 0, 0), (3, 0, 0)):
        cfg = Config(rate, mclk_512, tdm)
        fs = SAMPLE_RATES_HZ[rate]
        segments.append((200 + samples_cycles(fs, 3), cfg, None))
        segments.append((200 + samples_cycles(fs, 3), cfg, -rng.randint(1, 30_000)))
    # Format change and a step in the same cycle; then disable and enable again.
    cfg = Config(3, 1, 1)
    segments.append((200 + samples_cycles(96_000, 3), cfg, 4_321))
    segments.append((samples_cycles(96_000, 1) // 3, Config(3, 1, 1, enable=0), None))
    segments.append((200 + samples_cycles(96_000, 3), cfg, None))
    stats = run(segments, t0=1_000 * NS_PER_SEC - 11_111, seed=3)
    assert stats["restarts"] == len(segments) - 1


def test_too_fast_stays_stopped():
    sys_clk_hz = 50_000_000
    assert 2 * mclk_hz(96_000, 1) > sys_clk_hz >= 2 * mclk_hz(96_000, 0)
    segments = [(200 + samples_cycles(96_000, 4, sys_clk_hz), Config(3, 1, 0), None),
                (200 + samples_cycles(96_000, 5, sys_clk_hz), Config(3, 0, 1), None)]
    stats = run(segments, t0=3 * NS_PER_SEC, sys_clk_hz=sys_clk_hz, seed=1, wobble=False)
    assert stats["too_fast"] == segments[0][0]
    assert stats["restarts"] == 1 and stats["frames"] >= 2


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="sys_clk_hz"):
        AudioClockGenerator(sys_clk_hz=0)
