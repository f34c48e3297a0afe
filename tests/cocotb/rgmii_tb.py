"""cocotb testbench: `EthernetPort("rgmii")` behind the simulation DDR model (tests/
test_rgmii.py's RgmiiTestTop), end to end at the RGMII pins.

The PHY side is cocotbext-eth: RgmiiSource drives RD/RX_CTL from RXC (``clk``), changing them
at the clock edges (so each edge samples mid-bit, as after the PHY's RX delay); RgmiiSink
samples TD/TX_CTL with ``clk90``, TXC delayed by a quarter period (the PHY's TX delay). The
testbench also captures both sides' pins itself, with ``clk90`` (a quarter period away from
every edge at which they change), as the reference for byte contents and SFD instants.

SFD instants at the pins: receive, the RXC rising edge that samples the SFD's low nibble;
transmit, the TXC rising edge that launches it. ``status.rx.sfd`` / ``status.tx.sfd`` are
compared with them in integer ps; the differences must be one constant, the one derived from
the adapters' and the DDR model's latency constants.
"""

import logging
import random
import struct
import zlib
from collections import Counter

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge, Timer
from cocotbext.eth import GmiiFrame, RgmiiSink, RgmiiSource

from stagebox.gateware.eth import interface
from stagebox.gateware.eth.port import RX_STATUS, TX_STATUS
from stagebox.gateware.eth.rgmii import RgmiiRx, RgmiiTx
from stagebox.testing.eth_cocotb import (
    CLOCK_PERIOD_PS,
    MIN_DATA,
    WIRE_PREAMBLE,
    feed_frame,
    wire_bytes,
)
from stagebox.testing.rgmii_ddr import RgmiiDdr

PERIOD = CLOCK_PERIOD_PS["gmii"]                 # RGMII at 1 Gbit/s: the same 125 MHz
SKEW = PERIOD // 4                               # clk90 behind clk
MAX_DATA = interface.MAX_FRAME - interface.FCS_BYTES
#: From the SFD at the receive pins to the cycle of ``status.rx.sfd``: the DDR registers, the
#: adapter, and one cycle in `MacRx`.
RX_SFD_PS = (RgmiiDdr.RX_LATENCY + RgmiiRx.SFD_LATENCY + 1) * PERIOD
#: From the cycle of ``status.tx.sfd`` to the SFD at the transmit pins.
TX_SFD_PS = (RgmiiTx.PIN_LATENCY + RgmiiDdr.TX_LATENCY) * PERIOD


def sweep_sizes(rng):
    """Frame lengths without FCS (so 64..1522 bytes on the wire with it): both ends of the
    range byte by byte, a stride through the middle, and random ones."""
    sizes = list(range(MIN_DATA, MIN_DATA + 12)) + list(range(MAX_DATA - 20, MAX_DATA + 1))
    sizes += list(range(MIN_DATA + 12, MAX_DATA - 20, 53))
    sizes += [rng.randint(MIN_DATA, MAX_DATA) for _ in range(20)]
    rng.shuffle(sizes)
    return sizes


async def start(dut):
    """RXC/TXC (``clk``) from time 0, ``clk90`` a quarter period later, reset for four cycles."""
    Clock(dut.clk, PERIOD, unit="ps").start()
    dut.rst.value = 1
    for port in (dut.rd, dut.rx_ctl, dut.tx_valid, dut.tx_payload):
        port.value = 0
    await Timer(SKEW, unit="ps")
    Clock(dut.clk90, PERIOD, unit="ps").start()
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)


def quiet(model):
    """The PHY models log every frame in full: keep their warnings only."""
    model.log.setLevel(logging.WARNING)
    return model


def pulses(value, names):
    return [name for i, name in enumerate(names) if value >> i & 1]


