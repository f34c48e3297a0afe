# amaranth: UnusedElaboratable=no
"""TxArbiter (gateware/eth/tx_arbiter.py) in amaranth.sim: strict priority at frame boundaries,
whole frames, no bubbles, frame counters, SFD TX timestamps routed back, framing and stamp
errors. The reference model re-applies the arbitration rule to what the sources offered in each
cycle; stamps are checked against the times the testbench itself fed in. End to end, TxArbiter ->
TxCrossing -> EthernetPort("gmii") with unrelated clocks: frames on the GMII pins with a zlib
FCS, and each source's stamps are the SFD times of its own frames on the pins."""

import random
import struct
import zlib
from collections import deque

import pytest
from amaranth.hdl import DomainRenamer, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import PulseSynchronizer
from amaranth.sim import Simulator

from stagebox.gateware.eth.interface import (
    FCS_BYTES,
    MIN_FRAME,
    PREAMBLE,
    PREAMBLE_BYTES,
    SFD,
    TAG_BITS,
)
from stagebox.gateware.eth.port import EthernetPort
from stagebox.gateware.eth.tx_arbiter import (
    MIN_TX_FRAME,
    SOURCES,
    TxArbiter,
    frames_in_flight,
)
from stagebox.gateware.eth.tx_crossing import TxCrossing
from stagebox.gateware.ptp_time import ns_to_ptp_time, ptp_time_to_ns
from stagebox.testing.amaranth_sim import run_testbench


class Frame:
    def __init__(self, source, data, stamp, tag, start):
        self.source, self.data, self.stamp, self.tag, self.start = source, data, stamp, tag, start


def random_frames(rng, count, max_len):
    """Per source, `count` frames with random lengths (1..max_len), stamp requests, tags and
    earliest start cycles: sometimes back to back, sometimes after a short or a long pause."""
    frames = {}
    for index, name in enumerate(SOURCES):
        t = rng.randrange(50)
        frames[name] = deque()
        for _ in range(count):
            t += rng.choice([0, 0, rng.randrange(1, 10), rng.randrange(20, 200)])
            data = bytes([index << 6 | rng.randrange(64) for _ in range(rng.randint(1, max_len))])
            frames[name].append(Frame(name, data, rng.getrandbits(1),
                                      rng.getrandbits(TAG_BITS), t))
    return frames


class Feeder:
    """One source that keeps the `tx_frame_stream` contract: it offers a frame from its start
    cycle on and keeps ``valid`` high until the frame's last byte is taken."""

    def __init__(self, stream, frames):
        self.stream, self.frames, self.offset = stream, frames, 0

    def drive(self, ctx, cycle):
        frame = self.frames[0] if self.frames else None
        offering = frame is not None and (self.offset > 0 or cycle >= frame.start)
        ctx.set(self.stream.valid, offering)
        if offering:
            ctx.set(self.stream.payload, {
                "data": frame.data[self.offset], "first": self.offset == 0,
                "last": self.offset == len(frame.data) - 1, "stamp": frame.stamp,
                "tag": frame.tag,
            })
        return offering

    def offers_first(self):
        return bool(self.frames) and self.offset == 0

    def taken(self):
        """One byte went; returns the frame if it was the last one."""
        frame = self.frames[0]
        self.offset += 1
        if self.offset == len(frame.data):
            self.frames.popleft()
            self.offset = 0
            return frame
        return None


def test_frames_in_flight_and_stamp_depth():
    # 31 bytes behind a frame's first byte hold at most two more first bytes of 14-byte frames.
    assert frames_in_flight(32, 14) == 4
    assert frames_in_flight(32, 1) == 33


@pytest.mark.parametrize("sources", [(), ("a", "a"), ("source",), ("a", "a_stamp"), ("1x",)])
def test_bad_sources(sources):
    with pytest.raises(ValueError):
        TxArbiter(sources)


