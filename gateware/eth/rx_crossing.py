"""Received frames and transmit timestamps from the PHY clock domains into ``sync``.

`RxCrossing` carries `EthernetPort`'s ``rx`` stream and the receive SFD timestamps into
``sync`` and pairs every frame with the stamp of its own SFD; `TxStampCrossing` carries the
transmit SFD timestamps. Both add a board calibration (``correction_ns``) on the ``sync`` side.
"""

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import AsyncFIFO
from amaranth.lib.wiring import In, Out

from ..ptp_time import PtpTime, ptp_add_ns
from .interface import FrameByte, frame_stream, rx_frame_stream

__all__ = ["RxCrossing", "TxStampCrossing", "BYTE_FIFO_DEPTH", "STAMP_FIFO_DEPTH"]

#: Bytes the crossing holds: the synchronisers' latency plus slack for a ``sync`` clock a little
#: slower than the byte rate (see `RxCrossing`).
BYTE_FIFO_DEPTH = 16
#: Frame stamps the crossing holds (frames whose last byte is in the byte FIFO).
STAMP_FIFO_DEPTH = 4


class RxCrossing(wiring.Component):
    """Received frames from the PHY receive domain `domain` into ``sync``, each with the SFD
    timestamp of its own SFD.

    Ports:

    - ``rx`` (in, `frame_stream` with ``always_ready``, `domain`): `EthernetPort`'s ``rx``.
    - ``stamp`` (in, `PtpTime`) and ``stamp_valid`` (in, one-cycle pulse), `domain`: the
      receive `SfdTimestamper`'s outputs.
    - ``correction_ns`` (in, signed 32 bits, ``sync``): added to every stamp (PHY latency,
      board delays), with the carry or borrow into seconds.
    - ``source`` (out, `rx_frame_stream`, ``sync``, no backpressure): the frames, byte for
      byte; ``stamp`` (``stamp + correction_ns``, ``correction_ns`` as it is when the ``last``
      byte leaves) is valid on ``last``.
    - ``overflow`` (out, ``sync``): a one-cycle pulse after bytes were lost (see below); pulses
      for losses close together may merge into one.

    Pairing: the crossing keeps the latest stamp and queues it with a frame's ``last`` byte, so
    the stamp of a burst that emits no byte (a preamble-only burst, a runt of fewer than five
    bytes after its SFD) is overwritten by the next SFD's and never reaches another frame. This
    relies on `MacRx`'s order: a new SFD comes only after dv fell, the frame's ``last`` byte
    leaves the cycle after dv fell, and the stamp arrives two cycles after its SFD was on the bus.

    Latency: a byte leaves on ``source`` 4 to 5 ``sync`` cycles after it was written (the
    FIFO's pointer synchroniser, two stages, and registered output), more while the FIFO holds a
    backlog. The ``sync`` side reads one byte per cycle and has no backpressure.

    Minimum ``sync`` clock: the PHY's byte rate (GMII/RGMII 125 MHz, MII and RMII at 100 Mbit/s
    12.5 MHz). A slower clock loses ground by the rate difference and the `BYTE_FIFO_DEPTH`-byte
    FIFO absorbs about ten bytes of it, so 125 MHz GMII against a 125 MHz ``sync`` clock 200
    ppm slower is fine (0.3 bytes per 1522-byte frame). If the FIFO is full when a byte arrives,
    the rest of that frame is dropped: a frame already started leaves with ``last`` and
    ``error`` (its byte count is then wrong, the frame must be dropped whole, as any
    ``error`` frame), a frame not started yet is dropped entirely, and ``overflow`` pulses.
    A frame never leaves corrupted and looking good, and the crossing never stalls.

    Hazards: the FIFOs reset from `domain`'s reset (`AsyncFIFO`); resetting ``sync`` alone
    keeps their contents.
    """

    def __init__(self, *, domain="eth_rx"):
        if domain == "sync":
            raise ValueError("RxCrossing crosses into sync from another domain")
        self._domain = domain
        super().__init__({
            "rx": In(frame_stream(always_ready=True)),
            "stamp": In(PtpTime),
            "stamp_valid": In(1),
            "correction_ns": In(signed(32)),
            "source": Out(rx_frame_stream()),
            "overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        dom = self._domain
        byte_width = FrameByte.size
        stamp_width = PtpTime.size
        m.submodules.bytes = bytes_ = AsyncFIFO(width=byte_width, depth=BYTE_FIFO_DEPTH,
                                                w_domain=dom, r_domain="sync")
        m.submodules.stamps = stamps = AsyncFIFO(width=stamp_width, depth=STAMP_FIFO_DEPTH,
                                                 w_domain=dom, r_domain="sync")

        # --- PHY side ---------------------------------------------------------------------
        held = Signal(PtpTime)
        with m.If(self.stamp_valid):
            m.d[dom] += held.eq(self.stamp)
        m.d.comb += stamps.w_data.eq(held)

        byte = self.rx.payload
        incoming = self.rx.valid
        # A last byte needs room in both FIFOs: the read side takes its stamp with it.
        room = bytes_.w_rdy & (~byte.last | stamps.w_rdy)
        close_entry = FrameByte.const({"data": 0, "first": 0, "last": 1, "error": 1})
        lost = Signal()                  # a byte is dropped this cycle (first of a frame's loss)
        skip_next = Signal()             # a frame started during CLOSE: drop it whole after

        with m.FSM(domain=dom, name="phy_state"):
            with m.State("PASS"):
                with m.If(incoming):
                    with m.If(room):
                        m.d.comb += [bytes_.w_en.eq(1), bytes_.w_data.eq(byte),
                                     stamps.w_en.eq(byte.last)]
                    with m.Else():
                        m.d.comb += lost.eq(1)
                        with m.If(byte.first):
                            # Nothing of this frame is queued: drop it whole.
                            with m.If(~byte.last):
                                m.next = "SKIP"
                        with m.Elif(byte.last):
                            m.next = "CLOSE"
                        with m.Else():
                            m.next = "DROP"
            with m.State("DROP"):
                # Part of the frame is queued: discard the rest, then close it with an error.
                with m.If(incoming & byte.last):
                    m.next = "CLOSE"
            with m.State("SKIP"):
                with m.If(incoming & byte.last):
                    m.next = "PASS"
            with m.State("CLOSE"):
                m.d.comb += [bytes_.w_data.eq(close_entry),
                             bytes_.w_en.eq(bytes_.w_rdy & stamps.w_rdy),
                             stamps.w_en.eq(bytes_.w_rdy & stamps.w_rdy)]
                with m.If(incoming):
                    m.d.comb += lost.eq(byte.first)
                    m.d[dom] += skip_next.eq(~byte.last)
                with m.If(bytes_.w_rdy & stamps.w_rdy):
                    m.d[dom] += skip_next.eq(0)
                    with m.If(skip_next | (incoming & ~byte.last)):
                        m.next = "SKIP"
                    with m.Else():
                        m.next = "PASS"

        # Losses cross as a toggle handshake: a loss while one is in flight merges with it.
        lost_pending = Signal()
        lost_req = Signal()
        lost_ack_phy = Signal()
        lost_req_sync = Signal()
        lost_ack = Signal()
        m.submodules.lost_req_cdc = FFSynchronizer(lost_req, lost_req_sync, o_domain="sync")
        m.submodules.lost_ack_cdc = FFSynchronizer(lost_ack, lost_ack_phy, o_domain=dom)
        with m.If(lost):
            m.d[dom] += lost_pending.eq(1)
        with m.If((lost_pending | lost) & (lost_req == lost_ack_phy)):
            m.d[dom] += [lost_req.eq(~lost_req), lost_pending.eq(0)]

        # --- sync side --------------------------------------------------------------------
        m.d.sync += [lost_ack.eq(lost_req_sync),
                     self.overflow.eq(lost_req_sync != lost_ack)]

        head = FrameByte(bytes_.r_data)
        take = bytes_.r_rdy & (~head.last | stamps.r_rdy)
        m.d.comb += [bytes_.r_en.eq(take), stamps.r_en.eq(take & head.last)]
        corrected = ptp_add_ns(m, stamps.r_data, self.correction_ns, name="corrected")
        src = self.source.payload
        m.d.sync += [
            self.source.valid.eq(take),
            Cat(src.data, src.first, src.last, src.error).eq(head),
            src.stamp.eq(corrected),
        ]
        return m


class TxStampCrossing(wiring.Component):
    """Transmit SFD timestamps from the PHY transmit domain `domain` into ``sync``.

    Ports:

    - ``stamp`` (in, `PtpTime`) and ``stamp_valid`` (in, one-cycle pulse), `domain`: the
      transmit `SfdTimestamper`'s outputs.
    - ``correction_ns`` (in, signed 32 bits, ``sync``): added to every stamp.
    - ``valid`` (out, ``sync``): a one-cycle pulse per stamp; ``time`` (out, `PtpTime`,
      ``sync``): ``stamp + correction_ns`` with the carry or borrow into seconds, held until
      the next pulse.

    How: the stamp is held in `domain` and a toggle crosses through a two-stage `FFSynchronizer`;
    ``sync`` reads the held stamp in the cycle after the toggle arrives. Latency: ``valid`` rises
    3 to 4 ``sync`` cycles after ``stamp_valid``.

    Hazards: the held stamp crosses without a synchroniser: it is read at least two ``sync``
    cycles after it changed (constrain that path to two ``sync`` periods) and must not change
    again before it is read, so stamps must be at least four ``sync`` cycles apart; frames are
    at least 84 byte times apart (672 ns at 1 Gbit/s), far more.
    """

    def __init__(self, *, domain="eth_tx"):
        if domain == "sync":
            raise ValueError("TxStampCrossing crosses into sync from another domain")
        self._domain = domain
        super().__init__({
            "stamp": In(PtpTime),
            "stamp_valid": In(1),
            "correction_ns": In(signed(32)),
            "valid": Out(1),
            "time": Out(PtpTime),
        })

    def elaborate(self, platform):
        m = Module()
        dom = self._domain
        held = Signal(PtpTime)
        toggle = Signal()
        with m.If(self.stamp_valid):
            m.d[dom] += [held.eq(self.stamp), toggle.eq(~toggle)]

        toggle_sync = Signal()
        seen = Signal()
        m.submodules.toggle_cdc = FFSynchronizer(toggle, toggle_sync, o_domain="sync")
        arrived = toggle_sync != seen
        m.d.sync += [seen.eq(toggle_sync), self.valid.eq(arrived)]
        corrected = ptp_add_ns(m, held, self.correction_ns, name="corrected")
        with m.If(arrived):
            m.d.sync += self.time.eq(corrected)
        return m
