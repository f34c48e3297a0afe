"""PTP (IEEE 1588-2008) messages and their UDP/IPv4/Ethernet framing, for the simulator's
models of third-party PTP devices (the model grandmaster, test slaves, capture checks).

Units and reference points:

- A `Timestamp` is the PTP on-wire ``Timestamp``: 48-bit seconds and 32-bit nanoseconds.
- ``correctionField`` (`Header.correction`) is a signed 64-bit count of scaled nanoseconds,
  2**-16 ns (`SCALED_NS_PER_NS` per ns). A message's time is its timestamp plus (Sync,
  Follow_Up) or minus (Delay_Resp, IEEE 1588-2008 11.3.2) its correction; `split_scaled_ns`
  gives the timestamp and the sub-nanosecond remainder that a model puts into the correction
  so the message carries a time exactly to 2**-16 ns.
- A frame is ``bytes`` from the destination MAC through the UDP payload: no preamble/SFD, no
  FCS, no padding to 60 bytes (the PHY pads on the wire; `parse_udp_frame` ignores padding).

What is covered: the common header and the bodies of Sync, Delay_Req, Follow_Up, Delay_Resp and
Announce, every field of IEEE 1588-2008 clause 13 (the header's two reserved fields that
IEEE 1588-2019 names minorSdoId and messageTypeSpecific are carried too, so that decoding and
re-encoding a captured message gives the same bytes). TLVs after a body are kept as raw
``suffix`` bytes; other message types (Pdelay, Signaling, Management) decode to `OtherMessage`
with a raw body. Transport is UDP over IPv4 only (Annex D); PTP over Ethernet (Annex F) and
IPv6 are not modelled. Only versionPTP 2 is accepted (minorVersionPTP is kept as read).

The codec is plain ``struct`` packing, checked in tests against tshark's dissector and against
real captures (decode then encode gives the captured bytes).
"""

import ipaddress
import struct
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "EVENT_PORT", "GENERAL_PORT", "PTP_PRIMARY_IP", "PTP_PDELAY_IP", "PTP_PRIMARY_MAC",
    "VERSION_PTP", "SCALED_NS_PER_NS", "NS_PER_S", "HEADER_BYTES", "LOG_INTERVAL_UNSPECIFIED",
    "SYNC", "DELAY_REQ", "PDELAY_REQ", "PDELAY_RESP", "FOLLOW_UP", "DELAY_RESP",
    "PDELAY_RESP_FOLLOW_UP", "ANNOUNCE", "SIGNALING", "MANAGEMENT", "EVENT_MESSAGE_TYPES",
    "FLAG_ALTERNATE_MASTER", "FLAG_TWO_STEP", "FLAG_UNICAST", "FLAG_PROFILE_SPECIFIC_1",
    "FLAG_PROFILE_SPECIFIC_2", "FLAG_LEAP_61", "FLAG_LEAP_59", "FLAG_CURRENT_UTC_OFFSET_VALID",
    "FLAG_PTP_TIMESCALE", "FLAG_TIME_TRACEABLE", "FLAG_FREQUENCY_TRACEABLE",
    "TIME_SOURCE_ATOMIC_CLOCK", "TIME_SOURCE_GPS", "TIME_SOURCE_TERRESTRIAL_RADIO",
    "TIME_SOURCE_PTP", "TIME_SOURCE_NTP", "TIME_SOURCE_HAND_SET", "TIME_SOURCE_OTHER",
    "TIME_SOURCE_INTERNAL_OSCILLATOR",
    "Timestamp", "PortIdentity", "ClockQuality", "Header", "Sync", "DelayReq", "FollowUp",
    "DelayResp", "Announce", "OtherMessage",
    "encode", "decode", "control_for", "split_scaled_ns", "clock_identity_from_mac",
    "mac_bytes", "ip_bytes", "multicast_mac", "udp_frame", "parse_udp_frame",
]