@pytest.mark.parametrize(("seed", "ready_p"), [(1, 1.0), (2, 0.6), (3, 0.25)])
def test_contention(seed, ready_p):
    """Random frames on all sources, random downstream ready, random enable pauses, stamps fed
    back in output order with random delays."""
    rng = random.Random(seed)
    dut = TxArbiter()
    frames = random_frames(rng, count=30, max_len=40)
    total = sum(len(q) for q in frames.values())
    feeders = [Feeder(getattr(dut, name), frames[name]) for name in SOURCES]
    stamp_ports = [getattr(dut, f"{name}_stamp") for name in SOURCES]

    async def testbench(ctx):
        in_frame = None          # index of the source whose frame the arbiter is taking
        accepted = deque()       # frames in the order the arbiter took their first bytes
        out_bytes = None         # the frame being collected on `source`
        out_frames = []
        last_out = None          # (valid, payload) of the previous cycle, if not taken
        expect_sent = [0] * len(SOURCES)
        sent = [0] * len(SOURCES)
        sfd_queue = deque()      # [due cycle, frame] in output order
        expect_stamp = None      # (index, tag, time) or None, for the next cycle
        stamps = {name: [] for name in SOURCES}
        time_ns = 1_000_000_007
        enable_low_until = 0
        cycle = 0
        while len(out_frames) < total or sfd_queue or expect_stamp or any(expect_sent):
            assert cycle < 200_000, "arbiter stalled"
            # -- inputs
            if cycle >= enable_low_until and rng.random() < 0.005:
                enable_low_until = cycle + rng.randrange(5, 60)
            enable = cycle >= enable_low_until
            ctx.set(dut.enable, enable)
            offering = [f.drive(ctx, cycle) for f in feeders]
            out_ready = rng.random() < ready_p
            ctx.set(dut.source.ready, out_ready)
            fire_sfd = None
            if sfd_queue and (sfd_queue[0][0] <= cycle
                              or len(sfd_queue) >= dut.stamp_depth - 2):
                fire_sfd = sfd_queue.popleft()[1]
                time_ns += rng.randrange(1, 5000)
                ctx.set(dut.sfd_stamp.valid, 1)
                ctx.set(dut.sfd_stamp.time, ns_to_ptp_time(time_ns))
            else:
                ctx.set(dut.sfd_stamp.valid, 0)

            # -- the arbiter's view of this cycle
            readies = [ctx.get(getattr(dut, name).ready) for name in SOURCES]
            out_valid = ctx.get(dut.source.valid)
            out_payload = ctx.get(dut.source.payload)
            assert not any(ctx.get(getattr(dut.framing_error, n)) for n in SOURCES)
            assert not ctx.get(dut.stamp_error)
            for i, name in enumerate(SOURCES):
                pulse = ctx.get(getattr(dut.sent, name))
                assert pulse == expect_sent[i], (cycle, name)
                sent[i] += pulse
                port = stamp_ports[i]
                if expect_stamp and expect_stamp[0] == i:
                    assert ctx.get(port.valid), (cycle, name)
                    tag, time = ctx.get(port.tag), ptp_time_to_ns(ctx.get(port.time))
                    assert (tag, time) == expect_stamp[1:]
                    stamps[name].append((tag, time))
                else:
                    assert not ctx.get(port.valid), (cycle, name)

            # Reference model of the rule: the chosen source is the highest-priority one
            # offering a first byte, chosen as soon as the output stage can take a byte.
            takes = [i for i in range(len(SOURCES)) if offering[i] and readies[i]]
            assert len(takes) <= 1, "two sources taken in one cycle"
            load = not out_valid or out_ready
            pending = [i for i in range(len(SOURCES))
                       if offering[i] and feeders[i].offers_first()]
            if in_frame is None:
                if enable and pending and load:
                    assert takes == [pending[0]], (cycle, pending, takes)
                else:
                    assert takes == [], (cycle, pending, takes, enable, load)
            else:
                assert takes == ([in_frame] if load else []), (cycle, in_frame, takes)
            for i in takes:
                if feeders[i].offers_first():
                    accepted.append(feeders[i].frames[0])
                    in_frame = i
                if feeders[i].taken() is not None:
                    in_frame = None

            # The output stream: stable while waiting, contiguous frames, in accepted order.
            if last_out is not None:
                assert out_valid and out_payload == last_out, cycle
            if out_bytes is not None:
                assert out_valid, f"bubble inside a frame at cycle {cycle}"
            expect_sent = [0] * len(SOURCES)
            if out_valid and out_ready:
                assert out_payload.first == (out_bytes is None)
                if out_payload.first:
                    out_bytes = bytearray()
                    frame = accepted[0]
                    assert (out_payload.stamp, out_payload.tag) == (frame.stamp, frame.tag)
                    sfd_queue.append([max(cycle + rng.randrange(1, 25),
                                          sfd_queue[-1][0] + 1 if sfd_queue else 0), frame])
                out_bytes.append(out_payload.data)
                if out_payload.last:
                    frame = accepted.popleft()
                    assert bytes(out_bytes) == frame.data
                    out_frames.append(frame)
                    expect_sent[SOURCES.index(frame.source)] = 1
                    out_bytes = None
                last_out = None
            else:
                last_out = out_payload if out_valid else None

            expect_stamp = None
            if fire_sfd is not None and fire_sfd.stamp:
                expect_stamp = (SOURCES.index(fire_sfd.source), fire_sfd.tag, time_ns)
            await ctx.tick()
            cycle += 1

        for _ in range(2):
            assert not any(ctx.get(getattr(dut.sent, n)) for n in SOURCES)
            await ctx.tick()
        # Every frame once, counted once; each source got its own stamps, in order.
        assert len({id(f) for f in out_frames}) == len(out_frames) == total
        for i, name in enumerate(SOURCES):
            mine = [f for f in out_frames if f.source == name]
            assert sent[i] == len(mine) == 30
            assert [tag for tag, _ in stamps[name]] == [f.tag for f in mine if f.stamp]
        times = [t for name in SOURCES for _, t in stamps[name]]
        assert len(set(times)) == len(times)

    run_testbench(dut, testbench)