class PinBursts:
    """Bytes at one direction's pins, grouped into bursts of DV (``ctl`` at the first edge).
    Each byte is (data, er, edge): the clock edge of its first half (a rising edge of
    ``clk``), ``er`` = the two ctl halves differing."""

    def __init__(self, data, ctl, clk90, *, first_on_rise):
        self.data, self.ctl, self.clk90 = data, ctl, clk90
        self.first_on_rise = first_on_rise
        self.bursts = []
        cocotb.start_soon(self._run())

    async def _run(self):
        # Receive: the first half is valid around clk90's falling edge (2 ns before the clk edge
        # that samples it); transmit: around its rising edge (2 ns after the launching edge).
        first, second = ((RisingEdge, FallingEdge) if self.first_on_rise
                         else (FallingEdge, RisingEdge))
        offset = -SKEW if self.first_on_rise else SKEW
        dv_before = 0
        while True:
            await first(self.clk90)
            edge = get_sim_time() + offset
            low, dv = int(self.data.value), int(self.ctl.value)
            await second(self.clk90)
            high, ctl_fall = int(self.data.value), int(self.ctl.value)
            if dv:
                if not dv_before:
                    self.bursts.append([])
                self.bursts[-1].append((low | high << 4, dv ^ ctl_fall, edge))
            dv_before = dv

    def frames(self):
        return [bytes(b for b, _, _ in burst) for burst in self.bursts]

    def sfd_edges(self):
        """Per burst, the edge of the SFD (after exactly seven preamble bytes)."""
        edges = []
        for burst in self.bursts:
            assert bytes(b for b, _, _ in burst[:len(WIRE_PREAMBLE)]) == WIRE_PREAMBLE
            edges.append(burst[len(WIRE_PREAMBLE) - 1][2])
        return edges


class PortMonitor:
    """The ``rx`` stream's frames and both directions' pulses (counts, ``sfd`` cycle starts),
    sampled mid-cycle."""

    def __init__(self, dut):
        self.dut = dut
        self.frames = []       # (bytes, error) per frame
        self.counts = {"rx": Counter(), "tx": Counter()}
        self.sfd_times = {"rx": [], "tx": []}
        self._bytes = None
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            # After the inputs written at this edge: combinational pulses (``underrun``) follow
            # the ``tx`` inputs that the next rising edge takes.
            await ReadOnly()
            cycle = get_sim_time() - PERIOD // 2
            for direction, value, names in (("rx", dut.rx_status.value, RX_STATUS),
                                            ("tx", dut.tx_status.value, TX_STATUS)):
                for name in pulses(int(value), names):
                    self.counts[direction][name] += 1
                    if name == "sfd":
                        self.sfd_times[direction].append(cycle)
            if int(dut.rx_valid.value):
                word = int(dut.rx_payload.value)
                data, first, last, error = word & 0xFF, word >> 8 & 1, word >> 9 & 1, word >> 10
                assert first == (self._bytes is None), "first on the wrong byte"
                assert not error or last, "error off the last byte"
                self._bytes = (self._bytes or bytearray()) + bytes([data])
                if last:
                    self.frames.append((bytes(self._bytes), error))
                    self._bytes = None


async def send_rx(source, frames):
    """Queue every frame at once: the source sends them back to back with its 12-byte gap."""
    for frame in frames:
        await source.send(frame)
    await source.wait()


async def feed_tx(dut, payloads):
    for payload in payloads:        # back to back: tx_valid stays high between frames
        await feed_frame(dut, payload)
    await FallingEdge(dut.clk)
    dut.tx_valid.value = 0


def gaps_ps(bursts):
    """Idle time between bursts (from the end of one to the first edge of the next)."""
    return [b[0][2] - (a[-1][2] + PERIOD) for a, b in zip(bursts, bursts[1:], strict=False)]