EVENT_PORT = 319        # Sync, Delay_Req, Pdelay_Req, Pdelay_Resp
GENERAL_PORT = 320      # Follow_Up, Delay_Resp, Announce, Signaling, Management
PTP_PRIMARY_IP = "224.0.1.129"
PTP_PDELAY_IP = "224.0.0.107"
PTP_PRIMARY_MAC = bytes.fromhex("01005e000181")
VERSION_PTP = 2
SCALED_NS_PER_NS = 1 << 16
NS_PER_S = 1_000_000_000
HEADER_BYTES = 34
#: logMessageInterval of messages without one (Delay_Req, Management...).
LOG_INTERVAL_UNSPECIFIED = 0x7F

# messageType (Table 19)
SYNC = 0x0
DELAY_REQ = 0x1
PDELAY_REQ = 0x2
PDELAY_RESP = 0x3
FOLLOW_UP = 0x8
DELAY_RESP = 0x9
PDELAY_RESP_FOLLOW_UP = 0xA
ANNOUNCE = 0xB
SIGNALING = 0xC
MANAGEMENT = 0xD
EVENT_MESSAGE_TYPES = frozenset({SYNC, DELAY_REQ, PDELAY_REQ, PDELAY_RESP})

# flagField (Table 20) as one big-endian 16-bit value: octet 0 is the high byte.
FLAG_ALTERNATE_MASTER = 0x0100
FLAG_TWO_STEP = 0x0200
FLAG_UNICAST = 0x0400
FLAG_PROFILE_SPECIFIC_1 = 0x2000
FLAG_PROFILE_SPECIFIC_2 = 0x4000
FLAG_LEAP_61 = 0x0001
FLAG_LEAP_59 = 0x0002
FLAG_CURRENT_UTC_OFFSET_VALID = 0x0004
FLAG_PTP_TIMESCALE = 0x0008
FLAG_TIME_TRACEABLE = 0x0010
FLAG_FREQUENCY_TRACEABLE = 0x0020

# timeSource (Table 7)
TIME_SOURCE_ATOMIC_CLOCK = 0x10
TIME_SOURCE_GPS = 0x20
TIME_SOURCE_TERRESTRIAL_RADIO = 0x30
TIME_SOURCE_PTP = 0x40
TIME_SOURCE_NTP = 0x50
TIME_SOURCE_HAND_SET = 0x60
TIME_SOURCE_OTHER = 0x90
TIME_SOURCE_INTERNAL_OSCILLATOR = 0xA0

# controlField (Table 23): a 1588v1 compatibility field; every other type takes 5.
_CONTROL = {SYNC: 0, DELAY_REQ: 1, FOLLOW_UP: 2, DELAY_RESP: 3, MANAGEMENT: 4}

_HEADER = struct.Struct(">BBHBBHqI8sHHBb")
_TIMESTAMP = struct.Struct(">HII")
_PORT_IDENTITY = struct.Struct(">8sH")
_ANNOUNCE_TAIL = struct.Struct(">hBBBBHB8sHB")


def _check(value, bits, what, *, signed=False):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise ValueError(f"{what} must be in {low}..{high}, not {value}")
    return value


def control_for(message_type):
    """The controlField IEEE 1588-2008 prescribes for `message_type`."""
    return _CONTROL.get(message_type, 5)


@dataclass(frozen=True)
class Timestamp:
    """A PTP ``Timestamp``: `seconds` (48 bits) and `nanoseconds` (32 bits; a valid time has
    ``nanoseconds < NS_PER_S``, but decoding keeps whatever the sender put there)."""

    seconds: int
    nanoseconds: int

    def __post_init__(self):
        _check(self.seconds, 48, "Timestamp.seconds")
        _check(self.nanoseconds, 32, "Timestamp.nanoseconds")

    @classmethod
    def from_ns(cls, ns):
        """Nanoseconds since the PTP epoch (seconds wrap modulo 2**48)."""
        seconds, nanoseconds = divmod(ns, NS_PER_S)
        return cls(seconds % (1 << 48), nanoseconds)

    def to_ns(self):
        return self.seconds * NS_PER_S + self.nanoseconds

    def _pack(self):
        return _TIMESTAMP.pack(self.seconds >> 32, self.seconds & 0xFFFFFFFF, self.nanoseconds)

    @classmethod
    def _unpack(cls, data, offset):
        high, low, ns = _TIMESTAMP.unpack_from(data, offset)
        return cls((high << 32) | low, ns)