def collect(ctx, dut, out):
    """Record this cycle's transfer on ``source`` (ready is held high by the caller)."""
    if ctx.get(dut.source.valid) and ctx.get(dut.source.ready):
        payload = ctx.get(dut.source.payload)
        if payload.first:
            out.append(bytearray())
        out[-1].append(payload.data)


def test_enable():
    """While enable is low no frame starts; a frame in progress when it falls finishes."""
    dut = TxArbiter()
    cp = Frame("cp", bytes(range(10)), 0, 0, 0)
    rtp = Frame("rtp", bytes(range(100, 120)), 0, 0, 0)
    ptp = Frame("ptp_event", bytes(range(200, 203)), 0, 0, 0)

    async def testbench(ctx):
        out = []
        ctx.set(dut.source.ready, 1)
        ctx.set(dut.enable, 0)
        feeders = {"cp": Feeder(dut.cp, deque([cp])), "rtp": Feeder(dut.rtp, deque([rtp])),
                   "ptp_event": Feeder(dut.ptp_event, deque())}
        for cycle in range(80):
            if cycle == 30:
                ctx.set(dut.enable, 1)
            if cycle == 35:
                # rtp's frame (higher priority) went first and is in progress: stop here.
                assert [bytes(f) for f in out] == [rtp.data[:4]]
                ctx.set(dut.enable, 0)
                feeders["ptp_event"].frames.append(ptp)
            for name, feeder in feeders.items():
                feeder.drive(ctx, cycle)
                if ctx.get(getattr(dut, name).valid) and ctx.get(getattr(dut, name).ready):
                    feeder.taken()
            collect(ctx, dut, out)
            await ctx.tick()
        assert [bytes(f) for f in out] == [rtp.data]
        ctx.set(dut.enable, 1)
        for cycle in range(80, 120):
            for name, feeder in feeders.items():
                feeder.drive(ctx, cycle)
                if ctx.get(getattr(dut, name).valid) and ctx.get(getattr(dut, name).ready):
                    feeder.taken()
            collect(ctx, dut, out)
            await ctx.tick()
        assert [bytes(f) for f in out] == [rtp.data, ptp.data, cp.data]

    run_testbench(dut, testbench)