@cocotb.test()
async def line_rate(dut):
    """Both directions at once, frames of 64..1522 bytes (with FCS) back to back with the
    minimum gap: every byte exact at the far end, FCS as zlib computes it, one ``sfd`` and one
    ``frame_ok`` per received frame, and every SFD a fixed time from its pulse."""
    await start(dut)
    rng = random.Random("rgmii-line-rate")
    monitor = PortMonitor(dut)
    rx_pins = PinBursts(dut.rd, dut.rx_ctl, dut.clk90, first_on_rise=False)
    tx_pins = PinBursts(dut.td, dut.tx_ctl, dut.clk90, first_on_rise=True)
    source = quiet(RgmiiSource(dut.rd, dut.rx_ctl, dut.clk))
    sink = quiet(RgmiiSink(dut.td, dut.tx_ctl, dut.clk90))
    assert source.ifg == interface.MIN_IFG

    rx_payloads = [rng.randbytes(n) for n in sweep_sizes(rng)]
    tx_payloads = [rng.randbytes(n) for n in [1, 20, 59] + sweep_sizes(rng)]
    sent = []       # the source passes each frame back with its sim_time_sfd
    frames = [GmiiFrame(wire_bytes(p), tx_complete=sent.append) for p in rx_payloads]
    rx_task = cocotb.start_soon(send_rx(source, frames))
    tx_task = cocotb.start_soon(feed_tx(dut, tx_payloads))
    await rx_task
    await tx_task
    await ClockCycles(dut.clk, 4 * interface.MIN_IFG)

    # Receive: the source's pins carried what was sent, back to back ...
    n = len(rx_payloads)
    assert rx_pins.frames() == [wire_bytes(p) for p in rx_payloads]
    assert gaps_ps(rx_pins.bursts) == [interface.MIN_IFG * PERIOD] * (n - 1)
    # ... and the port delivered every frame exactly, FCS stripped.
    assert [len(d) for d, _ in monitor.frames] == [len(p) for p in rx_payloads]
    assert monitor.frames == [(p, 0) for p in rx_payloads]
    assert monitor.counts["rx"] == {"sfd": n, "frame_ok": n}
    rx_sfd = rx_pins.sfd_edges()
    assert [f.sim_time_sfd for f in sent] == rx_sfd       # the source agrees on the instant
    rx_offsets = [t - s for t, s in zip(monitor.sfd_times["rx"], rx_sfd, strict=True)]
    cocotb.log.info("rx sfd pulse - pin SFD: %s ps", sorted(set(rx_offsets)))
    assert rx_offsets == [RX_SFD_PS] * n

    # Transmit: padded, FCS from zlib, the minimum gap, the SFD a fixed time after the pulse.
    n = len(tx_payloads)
    frames = tx_pins.frames()
    assert len(frames) == n
    for frame, payload in zip(frames, tx_payloads, strict=True):
        body = payload.ljust(MIN_DATA, b"\0")
        assert frame == WIRE_PREAMBLE + body + struct.pack("<I", zlib.crc32(body))
    assert not any(er for burst in tx_pins.bursts for _, er, _ in burst)
    assert gaps_ps(tx_pins.bursts) == [interface.MIN_IFG * PERIOD] * (n - 1)
    assert monitor.counts["tx"] == {"sfd": n}
    tx_offsets = [s - t for s, t in zip(tx_pins.sfd_edges(), monitor.sfd_times["tx"],
                                        strict=True)]
    cocotb.log.info("tx pin SFD - sfd pulse: %s ps", sorted(set(tx_offsets)))
    assert tx_offsets == [TX_SFD_PS] * n
    for payload in tx_payloads:
        frame = await sink.recv()
        assert frame.get_preamble() == WIRE_PREAMBLE
        assert frame.get_payload(strip_fcs=False) == wire_bytes(payload)[len(WIRE_PREAMBLE):]
        assert frame.check_fcs()
        assert not any(frame.error or [])
    assert sink.empty()


async def drive_idle(dut, symbols):
    """Drive the receive pins by hand, one (nibble at the rising edge, ctl at the rising edge,
    ctl at the falling edge) per cycle, changing them at the opposite edges as a PHY does."""
    for nibble, ctl_rise, ctl_fall in symbols:
        await FallingEdge(dut.clk)
        dut.rd.value, dut.rx_ctl.value = nibble, ctl_rise
        await RisingEdge(dut.clk)
        dut.rd.value, dut.rx_ctl.value = nibble, ctl_fall
    await FallingEdge(dut.clk)
    dut.rd.value, dut.rx_ctl.value = 0, 0


