"""The transmit arbiter: several frame sources, one MAC, whole frames by strict priority, and each
frame's SFD TX timestamp back to the source that sent it.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..ptp_time import PtpTime
from .interface import TAG_BITS, TxFrameByte, TxStampSignature, tx_frame_stream
from .tx_crossing import TxCrossing

__all__ = ["TxArbiter", "SfdStampSignature", "SOURCES", "MIN_TX_FRAME", "frames_in_flight"]

#: The transmit sources, highest priority first.
SOURCES = ("ptp_event", "ptp_general", "rtp", "cp")

#: The shortest frame a source sends, in bytes (an Ethernet header); sizes the stamp FIFO.
MIN_TX_FRAME = 14


def frames_in_flight(crossing_depth=TxCrossing.DEPTH, min_frame=MIN_TX_FRAME):
    """How many frames can have left the arbiter without their SFD stamp having come back.

    A frame's first byte stays in the crossing's FIFO until the MAC takes it, in the cycle of
    its SFD; frames at least `min_frame` bytes long put at most ``(crossing_depth - 1) //
    min_frame + 1`` first bytes into a `crossing_depth`-byte FIFO. One more frame has had its
    SFD but its stamp is still on the way back (SFDs are at least 84 byte times apart, longer
    than any stamp path).
    """
    return (crossing_depth - 1) // min_frame + 2


class SfdStampSignature(wiring.Signature):
    """The SFD time of the next frame on the wire: ``valid`` (one-cycle pulse, ``sync``) and
    ``time``. Seen from the producer (the MAC's TX timestamper)."""

    def __init__(self):
        super().__init__({"valid": Out(1), "time": Out(PtpTime)})


class TxArbiter(wiring.Component):
    """Passes whole frames from `sources` (names, highest priority first) to one output, and
    routes SFD TX timestamps back. Clock domain: ``sync`` only.

    Ports:

    - one ``<name>`` (in, `tx_frame_stream`) per source;
    - ``source`` (out, `tx_frame_stream`): the frames, one after another, towards `TxCrossing`;
    - ``enable`` (in, high after reset): while low no frame starts; a frame already started
      finishes;
    - ``sent`` (out, a one-bit member per source): a one-cycle pulse the cycle after a frame's
      ``last`` byte left on ``source``, for the sources' frame counters;
    - ``framing_error`` (out, a one-bit member per source): a one-cycle pulse the cycle after a
      byte without ``first`` was dropped because its source had no frame in progress;
    - ``sfd_stamp`` (in, `SfdStampSignature`): one pulse per frame, in the order the frames left
      on ``source``, with the SFD time of that frame;
    - one ``<name>_stamp`` (out, `TxStampSignature`) per source: the cycle after ``sfd_stamp``,
      a pulse with ``sfd_stamp.time`` and the frame's ``tag``, if the frame's ``stamp`` was set
      (``tag`` and ``time`` are shared by all sources' ports and hold until the next stamp);
    - ``stamp_error`` (out, sticky until reset): an ``sfd_stamp`` came with no frame waiting for
      it, or more frames were in flight than the stamp FIFO holds. Stamps may be misrouted from
      then on.

    Arbitration: at a frame boundary, the highest-priority source whose ``valid`` and
    ``first`` are high is chosen, and only its bytes pass until its ``last``. Sources that are
    not chosen wait (``ready`` low) with their first byte.

    Latency: one cycle, a register stage (a byte taken in one cycle is on ``source`` in the
    next), which takes a byte whenever it is empty or ``source.ready`` is high. No bubbles: in
    such a cycle the next frame's first byte is taken right after the previous frame's
    ``last``, so frames leave back to back when sources have them ready and ``enable`` is high.

    Hazards: a source must keep ``valid`` high from ``first`` to ``last`` (`tx_frame_stream`);
    a gap passes through and makes the MAC cut the frame (underrun). The stamp FIFO holds
    ``stamp_depth`` frames, twice `frames_in_flight` for `TxCrossing`'s FIFO and
    `MIN_TX_FRAME`-byte frames; many shorter frames in a row can overflow it (``stamp_error``).
    Every frame that leaves must produce exactly one ``sfd_stamp``: keep the MAC out of reset
    while the arbiter runs.
    """

    def __init__(self, sources=SOURCES, *, crossing_depth=TxCrossing.DEPTH,
                 min_frame=MIN_TX_FRAME):
        sources = tuple(sources)
        if not sources or len(set(sources)) != len(sources):
            raise ValueError(f"sources must be distinct names, at least one, not {sources!r}")
        reserved = {"source", "enable", "sent", "framing_error", "sfd_stamp", "stamp_error"}
        for name in sources:
            if not isinstance(name, str) or not name.isidentifier() or name in reserved:
                raise ValueError(f"source name {name!r} is not an identifier or is taken")
            if f"{name}_stamp" in sources:
                raise ValueError(f"source names {name!r} and {name + '_stamp'!r} collide")
        if min_frame < 1:
            raise ValueError(f"min_frame must be at least 1, not {min_frame!r}")
        self.sources = sources
        self.stamp_depth = 1 << (2 * frames_in_flight(crossing_depth, min_frame) - 1).bit_length()
        members = {name: In(tx_frame_stream()) for name in sources}
        members.update({f"{name}_stamp": Out(TxStampSignature()) for name in sources})
        members.update({
            "source": Out(tx_frame_stream()),
            "enable": In(1, init=1),
            "sent": Out(wiring.Signature({name: Out(1) for name in sources})),
            "framing_error": Out(wiring.Signature({name: Out(1) for name in sources})),
            "sfd_stamp": In(SfdStampSignature()),
            "stamp_error": Out(1),
        })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        n = len(self.sources)
        inputs = [getattr(self, name) for name in self.sources]
        out = self.source

        busy = Signal()                  # a frame has been taken up to, not including, its last
        grant = Signal(range(n))         # whose frame
        out_index = Signal(range(n))     # whose byte sits in the output register

        # The chosen source: the one in progress, else the highest-priority one offering a
        # first byte (later assignments win, so walk from the lowest priority up).
        index = Signal(range(n))
        chosen = Signal()
        with m.If(busy):
            m.d.comb += [index.eq(grant), chosen.eq(1)]
        with m.Else():
            for i in reversed(range(n)):
                with m.If(inputs[i].valid & inputs[i].payload.first):
                    m.d.comb += [index.eq(i), chosen.eq(self.enable)]

        valid = Signal()
        payload = Signal(TxFrameByte)
        with m.Switch(index):
            for i in range(n):
                with m.Case(i):
                    m.d.comb += [valid.eq(inputs[i].valid), payload.eq(inputs[i].payload)]

        load = ~out.valid | out.ready
        take = chosen & load
        moved = take & valid
        with m.If(load):
            m.d.sync += out.valid.eq(moved)
        with m.If(moved):
            m.d.sync += [
                out.payload.eq(payload),
                out_index.eq(index),
                busy.eq(~payload.last),
                grant.eq(index),
            ]

        for i, stream in enumerate(inputs):
            # A stray byte is dropped unless it belongs to the frame in progress.
            stray = stream.valid & ~stream.payload.first & ~(busy & (grant == i))
            m.d.comb += stream.ready.eq((take & (index == i)) | stray)
            m.d.sync += getattr(self.framing_error, self.sources[i]).eq(stray)

        # Per frame passed on: which source, and what it wants stamped.
        entry = data.StructLayout({"index": range(n), "stamp": 1, "tag": TAG_BITS})
        m.submodules.stamps = stamps = SyncFIFO(width=entry.size, depth=self.stamp_depth)
        pushed = entry(stamps.w_data)
        popped = entry(stamps.r_data)
        out_fire = out.valid & out.ready
        m.d.comb += [
            pushed.index.eq(out_index),
            pushed.stamp.eq(out.payload.stamp),
            pushed.tag.eq(out.payload.tag),
            stamps.w_en.eq(out_fire & out.payload.first),
            stamps.r_en.eq(self.sfd_stamp.valid),
        ]
        with m.If((stamps.w_en & ~stamps.w_rdy) | (stamps.r_en & ~stamps.r_rdy)):
            m.d.sync += self.stamp_error.eq(1)

        tag = Signal(TAG_BITS)
        time = Signal(PtpTime)
        with m.If(self.sfd_stamp.valid):
            m.d.sync += [tag.eq(popped.tag), time.eq(self.sfd_stamp.time)]
        for i, name in enumerate(self.sources):
            port = getattr(self, f"{name}_stamp")
            hit = self.sfd_stamp.valid & stamps.r_rdy & popped.stamp & (popped.index == i)
            m.d.sync += [
                port.valid.eq(hit),
                getattr(self.sent, name).eq(out_fire & out.payload.last & (out_index == i)),
            ]
            m.d.comb += [port.tag.eq(tag), port.time.eq(time)]
        return m
