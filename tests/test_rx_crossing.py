# amaranth: UnusedElaboratable=no
"""The crossings into ``sync`` (gateware/eth/rx_crossing.py) in amaranth.sim with two clocks.

`RxCrossing`: a Python producer plays `EthernetPort`'s ``rx`` stream and the receive
timestamper in the PHY domain (a stamp pulse per burst, then the burst's bytes at the PHY's
byte rate; some bursts emit no byte at all, like a runt); a consumer in ``sync`` collects
frames. Against the list of frames sent: every frame arrives byte for byte with its own stamp
plus ``correction_ns``, when ``sync`` keeps up; when it does not, frames are lost or leave with
``error``, never altered and good-looking, and ``overflow`` pulses. `TxStampCrossing`: each
stamp arrives once, plus the correction.
"""

import random

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from stagebox.gateware.eth.rx_crossing import RxCrossing, TxStampCrossing
from stagebox.gateware.ptp_time import NS_PER_SEC, SEC_BITS, ns_to_ptp_time, ptp_time_to_ns

MOD = NS_PER_SEC << SEC_BITS      # PtpTime wraps here (in ns)


def corrected(stamp_ns, correction):
    return (stamp_ns + correction) % MOD


def random_stamp(rng):
    """A stamp, often near a second boundary or the 48-bit wrap so the correction carries."""
    sec = rng.choice([0, 1, (1 << SEC_BITS) - 1, rng.getrandbits(SEC_BITS)])
    ns = rng.choice([0, 1, NS_PER_SEC - 1, NS_PER_SEC - 7, rng.randrange(NS_PER_SEC)])
    return sec * NS_PER_SEC + ns


def simulator(dut, phy_period_s, sync_period_s):
    m = Module()
    m.domains.phy = ClockDomain()
    m.submodules.dut = dut
    sim = Simulator(m)
    sim.add_clock(sync_period_s)
    sim.add_clock(phy_period_s, domain="phy")
    return sim


def make_bursts(rng, count, *, max_len):
    """(stamp in ns, payload bytes or None for a burst that emits none, error flag)."""
    bursts = []
    for i in range(count):
        stamp = random_stamp(rng)
        if rng.random() < 0.15:
            bursts.append((stamp, None, 0))
            continue
        size = max_len if i == 1 else rng.choice([1, 2, rng.randint(3, 200)])
        bursts.append((stamp, rng.randbytes(size), int(rng.random() < 0.1)))
    return bursts


async def produce(ctx, dut, bursts, byte_cycles, rng):
    """Per burst: the stamp pulse, the SFD-to-first-byte delay, the bytes at one per
    `byte_cycles` cycles, then an inter-frame gap of at least 12 byte times."""
    async def idle(cycles):
        ctx.set(dut.rx.valid, 0)
        ctx.set(dut.stamp_valid, 0)
        for _ in range(cycles):
            await ctx.tick("phy")

    for stamp, payload, error in bursts:
        ctx.set(dut.stamp, ns_to_ptp_time(stamp))
        ctx.set(dut.stamp_valid, 1)
        await ctx.tick("phy")
        await idle(5 * byte_cycles)
        for i, byte in enumerate(payload or b""):
            ctx.set(dut.rx.valid, 1)
            ctx.set(dut.rx.payload, {"data": byte, "first": i == 0, "last": i == len(payload) - 1,
                                     "error": error and i == len(payload) - 1})
            await ctx.tick("phy")
            await idle(byte_cycles - 1)
        ctx.set(dut.rx.valid, 0)
        await idle((12 + rng.randint(0, 8)) * byte_cycles)


def run_rx(phy_ns, sync_ns, byte_cycles, bursts, corrections, *, seed):
    """Sends `bursts`, returns (frames received as (bytes, error, stamp), overflow pulses)."""
    dut = RxCrossing(domain="phy")
    sim = simulator(dut, phy_ns * 1e-9, sync_ns * 1e-9)
    rng = random.Random(seed)
    frames, state = [], {"overflows": 0, "done": False}

    async def producer(ctx):
        await produce(ctx, dut, bursts, byte_cycles, rng)
        # Drain: the sync side must empty the FIFOs in a bounded time (it never hangs).
        await ctx.tick("phy").repeat(200)
        state["done"] = True

    async def consumer(ctx):
        data = bytearray()
        correction = corrections[0]
        ctx.set(dut.correction_ns, correction)
        while True:
            await ctx.tick()
            state["overflows"] += ctx.get(dut.overflow)
            if not ctx.get(dut.source.valid):
                continue
            payload = ctx.get(dut.source.payload)
            assert bool(payload.first) == (len(data) == 0)
            data.append(payload.data)
            if payload.last:
                frames.append((bytes(data), payload.error,
                               (ptp_time_to_ns(payload.stamp) - correction) % MOD))
                data = bytearray()
                # A new correction for the next frame: it applies from the next last byte on.
                correction = corrections[len(frames) % len(corrections)]
                ctx.set(dut.correction_ns, correction)

    sim.add_testbench(producer)
    sim.add_testbench(consumer, background=True)
    sim.run()
    return frames, state["overflows"]


#: Corrections within the +-(1 s - 1 ns) that `ptp_add_ns` takes.
CORRECTIONS = [0, -1, 1, 6_200, -123_456_789, 987_654_321, -999_999_999, 999_999_999]


