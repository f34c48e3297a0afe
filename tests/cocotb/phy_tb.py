"""cocotb testbench: one interface's PHY adapters (tests/test_phy.py's PhyTestTop).

Receive: cocotbext-eth's GmiiSource / MiiSource or Stagebox's RmiiSource drive the pins; the
byte bus must carry exactly preamble + SFD + payload + FCS of every frame, a byte per byte time,
with ``sfd`` on the SFD byte `SFD_LATENCY` cycles after the source's SFD instant. Transmit:
bytes offered at the adapter's ``ce`` cadence must reach GmiiSink / MiiSink / RmiiSink intact.
All times are integer simulator steps (1 ps).
"""

import os
import random
import struct
import zlib

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.eth import GmiiFrame

from stagebox.gateware.eth import interface
from stagebox.gateware.eth.gmii import GmiiRx, GmiiTx
from stagebox.gateware.eth.mii import MiiRx, MiiTx
from stagebox.gateware.eth.rmii import RmiiRx, RmiiTx
from stagebox.testing.eth_cocotb import (
    CLOCK_PERIOD_PS,
    rx_source,
    symbol_bits,
    tx_sink,
    wire_bytes,
)
from stagebox.testing.rmii_model import frame_dibits

KIND = os.environ["STAGEBOX_PHY_KIND"]
RX, TX = {"gmii": (GmiiRx, GmiiTx), "mii": (MiiRx, MiiTx), "rmii": (RmiiRx, RmiiTx)}[KIND]
PERIOD = CLOCK_PERIOD_PS[KIND]
SYMBOL_BITS = symbol_bits(KIND)
BYTE_TIME = 8 // SYMBOL_BITS                                      # cycles per byte


def random_payloads(rng, count):
    sizes = [60, 1514] + [rng.randint(61, 1513) for _ in range(count - 2)]
    rng.shuffle(sizes)
    return [rng.randbytes(n) for n in sizes]


def dv_pin(dut):
    return dut.crs_dv if KIND == "rmii" else dut.rx_dv


async def start(dut):
    Clock(dut.clk, PERIOD, unit="ps").start()
    dut.rst.value = 1
    for port in (dut.rxd, dv_pin(dut), dut.rx_er, dut.tx_valid, dut.tx_data, dut.tx_dv,
                 dut.tx_err):
        port.value = 0
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)


class BusMonitor:
    """Records every valid byte of the receive bus with the start time of its cycle."""

    def __init__(self, dut):
        self.dut = dut
        self.beats = []
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            if int(dut.bus_valid.value):
                self.beats.append({
                    "time": get_sim_time() - PERIOD // 2, "data": int(dut.bus_data.value),
                    "dv": int(dut.bus_dv.value), "er": int(dut.bus_er.value),
                    "sfd": int(dut.sfd.value), "dribble": int(dut.dribble.value)})

    def frames(self):
        """Runs of ``dv`` beats, each with the ``dv``-low beat that ended it (or None)."""
        frames, current = [], None
        for beat in self.beats:
            if beat["dv"]:
                current = (current or []) + [beat]
            elif current is not None:
                frames.append((current, beat))
                current = None
        assert current is None, "a frame was still open at the end"
        return frames

    def check_cadence(self, exceptions=()):
        """Valid beats at least a byte time apart, and exactly inside a frame, except just
        before a beat whose time is in `exceptions`."""
        for before, after in zip(self.beats, self.beats[1:], strict=False):
            gap = after["time"] - before["time"]
            assert gap >= BYTE_TIME * PERIOD, (before, after)
            if before["dv"] and after["dv"] and after["time"] not in exceptions:
                assert gap == BYTE_TIME * PERIOD, (before, after)


def check_frame(received, expected, sfd_time, *, sfd_index=7, er_index=None):
    beats, end = received
    assert bytes(b["data"] for b in beats) == expected
    payload, fcs = expected[sfd_index + 1:-4], expected[-4:]
    assert struct.pack("<I", zlib.crc32(payload)) == fcs
    assert [i for i, b in enumerate(beats) if b["sfd"]] == [sfd_index]
    assert beats[sfd_index]["data"] == interface.SFD
    assert beats[sfd_index]["time"] - sfd_time == RX.SFD_LATENCY * PERIOD
    assert [i for i, b in enumerate(beats) if b["er"]] == ([] if er_index is None else [er_index])
    assert not any(b["dribble"] for b in beats)
    return end