def split_scaled_ns(t_scaled_ns):
    """A time in scaled ns (2**-16 ns, >= 0) -> (`Timestamp` of its whole nanoseconds, the
    remainder in scaled ns, 0 <= remainder < 2**16)."""
    ns, fraction = divmod(t_scaled_ns, SCALED_NS_PER_NS)
    return Timestamp.from_ns(ns), fraction


@dataclass(frozen=True)
class PortIdentity:
    """``PortIdentity``: an 8-byte clockIdentity and a 16-bit portNumber."""

    clock_identity: bytes
    port_number: int

    def __post_init__(self):
        if not isinstance(self.clock_identity, bytes) or len(self.clock_identity) != 8:
            raise ValueError(f"clock_identity must be 8 bytes, not {self.clock_identity!r}")
        _check(self.port_number, 16, "port_number")

    def __str__(self):
        return f"{self.clock_identity.hex('-')}/{self.port_number}"


@dataclass(frozen=True)
class ClockQuality:
    """``ClockQuality``: clockClass, clockAccuracy (enumeration, 0x21 = within 100 ns) and
    offsetScaledLogVariance."""

    clock_class: int
    clock_accuracy: int
    offset_scaled_log_variance: int

    def __post_init__(self):
        _check(self.clock_class, 8, "clock_class")
        _check(self.clock_accuracy, 8, "clock_accuracy")
        _check(self.offset_scaled_log_variance, 16, "offset_scaled_log_variance")


@dataclass(frozen=True, kw_only=True)
class Header:
    """The 34-byte common header (13.3).

    `message_length` and `control` may be left None: `encode` then fills in the length of what
    it writes and the controlField of Table 23. `decode` fills them with what it read.
    `correction` is in scaled ns (signed 64 bits); `log_message_interval` is signed (8 bits).
    `minor_sdo_id` and `message_type_specific` are reserved (zero) in IEEE 1588-2008.
    """

    message_type: int
    source_port_identity: PortIdentity
    sequence_id: int = 0
    domain: int = 0
    flags: int = 0
    correction: int = 0
    log_message_interval: int = LOG_INTERVAL_UNSPECIFIED
    transport_specific: int = 0
    version: int = VERSION_PTP
    minor_version: int = 0
    message_length: int | None = None
    control: int | None = None
    minor_sdo_id: int = 0
    message_type_specific: int = 0

    def __post_init__(self):
        _check(self.message_type, 4, "message_type")
        _check(self.sequence_id, 16, "sequence_id")
        _check(self.domain, 8, "domain")
        _check(self.flags, 16, "flags")
        _check(self.correction, 64, "correction", signed=True)
        _check(self.log_message_interval, 8, "log_message_interval", signed=True)
        _check(self.transport_specific, 4, "transport_specific")
        _check(self.version, 4, "version")
        _check(self.minor_version, 4, "minor_version")
        if self.message_length is not None:
            _check(self.message_length, 16, "message_length")
        if self.control is not None:
            _check(self.control, 8, "control")
        _check(self.minor_sdo_id, 8, "minor_sdo_id")
        _check(self.message_type_specific, 32, "message_type_specific")
        if not isinstance(self.source_port_identity, PortIdentity):
            raise TypeError("source_port_identity must be a PortIdentity")


