"""The system simulator's PHY and audio models (sim/engine/harness.cpp) against cocotb models.

Issue 5's first acceptance bullet: the same small designs, run once in the compiled harness and
once under cocotb + Icarus with independent models, must give the same frames and samples out,
with the same timing, exactly, in integer picoseconds.

Ethernet (`PhyEcho`): the receive pins go through `PIPELINE` registers to the transmit pins, so
every frame comes back unchanged (preamble, padding and FCS included) `PIPELINE` clock periods
later. One schedule of frames (short ones the PHY pads, frames at chosen cycles and frames
back to back) is played by the harness's PhyRx and by cocotbext-eth's GmiiSource / MiiSource
(Stagebox's RmiiSource for RMII); the harness's PhyTx and cocotbext-eth's GmiiSink / MiiSink
(RmiiSink) collect what comes out.

Reference points. Every time below is that of the first symbol after the SFD.
- Harness input (``phy_rx_notes``): the receive-clock edge at which that symbol appears at the
  design's port (the harness writes it before the edge into the wrapper's input register, whose
  output is the port: a PHY's output flop). The design samples it one edge later.
- cocotb input (``sim_time_sfd`` of the source's frame): the edge after which the source writes
  that symbol (cocotb applies writes after the edge's own processes ran): at the port from that
  edge on, sampled one edge later. Same instant as the harness's.
- Harness output (``TxFrame.t_ps``): the edge that launched the symbol on TXD (read after it).
- cocotb output (``sim_time_sfd`` of the sink's frame): the sinks sample on ``clk_n``'s rising
  edge, half a period after the launching edge of ``clk`` (sampling at ``clk``'s own edge would
  race the design's registers), so the launching edge is ``sim_time_sfd - period / 2``.

Audio (`AudioReplay`): a clock master divides ``clk`` by `DIVIDER` into BCLK and makes LRCK (I2S:
low = left, 64 or 32 BCLK per frame, 1 BCLK data delay) or a TDM frame sync (high for the first
BCLK of a 256-BCLK frame, no data delay); it samples SDIN on BCLK rising, changes BCLK, LRCK and
SDOUT on BCLK falling, and replays SDIN on SDOUT exactly one frame later (a delay line of one
frame of bits per line), so out frame k + 1 == in frame k whatever the format. The harness's
source drives SDIN one sys clock after BCLK falls (written after the falling edge's eval, it
goes through the wrapper's input register); the cocotb source (tests/cocotb/sim_models_tb.py)
drives it 1 ps after BCLK falls. The design samples it on BCLK rising, `DIVIDER` / 2 sys clocks
after the fall, so both are sampled alike. A frame's time is the sys clock edge at which BCLK
falls and LRCK (frame sync) makes its frame-start transition, for both sides.

Only ppm 0 and one clock per design are exercised here: drift and several clocks are the
engine's own tests' business.
"""

import json
import random
from pathlib import Path

import pytest
from amaranth.hdl import Cat, ClockSignal, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.sim.build import build_library, design_from_component
from stagebox.sim.engine import PHY_WIDTH, Engine
from stagebox.testing.cocotb_runner import run_cocotb
from stagebox.testing.tools import require_tool

TB_DIR = Path(__file__).parent / "cocotb"
PS_PER_S = 10**12

# ---------------------------------------------------------------------------------------------
# Ethernet

PHY_HZ = {"gmii": 125_000_000, "mii": 25_000_000, "rmii": 50_000_000}
PIPELINE = 3
PREAMBLE_BYTES = 8          # 7 x 0x55 and the SFD
IFG_BYTES = 12
MIN_PAYLOAD = 60            # without FCS: shorter frames are padded to this
#: Rising edge of the harness's clock that the schedule's cycle numbers count from (the reset
#: is over long before it).
ORIGIN_EDGE = 16


def period_ps(kind):
    return PS_PER_S // PHY_HZ[kind]


