"""Shapes shared by the Ethernet blocks: the byte-wide PHY-side bus and the frame streams.

PHY adapters (MII, RMII, GMII, RGMII after its board-side DDR registers) turn their pins into a
`PhyBus`: one byte per cycle in which ``valid`` is high, in the PHY's own clock domain
(``eth_rx`` / ``eth_tx``). At 1 Gbit ``valid`` is always high; MII delivers a byte every second
cycle, RMII at 100 Mbit every fourth. The MAC works on this bus only, so it is the same for all
interface types.

Frames between the MAC and the rest of the data plane are `lib.stream` streams of `FrameByte`:
one byte per transfer, ``first`` on the first byte after the SFD (the destination MAC address),
``last`` on the final byte. On receive streams the FCS is already checked and stripped, and
``error`` on the last byte says the frame is bad and must be dropped whole (the MAC cannot take
back bytes it has already passed on; buffers downstream discard the frame).
"""

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import Out

__all__ = ["PhyByte", "PhyBusSignature", "FrameByte", "frame_stream", "PREAMBLE", "PREAMBLE_BYTES",
           "SFD", "MIN_FRAME", "MAX_FRAME", "FCS_BYTES", "MIN_IFG"]

# IEEE 802.3 framing, the one definition every Ethernet block and test uses.
PREAMBLE = 0x55
PREAMBLE_BYTES = 7   # sent by the MAC; a receiver accepts fewer (PHYs may shorten it)
SFD = 0xD5
MIN_FRAME = 64       # bytes from the destination address to the end of the FCS
MAX_FRAME = 1522     # the same, with one 802.1Q tag
FCS_BYTES = 4
MIN_IFG = 12         # byte times with dv low between frames

#: One byte on the PHY-side bus. ``dv``: data valid (inside a frame, preamble included);
#: ``er``: the PHY flags a coding error on this byte (RX) or the MAC asks it to (TX).
PhyByte = data.StructLayout({"data": 8, "dv": 1, "er": 1})


class PhyBusSignature(wiring.Signature):
    """A `PhyByte` per cycle in which ``valid`` is high; no backpressure (the wire does not
    wait). Seen from the producer (PHY adapter on receive, MAC on transmit)."""

    def __init__(self):
        super().__init__({"valid": Out(1), "byte": Out(PhyByte)})


#: One byte of a frame on a stream.
FrameByte = data.StructLayout({"data": 8, "first": 1, "last": 1, "error": 1})


def frame_stream(*, always_ready=False):
    """`lib.stream` signature carrying `FrameByte`s (producer's view)."""
    return stream.Signature(FrameByte, always_ready=always_ready)
