"""Ethernet receive MAC: bytes from a `PhyBus` in, checked frames (FCS stripped) out.

One clock domain, named by the constructor (``eth_rx`` by default): the PHY adapter's receive
clock. The MAC looks at the bus only in cycles where ``valid`` is high, so it serves 1 Gbit
(valid always high), MII and RMII (valid every second or fourth cycle) alike.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .crc32 import CRC32_INIT, CRC32_RESIDUE, crc32_next
from .interface import FCS_BYTES, MAX_FRAME, MIN_FRAME, PREAMBLE, SFD, PhyBusSignature, frame_stream

__all__ = ["MacRx"]

# Bytes held back: the FCS never leaves, and one more so that ``last`` can go on the final
# payload byte, which is known to be final only when dv falls.
_DELAY = FCS_BYTES + 1


class MacRx(wiring.Component):
    """Receive MAC.

    Ports (all in the `domain` clock domain):

    ``phy`` (in, `PhyBusSignature` flipped): bytes from the PHY adapter.
    ``source`` (out, `frame_stream` with ``always_ready``): the frame from the destination
    address to the last byte before the FCS. No backpressure: a consumer that cannot keep up
    loses bytes, so put a FIFO or a frame buffer right behind the MAC. ``error`` is valid on the
    ``last`` byte only; a frame with ``error`` must be dropped whole.
    ``sfd`` (out): one-cycle pulse one cycle after the cycle in which the SFD byte is on ``phy``
    (``valid`` high), for RX timestamps: the SFD's bus cycle is the pulse's cycle minus one.
    ``frame_ok``, ``crc_error``, ``runt``, ``giant``, ``phy_error``, ``preamble_error`` (out):
    one-cycle pulses for statistics counters; exactly one of them per dv burst (a burst is the
    bytes from dv rising to dv falling, both seen in ``valid`` cycles).

    Latency: every output is registered. A payload byte leaves on ``source`` one cycle after the
    ``valid`` cycle in which the fifth byte after it arrives; the last byte, one cycle after the
    ``valid`` cycle in which dv is seen low. So a frame ends on ``source`` a cycle after dv falls.

    Rules, and the pulse each failure gives (highest priority first, when several apply):

    - ``preamble_error``: the first byte of the burst that is not 0x55 must be the SFD 0xD5.
      Any other byte, or dv falling before an SFD, rejects the burst (garbage, false starts).
      The preamble may be shortened to no 0x55 at all: PHYs are allowed to eat it. Nothing is
      emitted for such a burst.
    - ``phy_error``: ``er`` with dv high in any byte of the burst (the preamble included).
      ``er`` while dv is low (false carrier, carrier extension) is ignored.
    - ``giant``: more than `MAX_FRAME` bytes (1522, FCS included, room for one VLAN tag). The
      byte that would make a frame 1519 payload bytes long is not emitted: the byte before it
      is emitted as ``last`` with ``error`` and the rest of the burst is ignored.
    - ``runt``: fewer than `MIN_FRAME` bytes (64, FCS included). A burst with fewer than five
      bytes after the SFD has no payload byte: nothing is emitted, only the pulse.
    - ``crc_error``: the FCS does not match.
    - ``frame_ok`` otherwise.

    Dribble bits and alignment: the bus carries whole bytes only. A PHY adapter must drop a
    trailing partial byte (MII: an odd nibble; RMII: fewer than four dibits) when dv falls; the
    frame is then judged on its whole bytes, which is IEEE 802.3's rule (an alignment error is
    only counted when the FCS also fails: here it shows up as ``crc_error``).

    After any error the MAC waits for dv to fall and takes the next burst afresh.
    """

    def __init__(self, *, domain="eth_rx"):
        self._domain = domain
        super().__init__({
            "phy": In(PhyBusSignature()),
            "source": Out(frame_stream(always_ready=True)),
            "sfd": Out(1),
            "frame_ok": Out(1),
            "crc_error": Out(1),
            "runt": Out(1),
            "giant": Out(1),
            "phy_error": Out(1),
            "preamble_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        dom = self._domain
        src = self.source
        valid = self.phy.valid
        byte, dv, er = self.phy.byte.data, self.phy.byte.dv, self.phy.byte.er

        pulses = [self.sfd, self.frame_ok, self.crc_error, self.runt, self.giant,
                  self.phy_error, self.preamble_error]
        # Pulses and the stream's valid are registered: clear them every cycle, set below.
        m.d[dom] += [p.eq(0) for p in pulses] + [src.valid.eq(0)]

        count = Signal(range(MAX_FRAME + 1))     # bytes after the SFD, FCS included
        delay = [Signal(8, name=f"delay{i}") for i in range(_DELAY)]   # [0] newest
        oldest = delay[_DELAY - 1]
        started = Signal()                       # first payload byte already emitted
        er_seen = Signal()
        crc = Signal(32, init=CRC32_INIT)
        crc_next = crc32_next(m, crc, byte)

        def emit(*, last, error=0):
            m.d[dom] += [src.valid.eq(1), src.payload.data.eq(oldest),
                      src.payload.first.eq(~started), src.payload.last.eq(last),
                      src.payload.error.eq(error), started.eq(1)]

        with m.FSM(domain=dom, name="state"):
            with m.State("IDLE"):
                m.d[dom] += [count.eq(0), started.eq(0), crc.eq(CRC32_INIT), er_seen.eq(0)]
                with m.If(valid & dv):
                    m.d[dom] += er_seen.eq(er)
                    with m.If(byte == SFD):
                        m.d[dom] += self.sfd.eq(1)
                        m.next = "DATA"
                    with m.Elif(byte == PREAMBLE):
                        m.next = "PREAMBLE"
                    with m.Else():
                        m.d[dom] += self.preamble_error.eq(1)
                        m.next = "DROP"

            with m.State("PREAMBLE"):
                with m.If(valid):
                    with m.If(~dv):
                        m.d[dom] += self.preamble_error.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d[dom] += er_seen.eq(er_seen | er)
                        with m.If(byte == SFD):
                            m.d[dom] += self.sfd.eq(1)
                            m.next = "DATA"
                        with m.Elif(byte != PREAMBLE):
                            m.d[dom] += self.preamble_error.eq(1)
                            m.next = "DROP"

            with m.State("DATA"):
                with m.If(valid & dv):
                    m.d[dom] += [er_seen.eq(er_seen | er), count.eq(count + 1), crc.eq(crc_next),
                              delay[0].eq(byte)]
                    m.d[dom] += [delay[i].eq(delay[i - 1]) for i in range(1, _DELAY)]
                    with m.If(count == MAX_FRAME):
                        # Byte 1523: stop here, close the frame with the byte still held.
                        emit(last=1, error=1)
                        m.d[dom] += [self.phy_error.eq(er_seen | er),
                                     self.giant.eq(~(er_seen | er))]
                        m.next = "DROP"
                    with m.Elif(count >= _DELAY):
                        emit(last=0)
                with m.Elif(valid):
                    # dv fell: judge the frame. The newest four bytes held are its FCS.
                    runt = count < MIN_FRAME
                    bad_crc = crc != CRC32_RESIDUE
                    with m.If(count >= _DELAY):
                        emit(last=1, error=er_seen | runt | bad_crc)
                    with m.If(er_seen):
                        m.d[dom] += self.phy_error.eq(1)
                    with m.Elif(runt):
                        m.d[dom] += self.runt.eq(1)
                    with m.Elif(bad_crc):
                        m.d[dom] += self.crc_error.eq(1)
                    with m.Else():
                        m.d[dom] += self.frame_ok.eq(1)
                    m.next = "IDLE"

            with m.State("DROP"):
                with m.If(valid & ~dv):
                    m.next = "IDLE"

        return m
