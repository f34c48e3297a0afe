"""cocotb testbench: SFD timestamps behind one interface's `EthernetPort` (tests/
test_timestamp.py's TimestampTestTop), end to end.

Time: ``time_ns`` is (simulator time - the time the testbench released reset) in ns, checked
every cycle. Receive: cocotbext-eth's GmiiSource / MiiSource or Stagebox's RmiiSource send 40
frames (one of 1518 bytes, the rest 60..300) with random idle gaps (any number of cycles, so
every symbol phase); each frame's ``rx_stamp`` is compared with the source's ``sim_time_sfd``
(the rising edge at which the receiver samples the SFD's last symbol). Transmit: 40 random
frames (1518 bytes, then 1..300) go into ``tx`` with random gaps; each ``tx_stamp`` is compared
with the rising edge that launches the SFD's first symbol, from the testbench's own capture of
the pins (the preamble and SFD are checked there). The sink must also receive every frame.
Errors are ``stamp - truth`` in ns.
"""

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge
from cocotbext.eth import GmiiFrame

from stagebox.gateware.eth import interface
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
SYMBOL_BITS = symbol_bits(KIND)
PERIOD = CLOCK_PERIOD_PS[KIND]
BYTE_TIME = 8 // SYMBOL_BITS                                      # cycles per byte
FRAMES = 40
MAX_GAP = 40                                                      # idle cycles, beyond the IFG
MAX_DATA = interface.MAX_FRAME - interface.FCS_BYTES


def random_sizes(rng, smallest):
    """One largest frame, then sizes up to 300 bytes (short frames keep the run short; the
    stamps do not depend on the length of the frame before)."""
    return [MAX_DATA] + [rng.randint(smallest, 300) for _ in range(FRAMES - 1)]


def ps_to_ns(ps):
    assert ps % 1000 == 0, ps       # every edge is a whole ns for these periods
    return ps // 1000


async def start(dut):
    """Clock from time 0, reset for four cycles; returns the reset release time (ps)."""
    Clock(dut.clk, PERIOD, unit="ps").start()
    dut.rst.value = 1
    dv_pin = dut.crs_dv if KIND == "rmii" else dut.rx_dv
    for port in (dut.rxd, dv_pin, dut.rx_er, dut.tx_valid, dut.tx_payload):
        port.value = 0
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    return get_sim_time()


class Monitor:
    """Each cycle (sampled mid-cycle): ``time_ns`` against the simulator's clock, the stamps,
    the port's SFD pulses, and the transmit pins (bursts of symbols with their start edge)."""

    def __init__(self, dut, release):
        self.dut, self.release = dut, release
        self.rx_stamps, self.tx_stamps = [], []
        self.rx_sfds = self.tx_sfds = 0
        self.bursts = []            # (start edge in ps, [symbols])
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        en_before = 0
        while True:
            await FallingEdge(dut.clk)
            edge = get_sim_time() - PERIOD // 2      # the rising edge that started this cycle
            if edge > self.release:
                assert int(dut.time_ns.value) == ps_to_ns(edge - self.release)
            self.rx_sfds += int(dut.rx_sfd.value)
            self.tx_sfds += int(dut.tx_sfd.value)
            if int(dut.rx_stamp_valid.value):
                self.rx_stamps.append(int(dut.rx_stamp.value))
            if int(dut.tx_stamp_valid.value):
                self.tx_stamps.append(int(dut.tx_stamp.value))
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


async def send_rx(dut, rng, sent):
    source = rx_source(dut, KIND)
    for size in random_sizes(rng, MIN_DATA):
        payload = rng.randbytes(size)
        await source.send(GmiiFrame(wire_bytes(payload), tx_complete=sent.append))
        await source.wait()
        await ClockCycles(dut.clk, rng.randint(0, MAX_GAP))


async def feed_tx(dut, rng, payloads):
    """Each frame offered without gaps (inputs change mid-cycle; a byte is taken at the edge
    that ends a cycle with ``ready`` high), then ``valid`` low for a random number of cycles."""
    for payload in payloads:
        await feed_frame(dut, payload)
        await FallingEdge(dut.clk)
        dut.tx_valid.value = 0
        await ClockCycles(dut.clk, rng.randint(0, MAX_GAP))


def errors_ns(stamps, truths_ps, release):
    assert len(stamps) == len(truths_ps) == FRAMES
    return [stamp - ps_to_ns(truth - release) for stamp, truth in zip(stamps, truths_ps,
                                                                        strict=True)]


def check(direction, errors):
    period_ns = PERIOD // 1000
    cocotb.log.info("%s %s stamp errors (ns): min %d max %d spread %d", KIND, direction,
                    min(errors), max(errors), max(errors) - min(errors))
    # The required bounds, then the tight one: the compensation is a whole number of cycles
    # and every instant involved is a clock edge, so the stamps are exact.
    assert all(abs(e) <= period_ns for e in errors), errors
    assert max(errors) - min(errors) <= period_ns, errors
    assert errors == [0] * FRAMES, errors


@cocotb.test()
async def stamps(dut):
    """Receive and transmit at once, random sizes and gaps; every stamp exact to the ns."""
    release = await start(dut)
    monitor = Monitor(dut, release)
    rng = random.Random(f"timestamp-{KIND}")
    sink = tx_sink(dut, KIND)
    tx_payloads = [rng.randbytes(size) for size in random_sizes(rng, 1)]
    sent = []       # the source passes each frame back with its sim_time_sfd
    rx_task = cocotb.start_soon(send_rx(dut, rng, sent))
    tx_task = cocotb.start_soon(feed_tx(dut, random.Random(f"gaps-{KIND}"), tx_payloads))
    await rx_task
    await tx_task
    await ClockCycles(dut.clk, 4 * interface.MIN_IFG * BYTE_TIME)

    assert monitor.rx_sfds == monitor.tx_sfds == FRAMES
    check("rx", errors_ns(monitor.rx_stamps, [f.sim_time_sfd for f in sent], release))
    check("tx", errors_ns(monitor.tx_stamps, monitor.tx_sfd_edges(), release))
    for payload in tx_payloads:
        frame = await sink.recv()
        assert frame.get_payload(strip_fcs=False) == wire_bytes(payload)[8:]
    assert sink.empty()
