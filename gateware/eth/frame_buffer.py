"""Frame buffers: whole frames in a ring of fixed-size slots in block RAM.

A received frame cannot be taken back once its bytes have streamed past (the wire does not
wait, and ``error`` or the classifier's verdict only arrive with the ``last`` byte), so every
buffer writes each frame into its next free slot as it streams in and decides at ``last``:
``commit`` makes it visible to the reader, anything else reuses the slot. Readers only ever see
whole, committed frames.

Building blocks, all in ``sync``:

- `SlotRing`: the bookkeeping of a ring of slots (head and tail pointers, a length/metadata
  word per slot in a small memory).
- `SlotStreamer`: reads the head slot of a ring out of a 32-bit memory as a byte stream, one
  byte per cycle, gapless once started.
- `FrameBuffer`: a byte-stream writer, a `SlotRing` and a memory, with a stream reader
  (``reader="stream"``) or a random-access word reader for a register bus
  (``reader="random"``).

Storage layout (every block here): the data memory is 32 bits wide with byte-lane write
enables; slot ``k`` starts at word ``k * slot_bytes // 4``, and byte ``i`` of a frame is in
byte lane ``i % 4`` of the slot's word ``i // 4`` (little-endian).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

__all__ = ["frame_buffer_input", "frame_buffer_output", "frame_buffer_sink", "SlotRing",
           "SlotStreamer", "FrameBuffer", "WORD_BYTES"]

#: Bytes per word of the data memories.
WORD_BYTES = 4

#: A byte on a slot stream: what `SlotStreamer` produces.
SlotByte = data.StructLayout({"data": 8, "first": 1, "last": 1})


def frame_buffer_input(meta_shape):
    """A byte into a `FrameBuffer`: ``commit`` and ``meta`` are read on the ``last`` byte."""
    return data.StructLayout({"data": 8, "first": 1, "last": 1, "commit": 1,
                              "meta": meta_shape})


def frame_buffer_output(meta_shape):
    """A byte out of a `FrameBuffer` stream reader: ``meta`` holds for every byte."""
    return data.StructLayout({"data": 8, "first": 1, "last": 1, "meta": meta_shape})


def frame_buffer_sink(meta_shape):
    """Always-ready stream of `frame_buffer_input` (producer's view)."""
    return stream.Signature(frame_buffer_input(meta_shape), always_ready=True)


def _check_power_of_two(name, value, minimum):
    if not isinstance(value, int) or value < minimum or value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= {minimum}, not {value!r}")


class SlotRing(wiring.Component):
    """Ring bookkeeping for `slots` slots, each with an `info_shape` word (length, metadata).

    The writer fills slot ``tail_slot`` and ``push``\\ es it with its ``push_info``; the reader
    uses the head slot while ``head_valid`` and ``pop``\\ s it. Clock domain ``sync``.

    Ports:

    - ``push`` (in, strobe), ``push_info`` (in): append slot ``tail_slot``; ignored when
      ``free`` is 0. ``tail_slot``, ``free`` and ``has_free`` (out) change in the cycle after a
      push.
    - ``has_free`` (out): ``free != 0`` as a register of its own, for a writer's decision path.
    - ``pop`` (in, strobe): release the head slot; ignored when ``count`` is 0. ``free`` rises
      and ``head_*`` show the next slot in the cycle after the pop.
    - ``count`` (out): slots visible to the reader; ``head_valid`` (out) = ``count != 0``;
      ``head_slot``, ``head_info`` (out): the oldest visible slot and its info.

    Latency: a push in cycle ``t`` is visible (``count``, ``head_valid``, ``head_info``) from
    cycle ``t + 2``: the info memory has a synchronous, non-transparent read port (so it maps to
    plain RAM without bypass logic), and the extra cycle lets it re-read a slot written while it
    was the (empty) head. ``free`` counts the slot as taken from ``t + 1``, so the writer can
    never hand out a slot twice.

    All outputs but ``head_info`` (the memory's read register) come straight from flip-flops:
    ``free``, ``count`` and the flags are counted by the strobes, not derived from the pointers.

    Cost: `slots` x ``info_shape`` bits of memory (one read, one write port), two pointers of
    ``log2(slots)`` bits, ``free`` and ``count`` registers and three one-bit flags.
    """

    def __init__(self, slots, info_shape):
        _check_power_of_two("slots", slots, 2)
        self.slots = slots
        self.info_shape = info_shape
        super().__init__({
            "push": In(1),
            "push_info": In(info_shape),
            "tail_slot": Out(range(slots)),
            "free": Out(range(slots + 1)),
            "has_free": Out(1),
            "pop": In(1),
            "count": Out(range(slots + 1)),
            "head_valid": Out(1),
            "head_slot": Out(range(slots)),
            "head_info": Out(info_shape),
        })

    def elaborate(self, platform):
        m = Module()
        bits = exact_log2(self.slots)
        head, tail = Signal(bits), Signal(bits)
        # Occupancy is kept in registers updated by the push and pop strobes, never derived from
        # the pointers in the cycle it is used: a pointer subtraction on the writer's decision
        # path (free -> push -> tail) was the critical path of the buffers.
        free = Signal(range(self.slots + 1), init=self.slots)
        has_free = Signal(init=1)       # free != 0
        count = Signal(range(self.slots + 1))
        head_valid = Signal()           # count != 0
        shown = Signal()                # a push in the previous cycle: it counts from now on
        m.d.comb += [
            self.free.eq(free),
            self.has_free.eq(has_free),
            self.count.eq(count),
            self.head_valid.eq(head_valid),
            self.tail_slot.eq(tail),
            self.head_slot.eq(head),
        ]

        push = Signal()
        pop = Signal()
        m.d.comb += [
            push.eq(self.push & has_free),
            pop.eq(self.pop & head_valid),
        ]
        head_next = Signal(bits)
        m.d.comb += head_next.eq(Mux(pop, head + 1, head))
        m.d.sync += [
            head.eq(head_next),
            shown.eq(push),
        ]
        with m.If(push):
            m.d.sync += tail.eq(tail + 1)
        # The strobes only select among values computed from registers.
        with m.If(push & ~pop):
            m.d.sync += [free.eq(free - 1), has_free.eq(free != 1)]
        with m.If(pop & ~push):
            m.d.sync += [free.eq(free + 1), has_free.eq(1)]
        with m.If(shown & ~pop):
            m.d.sync += [count.eq(count + 1), head_valid.eq(1)]
        with m.If(pop & ~shown):
            m.d.sync += [count.eq(count - 1), head_valid.eq(count != 1)]

        m.submodules.info = info = Memory(shape=self.info_shape, depth=self.slots, init=[])
        write = info.write_port()
        read = info.read_port()
        m.d.comb += [
            write.addr.eq(tail),
            write.data.eq(self.push_info),
            write.en.eq(push),
            # Addressed with the next head, so head_info is right in the cycle after a pop.
            read.addr.eq(head_next),
            self.head_info.eq(read.data),
        ]
        return m


class SlotStreamer(wiring.Component):
    """Reads the head slot of a `SlotRing` out of a 32-bit data memory as a byte stream.

    Clock domain ``sync``. Ports:

    - ``head_valid``, ``head_slot``, ``head_length`` (in): the ring's head and the frame's
      length in bytes (1..`slot_bytes`).
    - ``rd_addr``, ``rd_en`` (out), ``rd_data`` (in): a synchronous read port of the data
      memory (1-cycle latency; its output must hold while ``rd_en`` is low).
    - ``source`` (out, stream of ``data``/``first``/``last``): the frame's bytes.
    - ``pop`` (out, comb): high in the cycle the ``last`` byte is transferred; drive the ring's
      ``pop`` with it.

    Latency: the first byte is valid in the cycle after ``head_valid`` rises; bytes follow one
    per cycle while ``ready`` is high. The memory read is the pipeline register: ``rd_en`` is
    low while a byte waits for ``ready``, so one byte per cycle is sustained with no skid
    buffer. Between frames there is one idle cycle (the ring moves its head after the pop).

    Guarantee: once ``first`` is valid, ``valid`` stays high in every cycle up to and including
    the transfer of ``last`` (a gapless frame, whatever ``ready`` does).

    Hazard: ``head_slot`` and ``head_length`` must hold from ``head_valid`` until ``pop``.
    """

    def __init__(self, slots, slot_bytes):
        _check_power_of_two("slots", slots, 2)
        _check_power_of_two("slot_bytes", slot_bytes, 64)
        self.slots, self.slot_bytes = slots, slot_bytes
        super().__init__({
            "head_valid": In(1),
            "head_slot": In(range(slots)),
            "head_length": In(range(slot_bytes + 1)),
            "pop": Out(1),
            "rd_addr": Out(exact_log2(slots * slot_bytes // WORD_BYTES)),
            "rd_en": Out(1),
            "rd_data": In(8 * WORD_BYTES),
            "source": Out(stream.Signature(SlotByte)),
        })

    def elaborate(self, platform):
        m = Module()
        word_bits = exact_log2(self.slot_bytes // WORD_BYTES)
        source = self.source

        position = Signal(range(self.slot_bytes + 1))   # bytes read so far
        lane = Signal(2)
        first, last = Signal(), Signal()

        advance = Signal()
        issue = Signal()
        m.d.comb += [
            advance.eq(~source.valid | source.ready),
            # The frame is read out (position == head_length) exactly while its last byte
            # waits in the output register: no length comparison on this path.
            issue.eq(advance & self.head_valid & ~(source.valid & last)),
            self.rd_addr.eq(Cat(position[2:2 + word_bits], self.head_slot)),
            self.rd_en.eq(advance),
            source.payload.data.eq(self.rd_data.word_select(lane, 8)),
            source.payload.first.eq(first),
            source.payload.last.eq(last),
            self.pop.eq(source.valid & source.ready & last),
        ]
        with m.If(advance):
            m.d.sync += source.valid.eq(issue)
        with m.If(issue):
            m.d.sync += [
                lane.eq(position[:2]),
                first.eq(position == 0),
                last.eq(position + 1 == self.head_length),
                position.eq(position + 1),
            ]
        with m.If(self.pop):
            m.d.sync += position.eq(0)
        return m


class FrameBuffer(wiring.Component):
    """A ring of `slots` slots of `slot_bytes` bytes holding whole frames, with per-frame
    metadata of `meta_shape`. Clock domain ``sync``.

    Write side (all readers):

    - ``sink`` (in, `frame_buffer_sink`, always ready): one byte per transfer, gaps allowed.
      A frame (``first`` .. ``last``) is written into the tail slot as it arrives; at ``last``
      with ``commit`` it becomes visible with its length and ``meta`` (both read on ``last``);
      without ``commit`` it is discarded and the slot reused.
    - A frame is dropped whole if no slot is free at its ``first`` byte or if it is longer than
      `slot_bytes`; if its ``last`` byte carries ``commit``, ``overflow`` (out) pulses. A frame
      is never delivered truncated, and the frames after it are unaffected.
    - A ``first`` inside an open frame (a ``last`` was lost) discards the open frame and starts
      the new one; bytes outside a frame are ignored.
    - ``committed`` (out): one-cycle pulse when a frame becomes visible.
    - ``count`` (out): frames visible to the reader.

    Latencies, for a ``last`` byte transferred in cycle ``t``: ``overflow`` is high in cycle
    ``t + 1``; a committed frame is visible (``count``, ``committed``, ``head_*``) from cycle
    ``t + 2``; its slot is free for the writer again from the cycle after it is released.

    ``reader="stream"`` adds:

    - ``source`` (out, stream of `frame_buffer_output`, with backpressure): the frames, whole,
      in order; ``meta`` holds for every byte. The first byte is valid one cycle after the
      frame is visible (``t + 3``); bytes follow one per cycle while ``ready`` is high, with one
      idle cycle between frames; the slot is released when the ``last`` byte is transferred.
      Once ``first`` is valid, ``valid`` stays high until ``last`` is transferred.

    ``reader="random"`` (a register bus) adds:

    - ``head_valid``, ``head_length`` (bytes), ``head_meta``, ``head_slot`` (out): the oldest
      visible frame; stale while ``head_valid`` is low.
    - ``rd_addr`` (in, word address within the data memory: slot ``k`` at
      ``k * slot_bytes // 4``) and ``rd_data`` (out, 32 bits): ``rd_data`` is the word
      ``rd_addr`` addressed in the previous cycle (1-cycle latency).
    - ``pop`` (in, strobe): release the head frame (ignored when ``head_valid`` is low); the
      next frame shows on ``head_*`` in the following cycle.

    Hazard (``random``): after ``pop`` the slot may be overwritten by the next frame at once;
    read the frame completely before popping it.

    Cost: one `slots` x `slot_bytes` data memory, 32 bits wide with byte-lane writes, one write
    and one read port (simple dual port: on a Gowin GW2A, ``slots * slot_bytes / 2048`` 18-Kbit
    BSRAMs); a `slots`-deep memory of ``log2(slot_bytes) + 1`` length bits plus ``meta_shape``
    (`SlotRing`); about 60 flip-flops of pointers and counters.
    """

    def __init__(self, slots, slot_bytes, meta_shape, *, reader="stream"):
        _check_power_of_two("slots", slots, 2)
        _check_power_of_two("slot_bytes", slot_bytes, 64)
        if reader not in ("stream", "random"):
            raise ValueError(f"reader must be 'stream' or 'random', not {reader!r}")
        self.slots, self.slot_bytes, self.meta_shape = slots, slot_bytes, meta_shape
        self.reader = reader
        self.depth = slots * slot_bytes // WORD_BYTES
        self.info_layout = data.StructLayout({"length": range(slot_bytes + 1),
                                              "meta": meta_shape})
        members = {
            "sink": In(frame_buffer_sink(meta_shape)),
            "committed": Out(1),
            "overflow": Out(1),
            "count": Out(range(slots + 1)),
        }
        if reader == "stream":
            members["source"] = Out(stream.Signature(frame_buffer_output(meta_shape)))
        else:
            members.update({
                "head_valid": Out(1),
                "head_length": Out(range(slot_bytes + 1)),
                "head_meta": Out(meta_shape),
                "head_slot": Out(range(slots)),
                "rd_addr": In(exact_log2(self.depth)),
                "rd_data": Out(8 * WORD_BYTES),
                "pop": In(1),
            })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        word_bits = exact_log2(self.slot_bytes // WORD_BYTES)

        # The writer only writes the tail slot, which no reader may use, so a read never meets
        # a write to the same word: no_rw_check spares Yosys' read-during-write emulation.
        m.submodules.mem = mem = Memory(shape=8 * WORD_BYTES, depth=self.depth, init=[],
                                        attrs={"no_rw_check": 1})
        write = mem.write_port(granularity=8)
        read = mem.read_port()
        m.submodules.ring = ring = SlotRing(self.slots, self.info_layout)
        m.d.comb += self.count.eq(ring.count)

        # --- Writer ---------------------------------------------------------------------------
        sink, byte = self.sink, self.sink.payload
        active = Signal()       # inside a frame (kept or being dropped)
        keeping = Signal()      # ... every byte so far is stored and the next one fits
        written = Signal(range(self.slot_bytes + 1))

        starting = sink.valid & byte.first
        in_frame = starting | active
        position = Signal(range(self.slot_bytes + 1))
        room = Signal()
        store = Signal()
        fits = Signal()         # a byte after this one still fits the slot
        m.d.comb += [
            position.eq(Mux(starting, 0, written)),
            fits.eq(starting | (written != self.slot_bytes - 1)),
            # Only registered flags decide the write: `keeping` already includes "this byte
            # fits" (see `fits`), and the ring's `has_free` is a register of its own.
            room.eq(Mux(starting, ring.has_free, keeping)),
            store.eq(sink.valid & room),
            write.addr.eq(Cat(position[2:2 + word_bits], ring.tail_slot)),
            write.data.eq(byte.data.replicate(WORD_BYTES)),
            write.en.eq(store << position[:2]),
            ring.push.eq(store & byte.last & byte.commit),
            ring.push_info.length.eq(position + 1),
            ring.push_info.meta.eq(byte.meta),
        ]
        with m.If(sink.valid):
            m.d.sync += [
                active.eq(in_frame & ~byte.last),
                keeping.eq(store & ~byte.last & fits),
                written.eq(position + 1),
            ]
        # Delayed to the cycle the frame becomes visible (see SlotRing).
        pushed = Signal()
        m.d.sync += [
            pushed.eq(ring.push),
            self.committed.eq(pushed),
            self.overflow.eq(sink.valid & byte.last & byte.commit & in_frame & ~store),
        ]

        # --- Reader ---------------------------------------------------------------------------
        if self.reader == "stream":
            m.submodules.streamer = streamer = SlotStreamer(self.slots, self.slot_bytes)
            source = self.source
            m.d.comb += [
                streamer.head_valid.eq(ring.head_valid),
                streamer.head_slot.eq(ring.head_slot),
                streamer.head_length.eq(ring.head_info.length),
                ring.pop.eq(streamer.pop),
                read.addr.eq(streamer.rd_addr),
                read.en.eq(streamer.rd_en),
                streamer.rd_data.eq(read.data),
                source.valid.eq(streamer.source.valid),
                streamer.source.ready.eq(source.ready),
                source.payload.data.eq(streamer.source.payload.data),
                source.payload.first.eq(streamer.source.payload.first),
                source.payload.last.eq(streamer.source.payload.last),
                source.payload.meta.eq(ring.head_info.meta),
            ]
        else:
            m.d.comb += [
                self.head_valid.eq(ring.head_valid),
                self.head_length.eq(ring.head_info.length),
                self.head_meta.eq(ring.head_info.meta),
                self.head_slot.eq(ring.head_slot),
                read.addr.eq(self.rd_addr),
                self.rd_data.eq(read.data),
                ring.pop.eq(self.pop),
            ]
        return m
