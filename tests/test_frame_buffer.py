# amaranth: UnusedElaboratable=no
"""FrameBuffer (gateware/eth/frame_buffer.py) in amaranth.sim against a Python model of the ring.

Each test is one loop that drives the write side from a precomputed per-cycle schedule
(random lengths up to beyond a slot, random commit, random gaps, lost ``last`` bytes), drives
the reader at random and samples everything once per cycle. The model decides, from the
documented contract only, what must come out:

- a frame is kept if a slot is free in the cycle of its ``first`` byte and it fits a slot; a
  slot is taken from the cycle after the ``last`` byte that commits it and free again from the
  cycle after the reader releases it;
- kept frames with ``commit`` come out whole and in order, with the ``meta`` of their ``last``
  byte; dropped frames with ``commit`` pulse ``overflow`` once; nothing else comes out.
"""

import random

import pytest

from stagebox.gateware.eth.frame_buffer import WORD_BYTES, FrameBuffer
from stagebox.testing.amaranth_sim import run_testbench

META_BITS = 20


def make_schedule(rng, slot_bytes, frames, *, gap_p=0.3, max_idle=6, lose_last_p=0.05):
    """Per-cycle write-side inputs and the frames they carry.

    Returns (cycles, frames): cycles[i] is None (idle) or (data, first, last, commit, meta);
    frames[k] = dict(data, commit, meta, has_last, first_cycle, last_cycle).
    """
    cycles, out = [], []
    for _ in range(frames):
        length = rng.choice([rng.randint(1, 8), rng.randint(1, slot_bytes),
                             rng.randint(slot_bytes - 4, slot_bytes + 8)])
        body = rng.randbytes(length)
        commit = int(rng.random() < 0.75)
        meta = rng.getrandbits(META_BITS)
        has_last = rng.random() >= lose_last_p
        cycles += [None] * rng.choice([0, 0, rng.randint(1, max_idle)])
        frame = dict(data=body, commit=commit, meta=meta, has_last=has_last)
        for i, byte in enumerate(body):
            if i and rng.random() < gap_p:
                cycles += [None] * rng.randint(1, 3)
            last = has_last and i == length - 1
            if i == 0:
                frame["first_cycle"] = len(cycles)
            if last:
                frame["last_cycle"] = len(cycles)
            # commit and meta are garbage except on last: the buffer must read them there.
            cycles.append((byte, int(i == 0), int(last),
                           commit if last else rng.getrandbits(1),
                           meta if last else rng.getrandbits(META_BITS)))
        out.append(frame)
    return cycles, out


class RingModel:
    """The contract's view of slot occupancy, fed in cycle order."""

    def __init__(self, slots, slot_bytes):
        self.slots, self.slot_bytes = slots, slot_bytes
        self.used = 0           # slots taken as of the current cycle
        self.pushes = 0
        self.expected = []      # (data, meta, slot) of frames that must come out, in order
        self.overflows = 0
        self.pending = 0        # changes of `used` that take effect next cycle

    def next_cycle(self):
        self.used += self.pending
        self.pending = 0
        assert 0 <= self.used <= self.slots

    def first(self, frame):
        frame["kept"] = self.used < self.slots and len(frame["data"]) <= self.slot_bytes

    def last(self, frame):
        if not frame["commit"]:
            return
        if frame["kept"]:
            self.expected.append((frame["data"], frame["meta"], self.pushes % self.slots))
            self.pushes += 1
            self.pending += 1
        else:
            self.overflows += 1

    def released(self):
        self.pending -= 1


def drive_write(ctx, sink, entry):
    if entry is None:
        ctx.set(sink.valid, 0)
        return
    data, first, last, commit, meta = entry
    p = sink.payload
    ctx.set(sink.valid, 1)
    ctx.set(p.data, data)
    ctx.set(p.first, first)
    ctx.set(p.last, last)
    ctx.set(p.commit, commit)
    ctx.set(p.meta, meta)


def ready_phases(rng):
    """A reader that is sometimes stalled for a long time, sometimes fast, sometimes erratic."""
    while True:
        p = rng.choice([0.0, 0.0, 0.3, 0.7, 1.0])
        for _ in range(rng.randint(20, 400)):
            yield rng.random() < p


def events_by_cycle(frames):
    starts = {f["first_cycle"]: f for f in frames}
    ends = {f["last_cycle"]: f for f in frames if f["has_last"]}
    return starts, ends


# --- Stream reader ----------------------------------------------------------------------------

