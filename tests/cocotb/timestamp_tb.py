"""cocotb testbench: the timestamp path of one interface (tests/test_timestamp.py's
TimestampTestTop), end to end: wallclock in ``sys``, `PhyTime` into the PHY clock, SFD stamps
there, `RxCrossing` and `TxStampCrossing` back into ``sys``.

Time: the stand-in wallclock steps by exactly the ``sys`` period, so it is the simulator's time
minus a constant ``R`` (found from ``wallclock`` and checked every ``sys`` cycle); the truth of
an instant ``t`` is ``t - R``, all in integer picoseconds. Receive: cocotbext-eth's GmiiSource /
MiiSource or Stagebox's RmiiSource send 200 bursts with random idle gaps: good frames (one of
1518 bytes, the rest 60..120), 3-byte runts (an SFD, no byte out), garbage without an SFD, and
20-byte runts (16 bytes out, marked error). Every burst that emits bytes must come out of
``RxCrossing`` byte for byte with the stamp of its own SFD: ``stamp - correction`` against the
source's ``sim_time_sfd`` (the rising edge at which the receiver samples the SFD's last
symbol), with ``rx_correction`` changed after every frame. Transmit: 100 random frames go into
``tx`` with random gaps; each ``TxStampCrossing`` stamp minus ``tx_correction`` is compared with
the rising edge that launches the SFD's first symbol, from the testbench's own capture of the
pins, and the sink must receive every frame. The errors must lie in ``[-P/2, P/2)`` (`PhyTime`'s
window; everything here is a whole number of ns, so there is no quantisation), i.e. within one
PHY period ``P``.
"""

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge
from cocotbext.eth import GmiiFrame

from stagebox.gateware.eth import interface
from stagebox.gateware.ptp_time import NS_PER_SEC, SEC_BITS
from stagebox.testing.eth_cocotb import (
    CLOCK_PERIOD_PS,
    MIN_DATA,
    WIRE_PREAMBLE,
    feed_frame,
    rx_source,
    symbol_bits,
    tx_sink,
    wire_bytes,
)

KIND = os.environ["STAGEBOX_PHY_KIND"]
SYS_PERIOD = int(os.environ["STAGEBOX_SYS_PERIOD_PS"])
SYMBOL_BITS = symbol_bits(KIND)
PERIOD = CLOCK_PERIOD_PS[KIND]
BYTE_TIME = 8 // SYMBOL_BITS                                      # cycles per byte
RX_BURSTS = 200
TX_FRAMES = 100
MAX_GAP = 40                                                      # idle cycles, beyond the IFG
MAX_DATA = interface.MAX_FRAME - interface.FCS_BYTES
MOD = NS_PER_SEC << SEC_BITS
#: Corrections cycled through, one per frame (ns).
CORRECTIONS = [0, 6_200, -1, 999_999_999, -999_999_999, 123_456_789, -40]


def ptp_ns(value):
    """A packed `PtpTime` (ns in bits 0..29, seconds above) -> ns."""
    return (value >> 30) * NS_PER_SEC + (value & ((1 << 30) - 1))


async def start(dut):
    Clock(dut.clk, PERIOD, unit="ps").start()
    Clock(dut.sys_clk, SYS_PERIOD, unit="ps").start()
    dut.rst.value = 1
    dut.sys_rst.value = 1
    dv_pin = dut.crs_dv if KIND == "rmii" else dut.rx_dv
    for port in (dut.rxd, dv_pin, dut.rx_er, dut.tx_valid, dut.tx_payload):
        port.value = 0
    dut.rx_correction.value = CORRECTIONS[0]
    dut.tx_correction.value = CORRECTIONS[0]
    await ClockCycles(dut.sys_clk, 4)
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    dut.sys_rst.value = 0
    await ClockCycles(dut.clk, 20)
    assert int(dut.aligned.value)


class PhyMonitor:
    """Each PHY cycle (sampled mid-cycle): the SFD pulses and the transmit pins (bursts of
    symbols with their start edge)."""

    def __init__(self, dut):
        self.dut = dut
        self.rx_sfds = self.tx_sfds = 0
        self.bursts = []            # (start edge in ps, [symbols])
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        en_before = 0
        while True:
            await FallingEdge(dut.clk)
            edge = get_sim_time() - PERIOD // 2      # the rising edge that started this cycle
            self.rx_sfds += int(dut.rx_sfd.value)
            self.tx_sfds += int(dut.tx_sfd.value)
            en = int(dut.tx_en.value)
            if en:
                if not en_before:
                    self.bursts.append((edge, []))
                self.bursts[-1][1].append(int(dut.txd.value))
            en_before = en

    def tx_sfd_edges(self):
        """Per burst, the edge that launched the SFD's first symbol (after 7 preamble bytes);
        the preamble and SFD are checked symbol by symbol."""
        mask = (1 << SYMBOL_BITS) - 1
        expected = [byte >> (SYMBOL_BITS * j) & mask
                    for byte in WIRE_PREAMBLE for j in range(BYTE_TIME)]
        edges = []
        for start, symbols in self.bursts:
            assert symbols[:len(expected)] == expected
            edges.append(start + interface.PREAMBLE_BYTES * BYTE_TIME * PERIOD)
        return edges