@pytest.mark.parametrize(("phy_ns", "sync_ns", "byte_cycles"), [
    (8, 7.3, 1),          # GMII, sync faster
    (8, 8.0003, 1),       # GMII, sync 37.5 ppm slower than the byte rate
    (8, 8, 1),            # the same frequency and phase
    (40, 8, 2),           # MII
    (20, 10.0007, 4),     # RMII
    (20, 79.9, 4),        # RMII, sync just above the byte rate
])
def test_rx_crossing_keeps_up(phy_ns, sync_ns, byte_cycles):
    """Every frame that emitted bytes arrives intact, in order, with its own stamp plus the
    correction; stamp-only bursts leave nothing behind; no overflow."""
    rng = random.Random(f"{phy_ns}-{sync_ns}")
    # The longest frame where a slow sync clock could fall behind; shorter ones elsewhere.
    bursts = make_bursts(rng, 30, max_len=1518 if byte_cycles == 1 else 300)
    frames, overflows = run_rx(phy_ns, sync_ns, byte_cycles, bursts, CORRECTIONS,
                               seed=rng.random())
    expected = [(payload, error, stamp) for stamp, payload, error in bursts if payload]
    assert overflows == 0
    assert len(frames) == len(expected)
    for got, want in zip(frames, expected, strict=True):
        assert got == want


@pytest.mark.parametrize(("phy_ns", "sync_ns", "byte_cycles", "whole_losses"), [
    (8, 9.1, 1, False),       # GMII into a slower sync clock
    (8, 24, 1, False),        # far slower
    (8, 200, 1, True),        # so slow that the FIFO is still full when frames start
    (40, 100.3, 2, False),    # MII
])
def test_rx_crossing_overflow(phy_ns, sync_ns, byte_cycles, whole_losses):
    """sync too slow: long frames overflow. Each frame that leaves is either intact with its
    own stamp, or marked error with a prefix of its bytes and one more; frames stay in order;
    overflow pulses; afterwards the crossing drains and takes frames again."""
    rng = random.Random(f"overflow-{phy_ns}-{sync_ns}")
    bursts = make_bursts(rng, 30, max_len=600)
    # Short frames at the end, spaced far apart, must all pass: the crossing recovered.
    tail = [(random_stamp(rng), rng.randbytes(rng.randint(1, 8)), 0) for _ in range(4)]
    for stamp, payload, error in tail:
        bursts += [(random_stamp(rng), None, 0)] * 20 + [(stamp, payload, error)]
    frames, overflows = run_rx(phy_ns, sync_ns, byte_cycles, bursts, [0, 12_345],
                               seed=rng.random())
    sent = [(payload, error, stamp) for stamp, payload, error in bursts if payload]
    position, cut, lost = 0, 0, 0
    for data, error, stamp in frames:
        # The next sent frame that this one can be: intact, or cut short and marked error.
        while True:
            assert position < len(sent), "a frame that was never sent, or out of order"
            payload, sent_error, sent_stamp = sent[position]
            position += 1
            if (data, error, stamp) == (payload, sent_error, sent_stamp):
                break
            if error and len(data) <= len(payload) and payload.startswith(data[:-1]):
                cut += 1
                break
            lost += 1
    assert position == len(sent)
    assert cut > 0 and overflows > 0
    assert (lost > 0) == whole_losses
    assert frames[-len(tail):] == [(p, e, s) for s, p, e in tail]


def test_rx_crossing_needs_another_domain():
    with pytest.raises(ValueError):
        RxCrossing(domain="sync")
    with pytest.raises(ValueError):
        TxStampCrossing(domain="sync")


@pytest.mark.parametrize(("phy_ns", "sync_ns"), [(8, 7.3), (8, 8), (40, 10.0007), (20, 8)])
def test_tx_stamp_crossing(phy_ns, sync_ns):
    """Stamps 84 byte times apart: one valid pulse each, with stamp + correction."""
    dut = TxStampCrossing(domain="phy")
    sim = simulator(dut, phy_ns * 1e-9, sync_ns * 1e-9)
    rng = random.Random(f"tx-{phy_ns}-{sync_ns}")
    stamps = [random_stamp(rng) for _ in range(60)]
    spacing = 84 * {8: 1, 20: 4, 40: 2}[phy_ns]
    received = []

    async def producer(ctx):
        for stamp in stamps:
            ctx.set(dut.stamp, ns_to_ptp_time(stamp))
            ctx.set(dut.stamp_valid, 1)
            await ctx.tick("phy")
            ctx.set(dut.stamp_valid, 0)
            ctx.set(dut.stamp, ns_to_ptp_time(random_stamp(rng)))   # only valid with the pulse
            await ctx.tick("phy").repeat(spacing - 1)

    async def consumer(ctx):
        while True:
            correction = CORRECTIONS[len(received) % len(CORRECTIONS)]
            ctx.set(dut.correction_ns, correction)
            await ctx.tick()
            if ctx.get(dut.valid):
                received.append((ptp_time_to_ns(ctx.get(dut.time)) - correction) % MOD)

    sim.add_testbench(producer)
    sim.add_testbench(consumer, background=True)
    sim.run()
    assert received == stamps