def symbols_per_byte(kind):
    return 8 // PHY_WIDTH[kind]


class PhyEcho(wiring.Component):
    """Receive pins of one PHY kind through `delay` registers to the transmit pins (domain
    ``sync``); ``clk_n`` is the inverted clock, for cocotb sinks that sample mid-cycle."""

    def __init__(self, kind, delay=PIPELINE):
        self.kind, self.delay = kind, delay
        width = PHY_WIDTH[kind]
        members = {"rxd": In(width), self.dv_name: In(1), "rx_er": In(1),
                   "txd": Out(width), "tx_en": Out(1), "clk_n": Out(1)}
        if kind != "rmii":
            members["tx_er"] = Out(1)
        super().__init__(members)

    @property
    def dv_name(self):
        return "crs_dv" if self.kind == "rmii" else "rx_dv"

    def elaborate(self, platform):
        m = Module()
        width = PHY_WIDTH[self.kind]
        stages = [Signal(width + 2, name=f"stage{i}") for i in range(self.delay)]
        m.d.sync += stages[0].eq(Cat(self.rxd, getattr(self, self.dv_name), self.rx_er))
        for before, after in zip(stages, stages[1:], strict=False):
            m.d.sync += after.eq(before)
        last = stages[-1]
        m.d.comb += [self.txd.eq(last[:width]), self.tx_en.eq(last[width]),
                     self.clk_n.eq(~ClockSignal())]
        if self.kind != "rmii":
            m.d.comb += self.tx_er.eq(last[width + 1])
        return m


def phy_schedule(kind):
    """``[(payload, start)]``: `start` is the cycle (from the origin) at which the frame's first
    preamble symbol goes on the pins, or None for back to back after the previous frame. Lengths
    include frames the PHY pads (< 60 bytes), exactly 60 and 61."""
    rng = random.Random(5)
    pb = symbols_per_byte(kind)
    # (payload length, idle cycles beyond the minimum gap before the chosen start, or None)
    plan = [(20, 3), (60, None), (61, None), (14, None), (150, 5), (45, 42), (97, None)]
    schedule, end = [], 0
    for length, extra in plan:
        start = None
        if extra is not None:
            start = extra if not schedule else end + IFG_BYTES * pb + extra
        begin = start if start is not None else end + IFG_BYTES * pb
        schedule.append((rng.randbytes(length), start))
        end = begin + (PREAMBLE_BYTES + max(length, MIN_PAYLOAD) + 4) * pb
    return schedule


def expected_input_cycles(kind, schedule):
    """Cycle (from the origin) of each frame's first symbol after the SFD, worked out from the
    schedule: 8 preamble bytes after the start; back to back, 12 idle bytes after the last
    symbol of the previous frame."""
    pb, cycles, end = symbols_per_byte(kind), [], None
    for payload, start in schedule:
        begin = start if start is not None else end + IFG_BYTES * pb
        cycles.append(begin + PREAMBLE_BYTES * pb)
        end = begin + (PREAMBLE_BYTES + max(len(payload), MIN_PAYLOAD) + 4) * pb
    return cycles, end


def padded(payload):
    return payload.ljust(MIN_PAYLOAD, b"\0")


def run_harness_phy(kind, schedule, delay=PIPELINE):
    """Plays `schedule` through the harness; returns (input times, [TxFrame])."""
    period = period_ps(kind)
    engine = Engine(build_library(design_from_component(PhyEcho(kind, delay),
                                                        name=f"echo_{kind}_{delay}")))
    dev = engine.add_device()
    clock = engine.add_clock(dev, ["clk"], PHY_HZ[kind])
    phy = engine.attach_phy(dev, kind, clock, clock)
    # Rising edge n of a clock of phase 0 is at (n + 1/2) periods (its first edge is a fall).
    origin = period // 2 + ORIGIN_EDGE * period
    pb = symbols_per_byte(kind)
    for frame_id, (payload, start) in enumerate(schedule):
        t = 0 if start is None else origin + (start + PREAMBLE_BYTES * pb) * period
        engine.phy_send(dev, phy, payload, t, frame_id)
    _, end = expected_input_cycles(kind, schedule)
    engine.run(origin + (end + 64 * pb) * period)
    notes = engine.phy_rx_notes(dev, phy)
    assert [frame_id for frame_id, _ in notes] == list(range(len(schedule)))
    frames = engine.phy_tx_frames(dev, phy)
    engine.close()
    return [t for _, t in notes], frames, origin


