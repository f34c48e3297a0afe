"""Ethernet MAC (TX and RX) in amaranth.sim, against frames and FCSs built in Python (zlib).

Each simulation is one testbench loop that drives the inputs and samples the outputs every
cycle (the cheapest way through amaranth.sim); the helpers below turn frames into per-cycle
inputs and the sampled outputs back into frames.
"""

import random
import struct
import zlib
from collections import Counter

import pytest
from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth.lib import wiring

from stagebox.gateware.eth.crc32 import CRC32_INIT, crc32_next, crc32_reference
from stagebox.gateware.eth.interface import (
    FCS_BYTES,
    MAX_FRAME,
    MIN_FRAME,
    MIN_IFG,
    PREAMBLE,
    PREAMBLE_BYTES,
    SFD,
    FrameByte,
    PhyByte,
)
from stagebox.gateware.eth.mac_rx import MacRx
from stagebox.gateware.eth.mac_tx import MacTx
from stagebox.testing.amaranth_sim import run_testbench

RX_PULSES = ["sfd", "frame_ok", "crc_error", "runt", "giant", "phy_error", "preamble_error"]
MAX_PAYLOAD = MAX_FRAME - FCS_BYTES     # 1518: largest frame without FCS
MIN_PAYLOAD = MIN_FRAME - FCS_BYTES     # 60


def _bit(layout, name):
    return 1 << layout[name].offset


FIRST, LAST, ERROR = (_bit(FrameByte, n) for n in ("first", "last", "error"))
DV, ER = _bit(PhyByte, "dv"), _bit(PhyByte, "er")
IDLE = 0


# --- Reference frames -----------------------------------------------------------------------

def ip_checksum(header):
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ether_frame(rng, size):
    """A frame of `size` bytes without FCS: Ethernet/IPv4/UDP (an AES67-like multicast to port
    5004) when there is room for the headers, else a bare Ethernet header and random bytes."""
    dst = bytes([0x01, 0x00, 0x5E, 0x7F, rng.randrange(256), rng.randrange(256)])
    src = bytes([0x02]) + rng.randbytes(5)
    if size < 42:
        return (dst + src + b"\x88\xb5" + rng.randbytes(max(0, size - 14)))[:size]
    payload = rng.randbytes(size - 42)
    udp = struct.pack("!HHHH", 5004, 5004, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xB8, 20 + len(udp), rng.randrange(65536), 0x4000,
                     32, 17, 0, rng.randbytes(4), bytes([239, 69, 1, 1]))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return dst + src + b"\x08\x00" + ip + udp


def with_fcs(frame):
    return frame + zlib.crc32(frame).to_bytes(4, "little")


def tx_wire(frame):
    """What the TX MAC must put on the wire for `frame`: preamble, SFD, padded frame, FCS."""
    padded = frame + bytes(max(0, MIN_PAYLOAD - len(frame)))
    return bytes([PREAMBLE] * PREAMBLE_BYTES + [SFD]) + with_fcs(padded)


def beats(frame, *, error_at=None):
    """Packed FrameByte transfers for `frame`; `error_at` sets ``error`` on that byte."""
    out = []
    for i, byte in enumerate(frame):
        out.append(byte | (FIRST if i == 0 else 0) | (LAST if i == len(frame) - 1 else 0)
                   | (ERROR if i == error_at else 0))
    return out


def burst(body, *, preamble=PREAMBLE_BYTES):
    """PhyBus byte times for one frame as a PHY delivers it: preamble, SFD, `body`."""
    return [DV | PREAMBLE] * preamble + [DV | SFD] + [DV | b for b in body]


# --- Simulation loops -------------------------------------------------------------------------

class FrameCollector:
    """Rebuilds frames from sampled stream beats and checks the framing of every beat."""

    def __init__(self):
        self.frames = []        # (bytes, error)
        self.current = None

    def beat(self, payload):
        data, first, last, error = payload & 0xFF, payload & FIRST, payload & LAST, payload & ERROR
        if first:
            assert self.current is None, "first inside a frame"
            self.current = bytearray()
        assert self.current is not None, "beat outside a frame"
        assert not error or last, "error on a byte that is not last"
        self.current.append(data)
        if last:
            self.frames.append((bytes(self.current), bool(error)))
            self.current = None

    def good(self):
        return [f for f, error in self.frames if not error]


