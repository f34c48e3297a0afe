"""cocotb testbench: one interface's `EthernetPort` (tests/test_port.py's PortTestTop), end to end.

Receive: cocotbext-eth's GmiiSource / MiiSource or Stagebox's RmiiSource send frames of 60..1518
bytes (plus FCS) back to back with the minimum gap; the ``rx`` stream must carry every frame
exactly, FCS stripped, with one ``frame_ok`` and one ``sfd`` pulse per frame (the latter
``SFD_LATENCY + 1`` cycles after the source's SFD instant) and no error pulse; then a frame with
a bad FCS and (GMII, MII) one with RX_ER are flagged, and the next good frame is intact.
Transmit: the same frames fed into ``tx`` back to back must come out on the pins exactly (the
testbench's own capture), padded to 60 bytes, with a good FCS, and reach GmiiSink / MiiSink /
RmiiSink intact. All times are integer simulator steps (1 ps).
"""

import os
import random
import struct
import zlib
from collections import Counter

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge
from cocotbext.eth import GmiiFrame

from stagebox.gateware.eth import interface
from stagebox.gateware.eth.port import PHY_TYPES, RX_STATUS, TX_STATUS
from stagebox.testing.eth_cocotb import (
    CLOCK_PERIOD_PS,
    MIN_DATA,
    WIRE_PREAMBLE,
    feed_frame,
    rx_source,
    tx_sink,
    wire_bytes,
)

KIND = os.environ["STAGEBOX_PHY_KIND"]
RX, TX, SYMBOL_BITS = PHY_TYPES[KIND][:3]
PERIOD = CLOCK_PERIOD_PS[KIND]
BYTE_TIME = 8 // SYMBOL_BITS                                      # cycles per byte
SIZES = [60, 61, 64, 65, 127, 128, 511, 1000, 1514, 1518]
if os.environ.get("STAGEBOX_PORT_SIZES") == "every":
    # Every size from the minimum (60 bytes of data, 64 with the FCS) to the untagged maximum.
    SIZES = list(range(interface.MIN_FRAME - interface.FCS_BYTES,
                       interface.MAX_FRAME - interface.FCS_BYTES - 4 + 1))


def make_payloads(rng, sizes=SIZES):
    """Random frames of `sizes`, then a VLAN-tagged frame of 1518 bytes (1522 with the FCS)."""
    frames = [rng.randbytes(n) for n in sizes]
    vlan = rng.randbytes(12) + bytes([0x81, 0x00, 0x20, 0x05, 0x08, 0x00])
    return frames + [vlan + rng.randbytes(interface.MAX_FRAME - interface.FCS_BYTES - len(vlan))]


async def start(dut):
    Clock(dut.clk, PERIOD, unit="ps").start()
    dut.rst.value = 1
    dv_pin = dut.crs_dv if KIND == "rmii" else dut.rx_dv
    for port in (dut.rxd, dv_pin, dut.rx_er, dut.tx_valid, dut.tx_payload):
        port.value = 0
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)


def pulses(value, names):
    return [name for i, name in enumerate(names) if value >> i & 1]