def test_framing_error():
    """Bytes without first outside a frame of their own are dropped, one framing_error pulse
    each (also while another source's frame passes); good frames around them are intact."""
    dut = TxArbiter()
    # (cycle, source, data, first, last) offered once each; the arbiter must take every one.
    script = {
        2: ("rtp", 0x11, 0, 0),
        3: ("rtp", 0x12, 0, 1),
        5: ("cp", 0x21, 1, 0),
        6: ("cp", 0x22, 0, 0),
        7: ("cp", 0x23, 0, 1),
    }

    async def testbench(ctx):
        out = []
        errors = []
        ctx.set(dut.source.ready, 1)
        for cycle in range(20):
            ctx.set(dut.rtp.valid, 0)
            ctx.set(dut.cp.valid, 0)
            if cycle in script:
                name, data, first, last = script[cycle]
                stream = getattr(dut, name)
                ctx.set(stream.valid, 1)
                ctx.set(stream.payload, {"data": data, "first": first, "last": last})
                assert ctx.get(stream.ready), cycle
            if cycle == 6:
                # A stray byte from ptp_general in the middle of cp's frame.
                ctx.set(dut.ptp_general.valid, 1)
                ctx.set(dut.ptp_general.payload, {"data": 0x31, "first": 0, "last": 1})
                assert ctx.get(dut.ptp_general.ready)
            else:
                ctx.set(dut.ptp_general.valid, 0)
            collect(ctx, dut, out)
            errors += [(cycle, n) for n in SOURCES if ctx.get(getattr(dut.framing_error, n))]
            await ctx.tick()
        assert [bytes(f) for f in out] == [bytes([0x21, 0x22, 0x23])]
        assert errors == [(3, "rtp"), (4, "rtp"), (7, "ptp_general")]

    run_testbench(dut, testbench)


@pytest.mark.parametrize("cause", ["empty", "overflow"])
def test_stamp_error(cause):
    """An sfd_stamp with no frame waiting, or one frame more than the stamp FIFO holds, sets
    the sticky stamp_error; frames still pass."""
    dut = TxArbiter()
    assert dut.stamp_depth >= 2 * frames_in_flight(TxCrossing.DEPTH, MIN_TX_FRAME)
    assert dut.stamp_depth & (dut.stamp_depth - 1) == 0

    async def testbench(ctx):
        ctx.set(dut.source.ready, 1)
        if cause == "empty":
            ctx.set(dut.sfd_stamp.valid, 1)
            await ctx.tick()
            ctx.set(dut.sfd_stamp.valid, 0)
        else:
            # One-byte frames, one per cycle, none stamped: the stamp FIFO fills up.
            ctx.set(dut.cp.valid, 1)
            ctx.set(dut.cp.payload, {"data": 0, "first": 1, "last": 1, "stamp": 1})
            frames = 0
            while frames <= dut.stamp_depth:
                assert not ctx.get(dut.stamp_error), frames
                frames += ctx.get(dut.source.valid)
                await ctx.tick()
            ctx.set(dut.cp.valid, 0)
        for _ in range(5):
            assert ctx.get(dut.stamp_error)
            assert not any(ctx.get(getattr(dut, f"{n}_stamp").valid) for n in SOURCES)
            await ctx.tick()

    run_testbench(dut, testbench)