def run_rx(byte_times, *, period=1, rng=None, drain=16):
    """Feed PhyBus byte times to a MacRx: one ``valid`` cycle every `period` cycles, or each
    cycle valid with probability 3/4 if `rng` is given; the byte changes to junk in cycles
    without ``valid``. Returns the collector, a Counter of pulses, and the cycles of the SFD
    bytes on the bus and of the ``sfd`` pulses."""
    dut = MacRx(domain="sync")
    out = FrameCollector()
    pulses = Counter()
    sfd_in, sfd_out = [], []
    junk = random.Random(1)
    pulse_bits = Cat(*(getattr(dut, name) for name in RX_PULSES))

    async def testbench(ctx):
        cycle = 0
        times = byte_times + [IDLE] * drain
        index, previous = 0, None
        while index < len(times):
            if rng is not None:
                valid = rng.random() < 0.75
            else:
                valid = cycle % period == 0
            if valid:
                value = times[index]
                if value == DV | SFD and previous in (IDLE, DV | PREAMBLE, None):
                    sfd_in.append(cycle)
                previous = value
                index += 1
            else:
                value = junk.randrange(1024)
            ctx.set(dut.phy.valid, valid)
            ctx.set(dut.phy.byte.as_value(), value)
            _, _, src_valid, payload, bits = await ctx.tick().sample(
                dut.source.valid, dut.source.payload.as_value(), pulse_bits)
            if src_valid:
                out.beat(payload)
            if bits:
                for i, name in enumerate(RX_PULSES):
                    if bits >> i & 1:
                        pulses[name] += 1
                        if name == "sfd":
                            sfd_out.append(cycle)
            cycle += 1

    run_testbench(dut, testbench)
    return out, pulses, sfd_in, sfd_out


class LoopbackTop(Elaboratable):
    def __init__(self):
        self.tx = MacTx(domain="sync")
        self.rx = MacRx(domain="sync")

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.rx = self.tx, self.rx
        wiring.connect(m, self.tx.phy, self.rx.phy)
        return m


def run_tx(items, *, period=1, rng=None, loopback=False, tail=40, max_cycles=200_000):
    """Feed a MacTx: `items` are packed FrameByte beats, or None for a cycle in which the
    producer has nothing (an underrun if the MAC wants a byte then). ``ce`` is high every
    `period` cycles, or at random if `rng` is given. Returns the wire as a list of
    (cycle, packed PhyByte) per ``ce`` cycle, the cycles of ``sfd`` pulses, a Counter of TX
    pulses, and (with `loopback`) the RX MAC's collector and pulse Counter."""
    top = LoopbackTop() if loopback else None
    dut = top.tx if loopback else MacTx(domain="sync")
    wire, sfd, tx_pulses, rx_pulses = [], [], Counter(), Counter()
    collector = FrameCollector()
    rx = top.rx if loopback else None
    rx_bits = Cat(*(getattr(rx, name) for name in RX_PULSES)) if loopback else Signal()
    rx_valid = rx.source.valid if loopback else Signal()
    rx_payload = rx.source.payload.as_value() if loopback else Signal()

    async def testbench(ctx):
        index, idle_ce = 0, 0
        for cycle in range(max_cycles):
            ce = rng.random() < 0.5 if rng is not None else cycle % period == 0
            item = items[index] if index < len(items) else None
            ctx.set(dut.ce, ce)
            ctx.set(dut.sink.valid, item is not None)
            if item is not None:
                ctx.set(dut.sink.payload.as_value(), item)
            (_, _, ready, valid, byte, pulse_sfd, underrun, oversize,
             r_valid, r_payload, r_bits) = await ctx.tick().sample(
                dut.sink.ready, dut.phy.valid, dut.phy.byte.as_value(), dut.sfd,
                dut.underrun, dut.oversize, rx_valid, rx_payload, rx_bits)
            assert valid == ce, "phy.valid must equal ce"
            if index < len(items) and (item is None or ready):
                index += 1
            if valid:
                wire.append((cycle, byte))
                idle_ce = idle_ce + 1 if index >= len(items) and not byte & DV else 0
            if pulse_sfd:
                sfd.append(cycle)
            tx_pulses["underrun"] += underrun
            tx_pulses["oversize"] += oversize
            if r_valid:
                collector.beat(r_payload)
            for i, name in enumerate(RX_PULSES):
                rx_pulses[name] += r_bits >> i & 1
            if idle_ce >= tail:
                return
        raise AssertionError("the TX MAC did not finish")

    run_testbench(top if loopback else dut, testbench)
    return wire, sfd, tx_pulses, collector, rx_pulses