def run_cocotb_phy(kind, schedule, tmp_path):
    request = tmp_path / "phy_in.json"
    result = tmp_path / "phy_out.json"
    request.write_text(json.dumps({
        "kind": kind, "period_ps": period_ps(kind), "ifg_bytes": IFG_BYTES,
        "frames": [{"payload": p.hex(), "start": s} for p, s in schedule]}))
    run_cocotb(PhyEcho(kind), toplevel=f"sim_models_echo_{kind}", test_module="sim_models_tb",
               test_dir=TB_DIR, simulator="icarus", testcase="phy_echo",
               extra_env={"STAGEBOX_SIM_MODELS_IN": str(request),
                          "STAGEBOX_SIM_MODELS_OUT": str(result)})
    return json.loads(result.read_text())


def relative(times):
    return [t - times[0] for t in times]


@pytest.mark.parametrize("kind", sorted(PHY_HZ))
def test_phy_models_agree(kind, tmp_path):
    require_tool("iverilog")
    period, pb = period_ps(kind), symbols_per_byte(kind)
    schedule = phy_schedule(kind)
    payloads = [padded(p) for p, _ in schedule]
    cycles, _ = expected_input_cycles(kind, schedule)

    h_in, h_frames, origin = run_harness_phy(kind, schedule)
    c = run_cocotb_phy(kind, schedule, tmp_path)

    # Inputs: both sources played the schedule alike (chosen cycles, 12-byte gaps).
    assert h_in == [origin + n * period for n in cycles]
    assert relative(c["in_sfd"]) == relative(h_in)

    # Frames out: the padded payloads, intact, nothing else.
    assert [f.data for f in h_frames] == payloads
    assert [f.flags for f in h_frames] == [frozenset()] * len(schedule)
    assert [bytes.fromhex(f["payload"]) for f in c["out"]] == payloads
    assert all(f["fcs_ok"] for f in c["out"])

    # Timing out: the sinks sample half a period after the launching edge (module docstring).
    h_out = [f.t_ps for f in h_frames]
    c_out = [f["sfd"] - period // 2 for f in c["out"]]
    latency = PIPELINE * period
    assert [o - i for i, o in zip(h_in, h_out, strict=True)] == [latency] * len(schedule)
    assert [o - i for i, o in zip(c["in_sfd"], c_out, strict=True)] == [latency] * len(schedule)
    assert relative(h_out) == relative(c_out)
    # Back-to-back frames leave exactly the 12-byte gap on the way out as well.
    for n, (_, start) in enumerate(schedule[1:], 1):
        if start is None:
            wire = (PREAMBLE_BYTES + len(payloads[n - 1]) + 4 + IFG_BYTES) * pb
            assert h_out[n] - h_out[n - 1] == wire * period


@pytest.mark.parametrize("kind", sorted(PHY_HZ))
def test_phy_latency_is_observable(kind):
    """The timing assertion above can fail: one more pipeline register moves every output
    frame of the harness by exactly one period, and nothing else."""
    schedule = phy_schedule(kind)
    h_in, h_frames, _ = run_harness_phy(kind, schedule)
    h_in2, h_frames2, _ = run_harness_phy(kind, schedule, delay=PIPELINE + 1)
    assert h_in2 == h_in
    assert [f.data for f in h_frames2] == [f.data for f in h_frames]
    assert [b.t_ps - a.t_ps for a, b in zip(h_frames, h_frames2, strict=True)] == [
        period_ps(kind)] * len(schedule)


# ---------------------------------------------------------------------------------------------
# Audio

AUDIO_HZ = 50_000_000
DIVIDER = 4                 # sys clocks per BCLK: the harness's source needs at least 4
AUDIO_FORMATS = {
    # name: (fmt, lines, slots, slot_bits, sample_bits, delay)
    "i2s_32bit_slots": ("i2s", 2, 2, 32, 24, 1),
    "i2s_16bit_slots": ("i2s", 1, 2, 16, 16, 1),
    "tdm8": ("tdm", 2, 8, 32, 24, 0),
}
AUDIO_FRAMES = 4            # frames pushed; the run covers them and a few more


class AudioReplay(wiring.Component):
    """Clock master and loopback: BCLK = clk / `DIVIDER`; ``lrck`` is I2S's LRCK (low for the
    first half of the `frame_bits`-BCLK frame) or, for ``fmt="tdm"``, a frame sync high for the
    first BCLK; SDIN is sampled on BCLK rising into a delay line of `frame_bits` bits per line,
    whose oldest bit goes to SDOUT on BCLK falling: SDOUT is SDIN one frame later."""

    def __init__(self, fmt, frame_bits, lines):
        self.fmt, self.frame_bits, self.lines = fmt, frame_bits, lines
        super().__init__({"bclk": Out(1), "lrck": Out(1), "sdin": In(lines),
                          "sdout": Out(lines)})

    def elaborate(self, platform):
        m = Module()
        n = self.frame_bits
        phase = Signal(range(DIVIDER))
        bit = Signal(range(n), init=n - 1)      # BCLK period within the frame
        history = [Signal(n, name=f"history{line}") for line in range(self.lines)]
        following = Signal(range(n))
        m.d.comb += following.eq(Mux(bit == n - 1, 0, bit + 1))
        m.d.sync += phase.eq(Mux(phase == DIVIDER - 1, 0, phase + 1))
        with m.If(phase == DIVIDER // 2 - 1):
            m.d.sync += self.bclk.eq(1)
            for line, h in enumerate(history):
                m.d.sync += h.eq(Cat(self.sdin[line], h[:-1]))
        with m.If(phase == DIVIDER - 1):
            m.d.sync += [self.bclk.eq(0), bit.eq(following),
                         self.sdout.eq(Cat(h[-1] for h in history))]
            if self.fmt == "i2s":
                m.d.sync += self.lrck.eq(following >= n // 2)
            else:
                m.d.sync += self.lrck.eq(following == 0)
        return m


def audio_case(name):
    fmt, lines, slots, slot_bits, sample_bits, delay = AUDIO_FORMATS[name]
    rng = random.Random(name)
    low, high = -(1 << (sample_bits - 1)), (1 << (sample_bits - 1)) - 1
    frames = [[rng.randint(low, high) for _ in range(lines * slots)]
              for _ in range(AUDIO_FRAMES)]
    # The extremes and odd values (the LSB of every slot must survive).
    frames[0][0], frames[0][-1] = low, high
    frames[1][-1] |= 1
    return {"fmt": fmt, "lines": lines, "slots": slots, "slot_bits": slot_bits,
            "sample_bits": sample_bits, "delay": delay, "frames": frames,
            "frame_ps": slots * slot_bits * DIVIDER * (PS_PER_S // AUDIO_HZ)}


def run_harness_audio(case):
    fmt, lines, slots = case["fmt"], case["lines"], case["slots"]
    design = AudioReplay(fmt, slots * case["slot_bits"], lines)
    engine = Engine(build_library(design_from_component(
        design, name=f"replay_{fmt}_{slots * case['slot_bits']}_{lines}")))
    dev = engine.add_device()
    clock = engine.add_clock(dev, ["clk"], AUDIO_HZ)
    common = dict(bclk="bclk", lrck="lrck", lines=lines, slots=slots,
                  slot_bits=case["slot_bits"], sample_bits=case["sample_bits"],
                  frame_on_rise=fmt == "tdm", delay=case["delay"])
    adc = engine.attach_audio(dev, clock, data="sdin", to_design=True, **common)
    dac = engine.attach_audio(dev, clock, data="sdout", to_design=False, **common)
    lrck = engine.add_monitor(dev, clock, "lrck")
    engine.audio_push(dev, adc, case["frames"], lines * slots)
    engine.run((AUDIO_FRAMES + 4) * case["frame_ps"])
    latched = [t for t, _ in engine.audio_pop(dev, adc, lines * slots, samples=False)]
    out = engine.audio_pop(dev, dac, lines * slots)
    edges = [t for t, v in engine.monitor_changes(dev, lrck) if v == (fmt == "tdm")]
    stats = engine.audio_stats(dev, adc), engine.audio_stats(dev, dac)
    engine.close()
    return latched, [t for t, _ in out], [list(s) for _, s in out], edges, stats


def run_cocotb_audio(name, case, tmp_path):
    request = tmp_path / "audio_in.json"
    result = tmp_path / "audio_out.json"
    request.write_text(json.dumps({**case, "period_ps": PS_PER_S // AUDIO_HZ,
                                   "out_frames": AUDIO_FRAMES + 2}))
    design = AudioReplay(case["fmt"], case["slots"] * case["slot_bits"], case["lines"])
    run_cocotb(design, toplevel=f"sim_models_{name}", test_module="sim_models_tb",
               test_dir=TB_DIR, simulator="icarus", testcase="audio_replay",
               extra_env={"STAGEBOX_SIM_MODELS_IN": str(request),
                          "STAGEBOX_SIM_MODELS_OUT": str(result)})
    return json.loads(result.read_text())


def pair_out_with_in(latched, out_times, out_samples, frame_ps):
    """The frame that came out one frame period after each input frame was latched."""
    by_time = dict(zip(out_times, out_samples, strict=True))
    return [by_time.get(t + frame_ps) for t in latched]


@pytest.mark.parametrize("name", sorted(AUDIO_FORMATS))
def test_audio_models_agree(name, tmp_path):
    require_tool("iverilog")
    case = audio_case(name)
    frame_ps = case["frame_ps"]
    latched, out_times, out_samples, edges, (adc, dac) = run_harness_audio(case)
    c = run_cocotb_audio(name, case, tmp_path)

    # Harness: every input frame comes out exactly one frame later, sample for sample.
    assert len(latched) == AUDIO_FRAMES
    assert pair_out_with_in(latched, out_times, out_samples, frame_ps) == case["frames"]
    # Frames start on LRCK's frame edges, one frame period apart, in and out alike.
    assert out_times == edges[:len(out_times)]
    assert relative(out_times) == [k * frame_ps for k in range(len(out_times))]
    assert set(latched) <= set(out_times)
    # Before the first input frame the design replays silence.
    assert out_samples[0] == [0] * len(case["frames"][0])
    # Every frame was whole; the input ran dry (silence) once the pushed frames were out.
    assert adc == {"frames": AUDIO_FRAMES, "underruns": len(edges) - AUDIO_FRAMES,
                   "short_frames": 0}
    assert dac == {"frames": len(out_times), "underruns": 0, "short_frames": 0}

    # cocotb's independent models: the same samples and the same frame times.
    assert len(c["latched"]) == AUDIO_FRAMES
    assert pair_out_with_in(c["latched"], c["out_times"], c["out_samples"],
                            frame_ps) == case["frames"]
    n = min(len(out_times), len(c["out_times"]))
    assert n >= AUDIO_FRAMES + 2
    assert relative(c["out_times"][:n]) == relative(out_times[:n])
    assert c["out_samples"][:n] == out_samples[:n]
    assert [t - c["out_times"][0] for t in c["latched"]] == [
        t - out_times[0] for t in latched]
