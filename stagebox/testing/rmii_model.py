"""RMII PHY models for cocotb (RMII 1.2, 100 Mbit/s), in the style of cocotbext-eth's GMII/MII
sources and sinks, which have no RMII counterpart.

Frames are cocotbext-eth `GmiiFrame` objects holding the bytes on the wire, preamble and SFD
included (build them with ``GmiiFrame.from_payload(payload)``, which pads to 60 bytes and appends
the FCS, or ``GmiiFrame(raw_bytes)``). Like cocotbext-eth, a source stamps ``sim_time_start``,
``sim_time_sfd`` (the REF_CLK rising edge at which the receiver samples the SFD's last dibit)
and ``sim_time_end``, all in simulator steps.

`RmiiSource` plays the PHY's receive side (drives RXD, CRS_DV, RX_ER towards the MAC);
`RmiiSink` the PHY's transmit side (samples TXD and TX_EN). Both act at rising edges of REF_CLK.
"""

import logging

import cocotb
from cocotb.queue import Queue, QueueFull
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, First, RisingEdge, Timer
from cocotbext.eth import GmiiFrame

from stagebox.gateware.eth.interface import SFD

__all__ = ["RmiiSource", "RmiiSink", "frame_dibits"]


def frame_dibits(data):
    """The dibits of `data`, in wire order (least significant pair of each byte first)."""
    return [(byte >> shift) & 3 for byte in data for shift in (0, 2, 4, 6)]


class _Resettable:
    """Optional reset input: while it is at its active level the model idles."""

    def _init_reset(self, reset, active_level):
        self.reset = reset
        self._reset_level = bool(active_level)

    def _in_reset(self):
        if self.reset is None:
            return False
        try:
            return bool(int(self.reset.value)) == self._reset_level
        except ValueError:
            return True


class RmiiSource(_Resettable):
    """Sends frames on RXD/CRS_DV/RX_ER, one dibit per REF_CLK cycle.

    Knobs (attributes, read at the start of each frame):

    - ``ifg``: idle byte times (four dibits each) after each frame, at least 1 (default 12).
    - ``rx_zeros``: dibits of 00 between CRS_DV rising and the preamble, as a PHY sends while it
      recovers the data (default 0).
    - ``carrier_lead``: nibbles before the end of the data at which the carrier drops; during
      them CRS_DV toggles as RMII specifies (low on the first, high on the second dibit of each
      nibble) while the data goes on (default 0: CRS_DV falls with the data).

    A frame's ``error`` list (one entry per byte) drives RX_ER on all dibits of those bytes.
    """

    def __init__(self, data, er, crs_dv, clock, reset=None, reset_active_level=True):
        self.log = logging.getLogger(f"cocotb.{data._path}")
        self.data, self.er, self.crs_dv, self.clock = data, er, crs_dv, clock
        self._init_reset(reset, reset_active_level)
        self.ifg = 12
        self.rx_zeros = 0
        self.carrier_lead = 0
        self.queue = Queue()
        self.queue_occupancy_limit_frames = -1
        self.active = False
        self.current_frame = None
        self.idle_event = Event()
        self.idle_event.set()
        self._wake = Event()
        self._drive(0, 0, 0)
        self._task = cocotb.start_soon(self._run())

    async def send(self, frame):
        while self.full():
            await RisingEdge(self.clock)
        self.send_nowait(frame)

    def send_nowait(self, frame):
        if self.full():
            raise QueueFull()
        self.queue.put_nowait(GmiiFrame(frame))
        self.idle_event.clear()
        self._wake.set()

    def count(self):
        return self.queue.qsize()

    def empty(self):
        return self.queue.empty()

    def full(self):
        limit = self.queue_occupancy_limit_frames
        return limit > 0 and self.queue.qsize() >= limit

    def idle(self):
        return self.empty() and not self.active

    def clear(self):
        while not self.queue.empty():
            frame = self.queue.get_nowait()
            frame.sim_time_end = None
            frame.handle_tx_complete()

    async def wait(self):
        await self.idle_event.wait()

    def _drive(self, dibit, crs_dv, er):
        self.data.value = dibit
        self.crs_dv.value = crs_dv
        if self.er is not None:
            self.er.value = er

    def _schedule(self, frame):
        """Per-cycle (dibit, CRS_DV, RX_ER) of one frame, and the index of the SFD's last dibit."""
        frame.normalize()
        dibits = frame_dibits(frame.data)
        errors = [e for e in frame.error for _ in range(4)]
        lead = min(2 * self.carrier_lead, len(dibits))
        crs = [1] * (len(dibits) - lead) + [i % 2 for i in range(lead)]
        cycles = [(0, 1, 0)] * self.rx_zeros + list(zip(dibits, crs, errors, strict=True))
        sfd_last = None
        if SFD in frame.data:
            sfd_last = self.rx_zeros + 4 * frame.data.index(SFD) + 3
        return cycles, sfd_last

    async def _run(self):
        edge = RisingEdge(self.clock)
        cycles, position, sfd_last, gap = None, 0, None, 0
        while True:
            await edge
            if self._in_reset():
                if self.current_frame is not None:
                    self.log.warning("frame dropped by reset: %s", self.current_frame)
                    self.current_frame.handle_tx_complete()
                self.current_frame, cycles, gap, self.active = None, None, 0, False
                self._drive(0, 0, 0)
                continue
            if cycles is None and gap == 0 and not self.queue.empty():
                frame = self.queue.get_nowait()
                self.current_frame, self.active = frame, True
                frame.sim_time_start, frame.sim_time_sfd, frame.sim_time_end = (
                    get_sim_time(), None, None)
                cycles, sfd_last = self._schedule(frame)
                position = 0
                self.log.info("RX frame: %s", frame)
            if cycles is None:
                self._drive(0, 0, 0)
                if gap:
                    gap -= 1
                    continue
                self.active = False
                self.idle_event.set()
                if self.queue.empty():
                    self._wake.clear()
                    await self._wake.wait()
                continue
            frame = self.current_frame
            if position == (sfd_last or -2) + 1:
                frame.sim_time_sfd = get_sim_time()
            self._drive(*cycles[position])
            position += 1
            if position == len(cycles):
                frame.sim_time_end = get_sim_time()
                frame.handle_tx_complete()
                self.current_frame, cycles = None, None
                gap = 4 * max(self.ifg, 1)