def wire_bursts(wire):
    """Split the TX wire into bursts: (idle byte times before it, bytes, er flags, cycle of
    each byte)."""
    bursts, gap, current = [], 0, None
    for cycle, byte in wire:
        if byte & DV:
            if current is None:
                current = (gap, bytearray(), [], [])
                bursts.append(current)
            current[1].append(byte & 0xFF)
            current[2].append(bool(byte & ER))
            current[3].append(cycle)
            gap = 0
        else:
            assert not byte & ER, "er without dv on TX"
            current = None
            gap += 1
    return [(g, bytes(b), er, cycles) for g, b, er, cycles in bursts]


def check_tx_frames(frames, **kwargs):
    wire, sfd, pulses, _, _ = run_tx([b for f in frames for b in beats(f)], **kwargs)
    bursts = wire_bursts(wire)
    assert [b for _, b, _, _ in bursts] == [tx_wire(f) for f in frames]
    assert not any(any(er) for _, _, er, _ in bursts)
    # Back to back: exactly the minimum gap (at least 12 is the rule; more would waste time).
    assert all(gap == MIN_IFG for gap, _, _, _ in bursts[1:]), [g for g, *_ in bursts]
    assert sfd == [cycles[PREAMBLE_BYTES] for _, _, _, cycles in bursts]
    assert pulses == Counter({"underrun": 0, "oversize": 0})


# --- CRC ----------------------------------------------------------------------------------------

def test_crc32_network_matches_zlib():
    crc, byte = Signal(32), Signal(8)
    m = Module()
    nxt = crc32_next(m, crc, byte)
    toggle = Signal()
    m.d.sync += toggle.eq(~toggle)      # run_testbench's clock needs a sync domain
    rng = random.Random(32)
    data = rng.randbytes(300)

    async def testbench(ctx):
        value = CRC32_INIT
        for b in data:
            ctx.set(crc, value)
            ctx.set(byte, b)
            value = ctx.get(nxt)
        assert value ^ 0xFFFF_FFFF == zlib.crc32(data)
        assert value == crc32_reference(data)

    run_testbench(m, testbench)


# --- TX -----------------------------------------------------------------------------------------

def test_tx_frames_back_to_back_at_1g():
    rng = random.Random(1)
    check_tx_frames([ether_frame(rng, n) for n in (14, 15, 42, 59, 60, 61, 64, 100, 1514, 1518)])


@pytest.mark.parametrize("period", [2, 4])
def test_tx_frames_with_mii_and_rmii_clock_enables(period):
    rng = random.Random(period)
    check_tx_frames([ether_frame(rng, n) for n in (14, 59, 60, 61, 200)], period=period)


def test_tx_with_an_irregular_clock_enable():
    rng = random.Random(3)
    check_tx_frames([ether_frame(rng, n) for n in (20, 60, 61, 150)], rng=random.Random(4))