@cocotb.test()
async def rx_errors(dut):
    """Between frames, false carrier (ctl 0/1) and in-band status (ctl 0/0) are ignored. Then
    RX_ER (ctl 1/0) on one byte, RX_ER in the FCS, a bad FCS, a runt, a giant: each dropped
    (``error`` on its last byte, or nothing) and counted once; good frames around them arrive
    intact, their SFD pulses at the usual time."""
    await start(dut)
    rng = random.Random("rgmii-errors")
    monitor = PortMonitor(dut)
    rx_pins = PinBursts(dut.rd, dut.rx_ctl, dut.clk90, first_on_rise=False)
    await drive_idle(dut, [(0xE, 0, 1)] * 20 + [(0xD, 0, 0)] * 20 + [(0x5, 0, 1)] * 5)
    await ClockCycles(dut.clk, 4)
    assert monitor.frames == [] and monitor.counts["rx"] == {}
    source = quiet(RgmiiSource(dut.rd, dut.rx_ctl, dut.clk))

    good = [rng.randbytes(rng.randint(MIN_DATA, 200)) for _ in range(3)]
    with_er, er_fcs, bad_fcs = rng.randbytes(200), rng.randbytes(100), rng.randbytes(300)
    runt, giant = rng.randbytes(MIN_DATA - 20), rng.randbytes(MAX_DATA + 1)
    frames, expected = [], []

    def add(payload, wire, *, error=None, expect):
        frames.append(GmiiFrame(wire, error=error))
        expected.append(expect)

    add(good[0], wire_bytes(good[0]), expect=(good[0], 0))
    wire = wire_bytes(with_er)
    add(with_er, wire, error=[int(i == 60) for i in range(len(wire))], expect=(with_er, 1))
    wire = wire_bytes(er_fcs)
    add(er_fcs, wire, error=[0] * (len(wire) - 1) + [1], expect=(er_fcs, 1))
    wire = bytearray(wire_bytes(bad_fcs))
    wire[-2] ^= 0x01
    add(bad_fcs, bytes(wire), expect=(bad_fcs, 1))
    add(good[1], wire_bytes(good[1]), expect=(good[1], 0))
    # Unpadded: 44 bytes with its (good) FCS.
    add(runt, WIRE_PREAMBLE + runt + struct.pack("<I", zlib.crc32(runt)), expect=(runt, 1))
    # 1523 bytes with FCS: cut after MAX_DATA bytes.
    add(giant, wire_bytes(giant), expect=(giant[:MAX_DATA], 1))
    add(good[2], wire_bytes(good[2]), expect=(good[2], 0))

    for frame in frames:
        await source.send(frame)
    await source.wait()
    await ClockCycles(dut.clk, 4 * interface.MIN_IFG)

    # The ctl halves at the pins differ exactly where the frames' errors were placed.
    assert [[er for _, er, _ in burst] for burst in rx_pins.bursts] == [
        list(f.error) if f.error else [0] * len(f.data) for f in frames]
    assert monitor.frames == expected
    assert monitor.counts["rx"] == {"sfd": len(frames), "frame_ok": 3, "phy_error": 2,
                                    "crc_error": 1, "runt": 1, "giant": 1}
    offsets = [t - s for t, s in zip(monitor.sfd_times["rx"], rx_pins.sfd_edges(), strict=True)]
    assert offsets == [RX_SFD_PS] * len(frames)


async def offer(dut, payload, *, error_at=None, hole_at=None):
    """Offer one frame on ``tx`` like `feed_frame`, with ``error`` on byte `error_at`, or with
    ``valid`` low for a few cycles before byte `hole_at` (an underrun)."""
    words = [byte | (i == 0) << 8 | (i == len(payload) - 1) << 9 | (i == error_at) << 10
             for i, byte in enumerate(payload)]
    position = 0
    while position < len(words):
        await FallingEdge(dut.clk)
        if position == hole_at:
            dut.tx_valid.value = 0
            await ClockCycles(dut.clk, 3, FallingEdge)
            hole_at = None
        dut.tx_valid.value, dut.tx_payload.value = 1, words[position]
        await ReadOnly()
        if int(dut.tx_ready.value):
            position += 1
    await FallingEdge(dut.clk)
    dut.tx_valid.value = 0


@cocotb.test()
async def tx_error(dut):
    """A frame with ``error`` on one byte, and one whose ``valid`` drops mid-frame
    (``underrun``), go out cut after one byte with TX_ER (ctl 1/0), which the sink sees; the
    next frame is intact."""
    await start(dut)
    rng = random.Random("rgmii-tx-error")
    monitor = PortMonitor(dut)
    tx_pins = PinBursts(dut.td, dut.tx_ctl, dut.clk90, first_on_rise=True)
    sink = quiet(RgmiiSink(dut.td, dut.tx_ctl, dut.clk90))
    flagged, starved, good = rng.randbytes(200), rng.randbytes(150), rng.randbytes(100)
    await offer(dut, flagged, error_at=30)
    await offer(dut, starved, hole_at=50)
    await offer(dut, good)
    await ClockCycles(dut.clk, 4 * interface.MIN_IFG)

    assert len(tx_pins.bursts) == 3
    for burst, frame, payload in zip(tx_pins.bursts[:2], tx_pins.frames(), (flagged, starved),
                                     strict=False):
        errors = [er for _, er, _ in burst]
        assert sum(errors) == 1 and errors[-1] == 1
        sent = frame[len(WIRE_PREAMBLE):-1]       # what went out before the error byte
        assert frame[:len(WIRE_PREAMBLE)] == WIRE_PREAMBLE and sent == payload[:len(sent)]
    assert monitor.counts["tx"] == {"sfd": 3, "underrun": 1}
    for _ in range(2):
        cut = await sink.recv()
        assert any(cut.error)
    frame = await sink.recv()
    assert frame.get_payload(strip_fcs=False) == wire_bytes(good)[len(WIRE_PREAMBLE):]
    assert not any(frame.error or [])
    assert sink.empty()