class RmiiSink(_Resettable):
    """Receives frames from TXD/TX_EN, one dibit per REF_CLK cycle.

    A frame is the dibits while TX_EN is high, put together least significant first from the
    first dibit and re-aligned once on the SFD (like cocotbext-eth's MII sink); whole bytes
    only, preamble and SFD included. A frame that ends with a partial byte gets the attribute
    ``dribble_dibits`` (how many dibits were dropped, else 0). RMII has no TX_ER, so ``error``
    stays None.
    """

    def __init__(self, data, er, dv, clock, reset=None, reset_active_level=True):
        self.log = logging.getLogger(f"cocotb.{data._path}")
        if er is not None:
            raise ValueError("RMII has no TX_ER; pass er=None")
        self.data, self.dv, self.clock = data, dv, clock
        self._init_reset(reset, reset_active_level)
        self.queue = Queue()
        self.active = False
        self.active_event = Event()
        self._task = cocotb.start_soon(self._run())

    async def recv(self, compact=True):
        frame = await self.queue.get()
        return self._recv(frame)

    def recv_nowait(self, compact=True):
        return self._recv(self.queue.get_nowait())

    def _recv(self, frame):
        if self.queue.empty():
            self.active_event.clear()
        return frame

    def count(self):
        return self.queue.qsize()

    def empty(self):
        return self.queue.empty()

    def idle(self):
        return not self.active

    def clear(self):
        while not self.queue.empty():
            self.queue.get_nowait()
        self.active_event.clear()

    async def wait(self, timeout=0, timeout_unit="ns"):
        if not self.empty():
            return
        if timeout:
            await First(self.active_event.wait(), Timer(timeout, timeout_unit))
        else:
            await self.active_event.wait()

    @staticmethod
    def _assemble(frame, dibits):
        data = bytearray()
        byte, count, synced = 0, 0, False
        for dibit in dibits:
            byte = (byte >> 2) | (dibit << 6)
            count += 1
            if not synced and byte == SFD:
                synced, count = True, 4
            if count == 4:
                data.append(byte)
                count = 0
        frame.data = data
        frame.dribble_dibits = count
        return frame

    async def _run(self):
        edge = RisingEdge(self.clock)
        dibits, times = None, []
        while True:
            await edge
            if self._in_reset():
                dibits, self.active = None, False
                continue
            dv = int(self.dv.value)
            if dv:
                if dibits is None:
                    dibits, times = [], []
                    self.active = True
                dibits.append(int(self.data.value))
                times.append(get_sim_time())
                continue
            if dibits is None:
                continue
            frame = GmiiFrame(bytearray())
            frame.sim_time_start = times[0]
            frame.sim_time_end = get_sim_time()
            self._assemble(frame, dibits)
            # The SFD time, like cocotbext-eth's sinks: the edge of the dibit after the SFD.
            rolling, sfd_at = 0, None
            for i, dibit in enumerate(dibits):
                rolling = (rolling >> 2) | (dibit << 6)
                if rolling == SFD:
                    sfd_at = times[i + 1] if i + 1 < len(times) else None
                    break
            frame.sim_time_sfd = sfd_at
            self.log.info("TX frame: %s", frame)
            self.queue.put_nowait(frame)
            self.active_event.set()
            dibits, self.active = None, False