def test_tx_waits_for_the_gap_even_when_frames_are_late():
    rng = random.Random(5)
    frames = [ether_frame(rng, 60) for _ in range(3)]
    # The producer pauses between frames (not inside them): gaps only grow.
    items = beats(frames[0]) + [None] * 30 + beats(frames[1]) + [None] * 5 + beats(frames[2])
    wire, _, pulses, _, _ = run_tx(items)
    bursts = wire_bursts(wire)
    assert [b for _, b, _, _ in bursts] == [tx_wire(f) for f in frames]
    assert all(gap >= MIN_IFG for gap, *_ in bursts[1:])
    assert pulses["underrun"] == 0


@pytest.mark.parametrize("cut", ["underrun", "error", "oversize"])
def test_tx_cut_frames_end_with_er_and_the_next_frame_is_intact(cut):
    rng = random.Random(6)
    good = ether_frame(rng, 100)
    if cut == "oversize":
        bad = ether_frame(rng, 1600)
        bad_items, kept = beats(bad), MAX_PAYLOAD
    elif cut == "error":
        bad = ether_frame(rng, 300)
        bad_items, kept = beats(bad, error_at=37), 37
    else:
        bad = ether_frame(rng, 300)
        bad_items, kept = beats(bad)[:37] + [None] * 3 + beats(bad)[37:], 37
    wire, _, pulses, _, _ = run_tx(beats(good) + bad_items + beats(good))
    bursts = wire_bursts(wire)
    assert len(bursts) == 3
    assert bursts[0][1] == bursts[2][1] == tx_wire(good)
    _, cut_bytes, er, _ = bursts[1]
    # The cut frame: preamble, SFD, the bytes before the cut, one byte with er; then dv falls.
    assert cut_bytes[:PREAMBLE_BYTES + 1 + kept] == tx_wire(bad)[:PREAMBLE_BYTES + 1 + kept]
    assert len(cut_bytes) == PREAMBLE_BYTES + 1 + kept + 1
    assert er == [False] * (len(er) - 1) + [True]
    assert bursts[2][0] >= MIN_IFG
    expected = {"underrun": int(cut == "underrun"), "oversize": int(cut == "oversize")}
    assert pulses == Counter(expected)


def test_tx_largest_frame_is_not_oversize():
    rng = random.Random(7)
    frame = ether_frame(rng, MAX_PAYLOAD)
    wire, _, pulses, _, _ = run_tx(beats(frame))
    assert [b for _, b, _, _ in wire_bursts(wire)] == [tx_wire(frame)]
    assert len(tx_wire(frame)) == PREAMBLE_BYTES + 1 + MAX_FRAME
    assert pulses["oversize"] == 0


# --- RX -----------------------------------------------------------------------------------------

def rx_stream(frames, *, gap=MIN_IFG, preamble=PREAMBLE_BYTES):
    times = [IDLE] * 3
    for body in frames:
        times += burst(body, preamble=preamble) + [IDLE] * gap
    return times


def test_rx_frames_back_to_back_with_the_minimum_gap():
    rng = random.Random(10)
    sizes = (MIN_PAYLOAD, 61, 100, 1514, MAX_PAYLOAD)
    frames = [ether_frame(rng, n) for n in sizes]
    out, pulses, sfd_in, sfd_out = run_rx(rx_stream([with_fcs(f) for f in frames]))
    assert out.frames == [(f, False) for f in frames]
    assert pulses == Counter({"sfd": len(frames), "frame_ok": len(frames)})
    # The SFD pulse is registered: one cycle after the SFD byte's bus cycle.
    assert sfd_out == [c + 1 for c in sfd_in]


@pytest.mark.parametrize("period", [2, 4])
def test_rx_with_mii_and_rmii_valid_rates(period):
    rng = random.Random(period + 10)
    frames = [ether_frame(rng, n) for n in (MIN_PAYLOAD, 61, 150)]
    out, pulses, sfd_in, sfd_out = run_rx(rx_stream([with_fcs(f) for f in frames]),
                                          period=period)
    assert out.good() == frames and len(out.frames) == len(frames)
    assert pulses["frame_ok"] == len(frames)
    assert sfd_out == [c + 1 for c in sfd_in]