class SysMonitor:
    """Each ``sys`` cycle (sampled mid-cycle): the wallclock's offset ``R`` from the simulator's
    time, the frames leaving `RxCrossing` (with the correction they were given), the transmit
    stamps, overflow pulses. Corrections change after every frame / stamp."""

    def __init__(self, dut):
        self.dut = dut
        self.release = None
        self.frames = []            # (bytes, error, stamp - correction in ns)
        self.tx_stamps = []         # stamp - correction in ns
        self.overflows = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        data = bytearray()
        rx_correction = tx_correction = CORRECTIONS[0]
        while True:
            await FallingEdge(dut.sys_clk)
            edge = get_sim_time() - SYS_PERIOD // 2
            wallclock = ptp_ns(int(dut.wallclock.value))
            if wallclock:
                release = edge - wallclock * 1000
                assert self.release in (None, release)
                self.release = release
            self.overflows += int(dut.overflow.value)
            if int(dut.rx_valid.value):
                payload = int(dut.rx_payload.value)
                byte, first, last, error = (payload & 0xFF, payload >> 8 & 1, payload >> 9 & 1,
                                            payload >> 10 & 1)
                assert first == (len(data) == 0)
                data.append(byte)
                if last:
                    stamp = (ptp_ns(payload >> 11) - rx_correction) % MOD
                    self.frames.append((bytes(data), error, stamp))
                    data = bytearray()
                    rx_correction = CORRECTIONS[len(self.frames) % len(CORRECTIONS)]
                    dut.rx_correction.value = rx_correction
            if int(dut.tx_stamp_valid.value):
                stamp = ptp_ns(int(dut.tx_stamp_time.value))
                self.tx_stamps.append((stamp - tx_correction) % MOD)
                tx_correction = CORRECTIONS[len(self.tx_stamps) % len(CORRECTIONS)]
                dut.tx_correction.value = tx_correction


def rx_bursts(rng):
    """(kind, wire bytes) per burst; kinds: good, runt3, runt20, garbage."""
    bursts = []
    for i in range(RX_BURSTS):
        kind = rng.choices(["good", "runt3", "runt20", "garbage"], [14, 2, 2, 2])[0]
        if i == 1:
            bursts.append(("good", wire_bytes(rng.randbytes(MAX_DATA))))
        elif kind == "good":
            bursts.append((kind, wire_bytes(rng.randbytes(rng.randint(MIN_DATA, 120)))))
        elif kind == "runt3":
            bursts.append((kind, WIRE_PREAMBLE + rng.randbytes(3)))
        elif kind == "runt20":
            bursts.append((kind, WIRE_PREAMBLE + rng.randbytes(20)))
        else:
            bursts.append((kind, bytes([interface.PREAMBLE] * 5 + [0x12]) + rng.randbytes(30)))
    return bursts


async def send_rx(dut, rng, bursts, sent):
    source = rx_source(dut, KIND)
    for _, wire in bursts:
        await source.send(GmiiFrame(wire, tx_complete=sent.append))
        await source.wait()
        await ClockCycles(dut.clk, rng.randint(0, MAX_GAP))


async def feed_tx(dut, rng, payloads):
    """Each frame offered without gaps, then ``valid`` low for a random number of cycles."""
    for payload in payloads:
        await feed_frame(dut, payload)
        await FallingEdge(dut.clk)
        dut.tx_valid.value = 0
        await ClockCycles(dut.clk, rng.randint(0, MAX_GAP))


def check(direction, stamps, truths_ps, release):
    """Errors in ps, stamp (ns) against the truth (simulator ps minus the release offset)."""
    assert len(stamps) == len(truths_ps)
    errors = [stamp * 1000 - (truth - release) for stamp, truth in zip(stamps, truths_ps,
                                                                       strict=True)]
    cocotb.log.info("%s %s stamp errors over %d frames (ps): min %d max %d spread %d", KIND,
                    direction, len(errors), min(errors), max(errors), max(errors) - min(errors))
    assert all(-PERIOD // 2 <= e < PERIOD // 2 for e in errors), errors
    assert max(errors) - min(errors) < PERIOD


@cocotb.test()
async def stamps(dut):
    """Receive and transmit at once, random sizes and gaps, runts and garbage between frames;
    every frame intact with its own stamp, within one PHY period of the truth."""
    await start(dut)
    phy, sys = PhyMonitor(dut), SysMonitor(dut)
    rng = random.Random(f"timestamp-{KIND}")
    bursts = rx_bursts(rng)
    sink = tx_sink(dut, KIND)
    tx_payloads = [rng.randbytes(MAX_DATA if i == 0 else rng.randint(1, 100))
                   for i in range(TX_FRAMES)]
    sent = []       # the source passes each frame back with its sim_time_sfd
    rx_task = cocotb.start_soon(send_rx(dut, rng, bursts, sent))
    tx_task = cocotb.start_soon(feed_tx(dut, random.Random(f"gaps-{KIND}"), tx_payloads))
    await rx_task
    await tx_task
    await ClockCycles(dut.clk, 4 * interface.MIN_IFG * BYTE_TIME)

    # What must come out of RxCrossing: good frames without FCS, 20-byte runts' first 16
    # bytes marked error; 3-byte runts and garbage nothing.
    expected, truths = [], []
    for (kind, wire), frame in zip(bursts, sent, strict=True):
        body = wire[len(WIRE_PREAMBLE):]
        if kind == "good":
            expected.append((body[:-interface.FCS_BYTES], 0))
        elif kind == "runt20":
            expected.append((body[:-interface.FCS_BYTES], 1))
        else:
            continue
        truths.append(frame.sim_time_sfd)
    assert phy.rx_sfds == sum(kind != "garbage" for kind, _ in bursts)
    assert phy.tx_sfds == TX_FRAMES
    assert sys.overflows == 0
    assert [(data, error) for data, error, _ in sys.frames] == expected
    check("rx", [stamp for _, _, stamp in sys.frames], truths, sys.release)
    check("tx", sys.tx_stamps, phy.tx_sfd_edges(), sys.release)
    for payload in tx_payloads:
        frame = await sink.recv()
        assert frame.get_payload(strip_fcs=False) == wire_bytes(payload)[8:]
    assert sink.empty()
