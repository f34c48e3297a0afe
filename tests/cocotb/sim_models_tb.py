"""cocotb testbench: the reference side of tests/test_sim_models.py (see its docstring).

The test writes a request (JSON, path in ``STAGEBOX_SIM_MODELS_IN``); this bench plays it on the
design under Icarus with independent models and writes what it observed (JSON, path in
``STAGEBOX_SIM_MODELS_OUT``). The comparisons with the harness are made by the test. Times are
simulator steps (1 ps).

``phy_echo``: cocotbext-eth's GmiiSource/GmiiSink, MiiSource/MiiSink, or Stagebox's
RmiiSource/RmiiSink, on ``PhyEcho``. ``audio_replay``: a bit-level I2S/TDM source and sink
written here, on ``AudioReplay``.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge, Timer, with_timeout
from cocotbext.eth import GmiiFrame

from stagebox.testing.eth_cocotb import rx_source, tx_sink

REQUEST = os.environ.get("STAGEBOX_SIM_MODELS_IN")


def load_request():
    with open(REQUEST) as f:
        return json.load(f)


def write_result(result):
    with open(os.environ["STAGEBOX_SIM_MODELS_OUT"], "w") as f:
        json.dump(result, f)


async def start_clock(dut, period):
    Clock(dut.clk, period, unit="ps").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)


@cocotb.test()
async def phy_echo(dut):
    """Frames at chosen cycles (queued at the falling edge before that cycle: an idle source
    starts at the next rising edge) and back to back (queued at once: the source's own gap)."""
    request = load_request()
    kind, period = request["kind"], request["period_ps"]
    dv = dut.crs_dv if kind == "rmii" else dut.rx_dv
    dv.value, dut.rxd.value, dut.rx_er.value = 0, 0, 0
    await start_clock(dut, period)
    source = rx_source(dut, kind)
    # cocotbext-eth's MiiSource counts its gap in nibbles, the others in bytes.
    source.ifg = request["ifg_bytes"] * (2 if kind == "mii" else 1)
    sink = tx_sink(dut, kind)

    sent = []               # the source's copies, stamped, in order (tx_complete)
    await RisingEdge(dut.clk)
    origin = get_sim_time()
    for entry in request["frames"]:
        frame = GmiiFrame.from_payload(bytes.fromhex(entry["payload"]), tx_complete=sent.append)
        if entry["start"] is not None:
            await source.wait()
            target = origin + entry["start"] * period
            wait = target - period // 2 - get_sim_time()
            assert wait > 0, "the schedule starts a frame while the source is busy"
            await Timer(wait, "ps")
        source.send_nowait(frame)
    await source.wait()

    received = []
    for _ in request["frames"]:
        received.append(await with_timeout(sink.recv(), 100 * 1600 * period, "ps"))
    await ClockCycles(dut.clk, 64)
    assert sink.empty(), "the design sent more frames than it received"
    write_result({
        "in_sfd": [f.sim_time_sfd for f in sent],
        "out": [{"payload": f.get_payload().hex(), "fcs_ok": bool(f.check_fcs()),
                 "sfd": f.sim_time_sfd} for f in received],
    })


def is_frame_start(before, after, fmt):
    """I2S frames start when LRCK falls (left channel), TDM frames when the sync rises."""
    return (before, after) == ((0, 1) if fmt == "tdm" else (1, 0))


def frame_bits(request):
    return request["slots"] * request["slot_bits"]


async def audio_source(dut, request, latched):
    """Drives SDIN from the request's frames (then silence), one bit per BCLK period, 1 ps
    after BCLK falls. A frame starts at the BCLK falling edge at which LRCK makes its frame
    transition (read once the edge has settled: LRCK changes at the same clock edge as BCLK);
    bit j of the frame (MSB of slot 0 first) goes out `delay` periods after that, so with a
    delay the last bit of a frame goes out in the first period of the next."""
    fmt, lines, slots = request["fmt"], request["lines"], request["slots"]
    slot_bits, sample_bits, delay = request["slot_bits"], request["sample_bits"], request["delay"]
    n = frame_bits(request)
    pending = list(request["frames"])
    silence = [0] * (lines * slots)
    stream = []             # bits per line still to send, by period; refilled per frame
    await ReadOnly()
    level = int(dut.lrck.value)
    while True:
        await FallingEdge(dut.bclk)
        now = get_sim_time()
        await ReadOnly()
        before, level = level, int(dut.lrck.value)
        if is_frame_start(before, level, fmt):
            frame = pending.pop(0) if pending else silence
            if frame is not silence:
                latched.append(now)
            bits = []
            for k in range(n):
                slot, within = divmod(k, slot_bits)
                word = [frame[line * slots + slot] & ((1 << sample_bits) - 1)
                        for line in range(lines)]
                bits.append([(w >> (sample_bits - 1 - within)) & 1 if within < sample_bits else 0
                             for w in word])
            # The previous frame's last `delay` bits are still under way (silence before the
            # first frame).
            leftover = stream[:delay]
            stream = [[0] * lines] * (delay - len(leftover)) + leftover + bits
        await Timer(1, "ps")
        bits = stream.pop(0) if stream else [0] * lines
        dut.sdin.value = sum(b << line for line, b in enumerate(bits))


async def audio_sink(dut, request, out_times, out_samples):
    """Samples SDOUT and LRCK on BCLK rising (both changed half a BCLK earlier, on the falling
    edge); a frame is the `frame_bits` bits from `delay` periods after its start, which is the
    falling edge before the first rising edge that sees LRCK's frame transition."""
    fmt, lines, slots = request["fmt"], request["lines"], request["slots"]
    slot_bits, sample_bits, delay = request["slot_bits"], request["sample_bits"], request["delay"]
    n = frame_bits(request)
    frames = []             # [start time, bits so far, periods since start]
    await ReadOnly()
    level = int(dut.lrck.value)
    while len(out_times) < request["out_frames"]:
        await FallingEdge(dut.bclk)
        fell = get_sim_time()
        await RisingEdge(dut.bclk)
        before, level = level, int(dut.lrck.value)
        data = int(dut.sdout.value)
        if is_frame_start(before, level, fmt):
            frames.append([fell, [], 0])
        for frame in frames:
            if frame[2] >= delay:
                frame[1].append([(data >> line) & 1 for line in range(lines)])
            frame[2] += 1
        while frames and len(frames[0][1]) == n:
            start, bits, _ = frames.pop(0)
            samples = []
            for line in range(lines):
                for slot in range(slots):
                    word = 0
                    for within in range(sample_bits):
                        word = word << 1 | bits[slot * slot_bits + within][line]
                    samples.append(word - (1 << sample_bits) if word >> (sample_bits - 1)
                                   else word)
            out_times.append(start)
            out_samples.append(samples)


@cocotb.test()
async def audio_replay(dut):
    """The request's frames through the design; the sink collects ``out_frames`` frames."""
    request = load_request()
    dut.sdin.value = 0
    latched, out_times, out_samples = [], [], []
    # Both models watch LRCK from time 0, as the harness's do.
    cocotb.start_soon(audio_source(dut, request, latched))
    sink = cocotb.start_soon(audio_sink(dut, request, out_times, out_samples))
    await start_clock(dut, request["period_ps"])
    await with_timeout(sink, (request["out_frames"] + 3) * request["frame_ps"], "ps")
    write_result({"latched": latched, "out_times": out_times, "out_samples": out_samples})