@dataclass(frozen=True, kw_only=True)
class _Message:
    MESSAGE_TYPE: ClassVar[int]
    BODY_BYTES: ClassVar[int]

    header: Header
    #: Bytes after the fixed body up to messageLength (TLVs), kept raw.
    suffix: bytes = b""

    def __post_init__(self):
        if self.header.message_type != self.MESSAGE_TYPE:
            raise ValueError(f"{type(self).__name__} needs header.message_type "
                             f"{self.MESSAGE_TYPE:#x}, not {self.header.message_type:#x}")

    def encode(self):
        return encode(self)


@dataclass(frozen=True, kw_only=True)
class Sync(_Message):
    """Sync (13.6): `origin_timestamp` is the precise send time for a one-step clock, zero or
    an estimate for a two-step clock (the Follow_Up then carries the precise time)."""

    MESSAGE_TYPE: ClassVar[int] = SYNC
    BODY_BYTES: ClassVar[int] = 10
    origin_timestamp: Timestamp

    def _body(self):
        return self.origin_timestamp._pack()

    @classmethod
    def _from_body(cls, header, data, suffix):
        return cls(header=header, origin_timestamp=Timestamp._unpack(data, 0), suffix=suffix)


@dataclass(frozen=True, kw_only=True)
class DelayReq(_Message):
    """Delay_Req (13.6): `origin_timestamp` is an estimate of the send time (may be zero)."""

    MESSAGE_TYPE: ClassVar[int] = DELAY_REQ
    BODY_BYTES: ClassVar[int] = 10
    origin_timestamp: Timestamp

    def _body(self):
        return self.origin_timestamp._pack()

    @classmethod
    def _from_body(cls, header, data, suffix):
        return cls(header=header, origin_timestamp=Timestamp._unpack(data, 0), suffix=suffix)


@dataclass(frozen=True, kw_only=True)
class FollowUp(_Message):
    """Follow_Up (13.7): the precise send time of the Sync with the same sequenceId, to which
    the correctionField is added."""

    MESSAGE_TYPE: ClassVar[int] = FOLLOW_UP
    BODY_BYTES: ClassVar[int] = 10
    precise_origin_timestamp: Timestamp

    def _body(self):
        return self.precise_origin_timestamp._pack()

    @classmethod
    def _from_body(cls, header, data, suffix):
        return cls(header=header, precise_origin_timestamp=Timestamp._unpack(data, 0),
                   suffix=suffix)


@dataclass(frozen=True, kw_only=True)
class DelayResp(_Message):
    """Delay_Resp (13.8): the arrival time t4 of the Delay_Req from `requesting_port_identity`
    is `receive_timestamp` minus the correctionField (IEEE 1588-2008 11.3.2)."""

    MESSAGE_TYPE: ClassVar[int] = DELAY_RESP
    BODY_BYTES: ClassVar[int] = 20
    receive_timestamp: Timestamp
    requesting_port_identity: PortIdentity

    def _body(self):
        pid = self.requesting_port_identity
        return (self.receive_timestamp._pack()
                + _PORT_IDENTITY.pack(pid.clock_identity, pid.port_number))

    @classmethod
    def _from_body(cls, header, data, suffix):
        return cls(header=header, receive_timestamp=Timestamp._unpack(data, 0),
                   requesting_port_identity=PortIdentity(*_PORT_IDENTITY.unpack_from(data, 10)),
                   suffix=suffix)


