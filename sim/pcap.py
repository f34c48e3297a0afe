"""Capture files in and out of the simulated network, with exact integer times.

Times are int picoseconds, frames are `bytes` from the destination MAC through the payload (no
preamble/SFD, no FCS), as everywhere in `stagebox.sim`.

Reading (`read_frames`) takes pcap (microsecond or nanosecond) and pcapng files, optionally
gzip-compressed, through scapy's raw readers; times become exact ps relative to the file's first
frame (pcapng with a binary time resolution is floored to whole ps; the pcapng per-interface
``if_tsoffset`` is ignored: only differences between times matter here).

- Ethernet (link type 1) frames are taken as captured. When a pcap header's link-type field says
  the frames carry an FCS (the F bit and FCS length), that many trailing bytes are removed.
  pcapng's per-interface ``if_fcslen`` is not exposed by scapy and is not looked at: pcapng
  frames are taken as captured.
- Linux cooked captures (SLL, link type 113, and SLL2, 276; what ``tcpdump -i any`` writes) are
  rebuilt into Ethernet frames: EtherType from the cooked header's protocol field, payload
  unchanged, source MAC the cooked header's link-layer address when it has 6 bytes (else the
  placeholder 02:00:00:00:00:00). The destination MAC, which the cooked header does not keep,
  is derived from the packet: the group MAC of an IPv4 multicast (01:00:5e + low 23 bits) or
  IPv6 multicast (33:33 + low 32 bits) destination, otherwise the broadcast address. Unicast
  IP frames therefore arrive as broadcasts; rewrite their destination if the receiver checks it.
  Cooked frames whose protocol is not an EtherType (802.2 LLC, CAN, ...) are refused.
- Frames cut short by the capture's snap length cannot be replayed and are refused, as are
  other link types.

Writing (`write_frames`, `NanoPcapWriter`) produces a little-endian nanosecond pcap through
scapy's `PcapWriter` (``nano=True``); a frame at ``t_ps`` is stamped ``floor(t_ps / 1000)`` ns
after the pcap epoch plus ``epoch_s``.

`PcapSource` is an `Endpoint` that sends a capture's frames into the network at their capture
timing or at a fixed interval. Frames are sent as captured (short ones are padded by the
network, as a MAC pads them on the wire); when two frames are closer than the link's wire time,
they overlap at the sender, and the receiving PHY model enforces the inter-frame gap.
"""

import os
import struct

from scapy.error import Scapy_Exception
from scapy.utils import PcapWriter, RawPcapNgReader, RawPcapReader

from .network import PS_PER_S, Endpoint

__all__ = ["read_frames", "write_frames", "NanoPcapWriter", "PcapSource",
           "SLL_PLACEHOLDER_SOURCE"]

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
SLL_PLACEHOLDER_SOURCE = bytes.fromhex("020000000000")
_BROADCAST = b"\xff" * 6
_ETHERTYPE_IPV4, _ETHERTYPE_IPV6, _ETHERTYPE_VLAN = 0x0800, 0x86DD, 0x8100
_MIN_ETHERTYPE = 0x0600
_MAX_PCAP_SECONDS = 2**32 - 1


def _pcap_fcs_bytes(linktype_field):
    # pcap link-type field: bits 0-15 link type, bit 26 "FCS present", bits 28-31 FCS length
    # in 16-bit words.
    if linktype_field & 0x0400_0000:
        return ((linktype_field >> 28) & 0xF) * 2
    return 0


def _group_mac(ethertype, packet):
    """The destination MAC of an IP multicast packet, or broadcast."""
    if ethertype == _ETHERTYPE_VLAN and len(packet) >= 4:
        ethertype, packet = struct.unpack_from(">H", packet, 2)[0], packet[4:]
    if ethertype == _ETHERTYPE_IPV4 and len(packet) >= 20 and 224 <= packet[16] <= 239:
        return bytes((0x01, 0x00, 0x5E, packet[17] & 0x7F, packet[18], packet[19]))
    if ethertype == _ETHERTYPE_IPV6 and len(packet) >= 40 and packet[24] == 0xFF:
        return b"\x33\x33" + packet[36:40]
    return _BROADCAST


def _from_cooked(data, linktype, index):
    if linktype == LINKTYPE_LINUX_SLL:
        header = 16
        if len(data) < header:
            raise ValueError(f"frame {index}: Linux cooked header cut short")
        address_len, address, protocol = struct.unpack_from(">H8sH", data, 4)
    else:
        header = 20
        if len(data) < header:
            raise ValueError(f"frame {index}: Linux cooked v2 header cut short")
        protocol, = struct.unpack_from(">H", data, 0)
        address_len, address = struct.unpack_from(">B8s", data, 11)
    if protocol < _MIN_ETHERTYPE:
        raise ValueError(f"frame {index}: Linux cooked protocol {protocol:#06x} is not an "
                         f"EtherType; no Ethernet frame can be rebuilt from it")
    packet = data[header:]
    source = address[:6] if address_len == 6 else SLL_PLACEHOLDER_SOURCE
    return _group_mac(protocol, packet) + source + struct.pack(">H", protocol) + packet


def _records(reader):
    """(data, wire length, link-type field, time in ps) for every frame of a scapy reader."""
    if isinstance(reader, RawPcapNgReader):
        for data, meta in reader:
            if meta.tshigh is None:
                raise ValueError("pcapng simple packet blocks carry no timestamp")
            ticks = (meta.tshigh << 32) | meta.tslow
            yield data, meta.wirelen, meta.linktype, ticks * PS_PER_S // meta.tsresol
    else:
        ps_per_tick = 1000 if reader.nano else 1_000_000
        ticks_per_s = PS_PER_S // ps_per_tick
        for data, meta in reader:
            yield data, meta.wirelen, reader.linktype, (meta.sec * ticks_per_s
                                                        + meta.usec) * ps_per_tick