def run_stream(slots, slot_bytes, seed, frames, *, ready=None):
    rng = random.Random(seed)
    dut = FrameBuffer(slots, slot_bytes, META_BITS)
    cycles, frame_list = make_schedule(rng, slot_bytes, frames)
    starts, ends = events_by_cycle(frame_list)
    model = RingModel(slots, slot_bytes)
    ready = ready if ready is not None else ready_phases(rng)
    result = {}

    async def testbench(ctx):
        src = dut.source
        received, current = [], None
        overflows = commits = 0
        held = None             # a byte offered but not taken: must be offered again, unchanged
        in_frame = False        # between a transferred first and its last: valid must stay high
        cycle = 0
        idle_after = 0
        while True:
            if cycle < len(cycles):
                entry = cycles[cycle]
            else:
                entry = None
                if len(received) == len(model.expected):
                    idle_after += 1
                    if idle_after > 3 * slot_bytes:
                        break
            assert cycle < len(cycles) + 50 * slot_bytes * (slots + 2), "reader starved"
            model.next_cycle()
            drive_write(ctx, dut.sink, entry)
            if cycle in starts:
                model.first(starts[cycle])
            if cycle in ends:
                model.last(ends[cycle])
            rdy = next(ready) if cycle < len(cycles) else rng.random() < 0.8
            ctx.set(src.ready, rdy)
            _, _, valid, data, first, last, meta, overflow, committed = await ctx.tick().sample(
                src.valid, src.payload.data, src.payload.first, src.payload.last,
                src.payload.meta, dut.overflow, dut.committed)
            overflows += overflow
            commits += committed
            if held is not None:
                assert valid and (data, first, last, meta) == held, "offered byte changed"
            if in_frame:
                assert valid, "gap inside a frame"
            held = None
            if valid and not rdy:
                held = (data, first, last, meta)
            if valid and rdy:
                if first:
                    assert current is None, "first inside a frame"
                    current = [bytearray(), meta]
                    in_frame = True
                assert current is not None, "byte outside a frame"
                assert meta == current[1], "meta changed inside a frame"
                current[0].append(data)
                if last:
                    received.append((bytes(current[0]), current[1]))
                    current = None
                    in_frame = False
                    model.released()
            cycle += 1
        assert [r for r in received] == [(d, m) for d, m, _ in model.expected]
        assert overflows == model.overflows
        assert commits == len(model.expected)
        result.update(received=len(received), overflows=overflows)

    run_testbench(dut, testbench)
    return result, frame_list


@pytest.mark.parametrize(("slots", "slot_bytes", "seed"),
                         [(2, 64, 1), (4, 128, 2), (8, 64, 3)])
def test_stream_random(slots, slot_bytes, seed):
    """Random frames, gaps, commits, lost lasts and read-side backpressure against the model."""
    result, frames = run_stream(slots, slot_bytes, seed, frames=220)
    # The run must have exercised what it claims to test.
    assert result["received"] > 40
    assert result["overflows"] > 5
    assert any(not f["has_last"] for f in frames)
    assert any(len(f["data"]) > slot_bytes and f["commit"] for f in frames)
    assert any(len(f["data"]) == slot_bytes and f["commit"] and f.get("kept") for f in frames)


def test_stream_stalled_reader_overflow_count():
    """Reader stalled while 30 frames arrive: exactly the first `slots` committed frames are
    kept, every later committed frame is one overflow pulse, then all kept frames drain."""
    slots, slot_bytes = 4, 64
    stalled = iter(lambda: False, True)
    result, frames = run_stream(slots, slot_bytes, 7, frames=30, ready=stalled)
    committed = [f for f in frames if f["has_last"] and f["commit"]]
    # Only committed frames take a slot; too long ones never do.
    fitting = [f for f in committed if len(f["data"]) <= slot_bytes]
    assert len(fitting) > slots
    assert result["received"] == slots
    assert [f["kept"] for f in committed] == [f in fitting[:slots] for f in committed]
    assert result["overflows"] == len(committed) - slots
    assert result["overflows"] > 10


def test_missing_last_does_not_hang():
    """Frames whose last byte never comes, back to back: each is discarded by the next first
    and never occupies a slot; a good frame afterwards comes out."""
    dut = FrameBuffer(2, 64, META_BITS)

    async def testbench(ctx):
        ctx.set(dut.source.ready, 1)
        for n in range(5):      # more than the slots: a lost frame must not keep its slot
            for i in range(10):
                drive_write(ctx, dut.sink, (n, int(i == 0), 0, 1, 0))
                await ctx.tick()
                assert not ctx.get(dut.source.valid)
        for i in range(3):
            drive_write(ctx, dut.sink, (0xA0 + i, int(i == 0), int(i == 2), 1, 0x12345))
            await ctx.tick()
        drive_write(ctx, dut.sink, None)
        got = []
        for _ in range(10):
            _, _, valid, data, meta = await ctx.tick().sample(
                dut.source.valid, dut.source.payload.data, dut.source.payload.meta)
            if valid:
                got.append(data)
                assert meta == 0x12345
        assert got == [0xA0, 0xA1, 0xA2]

    run_testbench(dut, testbench)