@dataclass(frozen=True, kw_only=True)
class Announce(_Message):
    """Announce (13.5): the grandmaster's data set as seen through the sending port."""

    MESSAGE_TYPE: ClassVar[int] = ANNOUNCE
    BODY_BYTES: ClassVar[int] = 30
    origin_timestamp: Timestamp
    current_utc_offset: int
    grandmaster_priority1: int
    grandmaster_clock_quality: ClockQuality
    grandmaster_priority2: int
    grandmaster_identity: bytes
    steps_removed: int
    time_source: int
    #: The reserved octet after currentUtcOffset.
    reserved: int = 0

    def __post_init__(self):
        super().__post_init__()
        _check(self.current_utc_offset, 16, "current_utc_offset", signed=True)
        _check(self.grandmaster_priority1, 8, "grandmaster_priority1")
        _check(self.grandmaster_priority2, 8, "grandmaster_priority2")
        _check(self.steps_removed, 16, "steps_removed")
        _check(self.time_source, 8, "time_source")
        _check(self.reserved, 8, "reserved")
        if not isinstance(self.grandmaster_identity, bytes) or len(self.grandmaster_identity) != 8:
            raise ValueError("grandmaster_identity must be 8 bytes")

    def _body(self):
        q = self.grandmaster_clock_quality
        return self.origin_timestamp._pack() + _ANNOUNCE_TAIL.pack(
            self.current_utc_offset, self.reserved, self.grandmaster_priority1, q.clock_class,
            q.clock_accuracy, q.offset_scaled_log_variance, self.grandmaster_priority2,
            self.grandmaster_identity, self.steps_removed, self.time_source)

    @classmethod
    def _from_body(cls, header, data, suffix):
        (utc, reserved, p1, clock_class, accuracy, variance, p2, gm_identity, steps,
         source) = _ANNOUNCE_TAIL.unpack_from(data, 10)
        return cls(header=header, origin_timestamp=Timestamp._unpack(data, 0),
                   current_utc_offset=utc, reserved=reserved, grandmaster_priority1=p1,
                   grandmaster_clock_quality=ClockQuality(clock_class, accuracy, variance),
                   grandmaster_priority2=p2, grandmaster_identity=gm_identity,
                   steps_removed=steps, time_source=source, suffix=suffix)


@dataclass(frozen=True, kw_only=True)
class OtherMessage:
    """A message of a type this codec does not parse: the header and the raw bytes after it
    (up to messageLength)."""

    header: Header
    body: bytes = b""

    def encode(self):
        return encode(self)


_TYPES = {cls.MESSAGE_TYPE: cls for cls in (Sync, DelayReq, FollowUp, DelayResp, Announce)}


def encode(message):
    """A message dataclass -> the PTP message bytes (the UDP payload)."""
    h = message.header
    if isinstance(message, OtherMessage):
        body = message.body
    else:
        body = message._body() + message.suffix
    length = HEADER_BYTES + len(body) if h.message_length is None else h.message_length
    control = control_for(h.message_type) if h.control is None else h.control
    pid = h.source_port_identity
    return _HEADER.pack(
        (h.transport_specific << 4) | h.message_type, (h.minor_version << 4) | h.version,
        length, h.domain, h.minor_sdo_id, h.flags, h.correction, h.message_type_specific,
        pid.clock_identity, pid.port_number, h.sequence_id, control, h.log_message_interval,
    ) + body


def decode(data):
    """PTP message bytes -> `Sync`, `DelayReq`, `FollowUp`, `DelayResp`, `Announce` or
    `OtherMessage`. Bytes after messageLength (padding) are ignored. Raises ValueError for a
    message that is too short for its header, type or messageLength, or whose versionPTP is not
    2."""
    data = bytes(data)
    if len(data) < HEADER_BYTES:
        raise ValueError(f"PTP message of {len(data)} bytes is shorter than its header")
    (type_byte, version_byte, length, domain, minor_sdo_id, flags, correction, type_specific,
     clock_identity, port_number, sequence_id, control, log_interval) = _HEADER.unpack_from(data)
    if version_byte & 0xF != VERSION_PTP:
        raise ValueError(f"versionPTP {version_byte & 0xF} is not {VERSION_PTP}")
    if length > len(data):
        raise ValueError(f"messageLength {length} exceeds the {len(data)} bytes present")
    header = Header(
        message_type=type_byte & 0xF, transport_specific=type_byte >> 4,
        version=version_byte & 0xF, minor_version=version_byte >> 4, message_length=length,
        domain=domain, minor_sdo_id=minor_sdo_id, flags=flags, correction=correction,
        message_type_specific=type_specific,
        source_port_identity=PortIdentity(clock_identity, port_number),
        sequence_id=sequence_id, control=control, log_message_interval=log_interval)
    cls = _TYPES.get(header.message_type)
    if cls is None:
        if length < HEADER_BYTES:
            raise ValueError(f"messageLength {length} is shorter than the header")
        return OtherMessage(header=header, body=data[HEADER_BYTES:length])
    end = HEADER_BYTES + cls.BODY_BYTES
    if length < end:
        raise ValueError(f"messageLength {length} is too short for {cls.__name__} ({end})")
    return cls._from_body(header, data[HEADER_BYTES:end], data[end:length])


