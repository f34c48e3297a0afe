"""Ethernet transmit MAC: frame stream in, preamble + frame + padding + FCS + gap out on a `PhyBus`.

One clock domain, named by the constructor (``eth_tx`` by default). The MAC moves one byte per
cycle in which ``ce`` is high, so one design serves every PHY interface: tie ``ce`` high at
1 Gbit (GMII/RGMII, 125 MHz), pulse it every second cycle for MII at 100 Mbit (nibble adapter,
25 MHz clock: two nibbles per byte) and every fourth for RMII at 100 Mbit (50 MHz, dibits).
The PHY adapter supplies ``ce``; the PHY bus's ``valid`` is ``ce`` itself.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .crc32 import CRC32_INIT, crc32_next
from .interface import (
    FCS_BYTES,
    MAX_FRAME,
    MIN_FRAME,
    MIN_IFG,
    PREAMBLE,
    PREAMBLE_BYTES,
    SFD,
    PhyBusSignature,
    frame_stream,
)

__all__ = ["MacTx"]


class MacTx(wiring.Component):
    """Transmit MAC.

    Ports (all in the `domain` clock domain):

    ``ce`` (in): clock enable, one byte time. Everything below advances only when it is high.
    ``sink`` (in, `frame_stream`): the frame from the destination address on, without FCS.
    ``phy`` (out, `PhyBusSignature`): ``valid`` is ``ce`` (a combinational path); ``byte`` is
    registered and holds between ``ce`` cycles.
    ``sfd`` (out): one-cycle pulse in the cycle the SFD byte is on ``phy`` (``valid`` high), for
    TX timestamps.
    ``underrun`` (out): one-cycle pulse when a frame is cut because ``sink`` ran dry mid-frame.
    ``oversize`` (out): one-cycle pulse when a frame is cut at `MAX_FRAME` bytes.
    Both are combinational (from ``ce`` and ``sink.valid``), in the ``ce`` cycle of the cut.

    Behaviour: a frame starts (after at least `MIN_IFG` idle byte times since the last one) in
    the first ``ce`` cycle that ``sink.valid`` is high; the first sink byte is accepted eight
    byte times later, after 7 x 0x55 and the SFD 0xD5. Frames shorter than 60 bytes are padded
    with zeros; the FCS follows, least significant byte first. ``first`` is not checked: any
    byte seen in the idle state starts a frame.

    Latency: a byte accepted from ``sink`` in a ``ce`` cycle is on ``phy`` in the next ``ce``
    cycle (the output register). ``sink.ready`` is ``ce`` while a frame's bytes are wanted, and
    high in every cycle while the remainder of a cut frame is being discarded.

    Hazard, underrun: the wire does not wait, so once ``sink.valid`` has risen the producer
    must deliver the whole frame with ``valid`` high in every ``ce`` cycle up to ``last``: feed
    the MAC from a buffer that holds whole frames. If ``valid`` is low when a byte is due (or a
    byte carries ``error``, or the frame passes `MAX_FRAME` bytes), the MAC sends one byte with
    ``er`` (the PHY turns it into an error symbol, so no receiver can take the frame for good),
    drops ``dv`` right after it, discards the sink's remaining bytes up to ``last`` and then
    keeps the usual gap. An underrun or a byte with ``error`` is never retried.
    """

    def __init__(self, *, domain="eth_tx"):
        self._domain = domain
        super().__init__({
            "ce": In(1),
            "sink": In(frame_stream()),
            "phy": Out(PhyBusSignature()),
            "sfd": Out(1),
            "underrun": Out(1),
            "oversize": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        dom = self._domain
        ce, sink = self.ce, self.sink
        max_data = MAX_FRAME - FCS_BYTES
        min_data = MIN_FRAME - FCS_BYTES

        # The byte on the bus in the next ce cycle; loaded in ce cycles only.
        out_data = Signal(8)
        out_dv = Signal()
        out_er = Signal()
        out_sfd = Signal()
        m.d.comb += [
            self.phy.valid.eq(ce),
            self.phy.byte.data.eq(out_data),
            self.phy.byte.dv.eq(out_dv),
            self.phy.byte.er.eq(out_er),
            self.sfd.eq(ce & out_sfd),
        ]

        count = Signal(range(max(max_data, MIN_IFG, PREAMBLE_BYTES) + 1))
        crc = Signal(32, init=CRC32_INIT)
        crc_in = Signal(8)
        crc_next = crc32_next(m, crc, crc_in)

        def load(data, *, dv=1, er=0, is_sfd=0):
            m.d[dom] += [out_data.eq(data), out_dv.eq(dv), out_er.eq(er), out_sfd.eq(is_sfd)]

        with m.FSM(domain=dom, name="state"):
            with m.State("IDLE"):
                with m.If(ce):
                    load(0, dv=0)
                    with m.If(sink.valid):
                        load(PREAMBLE)
                        m.d[dom] += count.eq(1)
                        m.next = "PREAMBLE"

            with m.State("PREAMBLE"):
                with m.If(ce):
                    m.d[dom] += [count.eq(count + 1), crc.eq(CRC32_INIT)]
                    with m.If(count == PREAMBLE_BYTES):
                        load(SFD, is_sfd=1)
                        m.d[dom] += count.eq(0)
                        m.next = "DATA"
                    with m.Else():
                        load(PREAMBLE)

            with m.State("DATA"):
                m.d.comb += [sink.ready.eq(ce), crc_in.eq(sink.payload.data)]
                with m.If(ce):
                    cut = Signal()
                    m.d.comb += [
                        self.underrun.eq(~sink.valid),
                        self.oversize.eq(sink.valid & (count == max_data)),
                        cut.eq(self.underrun | self.oversize | sink.payload.error),
                    ]
                    with m.If(cut):
                        # One error byte, then dv falls; whatever the frame had left is dropped.
                        load(0, er=1)
                        m.d[dom] += count.eq(0)
                        with m.If(sink.valid & sink.payload.last):
                            m.next = "GAP"
                        with m.Else():
                            m.next = "DISCARD"
                    with m.Else():
                        load(sink.payload.data)
                        m.d[dom] += [count.eq(count + 1), crc.eq(crc_next)]
                        with m.If(sink.payload.last):
                            with m.If(count + 1 < min_data):
                                m.next = "PAD"
                            with m.Else():
                                m.d[dom] += count.eq(0)
                                m.next = "FCS"

            with m.State("PAD"):
                m.d.comb += crc_in.eq(0)
                with m.If(ce):
                    load(0)
                    m.d[dom] += [count.eq(count + 1), crc.eq(crc_next)]
                    with m.If(count + 1 == min_data):
                        m.d[dom] += count.eq(0)
                        m.next = "FCS"

            with m.State("FCS"):
                with m.If(ce):
                    # Low byte first (the wire's bit order); what shifts in at the top is unused.
                    load(~crc[:8])
                    m.d[dom] += [count.eq(count + 1), crc.eq(Cat(crc[8:], Const(0xFF, 8)))]
                    with m.If(count == FCS_BYTES - 1):
                        m.d[dom] += count.eq(0)
                        m.next = "GAP"

            with m.State("DISCARD"):
                # Drain the cut frame at full clock rate; the bus is idle meanwhile.
                m.d.comb += sink.ready.eq(1)
                with m.If(ce):
                    load(0, dv=0)
                with m.If(sink.valid & sink.payload.last):
                    m.d[dom] += count.eq(0)
                    m.next = "GAP"

            with m.State("GAP"):
                with m.If(ce):
                    load(0, dv=0)
                    m.d[dom] += count.eq(count + 1)
                    with m.If(count == MIN_IFG - 1):
                        m.next = "IDLE"

        return m