@cocotb.test()
async def rx_frames(dut):
    """Back-to-back frames of 64..1518 bytes from the interface's source model; for RMII also
    with 00 dibits before the preamble and with CRS_DV toggling at the end of the frame."""
    await start(dut)
    rng = random.Random(1)
    monitor = BusMonitor(dut)
    source = rx_source(dut, KIND)
    sent = []     # the sources send copies, stamped with their times, via tx_complete
    batches = [(0, 0), (3, 1), (5, 7)] if KIND == "rmii" else [(0, 0)]
    for rx_zeros, carrier_lead in batches:
        if KIND == "rmii":
            source.rx_zeros, source.carrier_lead = rx_zeros, carrier_lead
        for payload in random_payloads(rng, 6 if KIND != "rmii" else 3):
            await source.send(GmiiFrame(wire_bytes(payload), tx_complete=sent.append))
        await source.wait()
        await ClockCycles(dut.clk, 16 * BYTE_TIME)
    frames = monitor.frames()
    assert len(frames) == len(sent)
    for received, frame in zip(frames, sent, strict=True):
        end = check_frame(received, bytes(frame.data), frame.sim_time_sfd)
        assert not end["dribble"] and not end["er"]
        assert end["time"] - received[0][-1]["time"] == BYTE_TIME * PERIOD
    monitor.check_cadence()
    assert monitor.beats[-1]["dv"] == 0


async def drive_symbols(dut, cycles):
    """Drives (symbol, dv, er) per cycle after each rising edge, then idles; returns each
    cycle's drive time (the receiver samples cycle i at the edge of cycle i + 1)."""
    times = []
    for symbol, dv, er in cycles + [(0, 0, 0)]:
        await RisingEdge(dut.clk)
        times.append(get_sim_time())
        dut.rxd.value, dv_pin(dut).value, dut.rx_er.value = symbol, dv, er
    await ClockCycles(dut.clk, 16 * BYTE_TIME)
    return times


def symbols(data):
    if KIND == "mii":
        return [(byte >> shift) & 15 for byte in data for shift in (0, 4)]
    return frame_dibits(data)


@cocotb.test()
async def rx_realignment_dribble_and_errors(dut):
    """MII/RMII oddities driven symbol by symbol: a preamble that ends off the byte grid, a
    frame with a trailing partial byte, RX_ER on one byte, and (RMII) a carrier without data."""
    await start(dut)
    rng = random.Random(2)
    monitor = BusMonitor(dut)
    pre_sym, sfd_sym = symbols(b"\xd5")[-2], symbols(b"\xd5")[-1]
    per_byte = BYTE_TIME
    zeros = [(0, 1, 0)] * 3 if KIND == "rmii" else []

    # Odd preamble: the bytes realign on the SFD; the preamble byte under way is dropped.
    payload = rng.randbytes(70)
    tail = wire_bytes(payload)[8:]
    pre_symbols = 7 * per_byte + per_byte // 2 - 1       # half a byte short, ending in SFD
    cycles = zeros + [(pre_sym, 1, 0)] * pre_symbols + [(sfd_sym, 1, 0)]
    cycles += [(s, 1, 0) for s in symbols(tail)]
    times = await drive_symbols(dut, cycles)
    sfd_time = times[len(zeros) + pre_symbols + 1]
    # Preamble bytes completed before the SFD symbol, less the one it overtakes if it is off
    # the byte grid.
    kept = pre_symbols // per_byte - (pre_symbols % per_byte != per_byte - 1)
    expected = bytes([0x55] * kept + [0xD5]) + tail

    # Trailing partial byte (one symbol for MII, one nibble for RMII).
    payload2 = rng.randbytes(100)
    extra = [(0xA, 1, 0)] if KIND == "mii" else [(2, 1, 0), (1, 1, 0)]
    times2 = await drive_symbols(dut, [(s, 1, 0) for s in symbols(wire_bytes(payload2))] + extra)

    # RX_ER on (a symbol of) byte 30.
    payload3 = rng.randbytes(80)
    cycles3 = [(s, 1, 0) for s in symbols(wire_bytes(payload3))]
    symbol = 30 * per_byte + per_byte - 1
    cycles3[symbol] = (cycles3[symbol][0], 1, 1)
    times3 = await drive_symbols(dut, cycles3)

    if KIND == "rmii":
        # Carrier sense without data (RXD stays 00): no frame.
        await drive_symbols(dut, [(0, 1, 0)] * 20)
        # CRS_DV toggling over the last 3 nibbles, after 00 dibits before the preamble.
        payload4 = rng.randbytes(64)
        cycles4 = [(s, 1, 0) for s in symbols(wire_bytes(payload4))]
        for i in range(len(cycles4) - 6, len(cycles4), 2):
            cycles4[i] = (cycles4[i][0], 0, 0)
        times4 = await drive_symbols(dut, zeros + cycles4)

    frames = monitor.frames()
    assert len(frames) == (4 if KIND == "rmii" else 3)
    check_frame(frames[0], expected, sfd_time, sfd_index=kept)
    end = check_frame(frames[1], wire_bytes(payload2), times2[8 * per_byte])
    assert end["dribble"] == 1
    check_frame(frames[2], wire_bytes(payload3), times3[8 * per_byte], er_index=30)
    if KIND == "rmii":
        end = check_frame(frames[3], wire_bytes(payload4), times4[len(zeros) + 8 * per_byte])
        assert not end["dribble"]
    sfd_beats = {b["time"] for b in monitor.beats if b["sfd"]}
    monitor.check_cadence(exceptions=sfd_beats)


