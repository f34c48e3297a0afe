# amaranth: UnusedElaboratable=no
"""TxCrossing (gateware/eth/tx_crossing.py) in amaranth.sim with unrelated ``sync`` and transmit
clocks: frames of 14..1518 bytes pass intact, and once the transmit side raises ``valid`` for a
frame it never drops it before ``last`` (checked in every transmit cycle), including with
``sync`` slower than the transmit clock and with `EthernetPort` (GMII, MII, RMII pacing) as the
consumer; below the documented minimum ``sync`` clock the checker does see gaps."""

import random

import pytest
from amaranth.hdl import DomainRenamer, Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from stagebox.gateware.eth.interface import MAX_PAYLOAD_BYTES
from stagebox.gateware.eth.port import EthernetPort
from stagebox.gateware.eth.tx_crossing import TxCrossing, min_sync_hz

GMII_BYTE_HZ = 125e6
SIZES = [14, 15, 16, 17, 18, 31, 32, 33, 60, MAX_PAYLOAD_BYTES, 14, 14, MAX_PAYLOAD_BYTES - 1,
         100, 15, 600, 14]


def make_frames(rng, sizes):
    return [rng.randbytes(n) for n in sizes]


def run_crossing(frames, *, sync_period, tx_period, phy=None, prefill=TxCrossing.PREFILL,
                 seed=0):
    """Send `frames` through a `TxCrossing` into an always-ready consumer (`phy` None) or an
    `EthernetPort` of that type. Returns (received frames, gaps, underrun pulses); a gap is a
    transmit cycle in which ``valid`` was low after it had risen for a frame and before the
    frame's ``last`` byte was taken."""
    rng = random.Random(seed)
    m = Module()
    if phy is None:
        tx_domain = "eth_tx"
        m.submodules.crossing = dut = TxCrossing(tx_domain, prefill=prefill)
        port = None
    else:
        port = EthernetPort(phy)
        tx_domain = port.tx_domain
        m.submodules.port = DomainRenamer({port.rx_domain: tx_domain})(port)
        m.submodules.crossing = dut = TxCrossing(tx_domain, prefill=prefill)
        wiring.connect(m, dut.source, port.tx)
    received, gaps, underruns = [], [], []

    async def producer(ctx):
        for frame in frames:
            # Random pauses between frames (often none); none inside a frame.
            for _ in range(rng.choice([0, 0, rng.randrange(1, 8), rng.randrange(50, 400)])):
                ctx.set(dut.sink.valid, 0)
                await ctx.tick("sync")
            offset = 0
            while offset < len(frame):
                ctx.set(dut.sink.valid, 1)
                ctx.set(dut.sink.payload, {"data": frame[offset], "first": offset == 0,
                                           "last": offset == len(frame) - 1})
                ready = ctx.get(dut.sink.ready)
                await ctx.tick("sync")
                offset += ready
        ctx.set(dut.sink.valid, 0)

    async def consumer(ctx):
        source = dut.source
        if port is None:
            ctx.set(source.ready, 1)
        current = None          # bytes of the frame being taken, once valid has risen for it
        cycle = 0
        # Generous: pauses, preamble, padding, gap, two or four cycles per byte (MII, RMII).
        limit = 8 * sum(len(f) + 420 for f in frames) * max(1, round(sync_period / tx_period))
        while len(received) < len(frames):
            assert cycle < limit, "crossing stalled"
            valid, ready = ctx.get(source.valid), ctx.get(source.ready)
            if port is not None and ctx.get(port.status.tx.underrun):
                underruns.append(cycle)
            if current is not None and not valid:
                gaps.append(cycle)
            if valid:
                payload = ctx.get(source.payload)
                assert payload.error == 0
                if current is None:
                    assert payload.first, cycle
                    current = bytearray()
                if ready:
                    current.append(payload.data)
                    assert payload.first == (len(current) == 1), cycle
                    if payload.last:
                        received.append(bytes(current))
                        current = None
            await ctx.tick(tx_domain)
            cycle += 1

    sim = Simulator(m)
    sim.add_clock(sync_period, domain="sync")
    sim.add_clock(tx_period, domain=tx_domain)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return received, gaps, underruns


@pytest.mark.parametrize(("sync_period", "tx_period"), [
    (8.001e-9, 7.999e-9),         # sync 250 ppm slower than GMII
    (7.999e-9, 8.001e-9),         # sync faster
    (8e-9, 40e-9),                # transmit much slower: the FIFO fills up, sync waits
])
def test_unrelated_clocks(sync_period, tx_period):
    frames = make_frames(random.Random(1), SIZES)
    received, gaps, _ = run_crossing(frames, sync_period=sync_period, tx_period=tx_period)
    assert received == frames
    assert gaps == []


def test_at_minimum_sync_clock():
    """``sync`` at the documented minimum for a 125 MHz byte rate (plus 0.1 %): no gaps."""
    hz = min_sync_hz(GMII_BYTE_HZ, TxCrossing.PREFILL)
    assert 124e6 < hz < 124.2e6
    frames = make_frames(random.Random(2), SIZES)
    received, gaps, _ = run_crossing(frames, sync_period=1 / (hz * 1.001),
                                     tx_period=1 / GMII_BYTE_HZ)
    assert received == frames
    assert gaps == []


def test_too_slow_sync_clock_shows_gaps():
    """3 % below the byte rate a long frame outruns the prefill: the checker must see gaps
    (the bytes still arrive, late)."""
    frames = make_frames(random.Random(3), [MAX_PAYLOAD_BYTES, 14, MAX_PAYLOAD_BYTES])
    received, gaps, _ = run_crossing(frames, sync_period=1 / (0.97 * GMII_BYTE_HZ),
                                     tx_period=1 / GMII_BYTE_HZ)
    assert received == frames
    assert gaps


@pytest.mark.parametrize(("phy", "sync_period", "tx_period"), [
    ("gmii", 8.001e-9, 7.999e-9),
    ("mii", 8e-9, 40e-9),
    ("rmii", 10.3e-9, 20e-9),
])
def test_into_port(phy, sync_period, tx_period):
    """`EthernetPort` as the consumer (preamble, padding, gap, ce pacing): no underrun."""
    sizes = SIZES if phy == "gmii" else [14, 15, 60, MAX_PAYLOAD_BYTES, 14, 33]
    frames = make_frames(random.Random(4), sizes)
    received, gaps, underruns = run_crossing(frames, sync_period=sync_period,
                                             tx_period=tx_period, phy=phy, seed=4)
    assert received == frames
    assert gaps == []
    assert underruns == []


@pytest.mark.parametrize(("depth", "prefill"), [(0, 1), (24, 8), (32, 0), (32, 32)])
def test_bad_parameters(depth, prefill):
    with pytest.raises(ValueError):
        TxCrossing(depth=depth, prefill=prefill)
