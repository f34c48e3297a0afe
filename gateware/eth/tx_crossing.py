"""The transmit clock-domain crossing: frames from ``sync`` into the PHY transmit domain.

`TxCrossing` sits between the `TxArbiter` (``sync``) and `EthernetPort.tx` (``eth_tx`` for GMII
and MII, ``eth`` for RMII). The two clocks are unrelated: a ``sync`` clock nominally equal to
the GMII byte clock may run slower than it by the oscillators' tolerances (200 ppm), so a frame
must not start on the wire before enough of it has crossed.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import AsyncFIFO
from amaranth.lib.wiring import In, Out

from .interface import MAX_PAYLOAD_BYTES, frame_stream, tx_frame_stream

__all__ = ["TxCrossing", "CDC_LATENCY", "min_sync_hz"]

#: Cycles of the reading domain from a FIFO write until the reader can see it, worst case: the
#: write pointer is registered with the write, crosses through two synchronizer flip-flops, and
#: the write may land just after a read-domain edge (one more cycle of phase).
CDC_LATENCY = 3

# What the byte FIFO carries: stamp and tag stay with the arbiter.
_Entry = data.StructLayout({"data": 8, "first": 1, "last": 1})


def _gray(value):
    return value ^ (value >> 1)


def _gray_decode(m, gray):
    binary = Signal(len(gray))
    bits = [gray[-1]]
    for i in reversed(range(len(gray) - 1)):
        bits.insert(0, bits[0] ^ gray[i])
    m.d.comb += binary.eq(Cat(*bits))
    return binary


def min_sync_hz(byte_hz, prefill):
    """The slowest ``sync`` clock (Hz) with which a `TxCrossing` of `prefill` never underruns
    a `MAX_PAYLOAD_BYTES` frame read at `byte_hz` bytes per second (see `TxCrossing`); 0 if
    any clock will do."""
    margin = prefill - CDC_LATENCY - 2
    return max(0.0, byte_hz * (1 - margin / (MAX_PAYLOAD_BYTES - 1)))


class TxCrossing(wiring.Component):
    """Frames from ``sync`` to `tx_domain`, started on the wire only once they can be sent
    without a gap.

    Ports:

    - ``sink`` (in, `tx_frame_stream`, ``sync``): the frames, as the arbiter passes them on;
      ``stamp`` and ``tag`` are ignored (the arbiter keeps them). ``ready`` is low only while
      the FIFO is full.
    - ``source`` (out, `frame_stream`, `tx_domain`): the same frames, ``error`` always 0, for
      `EthernetPort.tx` (any ``ce`` pacing).

    A byte FIFO (`AsyncFIFO`, `depth` bytes) carries ``data``/``first``/``last``. Between frames
    the transmit side waits until the FIFO holds `prefill` bytes of the next frame, or that
    frame's ``last`` byte: a Gray-coded count of the frames whose ``last`` byte has been
    written crosses into `tx_domain` through the same two-flip-flop synchronizer the FIFO's
    write pointer uses, and the transmit side compares it with the frames it has read. (The two
    synchronizers may resolve a cycle apart, so the frame count can run one cycle ahead of the
    pointer; ``source.valid`` follows the FIFO's ``r_rdy``, so a frame only starts when its first
    byte is visible, and the byte due in the next cycle is visible by then.) Then ``source``
    presents the frame; ``valid`` stays high up to ``last``. A byte without ``first`` at a frame
    boundary (left over from a transmit-domain reset mid-frame) is discarded.

    No underrun, as long as ``sink`` receives each frame without gaps (the arbiter guarantees
    that when its sources keep the `tx_frame_stream` contract) and ``sync`` is fast enough. With
    ``f_byte`` the byte rate at which ``source`` is drained (125 MHz for GMII, 12.5 MHz for MII
    and RMII at 100 Mbit/s), the transmit side reads byte ``k`` of a frame at the earliest ``k``
    cycles after starting it, and by then the FIFO shows at least ``prefill - (CDC_LATENCY + 2)
    + k * f_sync / f_byte`` bytes of it. For frames up to `MAX_PAYLOAD_BYTES` that stays ahead
    when ``f_sync >= min_sync_hz(f_byte, prefill)``, i.e. ``f_byte * (1 - (prefill -
    CDC_LATENCY - 2) / (MAX_PAYLOAD_BYTES - 1))``: 124.1 MHz for GMII with the default prefill
    of 16 (a ``sync`` 200 ppm slow would do with a prefill of 6), 12.41 MHz at 100 Mbit/s. A
    slower ``sync`` needs a larger `prefill` (and `depth`: the constructor checks ``prefill <
    depth``).

    Latency: a frame of at least `prefill` bytes is offered on ``source`` at most
    ``CDC_LATENCY + 1`` `tx_domain` cycles after its byte ``prefill - 1`` entered from
    ``sink``; a shorter frame the same after its ``last`` byte. Then one byte per ``ready``
    cycle, straight from the FIFO (no register in between). Between two frames ``valid`` is low
    for at least one cycle (`MacTx` keeps a longer gap anyway).

    Reset: the ``sync`` reset empties the FIFO and the frame count (the FIFO's ``r_rst`` brings
    the transmit side along); a frame being sent then is cut (``underrun`` at the MAC). The
    transmit-domain reset alone keeps the FIFO; the rest of an interrupted frame is discarded.
    """

    #: Default FIFO size in bytes, and the frames' bytes that must have crossed before one is
    #: started.
    DEPTH = 32
    PREFILL = 16

    def __init__(self, tx_domain="eth_tx", *, depth=DEPTH, prefill=PREFILL):
        if depth < 2 or depth & (depth - 1):
            raise ValueError(f"depth must be a power of two >= 2, not {depth!r}")
        if not 1 <= prefill < depth:
            raise ValueError(f"prefill must be at least 1 and below depth ({depth}), "
                             f"not {prefill!r}")
        self._tx_domain = tx_domain
        self.depth = depth
        self.prefill = prefill
        super().__init__({
            "sink": In(tx_frame_stream()),
            "source": Out(frame_stream()),
        })

    def elaborate(self, platform):
        m = Module()
        tx = self._tx_domain
        sink, source = self.sink, self.source

        m.submodules.fifo = fifo = AsyncFIFO(width=_Entry.size, depth=self.depth,
                                             w_domain="sync", r_domain=tx)
        entry_in = _Entry(fifo.w_data)
        m.d.comb += [
            entry_in.data.eq(sink.payload.data),
            entry_in.first.eq(sink.payload.first),
            entry_in.last.eq(sink.payload.last),
            fifo.w_en.eq(sink.valid),
            sink.ready.eq(fifo.w_rdy),
        ]

        # Frames whose last byte is in the FIFO, counted modulo twice the depth (at most `depth`
        # whole frames fit), Gray-coded: registered with the write like the FIFO's pointer.
        bits = (self.depth - 1).bit_length() + 1
        written = Signal(bits)
        written_gray = Signal(bits)
        with m.If(sink.valid & sink.ready & sink.payload.last):
            m.d.sync += [written.eq(written + 1), written_gray.eq(_gray(written + 1))]
        written_gray_tx = Signal(bits)
        m.submodules.written_cdc = FFSynchronizer(written_gray, written_gray_tx, o_domain=tx)
        written_tx = _gray_decode(m, written_gray_tx)

        # Frames whose last byte the transmit side has read. Like the FIFO's read pointer it
        # survives a transmit-domain reset and is realigned by the FIFO's r_rst.
        done = Signal(bits, reset_less=True)
        entry_out = _Entry(fifo.r_data)
        read = fifo.r_rdy & fifo.r_en
        with m.If(read & entry_out.last):
            m.d[tx] += done.eq(done + 1)

        m.d.comb += [
            source.payload.data.eq(entry_out.data),
            source.payload.first.eq(entry_out.first),
            source.payload.last.eq(entry_out.last),
        ]
        whole_frame = Signal()
        m.d.comb += whole_frame.eq(written_tx != done)
        sending = Signal()
        with m.If(fifo.r_rst):
            m.d[tx] += [done.eq(written_tx), sending.eq(0)]
        with m.Elif(~sending):
            with m.If(fifo.r_rdy & ~entry_out.first):
                m.d.comb += fifo.r_en.eq(1)
            with m.Elif(fifo.r_rdy & ((fifo.r_level >= self.prefill) | whole_frame)):
                m.d[tx] += sending.eq(1)
        with m.Else():
            m.d.comb += [
                source.valid.eq(fifo.r_rdy),
                fifo.r_en.eq(source.ready),
            ]
            with m.If(read & entry_out.last):
                m.d[tx] += sending.eq(0)
        return m
