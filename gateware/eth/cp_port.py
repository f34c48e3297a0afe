"""The control-plane packet port: whole frames between the MAC and a softcore or an SPI host.

Software reads received frames and writes frames to send through a Wishbone window of packet
buffers (the PKTBUF block of the register map); the slot bookkeeping (which frame waits where,
how long it is, its timestamp; which slot to fill next, send it) is on plain ports that the
integrator wires to registers.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from stagebox.regmap.map import (
    PKTBUF_RX_OFFSET,
    PKTBUF_TX_OFFSET,
    PKTBUF_WINDOW_BYTES,
    STAGEBOX_MAP,
)

from .. import wishbone
from ..ptp_time import PtpTime
from .frame_buffer import WORD_BYTES, FrameBuffer, SlotRing, SlotStreamer, frame_buffer_sink
from .interface import MAX_PAYLOAD_BYTES, TAG_BITS, TxStampSignature, tx_frame_stream

__all__ = ["ControlPlanePort", "TX_MIN_LENGTH", "TX_MAX_LENGTH", "WINDOW_BYTES"]

#: Shortest frame software may send: an Ethernet header (the MAC pads to the minimum size).
TX_MIN_LENGTH = 14
#: Longest frame software may send, without FCS.
TX_MAX_LENGTH = MAX_PAYLOAD_BYTES
#: Bytes of the bus window: RX slots, then TX slots.
WINDOW_BYTES = PKTBUF_TX_OFFSET + PKTBUF_WINDOW_BYTES

# The decoder tells the halves apart by one address bit.
assert PKTBUF_RX_OFFSET == 0 and PKTBUF_TX_OFFSET == PKTBUF_WINDOW_BYTES


class ControlPlanePort(wiring.Component):
    """Receive and transmit packet buffers for software, behind a Wishbone window.

    Clock domain: ``sync`` (everything).

    Bus (``bus``, Wishbone B4 classic slave, 13-bit word address, `WINDOW_BYTES` bytes):

    - RX slot ``k`` at byte offset ``k * slot_bytes`` (read-only), TX slot ``k`` at
      ``0x4000 + k * slot_bytes`` (read/write, byte selects honoured). Frames are stored
      little-endian: byte ``i`` in byte lane ``i % 4`` of word ``i // 4``.
    - Every access is acknowledged in its second cycle (``ack`` one cycle after ``stb``); ``err``
      is never raised. A write into RX space is ignored, a read of space no slot occupies
      returns ``0xDEADC0DE`` (the map's unmapped value), a write there is ignored; each of these
      pulses ``bus_error`` (out) for one cycle, in the ``ack`` cycle.

    Receive:

    - ``rx`` (in, `frame_buffer_sink` of `PtpTime`, always ready): frames; drive ``commit``
      with "good frame routed to the control plane" and ``meta`` with its SFD stamp (both read
      on ``last``). See `FrameBuffer` for dropping rules and latencies: a frame committed with
      its ``last`` byte in cycle ``t`` counts from cycle ``t + 2``.
    - ``rx_count`` (out): frames waiting; ``rx_ready`` (out): ``rx_count != 0``, a level for an
      interrupt; ``rx_head_slot``, ``rx_length`` (bytes, FCS excluded), ``rx_stamp`` (out): the
      oldest frame, stale while ``rx_ready`` is low.
    - ``rx_pop`` (in, strobe): free the oldest frame's slot (ignored when none waits); the next
      frame shows in the following cycle.
    - ``rx_overflow`` (out): one-cycle pulse per committed frame dropped whole because every
      slot was full when it started (or it was longer than a slot); ``rx_committed`` (out):
      one-cycle pulse per frame delivered.

    Transmit:

    - ``tx_free`` (out): free TX slots; ``tx_next_slot`` (out): the slot software fills next.
    - ``tx_send`` (in, strobe) with ``tx_send_length`` (bytes without FCS,
      `TX_MIN_LENGTH`..`TX_MAX_LENGTH`), ``tx_send_stamp``, ``tx_send_tag``: queue slot
      ``tx_next_slot``. ``tx_free`` and ``tx_next_slot`` change in the next cycle. A send with
      no free slot or a length out of range changes nothing and pulses ``tx_error`` (out) in the
      next cycle.
    - ``tx`` (out, `tx_frame_stream`): queued frames in order, gapless once ``first`` is valid;
      ``stamp`` and ``tag`` hold for the whole frame. The first byte is valid three cycles after
      the ``tx_send`` cycle if the queue was idle.
    - ``tx_done`` (out): one-cycle pulse in the cycle after a frame's ``last`` byte was
      accepted; its slot counts in ``tx_free`` from that cycle.
    - ``tx_stamp`` (in, `TxStampSignature` flipped): TX timestamps from the arbiter; on each
      ``valid`` pulse ``tx_stamp_time`` and ``tx_stamp_tag`` (out) latch the new stamp and
      ``tx_stamp_count`` (out, 8 bits, wraps) increments, all visible in the next cycle.

    Hazards: software must not write a TX slot between sending it and its ``tx_done`` (the
    frame is read out of it as it is sent), and must read an RX frame before popping it.

    Cost: RX data ``rx_slots * slot_bytes`` bytes (simple dual port), TX data
    ``tx_slots * slot_bytes`` bytes (the bus's read/write port and the streamer's read port:
    true dual port), both 32 bits wide with byte-lane writes; on a Gowin GW2A with the defaults
    4 + 2 18-Kbit BSRAMs. Slot info: ``rx_slots`` x 90 bits (length + stamp) and ``tx_slots`` x
    21 bits in small memories. Yosys ``synth_gowin`` of the defaults: 6 BSRAMs, 29 RAM16SDP4
    (the slot info), about 190 LUT4 + 80 ALU + 60 wide-mux cells and 260 flip-flops (78 of them
    ``tx_stamp_time``, 111 the slot info read registers).
    """

    def __init__(self, rx_slots=4, tx_slots=2, slot_bytes=2048):
        for name, slots in (("rx_slots", rx_slots), ("tx_slots", tx_slots)):
            if not isinstance(slots, int) or slots < 2 or slots & (slots - 1) or slots > 128:
                raise ValueError(f"{name} must be a power of two in 2..128, not {slots!r}")
            if slots * slot_bytes > PKTBUF_WINDOW_BYTES:
                raise ValueError(f"{name} x slot_bytes = {slots * slot_bytes} bytes does not "
                                 f"fit the {PKTBUF_WINDOW_BYTES}-byte window")
        if not isinstance(slot_bytes, int) or slot_bytes & (slot_bytes - 1) \
                or slot_bytes < TX_MAX_LENGTH:
            raise ValueError(f"slot_bytes must be a power of two >= {TX_MAX_LENGTH} (the "
                             f"longest frame), not {slot_bytes!r}")
        self.rx_slots, self.tx_slots, self.slot_bytes = rx_slots, tx_slots, slot_bytes
        self.tx_info = data.StructLayout({"length": range(slot_bytes + 1), "stamp": 1,
                                          "tag": TAG_BITS})
        super().__init__({
            "bus": In(wishbone.Signature(exact_log2(WINDOW_BYTES // WORD_BYTES))),
            "bus_error": Out(1),

            "rx": In(frame_buffer_sink(PtpTime)),
            "rx_count": Out(range(rx_slots + 1)),
            "rx_ready": Out(1),
            "rx_head_slot": Out(range(rx_slots)),
            "rx_length": Out(range(slot_bytes + 1)),
            "rx_stamp": Out(PtpTime),
            "rx_pop": In(1),
            "rx_overflow": Out(1),
            "rx_committed": Out(1),

            "tx": Out(tx_frame_stream()),
            "tx_free": Out(range(tx_slots + 1)),
            "tx_next_slot": Out(range(tx_slots)),
            "tx_send": In(1),
            "tx_send_length": In(16),
            "tx_send_stamp": In(1),
            "tx_send_tag": In(TAG_BITS),
            "tx_error": Out(1),
            "tx_done": Out(1),
            "tx_stamp": In(TxStampSignature()),
            "tx_stamp_time": Out(PtpTime),
            "tx_stamp_tag": Out(TAG_BITS),
            "tx_stamp_count": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        half_bits = exact_log2(PKTBUF_WINDOW_BYTES // WORD_BYTES)
        rx_bits = exact_log2(self.rx_slots * self.slot_bytes // WORD_BYTES)
        tx_bits = exact_log2(self.tx_slots * self.slot_bytes // WORD_BYTES)

        # --- Receive: a frame buffer read by the bus -------------------------------------------
        m.submodules.rx_buffer = rx_buffer = FrameBuffer(
            self.rx_slots, self.slot_bytes, PtpTime, reader="random")
        wiring.connect(m, wiring.flipped(self.rx), rx_buffer.sink)
        m.d.comb += [
            self.rx_count.eq(rx_buffer.count),
            self.rx_ready.eq(rx_buffer.head_valid),
            self.rx_head_slot.eq(rx_buffer.head_slot),
            self.rx_length.eq(rx_buffer.head_length),
            self.rx_stamp.eq(rx_buffer.head_meta),
            rx_buffer.pop.eq(self.rx_pop),
            self.rx_overflow.eq(rx_buffer.overflow),
            self.rx_committed.eq(rx_buffer.committed),
            rx_buffer.rd_addr.eq(bus.adr[:rx_bits]),
        ]

        # --- Transmit: slots written by the bus, queued by tx_send, streamed out ---------------
        # The bus's write and read ports share one address, so they fold into one read/write
        # port of the block RAM; the streamer has the other port to itself and never waits.
        # The streamer reads only queued slots, which software must not write (see Hazards):
        # no_rw_check spares Yosys' read-during-write emulation.
        m.submodules.tx_mem = tx_mem = Memory(
            shape=8 * WORD_BYTES, depth=self.tx_slots * self.slot_bytes // WORD_BYTES, init=[],
            attrs={"no_rw_check": 1})
        bus_write = tx_mem.write_port(granularity=8)
        bus_read = tx_mem.read_port()
        stream_read = tx_mem.read_port()
        m.submodules.tx_ring = tx_ring = SlotRing(self.tx_slots, self.tx_info)
        m.submodules.tx_streamer = streamer = SlotStreamer(self.tx_slots, self.slot_bytes)

        length = self.tx_send_length
        send_ok = Signal()
        m.d.comb += [
            send_ok.eq(self.tx_send & (tx_ring.free != 0)
                       & (length >= TX_MIN_LENGTH) & (length <= TX_MAX_LENGTH)),
            tx_ring.push.eq(send_ok),
            tx_ring.push_info.length.eq(length),
            tx_ring.push_info.stamp.eq(self.tx_send_stamp),
            tx_ring.push_info.tag.eq(self.tx_send_tag),
            self.tx_free.eq(tx_ring.free),
            self.tx_next_slot.eq(tx_ring.tail_slot),

            streamer.head_valid.eq(tx_ring.head_valid),
            streamer.head_slot.eq(tx_ring.head_slot),
            streamer.head_length.eq(tx_ring.head_info.length),
            tx_ring.pop.eq(streamer.pop),
            stream_read.addr.eq(streamer.rd_addr),
            stream_read.en.eq(streamer.rd_en),
            streamer.rd_data.eq(stream_read.data),

            self.tx.valid.eq(streamer.source.valid),
            streamer.source.ready.eq(self.tx.ready),
            self.tx.payload.data.eq(streamer.source.payload.data),
            self.tx.payload.first.eq(streamer.source.payload.first),
            self.tx.payload.last.eq(streamer.source.payload.last),
            self.tx.payload.stamp.eq(tx_ring.head_info.stamp),
            self.tx.payload.tag.eq(tx_ring.head_info.tag),
        ]
        m.d.sync += [
            self.tx_error.eq(self.tx_send & ~send_ok),
            self.tx_done.eq(streamer.pop),
        ]

        stamp = self.tx_stamp
        with m.If(stamp.valid):
            m.d.sync += [
                self.tx_stamp_time.eq(stamp.time),
                self.tx_stamp_tag.eq(stamp.tag),
                self.tx_stamp_count.eq(self.tx_stamp_count + 1),
            ]

        # --- Bus decoder -----------------------------------------------------------------------
        access = Signal()
        m.d.comb += access.eq(bus.cyc & bus.stb & ~bus.ack)
        m.d.sync += bus.ack.eq(access)

        in_tx = bus.adr[half_bits]
        offset = bus.adr[:half_bits]
        rx_hit, tx_hit = Signal(), Signal()
        m.d.comb += [
            rx_hit.eq(~in_tx & (offset[rx_bits:] == 0)),
            tx_hit.eq(in_tx & (offset[tx_bits:] == 0)),
            bus_write.addr.eq(offset[:tx_bits]),
            bus_write.data.eq(bus.dat_w),
            bus_write.en.eq(bus.sel & (access & bus.we & tx_hit).replicate(wishbone.SEL_WIDTH)),
            bus_read.addr.eq(offset[:tx_bits]),
        ]
        m.d.sync += self.bus_error.eq(access & ~tx_hit & (bus.we | ~rx_hit))

        # Both memories read every cycle; the ack cycle picks the one the access addressed
        # (one LUT4 per data bit).
        read_hit, read_tx = Signal(), Signal()
        with m.If(access):
            m.d.sync += [read_hit.eq(rx_hit | tx_hit), read_tx.eq(in_tx)]
        m.d.comb += bus.dat_r.eq(Mux(read_hit, Mux(read_tx, bus_read.data, rx_buffer.rd_data),
                                     STAGEBOX_MAP.unmapped_read_value))
        return m