def assemble(symbol_list):
    """Bytes from symbols, least significant first (the transmit side is byte-aligned)."""
    per_byte = BYTE_TIME
    assert len(symbol_list) % per_byte == 0
    return bytes(sum(s << (SYMBOL_BITS * j) for j, s in enumerate(symbol_list[i:i + per_byte]))
                 for i in range(0, len(symbol_list), per_byte))


@cocotb.test()
async def tx_frames(dut):
    """Frames offered at the ``ce`` cadence, 12 idle bytes apart, come out on the pins exactly
    (captured by the testbench) and are received intact by the interface's sink model; each
    frame's first symbol is on the pins `PIN_LATENCY` cycles after its first byte's ``ce``
    cycle; ``er`` on one byte reaches TX_ER on exactly that byte (GMII, MII)."""
    await start(dut)
    rng = random.Random(3)
    sink = tx_sink(dut, KIND)
    payloads = random_payloads(rng, 6)
    error_at = (2, 40) if KIND != "rmii" else None          # (frame, wire byte)
    stream = []
    for n, payload in enumerate(payloads):
        data = wire_bytes(payload)
        for i, byte in enumerate(data):
            stream.append((byte, 1, int(error_at == (n, i)), n if i == 0 else None))
        stream += [(0, 0, 0, None)] * 12

    starts, first_en, on_pins, er_pins = [], [], [], []
    position, en_before = 0, 0
    while position < len(stream) or en_before:
        await FallingEdge(dut.clk)
        cycle = get_sim_time() - PERIOD // 2
        en = int(dut.tx_en.value)
        if en:
            if not en_before:
                first_en.append(cycle)
                on_pins.append([])
                er_pins.append([])
            on_pins[-1].append(int(dut.txd.value))
            er_pins[-1].append(int(dut.tx_er.value) if KIND != "rmii" else 0)
        else:
            assert int(dut.txd.value) == 0
        en_before = en
        if int(dut.tx_ce.value) and position < len(stream):
            data, dv, er, frame = stream[position]
            dut.tx_valid.value, dut.tx_data.value, dut.tx_dv.value, dut.tx_err.value = (
                1, data, dv, er)
            if frame is not None:
                starts.append(cycle)
            position += 1
        else:
            dut.tx_valid.value = 0
    assert [e - s for s, e in zip(starts, first_en, strict=True)] == [
        TX.PIN_LATENCY * PERIOD] * len(payloads)
    assert [assemble(symbols) for symbols in on_pins] == [wire_bytes(p) for p in payloads]
    for n, errors in enumerate(er_pins):
        flagged = sorted({i // BYTE_TIME for i, e in enumerate(errors) if e})
        assert flagged == ([error_at[1]] if error_at and error_at[0] == n else [])

    # cocotbext-eth 0.1.28's GmiiSink drops the byte of the cycle in which TX_EN rises (a
    # preamble byte), so the sinks are held to the bytes from the SFD on.
    for n, payload in enumerate(payloads):
        frame = await sink.recv()
        preamble = frame.get_preamble()
        assert set(preamble[:-1]) == {0x55} and preamble[-1] == 0xD5
        assert len(preamble) == (7 if KIND == "gmii" else 8)
        assert frame.get_payload(strip_fcs=False) == wire_bytes(payload)[8:]
        assert frame.check_fcs()
        errors = [i - len(preamble) for i, e in enumerate(frame.error or []) if e]
        if error_at is not None and error_at[0] == n:
            assert errors == [error_at[1] - 8]
        else:
            assert errors == []
    assert sink.empty()