class RxMonitor:
    """Collects the ``rx`` stream's frames and the receive pulses (counts, ``sfd`` times)."""

    def __init__(self, dut):
        self.dut = dut
        self.frames = []       # (bytes, error) per frame
        self.counts = Counter()
        self.sfd_times = []
        self._bytes = None
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            status = int(dut.rx_status.value)
            if status:
                for name in pulses(status, RX_STATUS):
                    self.counts[name] += 1
                    if name == "sfd":
                        self.sfd_times.append(get_sim_time() - PERIOD // 2)
            if int(dut.rx_valid.value):
                word = int(dut.rx_payload.value)
                data, first, last, error = word & 0xFF, word >> 8 & 1, word >> 9 & 1, word >> 10
                assert first == (self._bytes is None), "first on the wrong byte"
                assert not error or last, "error off the last byte"
                self._bytes = (self._bytes or bytearray()) + bytes([data])
                if last:
                    self.frames.append((bytes(self._bytes), error))
                    self._bytes = None


@cocotb.test()
async def rx_frames(dut):
    """Good frames back to back with the minimum gap, then a bad FCS, RX_ER, a good frame."""
    await start(dut)
    rng = random.Random(1)
    monitor = RxMonitor(dut)
    source = rx_source(dut, KIND)
    assert source.ifg == interface.MIN_IFG
    payloads = make_payloads(rng)
    sent = []       # the sources pass the frames back, stamped with their SFD times
    for payload in payloads:
        await source.send(GmiiFrame(wire_bytes(payload), tx_complete=sent.append))
    await source.wait()
    await ClockCycles(dut.clk, 16 * BYTE_TIME)

    assert len(monitor.frames) == len(payloads)
    for (data, error), payload in zip(monitor.frames, payloads, strict=True):
        assert (len(data), error) == (len(payload), 0)
        assert data == payload
    n = len(payloads)
    assert monitor.counts == {"sfd": n, "frame_ok": n}
    latency = (RX.SFD_LATENCY + 1) * PERIOD
    assert [t - frame.sim_time_sfd for t, frame in zip(monitor.sfd_times, sent, strict=True)] == [
        latency] * n

    # A corrupted FCS, RX_ER on one byte (GMII, MII), then a good frame.
    bad_fcs, with_er, good = rng.randbytes(100), rng.randbytes(200), rng.randbytes(80)
    wire = bytearray(wire_bytes(bad_fcs))
    wire[-1] ^= 0x40
    await source.send(GmiiFrame(bytes(wire)))
    expected = [(bad_fcs, 1)]
    if KIND != "rmii":
        wire = wire_bytes(with_er)
        error = [0] * len(wire)
        error[50] = 1
        await source.send(GmiiFrame(wire, error=error))
        expected.append((with_er, 1))
    await source.send(GmiiFrame(wire_bytes(good)))
    expected.append((good, 0))
    await source.wait()
    await ClockCycles(dut.clk, 16 * BYTE_TIME)

    assert monitor.frames[n:] == expected
    errors = {"crc_error": 1} | ({"phy_error": 1} if KIND != "rmii" else {})
    assert monitor.counts == {"sfd": n + len(expected), "frame_ok": n + 1} | errors


class TxMonitor:
    """Captures the transmit pins (one burst of symbols per TX_EN high, with its start time),
    TX_ER, and the transmit pulses."""

    def __init__(self, dut):
        self.dut = dut
        self.bursts = []       # (start time, [symbols])
        self.counts = Counter()
        self.sfd_times = []
        self.tx_er = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        en_before = 0
        while True:
            await FallingEdge(dut.clk)
            cycle = get_sim_time() - PERIOD // 2
            status = int(dut.tx_status.value)
            if status:
                for name in pulses(status, TX_STATUS):
                    self.counts[name] += 1
                    if name == "sfd":
                        self.sfd_times.append(cycle)
            en = int(dut.tx_en.value)
            if en:
                if not en_before:
                    self.bursts.append((cycle, []))
                self.bursts[-1][1].append(int(dut.txd.value))
                if KIND != "rmii":
                    self.tx_er |= int(dut.tx_er.value)
            en_before = en

    def frames(self):
        """Each burst's bytes, from symbols (least significant first)."""
        result = []
        for _, symbols in self.bursts:
            assert len(symbols) % BYTE_TIME == 0
            result.append(bytes(
                sum(s << (SYMBOL_BITS * j) for j, s in enumerate(symbols[i:i + BYTE_TIME]))
                for i in range(0, len(symbols), BYTE_TIME)))
        return result


@cocotb.test()
async def tx_frames(dut):
    """Frames of 20..1518 bytes fed back to back leave on the pins padded, with a good FCS and
    the minimum gap; ``sfd`` leads the SFD at the pins by `PIN_LATENCY` cycles."""
    await start(dut)
    rng = random.Random(2)
    monitor = TxMonitor(dut)
    sink = tx_sink(dut, KIND)
    payloads = make_payloads(rng, [20, 59] + SIZES)
    for payload in payloads:       # back to back: tx_valid stays high between frames
        await feed_frame(dut, payload)
    await FallingEdge(dut.clk)
    dut.tx_valid.value = 0
    await ClockCycles(dut.clk, 2 * interface.MIN_IFG * BYTE_TIME)

    frames = monitor.frames()
    assert len(frames) == len(payloads)
    for frame, payload in zip(frames, payloads, strict=True):
        assert frame[:8] == WIRE_PREAMBLE
        body, fcs = frame[8:-4], frame[-4:]
        assert struct.pack("<I", zlib.crc32(body)) == fcs
        assert body == payload.ljust(MIN_DATA, b"\0")
    assert monitor.tx_er == 0
    n = len(payloads)
    assert monitor.counts == {"sfd": n}
    sfd_at_pins = [start + 7 * BYTE_TIME * PERIOD for start, _ in monitor.bursts]
    assert [p - t for p, t in zip(sfd_at_pins, monitor.sfd_times, strict=True)] == [
        TX.PIN_LATENCY * PERIOD] * n
    # Back to back: the gap between bursts is the minimum one (whole byte times of TX_EN low).
    ends = [start + len(symbols) * PERIOD for start, symbols in monitor.bursts]
    gaps = [start - end for (start, _), end in zip(monitor.bursts[1:], ends, strict=False)]
    assert gaps == [interface.MIN_IFG * BYTE_TIME * PERIOD] * (n - 1)

    # The sink model. cocotbext-eth 0.1.28's GmiiSink drops the byte of the cycle in which
    # TX_EN rises (a preamble byte), so the sinks are held to the bytes from the SFD on.
    for payload in payloads:
        frame = await sink.recv()
        preamble = frame.get_preamble()
        assert set(preamble[:-1]) == {interface.PREAMBLE} and preamble[-1] == interface.SFD
        assert len(preamble) == (7 if KIND == "gmii" else 8)
        assert frame.get_payload(strip_fcs=False) == wire_bytes(payload)[8:]
        assert frame.check_fcs()
        assert not any(frame.error or [])
    assert sink.empty()