def test_end_to_end_gmii():
    """Random frames from all sources through the arbiter, the crossing (sync 8.001 ns, GMII
    7.999 ns) and the MAC: each frame on the pins exactly once, per source in order, padded, with
    the FCS zlib computes, no underrun, no TX_ER; a test-local time (sync cycles) is stamped via
    the MAC's SFD pulse, and every stamp a source gets lies within a few cycles of its own
    frame's SFD on the pins."""
    rng = random.Random(7)
    m = Module()
    m.submodules.arbiter = dut = TxArbiter()
    m.submodules.crossing = crossing = TxCrossing("eth_tx")
    port = EthernetPort("gmii")
    m.submodules.port = DomainRenamer({"eth_rx": "eth_tx"})(port)
    wiring.connect(m, dut.source, crossing.sink)
    wiring.connect(m, crossing.source, port.tx)
    m.submodules.sfd_cdc = sfd_cdc = PulseSynchronizer(i_domain="eth_tx", o_domain="sync")
    now = Signal(32)
    m.d.sync += now.eq(now + 1)
    m.d.comb += [
        sfd_cdc.i.eq(port.status.tx.sfd),
        dut.sfd_stamp.valid.eq(sfd_cdc.o),
        dut.sfd_stamp.time.ns.eq(now),
    ]

    frames = {}
    for index, name in enumerate(SOURCES):
        frames[name] = deque()
        t = rng.randrange(100)
        for _ in range(6):
            t += rng.choice([0, rng.randrange(100, 2000)])
            size = rng.choice([14, 15, 59, 60, 61, rng.randrange(14, 300), 1518])
            data = bytes([index << 6 | rng.randrange(64) for _ in range(size)])
            frames[name].append(Frame(name, data, rng.getrandbits(1),
                                      rng.getrandbits(TAG_BITS), t))
    expected = {name: list(q) for name, q in frames.items()}
    total = sum(len(q) for q in expected.values())
    wire = []            # (bytes on the pins, value of `now` when the SFD was on the pins)
    stamps = {name: [] for name in SOURCES}
    faults = []

    async def sync_side(ctx):
        feeders = [Feeder(getattr(dut, name), frames[name]) for name in SOURCES]
        cycle = 0
        while len(wire) < total or cycle < 100:
            assert cycle < 100_000, "stalled"
            offering = [f.drive(ctx, cycle) for f in feeders]
            readies = [ctx.get(getattr(dut, name).ready) for name in SOURCES]
            for name in SOURCES:
                port_ = getattr(dut, f"{name}_stamp")
                if ctx.get(port_.valid):
                    stamps[name].append((ctx.get(port_.tag), ctx.get(port_.time).ns))
            await ctx.tick()
            for feeder, offered, ready in zip(feeders, offering, readies, strict=True):
                if offered and ready:
                    feeder.taken()
            cycle += 1
        for _ in range(100):
            await ctx.tick()
        faults.append(("stamp_error", ctx.get(dut.stamp_error)))

    async def tx_side(ctx):
        current = None
        while len(wire) < total:
            if ctx.get(port.status.tx.underrun) or ctx.get(port.tx_er):
                faults.append("underrun or TX_ER")
            if ctx.get(port.tx_en):
                if current is None:
                    current = [bytearray(), None]
                current[0].append(ctx.get(port.txd))
                if len(current[0]) == PREAMBLE_BYTES + 1:
                    current[1] = ctx.get(now)
            elif current is not None:
                wire.append((bytes(current[0]), current[1]))
                current = None
            await ctx.tick("eth_tx")

    sim = Simulator(m)
    sim.add_clock(8.001e-9, domain="sync")
    sim.add_clock(7.999e-9, domain="eth_tx")
    sim.add_testbench(sync_side)
    sim.add_testbench(tx_side)
    sim.run()

    assert faults == [("stamp_error", 0)]
    header = bytes([PREAMBLE] * PREAMBLE_BYTES + [SFD])
    sfd_times = {name: [] for name in SOURCES}
    for data, sfd_time in wire:
        assert data[:len(header)] == header
        payload, fcs = data[len(header):-FCS_BYTES], data[-FCS_BYTES:]
        assert fcs == struct.pack("<I", zlib.crc32(payload))
        frame = expected[SOURCES[payload[0] >> 6]].pop(0)
        length = max(len(frame.data), MIN_FRAME - FCS_BYTES)
        assert payload == frame.data.ljust(length, b"\0")
        if frame.stamp:
            sfd_times[frame.source].append((frame.tag, sfd_time))
    assert all(not q for q in expected.values())
    for name in SOURCES:
        assert [tag for tag, _ in stamps[name]] == [tag for tag, _ in sfd_times[name]]
        for (_, stamped), (_, pins) in zip(stamps[name], sfd_times[name], strict=True):
            # status.tx.sfd one GMII cycle before the pins, then a two-stage synchronizer.
            assert -2 <= stamped - pins <= 5, (name, stamped, pins)