# --- addresses ----------------------------------------------------------------------------------

def mac_bytes(mac):
    """``"02:00:5e:10:00:01"`` (``:`` or ``-`` separated) or 6 bytes -> 6 bytes."""
    if isinstance(mac, bytes | bytearray):
        result = bytes(mac)
    else:
        result = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(result) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return result


def ip_bytes(ip):
    """A dotted IPv4 address or 4 bytes -> 4 bytes."""
    if isinstance(ip, bytes | bytearray):
        if len(ip) != 4:
            raise ValueError(f"not an IPv4 address: {ip!r}")
        return bytes(ip)
    return ipaddress.IPv4Address(ip).packed


def clock_identity_from_mac(mac):
    """The EUI-64 clockIdentity of a MAC: MAC[0..2] FF FE MAC[3..5]."""
    mac = mac_bytes(mac)
    return mac[:3] + b"\xff\xfe" + mac[3:]


def multicast_mac(ip):
    """The Ethernet address of an IPv4 multicast group: 01:00:5e and the group's low 23
    bits (RFC 1112)."""
    ip = ip_bytes(ip)
    if ip[0] & 0xF0 != 0xE0:
        raise ValueError(f"{ipaddress.IPv4Address(ip)} is not a multicast address")
    return bytes([0x01, 0x00, 0x5E, ip[1] & 0x7F, ip[2], ip[3]])


# --- UDP/IPv4/Ethernet --------------------------------------------------------------------------

_ETHERTYPE_IPV4 = 0x0800
_VLAN_TPIDS = (0x8100, 0x88A8)
_IP_PROTO_UDP = 17
_IPV4 = struct.Struct(">BBHHHBBH4s4s")
_UDP = struct.Struct(">HHHH")


def _ones_complement_sum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _udp_checksum(src_ip, dst_ip, udp_bytes):
    pseudo = src_ip + dst_ip + struct.pack(">BBH", 0, _IP_PROTO_UDP, len(udp_bytes))
    checksum = ~_ones_complement_sum(pseudo + udp_bytes) & 0xFFFF
    # A computed 0 is sent as all ones: 0 means "no checksum" in UDP over IPv4.
    return checksum or 0xFFFF