def read_frames(path) -> list[tuple[int, bytes]]:
    """Every frame of the pcap/pcapng capture `path` as (t_ps, Ethernet frame), in file order,
    with t_ps relative to the first frame (see the module docstring for what is converted)."""
    frames = []
    with open(path, "rb") as file:
        try:
            reader = RawPcapReader(file)    # tries pcapng, then pcap
        except Scapy_Exception as error:
            raise ValueError(f"{path}: not a pcap or pcapng capture ({error})") from None
        with reader:
            for index, (data, wirelen, linktype_field, t_ps) in enumerate(_records(reader)):
                if wirelen > len(data):
                    raise ValueError(f"{path}: frame {index} was cut to {len(data)} of its "
                                     f"{wirelen} bytes by the capture's snap length")
                linktype = linktype_field & 0xFFFF
                if linktype == LINKTYPE_ETHERNET:
                    fcs = 0 if isinstance(reader, RawPcapNgReader) else _pcap_fcs_bytes(
                        linktype_field)
                    if fcs:
                        data = data[:-fcs]
                    frame = bytes(data)
                elif linktype in (LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2):
                    try:
                        frame = _from_cooked(data, linktype, index)
                    except ValueError as error:
                        raise ValueError(f"{path}: {error}") from None
                else:
                    raise ValueError(f"{path}: link type {linktype} is not Ethernet "
                                     f"({LINKTYPE_ETHERNET}) or Linux cooked "
                                     f"({LINKTYPE_LINUX_SLL}, {LINKTYPE_LINUX_SLL2})")
                frames.append((t_ps, frame))
    if frames:
        origin = frames[0][0]
        frames = [(t - origin, frame) for t, frame in frames]
    return frames


class NanoPcapWriter:
    """A nanosecond Ethernet pcap being written: `write` (t_ps, frame) records, then `close`.

    True time 0 is `epoch_s` seconds after the pcap epoch; times are floored to whole ns.
    """

    def __init__(self, path, epoch_s=0):
        if isinstance(epoch_s, bool) or not isinstance(epoch_s, int):
            raise TypeError(f"epoch_s must be an int, not {type(epoch_s).__name__}")
        if not 0 <= epoch_s <= _MAX_PCAP_SECONDS:
            raise ValueError(f"epoch_s {epoch_s} does not fit a pcap timestamp")
        self.epoch_s = epoch_s
        # Little-endian whatever the host, so recordings are byte-identical everywhere.
        self._writer = PcapWriter(os.fspath(path), linktype=LINKTYPE_ETHERNET, nano=True,
                                  endianness="<")
        self._writer.write_header(None)     # an empty recording is still a valid file

    def write(self, t_ps: int, frame: bytes) -> None:
        if t_ps < 0:
            raise ValueError(f"a pcap cannot hold the negative time {t_ps} ps")
        seconds, ns = divmod(t_ps // 1000, 10**9)
        seconds += self.epoch_s
        if seconds > _MAX_PCAP_SECONDS:
            raise ValueError(f"{t_ps} ps after epoch_s {self.epoch_s} does not fit a pcap "
                             f"timestamp")
        self._writer.write_packet(bytes(frame), sec=seconds, usec=ns)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def write_frames(path, frames, epoch_s=0) -> None:
    """Write [(t_ps, frame)] to the nanosecond pcap `path`, in the order given."""
    with NanoPcapWriter(path, epoch_s) as writer:
        for t_ps, frame in frames:
            writer.write(t_ps, frame)


class PcapSource(Endpoint):
    """Sends a capture's frames into the network.

    `path_or_frames` is a capture file (read with `read_frames`, so offsets count from its first
    frame) or a list of (offset_ps, frame). Frame i is sent at ``start_ps + offset_i`` (capture
    timing) or, with ``retime=interval_ps``, at ``start_ps + i * interval_ps``. Frames go out in
    time order (ties in file order). Frames received from the network are ignored.
    """

    def __init__(self, path_or_frames, start_ps=0, retime=None, name="pcap"):
        self.name = name
        if isinstance(path_or_frames, str | os.PathLike):
            frames = read_frames(path_or_frames)
        else:
            frames = [(int(t), bytes(frame)) for t, frame in path_or_frames]
        if retime is not None and (isinstance(retime, bool) or not isinstance(retime, int)
                                   or retime <= 0):
            raise ValueError(f"retime must be a positive int interval in ps, not {retime!r}")
        if retime is None:
            times = [start_ps + t for t, _ in frames]
        else:
            times = [start_ps + i * retime for i in range(len(frames))]
        if times and min(times) < 0:
            raise ValueError(f"a frame would be sent at the negative time {min(times)} ps")
        # sorted() is stable: frames at the same time keep their file order.
        self.schedule: list[tuple[int, bytes]] = sorted(
            ((t, frame) for t, (_, frame) in zip(times, frames, strict=True)),
            key=lambda item: item[0])
        self.sent = 0

    @property
    def done(self) -> bool:
        """Whether every frame has been sent."""
        return self.sent == len(self.schedule)

    def receive(self, frame: bytes, t_ps: int) -> None:
        pass

    def next_event_ps(self) -> int | None:
        return None if self.done else self.schedule[self.sent][0]

    def run_event(self, now_ps: int) -> None:
        while not self.done and self.schedule[self.sent][0] <= now_ps:
            t_ps, frame = self.schedule[self.sent]
            self.sent += 1
            self.port.send(frame, t_ps)