@pytest.mark.parametrize("preamble", [0, 1, 3, 7, 15])
def test_rx_accepts_a_shortened_or_long_preamble(preamble):
    rng = random.Random(preamble)
    frames = [ether_frame(rng, 70) for _ in range(2)]
    # A one-byte gap is enough for the receiver: it only needs to see dv low once.
    out, pulses, _, _ = run_rx(rx_stream([with_fcs(f) for f in frames], gap=1,
                                         preamble=preamble))
    assert out.frames == [(f, False) for f in frames]
    assert pulses["frame_ok"] == 2


def _bad_bursts(rng):
    """Each error case as (pulse, PhyBus byte times, whether a payload byte reaches the stream)."""
    good = with_fcs(ether_frame(rng, 80))
    bad_fcs = bytearray(good)
    bad_fcs[30] ^= 0x04
    runt = with_fcs(ether_frame(rng, MIN_PAYLOAD - 1))
    giant = with_fcs(ether_frame(rng, MAX_PAYLOAD + 1))
    er_mid = burst(good)
    er_mid[40] |= ER
    er_preamble = burst(good)
    er_preamble[2] |= ER
    er_last = burst(good)
    er_last[-1] |= ER
    return [
        ("crc_error", burst(bytes(bad_fcs)), True),
        ("crc_error", burst(good[:-1]), True),                     # cut short by one byte
        ("crc_error", burst(good + b"\x00"), True),                # a stray byte after the FCS
        ("runt", burst(runt), True),
        ("runt", burst(good[:3]), False),                          # no payload byte at all
        ("runt", burst(b""), False),                               # SFD, then dv falls
        ("giant", burst(giant), True),
        ("giant", burst(rng.randbytes(3000)), True),
        ("phy_error", er_mid, True),
        ("phy_error", er_preamble, True),
        ("phy_error", er_last, True),
        ("phy_error", burst(good[:20]) + [DV | ER] * 10, True),    # error and a runt: er wins
        ("preamble_error", [DV | PREAMBLE] * 3 + [DV | 0x5D] + burst(good), False),
        ("preamble_error", [DV | 0x00] + burst(good), False),
        ("preamble_error", [DV | PREAMBLE] * 7, False),            # preamble, no SFD
        ("preamble_error", [DV | b for b in rng.randbytes(50) if b not in (PREAMBLE, SFD)],
         False),
    ]


def test_rx_error_cases_are_flagged_counted_and_recovered_from():
    rng = random.Random(20)
    cases = _bad_bursts(rng)
    good = [ether_frame(rng, 64 + i) for i in range(len(cases) + 1)]
    times = rx_stream([with_fcs(good[0])])
    for (_, bad, _), frame in zip(cases, good[1:], strict=True):
        times += bad + [IDLE] * MIN_IFG + burst(with_fcs(frame)) + [IDLE] * MIN_IFG
    out, pulses, _, _ = run_rx(times)
    expected = [(good[0], False)]
    for (_, _, emits), frame in zip(cases, good[1:], strict=True):
        if emits:
            expected.append(None)
        expected.append((frame, False))
    assert len(out.frames) == len(expected)
    for got, want in zip(out.frames, expected, strict=True):
        if want is None:
            assert got[1], "a bad frame was passed on without error"
        else:
            assert got == want
    wanted = Counter(name for name, _, _ in cases)
    wanted["frame_ok"] = len(good)
    wanted["sfd"] = len(good) + sum(1 for name, _, _ in cases if name != "preamble_error")
    assert pulses == wanted


def test_rx_giant_is_cut_after_the_largest_payload():
    rng = random.Random(21)
    giant = ether_frame(rng, MAX_PAYLOAD + 1)
    largest = ether_frame(rng, MAX_PAYLOAD)
    out, pulses, _, _ = run_rx(rx_stream([with_fcs(giant), with_fcs(largest)], gap=1))
    assert out.frames == [(giant[:MAX_PAYLOAD], True), (largest, False)]
    assert pulses["giant"] == 1 and pulses["frame_ok"] == 1


