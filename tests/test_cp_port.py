# amaranth: UnusedElaboratable=no
"""ControlPlanePort (gateware/eth/cp_port.py) in amaranth.sim: software's view through the
Wishbone window (AmaranthWishboneBus) and the plain ports, against Python references.

A background monitor takes the ``tx`` stream with random ``ready`` (checking framing and that a
started frame never has a gap) and counts every one-cycle pulse; the test's own testbench plays
software and, where needed, the receive path.
"""

import random
from collections import Counter

import pytest
from amaranth.sim import Simulator

from stagebox.gateware.eth.cp_port import (
    TX_MAX_LENGTH,
    TX_MIN_LENGTH,
    WINDOW_BYTES,
    ControlPlanePort,
)
from stagebox.gateware.eth.frame_buffer import WORD_BYTES
from stagebox.gateware.ptp_time import NS_PER_SEC, SEC_BITS
from stagebox.regmap.map import PKTBUF_RX_OFFSET, PKTBUF_TX_OFFSET, STAGEBOX_MAP
from stagebox.testing.amaranth_sim import AmaranthWishboneBus

UNMAPPED = STAGEBOX_MAP.unmapped_read_value
PULSES = ("bus_error", "tx_error", "tx_done", "rx_overflow", "rx_committed")


def words_of(frame):
    """Little-endian 32-bit words holding `frame` (zero-padded)."""
    padded = frame + bytes(-len(frame) % WORD_BYTES)
    return [int.from_bytes(padded[i:i + WORD_BYTES], "little")
            for i in range(0, len(padded), WORD_BYTES)]


def random_stamp(rng):
    return {"sec": rng.getrandbits(SEC_BITS), "ns": rng.randrange(NS_PER_SEC)}


def as_stamp(value):
    return {"sec": value.sec, "ns": value.ns}


class Monitor:
    """Takes ``tx`` frames with ``ready`` high with probability `ready_p`; counts pulses."""

    def __init__(self, dut, rng):
        self.dut, self.rng = dut, rng
        self.ready_p = 0.7
        self.frames = []            # (bytes, stamp, tag)
        self.counts = Counter()

    async def run(self, ctx):
        dut, tx = self.dut, self.dut.tx
        current = None
        while True:
            ready = self.rng.random() < self.ready_p
            ctx.set(tx.ready, ready)
            _, _, valid, data, first, last, stamp, tag, *pulses = await ctx.tick().sample(
                tx.valid, tx.payload.data, tx.payload.first, tx.payload.last, tx.payload.stamp,
                tx.payload.tag, *(getattr(dut, name) for name in PULSES))
            for name, value in zip(PULSES, pulses, strict=True):
                self.counts[name] += value
            if current is not None:
                assert valid, "gap inside a TX frame"
            if not (valid and ready):
                continue
            if first:
                assert current is None, "first inside a frame"
                current = [bytearray(), stamp, tag]
            assert current is not None, "byte outside a frame"
            assert (stamp, tag) == tuple(current[1:]), "stamp/tag changed inside a frame"
            current[0].append(data)
            if last:
                self.frames.append((bytes(current[0]), current[1], current[2]))
                current = None


def simulate(dut, testbench, *, seed):
    rng = random.Random(seed)
    monitor = Monitor(dut, rng)
    sim = Simulator(dut)
    sim.add_clock(8e-9)
    sim.add_testbench(monitor.run, background=True)

    async def main(ctx):
        await testbench(ctx, AmaranthWishboneBus(ctx, dut.bus), monitor, rng)

    sim.add_testbench(main)
    sim.run()


async def settle(ctx, cycles=2):
    """Let registered pulses land in the monitor's counts."""
    await ctx.tick().repeat(cycles)


async def idle(ctx, cycles):
    for _ in range(cycles):
        await ctx.tick()


async def pulse(ctx, signal):
    ctx.set(signal, 1)
    await ctx.tick()
    ctx.set(signal, 0)


# --- Transmit ---------------------------------------------------------------------------------