def udp_frame(src_mac, src_ip, dst_ip, sport, dport, payload, dscp=46, ttl=1, *, dst_mac=None,
              ident=0, dont_fragment=False, ecn=0):
    """An Ethernet II + IPv4 (20-byte header, no options) + UDP frame carrying `payload`, with
    correct IPv4 header and UDP checksums. No padding and no FCS.

    The destination MAC is `dst_mac` if given, else derived from `dst_ip`: the RFC 1112 mapping
    for a multicast group, ff:ff:ff:ff:ff:ff for 255.255.255.255; a unicast `dst_ip` needs an
    explicit `dst_mac`. `ident` is the IPv4 Identification field, `dont_fragment` its DF bit,
    `ecn` the two low bits of the traffic-class octet under the 6-bit `dscp`.
    """
    src_ip, dst_ip = ip_bytes(src_ip), ip_bytes(dst_ip)
    if dst_mac is not None:
        dst_mac = mac_bytes(dst_mac)
    elif dst_ip[0] & 0xF0 == 0xE0:
        dst_mac = multicast_mac(dst_ip)
    elif dst_ip == b"\xff" * 4:
        dst_mac = b"\xff" * 6
    else:
        raise ValueError(f"unicast {ipaddress.IPv4Address(dst_ip)} needs an explicit dst_mac")
    _check(sport, 16, "sport")
    _check(dport, 16, "dport")
    _check(dscp, 6, "dscp")
    _check(ecn, 2, "ecn")
    _check(ttl, 8, "ttl")
    _check(ident, 16, "ident")
    payload = bytes(payload)
    udp_length = _UDP.size + len(payload)
    if _IPV4.size + udp_length > 0xFFFF:
        raise ValueError(f"a {len(payload)}-byte payload does not fit in one IPv4 datagram")
    udp = _UDP.pack(sport, dport, udp_length, 0) + payload
    udp = udp[:6] + struct.pack(">H", _udp_checksum(src_ip, dst_ip, udp)) + udp[8:]
    ip = _IPV4.pack(0x45, (dscp << 2) | ecn, _IPV4.size + udp_length, ident,
                    0x4000 if dont_fragment else 0, ttl, _IP_PROTO_UDP, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack(">H", ~_ones_complement_sum(ip) & 0xFFFF) + ip[12:]
    return dst_mac + mac_bytes(src_mac) + struct.pack(">H", _ETHERTYPE_IPV4) + ip + udp


def parse_udp_frame(frame, *, verify_checksums=True):
    """An Ethernet frame -> ``(ip_src, ip_dst, sport, dport, dscp, ttl, payload)`` (addresses as
    dotted strings, `payload` cut to the UDP length so Ethernet padding and a trailing FCS are
    dropped), or None if the frame is not one whole UDP/IPv4 datagram: another Ethertype or
    protocol, a truncated or fragmented datagram, and (with `verify_checksums`) a wrong IPv4
    header checksum or a non-zero wrong UDP checksum, which a receiving IP stack would drop.
    One 802.1Q/802.1ad tag is skipped."""
    frame = bytes(frame)
    offset = 12
    if len(frame) < offset + 2:
        return None
    ethertype = int.from_bytes(frame[offset:offset + 2], "big")
    if ethertype in _VLAN_TPIDS:
        offset += 4
        if len(frame) < offset + 2:
            return None
        ethertype = int.from_bytes(frame[offset:offset + 2], "big")
    offset += 2
    if ethertype != _ETHERTYPE_IPV4 or len(frame) < offset + _IPV4.size:
        return None
    (ver_ihl, tos, total_length, _ident, frag, ttl, proto, _checksum, src, dst) = \
        _IPV4.unpack_from(frame, offset)
    ihl = (ver_ihl & 0xF) * 4
    if ver_ihl >> 4 != 4 or ihl < _IPV4.size or total_length < ihl + _UDP.size:
        return None
    if len(frame) < offset + total_length or proto != _IP_PROTO_UDP or frag & 0x3FFF:
        return None
    ip_header = frame[offset:offset + ihl]
    if verify_checksums and _ones_complement_sum(ip_header) != 0xFFFF:
        return None
    udp = frame[offset + ihl:offset + total_length]
    sport, dport, udp_length, checksum = _UDP.unpack_from(udp)
    if not _UDP.size <= udp_length <= len(udp):
        return None
    udp = udp[:udp_length]
    if verify_checksums and checksum != 0:
        pseudo = src + dst + struct.pack(">BBH", 0, _IP_PROTO_UDP, udp_length)
        if _ones_complement_sum(pseudo + udp) != 0xFFFF:
            return None
    return (str(ipaddress.IPv4Address(src)), str(ipaddress.IPv4Address(dst)), sport, dport,
            tos >> 2, ttl, udp[_UDP.size:])