def _garbage(rng, frame_rng):
    """One random raw byte stream: noise with random dv/er, or a good frame damaged so that
    no receiver may accept it."""
    kind = rng.randrange(4)
    if kind == 0:                       # noise: random bytes, dv and er toggling
        return [rng.randrange(1024) for _ in range(rng.randrange(1, 48))]
    body = bytearray(with_fcs(ether_frame(frame_rng, rng.randrange(MIN_PAYLOAD, 90))))
    if kind == 1:                       # damaged after the SFD
        pos = rng.randrange(len(body))
        body[pos] ^= 1 << rng.randrange(8)
        return burst(bytes(body), preamble=rng.randrange(8))
    if kind == 2:                       # cut short, or dv drops and rises inside it
        cut = rng.randrange(1, len(body))
        times = burst(bytes(body[:cut]), preamble=rng.randrange(8))
        if rng.random() < 0.5:
            times += [IDLE] * rng.randrange(1, 3) + [DV | b for b in body[cut:]]
        return times
    preamble = rng.randrange(8)
    times = burst(bytes(body), preamble=preamble)   # er somewhere, or a broken preamble or SFD
    if rng.random() < 0.5:
        times[rng.randrange(len(times))] |= ER
    else:
        times[rng.randrange(preamble + 1)] = DV | rng.choice([0x54, 0x57, 0xD4, 0x00, 0xFF])
    return times


@pytest.mark.parametrize("irregular", [False, True])
def test_rx_fuzz_good_frames_survive_garbage(irregular):
    rng = random.Random(30 + irregular)
    frame_rng = random.Random(40 + irregular)
    streams = 160          # per run: 320 random streams over both runs
    sent, times = [], [IDLE] * 2
    for _ in range(streams):
        times += _garbage(rng, frame_rng)
        # dv must be seen low once before a frame; er without dv must be ignored.
        times += [rng.choice([IDLE, ER, ER | 0x0E]) for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.6:
            frame = ether_frame(frame_rng, rng.randrange(MIN_PAYLOAD, 90))
            sent.append(frame)
            times += burst(with_fcs(frame), preamble=rng.randrange(8))
            times += [IDLE] * rng.randrange(1, MIN_IFG + 1)
    frame = ether_frame(frame_rng, 64)           # no hang: the MAC still takes the last frame
    sent.append(frame)
    times += burst(with_fcs(frame)) + [IDLE] * 4
    out, pulses, _, _ = run_rx(times, rng=random.Random(50) if irregular else None)
    assert out.good() == sent
    assert pulses["frame_ok"] == len(sent)
    assert out.current is None
    # Every dv burst gets exactly one verdict.
    dv_bursts = sum(1 for before, now in zip([IDLE] + times, times, strict=False)
                    if now & DV and not before & DV)
    assert sum(pulses[name] for name in RX_PULSES if name != "sfd") == dv_bursts


# --- TX -> RX -----------------------------------------------------------------------------------

@pytest.mark.parametrize("period", [1, 2])
def test_loopback_random_frames(period):
    rng = random.Random(60 + period)
    frames, items, expect_ok = [], [], []
    for i in range(30):
        frame = ether_frame(rng, rng.choice([rng.randrange(14, 160), rng.randrange(14, 70)]))
        frames.append(frame)
        if i % 10 == 9:           # an underrun now and then: RX must drop it (er on the wire)
            items += beats(frame)[:10] + [None] * 2 + beats(frame)[10:]
        else:
            items += beats(frame)
            expect_ok.append(frame + bytes(max(0, MIN_PAYLOAD - len(frame))))
    _, sfd, tx_pulses, rx_out, rx_pulses = run_tx(items, period=period, loopback=True)
    assert rx_out.good() == expect_ok
    assert tx_pulses["underrun"] == rx_pulses["phy_error"] == len(frames) - len(expect_ok)
    assert rx_pulses["frame_ok"] == len(expect_ok)
    assert rx_pulses["sfd"] == len(sfd) == len(frames)