async def fill_slot(ctx, bus, dut, slot, frame, rng, image):
    """Write `frame` into TX slot `slot`, some words in two partial writes with byte selects
    and garbage in the lanes not selected; `image` (dict word address -> value) tracks what the
    memory must hold."""
    base = PKTBUF_TX_OFFSET + slot * dut.slot_bytes
    for i, word in enumerate(words_of(frame)):
        address = base + WORD_BYTES * i
        if rng.random() < 0.15:
            sel = rng.randrange(1, 15)
            bus.sel = 0b1111
            await bus.write(address, [rng.getrandbits(32)])
            for part in (sel, ~sel & 0xF):
                mask = sum(0xFF << (8 * lane) for lane in range(4) if part >> lane & 1)
                bus.sel = part
                await bus.write(address, [(word & mask) | (rng.getrandbits(32) & ~mask)])
            bus.sel = 0b1111
        else:
            await bus.write(address, [word])
        image[address] = word


async def send(ctx, dut, length, stamp, tag):
    ctx.set(dut.tx_send_length, length)
    ctx.set(dut.tx_send_stamp, stamp)
    ctx.set(dut.tx_send_tag, tag)
    await pulse(ctx, dut.tx_send)


@pytest.mark.parametrize(("tx_slots", "seed"), [(2, 1), (4, 2)])
def test_tx_frames(tx_slots, seed):
    """Frames written through the bus (byte selects too) and sent leave on ``tx`` whole, in
    order, with their stamp flag and tag, gapless under random ``ready``; ``tx_free`` and
    ``tx_next_slot`` follow the ring; slots read back what was written."""
    dut = ControlPlanePort(tx_slots=tx_slots)

    async def testbench(ctx, bus, monitor, rng):
        assert ctx.get(dut.tx_free) == tx_slots
        assert ctx.get(dut.tx_next_slot) == 0
        lengths = [TX_MIN_LENGTH, TX_MAX_LENGTH, 15, 60, 61, 64]
        lengths += [rng.choice([rng.randint(14, 80), rng.randint(14, TX_MAX_LENGTH)])
                    for _ in range(8)]
        expected, image = [], {}
        for n, length in enumerate(lengths):
            monitor.ready_p = rng.choice([0.2, 0.8, 1.0])
            while ctx.get(dut.tx_free) == 0:
                await ctx.tick()
            slot = ctx.get(dut.tx_next_slot)
            assert slot == n % tx_slots
            frame = rng.randbytes(length)
            await fill_slot(ctx, bus, dut, slot, frame, rng, image)
            if n % 3 == 0:
                base = PKTBUF_TX_OFFSET + slot * dut.slot_bytes
                assert await bus.read(base, len(words_of(frame))) == words_of(frame)
            free = ctx.get(dut.tx_free)
            stamp, tag = rng.getrandbits(1), rng.getrandbits(8)
            await send(ctx, dut, length, stamp, tag)
            # The queue may have sent a frame meanwhile, never taken more than this one.
            assert ctx.get(dut.tx_free) in (free - 1, free)
            assert ctx.get(dut.tx_next_slot) == (slot + 1) % tx_slots
            expected.append((frame, stamp, tag))
        monitor.ready_p = 1.0
        for _ in range(tx_slots * (TX_MAX_LENGTH + 10)):
            if len(monitor.frames) == len(expected):
                break
            await ctx.tick()
        await settle(ctx)
        assert monitor.frames == expected
        assert monitor.counts["tx_done"] == len(expected)
        assert monitor.counts["tx_error"] == 0
        assert monitor.counts["bus_error"] == 0
        assert ctx.get(dut.tx_free) == tx_slots

    simulate(dut, testbench, seed=seed)