def test_latencies():
    """The documented timing: last byte in cycle t -> visible and committed at t + 2, first
    byte out at t + 3, then one byte per cycle; overflow at t + 1."""
    dut = FrameBuffer(2, 64, META_BITS)

    async def testbench(ctx):
        ctx.set(dut.source.ready, 1)
        trace = []
        inputs = [(0x10 + i, int(i == 0), int(i == 4), 1, 99) for i in range(5)]
        for t in range(14):
            drive_write(ctx, dut.sink, inputs[t] if t < len(inputs) else None)
            _, _, valid, data, committed, count = await ctx.tick().sample(
                dut.source.valid, dut.source.payload.data, dut.committed, dut.count)
            trace.append((valid, data, committed, count))
        t = 4   # the last byte's cycle
        assert [c for _, _, c, _ in trace] == [int(i == t + 2) for i in range(14)]
        assert [n for _, _, _, n in trace][:t + 2] == [0] * (t + 2)
        assert trace[t + 2][3] == 1
        assert [(v, d) for v, d, _, _ in trace[t + 3:t + 8]] == [(1, 0x10 + i) for i in range(5)]
        assert not trace[t + 2][0] and not trace[t + 8][0]

    run_testbench(dut, testbench)


def test_overflow_latency():
    """With both slots full and the reader stalled, a committed frame pulses overflow exactly
    once, in the cycle after its last byte; an uncommitted one does not."""
    dut = FrameBuffer(2, 64, META_BITS)

    async def testbench(ctx):
        ctx.set(dut.source.ready, 0)
        trace = []
        frames = [(3, 1), (2, 1), (4, 0), (3, 1)]       # (length, commit)
        inputs = [(i, int(i == 0), int(i == n - 1), c, 0) for n, c in frames for i in range(n)]
        for t in range(len(inputs) + 3):
            drive_write(ctx, dut.sink, inputs[t] if t < len(inputs) else None)
            _, _, overflow = await ctx.tick().sample(dut.overflow)
            trace.append(overflow)
        last = len(inputs) - 1
        assert trace == [int(t == last + 1) for t in range(len(inputs) + 3)]
        assert ctx.get(dut.count) == 2

    run_testbench(dut, testbench)


def test_parameter_checks():
    with pytest.raises(ValueError, match="slots"):
        FrameBuffer(3, 64, 8)
    with pytest.raises(ValueError, match="slots"):
        FrameBuffer(1, 64, 8)
    with pytest.raises(ValueError, match="slot_bytes"):
        FrameBuffer(2, 32, 8)
    with pytest.raises(ValueError, match="slot_bytes"):
        FrameBuffer(2, 96, 8)
    with pytest.raises(ValueError, match="reader"):
        FrameBuffer(2, 64, 8, reader="fifo")


# --- Random-access reader ---------------------------------------------------------------------

@pytest.mark.parametrize(("slots", "slot_bytes", "seed"), [(2, 64, 11), (4, 128, 12)])
def test_random_access(slots, slot_bytes, seed):
    """A software-like reader: waits a random time, reads the head frame word by word (1-cycle
    read latency), checks length/meta/slot and the little-endian bytes, pops; pops while
    empty are ignored."""
    rng = random.Random(seed)
    dut = FrameBuffer(slots, slot_bytes, META_BITS, reader="random")
    cycles, frame_list = make_schedule(rng, slot_bytes, 200)
    starts, ends = events_by_cycle(frame_list)
    model = RingModel(slots, slot_bytes)
    slot_words = slot_bytes // WORD_BYTES

    async def testbench(ctx):
        received = []
        overflows = 0
        reading = None          # [length, meta, slot, words wanted, words issued, bytes]
        pending = None          # the word addressed in the previous cycle, if it is wanted
        cycle = 0
        idle_after = 0
        while True:
            if cycle < len(cycles):
                entry = cycles[cycle]
            else:
                entry = None
                if len(received) == len(model.expected):
                    idle_after += 1
                    if idle_after > 50:
                        break
            assert cycle < len(cycles) + 20_000, "reader starved"
            model.next_cycle()
            drive_write(ctx, dut.sink, entry)
            if cycle in starts:
                model.first(starts[cycle])
            if cycle in ends:
                model.last(ends[cycle])

            pop = 0
            issue = None
            addr = rng.randrange(slots * slot_words)      # a reader may address anything
            if reading is None:
                if ctx.get(dut.head_valid):
                    if rng.random() < 0.2:
                        length = ctx.get(dut.head_length)
                        reading = [length, ctx.get(dut.head_meta), ctx.get(dut.head_slot),
                                   -(-length // WORD_BYTES), 0, bytearray()]
                elif rng.random() < 0.1:
                    pop = 1         # pop while empty: ignored
            if reading is not None:
                length, meta, slot, wanted, issued, body = reading
                if issued < wanted:
                    issue = addr = slot * slot_words + issued
                    reading[4] += 1
                elif pending is None and len(body) >= length and rng.random() < 0.3:
                    pop = 1
                    received.append((bytes(body[:length]), meta, slot))
                    model.released()
                    reading = None
            ctx.set(dut.rd_addr, addr)
            ctx.set(dut.pop, pop)
            _, _, rd_data, overflow = await ctx.tick().sample(dut.rd_data, dut.overflow)
            overflows += overflow
            if pending is not None:
                reading[5] += rd_data.to_bytes(WORD_BYTES, "little")
            pending = issue
            cycle += 1
        assert received == model.expected
        assert overflows == model.overflows
        assert len(received) > 30 and overflows > 5

    run_testbench(dut, testbench)
