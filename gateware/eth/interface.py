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

Behind the clock-domain crossings everything runs in ``sync``, and frames carry more:

- `rx_frame_stream` (PHY receive domain -> ``sync`` crossing -> classifier): `RxFrameByte`, a
  `FrameByte` plus the frame's SFD timestamp (`PtpTime`, valid on ``last``).
- `classified_stream` (classifier -> buffers): `ClassifiedByte`, an `RxFrameByte` plus the
  classifier's `RxVerdict` (valid on ``last``): where the frame goes, or why it is dropped.
- `rx_port_stream` (buffers -> PTP engine, RTP receiver): `RxPortByte`, whole committed frames
  only, never ``error``; the timestamp and the matched RTP stream are valid on every byte.
- `tx_frame_stream` (PTP engine, RTP transmitter, control plane -> TX arbiter): `TxFrameByte`,
  a frame without FCS, delivered without gaps once started; ``stamp`` and ``tag`` (valid on
  ``first``) ask for the frame's SFD TX timestamp, returned through a `TxStampSignature` port
  with the same ``tag``.
"""

from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import Out

from ..ptp_time import PtpTime

__all__ = ["PhyByte", "PhyBusSignature", "FrameByte", "frame_stream", "PREAMBLE", "PREAMBLE_BYTES",
           "SFD", "MIN_FRAME", "MAX_FRAME", "FCS_BYTES", "MIN_IFG", "RxFrameByte",
           "rx_frame_stream", "RxRoute", "DropReason", "RxVerdict", "ClassifiedByte",
           "classified_stream", "RTP_STREAM_BITS", "RxPortByte", "rx_port_stream", "TxFrameByte",
           "tx_frame_stream", "TAG_BITS", "TxStampSignature", "MAX_PAYLOAD_BYTES"]

# IEEE 802.3 framing, the one definition every Ethernet block and test uses.
PREAMBLE = 0x55
PREAMBLE_BYTES = 7   # sent by the MAC; a receiver accepts fewer (PHYs may shorten it)
SFD = 0xD5
MIN_FRAME = 64       # bytes from the destination address to the end of the FCS
MAX_FRAME = 1522     # the same, with one 802.1Q tag
FCS_BYTES = 4
MIN_IFG = 12         # byte times with dv low between frames
#: Bytes from the destination address to the end of the payload (no FCS) of the longest frame.
MAX_PAYLOAD_BYTES = MAX_FRAME - FCS_BYTES

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


#: A received byte behind the crossing into ``sync``: ``stamp`` is the SFD time of the frame
#: (`PtpTime`, latency-compensated), valid on the ``last`` byte.
RxFrameByte = data.StructLayout({"data": 8, "first": 1, "last": 1, "error": 1, "stamp": PtpTime})


def rx_frame_stream():
    """Always-ready stream of `RxFrameByte` (no backpressure: the wire does not wait)."""
    return stream.Signature(RxFrameByte, always_ready=True)


class RxRoute(enum.Enum, shape=2):
    """Where the classifier sends a frame."""

    DROP = 0
    PTP = 1     # PTP over UDP/IPv4 (ports 319/320) or over Ethernet (Ethertype 0x88F7)
    RTP = 2     # UDP/IPv4 whose destination IP and port match an RTP stream table entry
    CP = 3      # anything else that passes the address filter: the control plane


class DropReason(enum.Enum, shape=2):
    """Why the classifier dropped a frame (`RxRoute.DROP`); NONE for frames it routes."""

    NONE = 0
    MAC_ERROR = 1        # ``error`` was set on the last byte (CRC, runt, giant, PHY error)
    IP_CHECKSUM = 2      # an IPv4 header whose checksum does not verify
    ADDRESS = 3          # the destination MAC address did not pass the filter


#: Bits of an RTP stream table index.
RTP_STREAM_BITS = 3

#: The classifier's judgement of a frame.
RxVerdict = data.StructLayout({
    "route": RxRoute,
    "reason": DropReason,
    "rtp_stream": RTP_STREAM_BITS,   # the matching RTP table entry, for RxRoute.RTP
})

#: A byte leaving the classifier: ``verdict`` is valid on the ``last`` byte.
ClassifiedByte = data.StructLayout({
    "data": 8, "first": 1, "last": 1, "error": 1, "stamp": PtpTime, "verdict": RxVerdict,
})


def classified_stream():
    """Always-ready stream of `ClassifiedByte`."""
    return stream.Signature(ClassifiedByte, always_ready=True)


#: A byte of a whole, good frame delivered to the PTP engine or the RTP receiver; ``stamp``
#: and ``rtp_stream`` hold for every byte of the frame.
RxPortByte = data.StructLayout({
    "data": 8, "first": 1, "last": 1, "stamp": PtpTime, "rtp_stream": RTP_STREAM_BITS,
})


def rx_port_stream():
    """Stream of `RxPortByte` with backpressure (the frame waits in its buffer)."""
    return stream.Signature(RxPortByte)


#: Bits of the tag a TX source attaches to a frame to recognise its timestamp.
TAG_BITS = 8

#: A byte of a frame to send: ``stamp`` (ask for the SFD TX timestamp) and ``tag`` are read on
#: the ``first`` byte.
TxFrameByte = data.StructLayout({"data": 8, "first": 1, "last": 1, "stamp": 1, "tag": TAG_BITS})


def tx_frame_stream():
    """Stream of `TxFrameByte`; once ``first`` is accepted the source must keep ``valid`` high
    up to ``last`` (see `EthernetPort`)."""
    return stream.Signature(TxFrameByte)


class TxStampSignature(wiring.Signature):
    """The SFD TX timestamp of a frame sent with ``stamp`` set: ``valid`` is a one-cycle pulse
    (``sync``) with the frame's ``tag`` and its ``time``. Seen from the producer (the arbiter)."""

    def __init__(self):
        super().__init__({"valid": Out(1), "tag": Out(TAG_BITS), "time": Out(PtpTime)})