def test_tx_rejects_invalid_sends():
    """Lengths out of 14..1518 and sends with no free slot pulse tx_error once each and
    change nothing; the valid frames around them are sent unharmed."""
    dut = ControlPlanePort()

    async def testbench(ctx, bus, monitor, rng):
        monitor.ready_p = 0.0
        for length in (0, 1, TX_MIN_LENGTH - 1, TX_MAX_LENGTH + 1, 2048, 0xFFFF):
            await send(ctx, dut, length, 1, 0x55)
            await settle(ctx)
            assert ctx.get(dut.tx_free) == 2 and ctx.get(dut.tx_next_slot) == 0
        assert monitor.counts["tx_error"] == 6
        frames = [rng.randbytes(40), rng.randbytes(100), rng.randbytes(20)]
        for n, frame in enumerate(frames[:2]):
            await fill_slot(ctx, bus, dut, n, frame, rng, {})
            await send(ctx, dut, len(frame), 0, n)
        await settle(ctx, 8)
        assert ctx.get(dut.tx_free) == 0
        assert monitor.counts["tx_error"] == 6
        await send(ctx, dut, 20, 1, 0xEE)       # no slot free: rejected
        await settle(ctx)
        assert monitor.counts["tx_error"] == 7
        assert ctx.get(dut.tx_free) == 0 and ctx.get(dut.tx_next_slot) == 0
        assert monitor.frames == []             # ready was low: nothing accepted
        monitor.ready_p = 0.5
        while ctx.get(dut.tx_free) == 0:
            await ctx.tick()
        await fill_slot(ctx, bus, dut, 0, frames[2], rng, {})
        await send(ctx, dut, len(frames[2]), 1, 2)
        await settle(ctx, 400)
        assert monitor.frames == [(frames[0], 0, 0), (frames[1], 0, 1), (frames[2], 1, 2)]
        assert monitor.counts["tx_error"] == 7
        assert monitor.counts["tx_done"] == 3

    simulate(dut, testbench, seed=3)


def test_tx_stamps():
    """Each stamp from the arbiter is latched with its tag; the 8-bit count wraps."""
    dut = ControlPlanePort()

    async def testbench(ctx, bus, monitor, rng):
        assert ctx.get(dut.tx_stamp_count) == 0
        for n in range(1, 261):
            time, tag = random_stamp(rng), rng.getrandbits(8)
            ctx.set(dut.tx_stamp.time, time)
            ctx.set(dut.tx_stamp.tag, tag)
            await pulse(ctx, dut.tx_stamp.valid)
            # New inputs without valid must not be taken.
            ctx.set(dut.tx_stamp.time, random_stamp(rng))
            ctx.set(dut.tx_stamp.tag, rng.getrandbits(8))
            for _ in range(rng.randint(0, 2)):
                await ctx.tick()
            assert as_stamp(ctx.get(dut.tx_stamp_time)) == time
            assert ctx.get(dut.tx_stamp_tag) == tag
            assert ctx.get(dut.tx_stamp_count) == n % 256

    simulate(dut, testbench, seed=4)


# --- Receive ----------------------------------------------------------------------------------

async def feed_rx(ctx, dut, frame, commit, stamp, rng, *, gap_p=0.2):
    """One frame into ``rx`` with random gaps; commit and stamp on the last byte."""
    rx = dut.rx
    for i, byte in enumerate(frame):
        while i and rng.random() < gap_p:
            ctx.set(rx.valid, 0)
            await ctx.tick()
        last = i == len(frame) - 1
        ctx.set(rx.valid, 1)
        ctx.set(rx.payload.data, byte)
        ctx.set(rx.payload.first, i == 0)
        ctx.set(rx.payload.last, last)
        ctx.set(rx.payload.commit, commit if last else rng.getrandbits(1))
        ctx.set(rx.payload.meta, stamp if last else random_stamp(rng))
        await ctx.tick()
    ctx.set(rx.valid, 0)


async def read_head(ctx, bus, dut):
    """Software receiving the oldest frame: status, then the bytes word by word."""
    assert ctx.get(dut.rx_ready)
    length, slot = ctx.get(dut.rx_length), ctx.get(dut.rx_head_slot)
    stamp = as_stamp(ctx.get(dut.rx_stamp))
    words = await bus.read(PKTBUF_RX_OFFSET + slot * dut.slot_bytes, -(-length // WORD_BYTES))
    body = b"".join(w.to_bytes(WORD_BYTES, "little") for w in words)[:length]
    return body, stamp, slot


def test_rx_frames_and_overflow():
    """Frames committed while software does not pop: the first rx_slots are kept, each later
    committed one is an rx_overflow pulse; uncommitted frames take no slot. Then every kept
    frame reads back exactly through the bus, with length, stamp and slot, and pops in order;
    afterwards new frames are fine."""
    dut = ControlPlanePort()
    slots = dut.rx_slots

    async def testbench(ctx, bus, monitor, rng):
        frames = [(rng.randbytes(rng.choice([1, 3, 60, 64, 333, 1518, 2048])), 1, n)
                  for n in range(slots + 3)]
        frames.insert(2, (rng.randbytes(50), 0, 99))        # not routed here
        frames.insert(5, (rng.randbytes(2049), 1, 98))      # longer than a slot
        stamps = {}
        for frame, commit, n in frames:
            stamps[n] = random_stamp(rng)
            await feed_rx(ctx, dut, frame, commit, stamps[n], rng)
            await idle(ctx, rng.randint(0, 3))
        await settle(ctx)
        committed = [(f, n) for f, c, n in frames if c]
        kept = [(f, n) for f, n in committed if len(f) <= dut.slot_bytes][:slots]
        assert ctx.get(dut.rx_count) == slots
        assert monitor.counts["rx_committed"] == slots
        assert monitor.counts["rx_overflow"] == len(committed) - slots
        for k, (frame, n) in enumerate(kept):
            assert ctx.get(dut.rx_count) == slots - k
            assert (await read_head(ctx, bus, dut)) == (frame, stamps[n], k % slots)
            await pulse(ctx, dut.rx_pop)
        assert ctx.get(dut.rx_count) == 0 and not ctx.get(dut.rx_ready)
        await pulse(ctx, dut.rx_pop)             # nothing to pop: ignored
        assert ctx.get(dut.rx_count) == 0
        frame, stamp = rng.randbytes(77), random_stamp(rng)
        await feed_rx(ctx, dut, frame, 1, stamp, rng)
        await settle(ctx)
        assert await read_head(ctx, bus, dut) == (frame, stamp, slots % slots)
        assert monitor.counts["bus_error"] == 0

    simulate(dut, testbench, seed=5)


def test_rx_concurrent_with_software():
    """Frames stream in while software reads and pops: a frame only starts when the model says
    a slot is free, so nothing overflows and everything comes out in order, exact."""
    dut = ControlPlanePort()
    slots = dut.rx_slots
    rng_frames = random.Random(6)
    frames = [(rng_frames.randbytes(rng_frames.choice([rng_frames.randint(1, 90),
                                                       rng_frames.randint(1, 1518)])),
               int(rng_frames.random() < 0.8), random_stamp(rng_frames)) for _ in range(24)]
    shared = {"popped": 0}

    async def writer(ctx):
        rng = random.Random(7)
        taken = 0
        for frame, commit, stamp in frames:
            while taken - shared["popped"] >= slots:
                await ctx.tick()
            await feed_rx(ctx, dut, frame, commit, stamp, rng)
            taken += commit
            await idle(ctx, rng.randint(0, 5))

    async def testbench(ctx, bus, monitor, rng):
        expected = [(f, s) for f, c, s in frames if c]
        received = []
        while len(received) < len(expected):
            if not ctx.get(dut.rx_ready) or rng.random() < 0.5:
                await ctx.tick()
                continue
            body, stamp, slot = await read_head(ctx, bus, dut)
            assert slot == len(received) % slots
            received.append((body, stamp))
            await pulse(ctx, dut.rx_pop)
            shared["popped"] += 1
        await settle(ctx)
        assert received == expected
        assert monitor.counts["rx_overflow"] == 0
        assert monitor.counts["rx_committed"] == len(expected)

    sim = Simulator(dut)
    sim.add_clock(8e-9)
    sim.add_testbench(writer)
    monitor = Monitor(dut, random.Random(8))
    sim.add_testbench(monitor.run, background=True)

    async def main(ctx):
        await testbench(ctx, AmaranthWishboneBus(ctx, dut.bus), monitor, random.Random(9))

    sim.add_testbench(main)
    sim.run()


# --- Bus --------------------------------------------------------------------------------------

def test_bus_errors_and_unmapped():
    """Writes into RX space are acked, ignored and flagged; unmapped space reads 0xDEADC0DE and
    is flagged, writes there change no slot (the decoder does not alias); mapped accesses are
    never flagged."""
    dut = ControlPlanePort()
    rx_end = dut.rx_slots * dut.slot_bytes
    tx_end = PKTBUF_TX_OFFSET + dut.tx_slots * dut.slot_bytes

    async def testbench(ctx, bus, monitor, rng):
        frame, stamp = bytes(range(1, 65)), random_stamp(rng)
        await feed_rx(ctx, dut, frame, 1, stamp, rng)
        tx_words = [rng.getrandbits(32) for _ in range(4)]
        for slot in range(dut.tx_slots):
            await bus.write(PKTBUF_TX_OFFSET + slot * dut.slot_bytes, tx_words)
        await settle(ctx)
        assert monitor.counts["bus_error"] == 0

        errors = 0
        for address in (0x0000, 0x0004, rx_end - 4):       # RX is read-only
            await bus.write(address, [0xFFFF_FFFF])
            errors += 1
        for address in (rx_end, PKTBUF_TX_OFFSET - 4, tx_end, tx_end + 0x400,
                        WINDOW_BYTES - 4):
            assert await bus.read(address, 1) == [UNMAPPED]
            await bus.write(address, [0x1234_5678])
            errors += 2
        await settle(ctx)
        assert monitor.counts["bus_error"] == errors

        assert (await read_head(ctx, bus, dut)) == (frame, stamp, 0)
        for slot in range(dut.tx_slots):
            assert await bus.read(PKTBUF_TX_OFFSET + slot * dut.slot_bytes, 4) == tx_words
        await settle(ctx)
        assert monitor.counts["bus_error"] == errors

    simulate(dut, testbench, seed=10)


def test_bus_timing():
    """A classic cycle is acknowledged in its second cycle, for one cycle, with the data."""
    dut = ControlPlanePort()

    async def testbench(ctx, bus, monitor, rng):
        await bus.write(PKTBUF_TX_OFFSET + 8, [0xCAFE_F00D])
        b = dut.bus
        for address, value in ((PKTBUF_TX_OFFSET + 8, 0xCAFE_F00D), (0x7000, UNMAPPED)):
            ctx.set(b.adr, address // WORD_BYTES)
            ctx.set(b.we, 0)
            ctx.set(b.cyc, 1)
            ctx.set(b.stb, 1)
            _, _, ack = await ctx.tick().sample(b.ack)
            assert not ack
            _, _, ack, data, err = await ctx.tick().sample(b.ack, b.dat_r, b.err)
            assert ack and data == value and not err
            ctx.set(b.cyc, 0)
            ctx.set(b.stb, 0)
            _, _, ack = await ctx.tick().sample(b.ack)
            assert not ack

    simulate(dut, testbench, seed=11)


def test_parameter_checks():
    with pytest.raises(ValueError, match="rx_slots"):
        ControlPlanePort(rx_slots=3)
    with pytest.raises(ValueError, match="rx_slots"):
        ControlPlanePort(rx_slots=16)           # 32 KiB does not fit the RX half
    with pytest.raises(ValueError, match="tx_slots"):
        ControlPlanePort(tx_slots=1)
    with pytest.raises(ValueError, match="slot_bytes"):
        ControlPlanePort(slot_bytes=1024)       # shorter than the longest frame
