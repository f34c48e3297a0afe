"""Receive classifier (gateware/eth/classifier.py) in amaranth.sim: a routing matrix of scapy-built
frames with the exact verdict of each, and random frames, both against a reference classifier
written here from the rules in `RxClassifier`'s docstring (header checksums by scapy); every
output byte must be the input byte `LATENCY` cycles later, whatever the gaps between bytes. The
tables are written through the ``table`` bus at the word addresses the register map gives; the
bus itself is checked against a model of the words (masks and byte selects from the map)."""

import dataclasses
import gc
import random
import warnings
from dataclasses import dataclass, field

import pytest
from amaranth.hdl import Module, Signal, UnusedElaboratable
from amaranth.sim import Simulator
from scapy.layers.inet import IP, UDP, IPOption_NOP
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw
from scapy.utils import checksum

from stagebox.gateware.eth.classifier import (
    BROADCAST_MAC,
    ETH_HEADER_BYTES,
    ETHERTYPE_IPV4,
    ETHERTYPE_PTP,
    IP_PROTO_UDP,
    LATENCY,
    MCAST_ENTRIES,
    MCAST_SCAN_CYCLES,
    PTP_IPV4_MACS,
    PTP_L2_MACS,
    PTP_UDP_PORTS,
    RTP_ENTRIES,
    RTP_SCAN_CYCLES,
    VLAN_TAG_BYTES,
    VLAN_TPIDS,
    RxClassifier,
)
from stagebox.gateware.eth.interface import DropReason, RxRoute
from stagebox.regmap.map import MAC_TABLES_BYTES, MAC_TABLES_OFFSET, STAGEBOX_MAP
from stagebox.testing.amaranth_sim import AmaranthWishboneBus

DROP, PTP, RTP, CP = RxRoute.DROP, RxRoute.PTP, RxRoute.RTP, RxRoute.CP
NONE, MAC_ERROR, IP_CHECKSUM, ADDRESS = (DropReason.NONE, DropReason.MAC_ERROR,
                                         DropReason.IP_CHECKSUM, DropReason.ADDRESS)
MAC_BLOCK = STAGEBOX_MAP.block("MAC")
TABLE_WORDS = MAC_TABLES_BYTES // 4
#: Most bus reads per scan: the bus reads at most every other cycle, each delaying a scan by one.
MAX_STALL = MCAST_ENTRIES


def mac(text):
    return int(text.replace(":", ""), 16)


def mac_str(value):
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


def ip_int(text):
    return int.from_bytes(bytes(int(x) for x in text.split(".")), "big")


@dataclass
class Config:
    mac_address: int = mac("02:00:00:00:00:01")
    promiscuous: bool = False
    all_multicast: bool = False
    ptp_l2: bool = True
    mcast: list = field(default_factory=lambda: [(0, False)] * MCAST_ENTRIES)   # (address, en)
    rtp: list = field(default_factory=lambda: [(0, 0, False)] * RTP_ENTRIES)   # (ip, port, en)


# --- table words, from the register map ----------------------------------------------------------

def table_register(word):
    """The table register holding window word `word` and the word's index in it, or None."""
    for reg in MAC_BLOCK.registers:
        first = (reg.offset - MAC_TABLES_OFFSET) // 4
        if reg.external and first <= word < first + reg.words:
            return reg, word - first
    return None


def word_mask(word):
    """The bits of window word `word` that hold fields (the rest read 0)."""
    found = table_register(word)
    if found is None:
        return 0
    reg, index = found
    return (sum(f.mask for f in reg.fields) >> (32 * index)) & 0xFFFFFFFF


def entry_words(name, values):
    """{window word: value} of register MAC_`name` holding field `values`."""
    reg = MAC_BLOCK.register(name)
    value = 0
    for fname, v in values.items():
        f = reg.field(fname)
        assert 0 <= v < 1 << f.width
        value |= v << f.lsb
    first = (reg.offset - MAC_TABLES_OFFSET) // 4
    return {first + k: (value >> (32 * k)) & 0xFFFFFFFF for k in range(reg.words)}


def table_words(cfg):
    """Every table word for `cfg`."""
    words = {}
    for i, (address, en) in enumerate(cfg.mcast):
        words |= entry_words(f"MCAST_{i}", {"ADDRESS": address, "ENABLE": int(en)})
    for i, (ip, port, en) in enumerate(cfg.rtp):
        words |= entry_words(f"RTP_MATCH_{i}", {"IP": ip, "PORT": port, "ENABLE": int(en)})
    assert len(words) == 2 * (MCAST_ENTRIES + RTP_ENTRIES)
    return words


# --- reference classifier, from the rules ----------------------------------------------------

def reference(frame, error, cfg, cycles=None, stall=0):
    """(route, reason, rtp_stream) for `frame` (bytes from the destination MAC, no FCS) whose
    bytes are taken in `cycles` (default: one per cycle); a scan may take `stall` cycles more."""
    if error:
        return DROP, MAC_ERROR, 0
    n = len(frame)
    cycles = list(range(n)) if cycles is None else cycles
    assert len(cycles) == n

    def scan_done(start, scan_cycles):
        return cycles[-1] - cycles[start] >= scan_cycles + stall

    da = int.from_bytes(frame[:6], "big") if n >= 6 else None
    if da is not None and not scan_done(5, MCAST_SCAN_CYCLES):
        return DROP, ADDRESS, 0
    own = da == cfg.mac_address
    group = da is not None and bool(frame[0] & 1)
    table = da is not None and any(en and addr == da for addr, en in cfg.mcast)
    passes = cfg.promiscuous or (da is not None and (
        own or da == BROADCAST_MAC or table or (group and cfg.all_multicast)))

    # Ethertype, skipping one tag; a second tag leaves no Ethertype.
    ethertype, l3 = None, ETH_HEADER_BYTES
    if n >= ETH_HEADER_BYTES:
        ethertype = int.from_bytes(frame[12:14], "big")
        if ethertype in VLAN_TPIDS:
            l3 += VLAN_TAG_BYTES
            ethertype = int.from_bytes(frame[16:18], "big") if n >= l3 else None
            if ethertype in VLAN_TPIDS:
                ethertype = None

    ptp = (cfg.ptp_l2 and ethertype == ETHERTYPE_PTP and (own or da in PTP_L2_MACS))
    rtp_stream = rtp_pending = None
    if ethertype == ETHERTYPE_IPV4 and n > l3 and frame[l3] >> 4 == 4:
        ihl = frame[l3] & 0x0F
        header = frame[l3:l3 + 4 * ihl]
        good = ihl >= 5 and len(header) == 4 * ihl and checksum(header) == 0
        if not good:
            if passes or group:
                return DROP, IP_CHECKSUM, 0
            return DROP, ADDRESS, 0
        fragment = (frame[l3 + 6] & 0x3F) or frame[l3 + 7]
        dport_at = l3 + 4 * ihl + 2
        if not fragment and frame[l3 + 9] == IP_PROTO_UDP and n >= dport_at + 2:
            dport = int.from_bytes(frame[dport_at:dport_at + 2], "big")
            dst_ip = int.from_bytes(frame[l3 + 16:l3 + 20], "big")
            if dport in PTP_UDP_PORTS and (own or da in PTP_IPV4_MACS or passes):
                ptp = True
            if own or group:
                rtp_pending = not scan_done(dport_at + 1, RTP_SCAN_CYCLES)
                for i, (ip, port, en) in enumerate(cfg.rtp):
                    if en and (ip, port) == (dst_ip, dport):
                        rtp_stream = i
                        break
    if ptp:
        return PTP, NONE, 0
    if rtp_pending:
        return DROP, ADDRESS, 0
    if rtp_stream is not None:
        return RTP, NONE, rtp_stream
    if passes:
        return CP, NONE, 0
    return DROP, ADDRESS, 0


# --- simulation --------------------------------------------------------------------------------

def gaps(mode, rng):
    """Idle cycles before the next byte."""
    if mode == "gmii":
        return 0
    if mode == "rmii":
        return 3
    return rng.choice([0, 0, 0, 1, 2, 5])


def simulate(segments, mode, seed=0, *, reader=False):
    """Run `segments`, (cfg, frames) pairs with frames as (bytes, error) pairs: a segment's
    settings are applied and all its table words written through the bus, then its frames are
    fed with `mode` gaps. With `reader`, a second bus master reads the table words back all the
    time while the frames pass (and checks them). Returns (verdict, cycles) per frame, `cycles`
    being the cycle each byte was taken in. Also checks that every output transfer is the input
    transfer `LATENCY` cycles later, and that the bus always acks in the cycle after a request
    (a one-cycle timeout), never with ``err``."""
    dut = RxClassifier()
    top = Module()
    top.submodules.dut = dut
    cycle = Signal(32)
    top.d.sync += cycle.eq(cycle + 1)
    rng = random.Random(seed)
    sent = []            # (cycle, data, first, last, error, stamp) of every byte taken
    seen = []            # (cycle, payload) of every output transfer
    frame_cycles = []
    state = {"reading": False, "busy": False, "done": False, "reads": 0}

    async def driver(ctx):
        bus = AmaranthWishboneBus(ctx, dut.table, timeout=2)
        for cfg, frames in segments:
            ctx.set(dut.mac_address, cfg.mac_address)
            ctx.set(dut.promiscuous, cfg.promiscuous)
            ctx.set(dut.all_multicast, cfg.all_multicast)
            ctx.set(dut.ptp_l2, cfg.ptp_l2)
            for word, value in sorted(table_words(cfg).items()):
                await bus.write(4 * word, [value])
            state["words"] = table_words(cfg)
            state["reading"] = reader
            for frame, error in frames:
                cycles = []
                for i, byte in enumerate(frame):
                    idle = gaps(mode, rng)
                    if idle:
                        await ctx.tick().repeat(idle)
                    last = i == len(frame) - 1
                    stamp = rng.getrandbits(30) if last else 0
                    item = (byte, i == 0, last, error if last else rng.getrandbits(1), stamp)
                    ctx.set(dut.sink.valid, 1)
                    ctx.set(dut.sink.payload, {"data": item[0], "first": item[1],
                                               "last": item[2], "error": item[3],
                                               "stamp": {"ns": stamp, "sec": 0}})
                    c = ctx.get(cycle)
                    cycles.append(c)
                    sent.append((c, *item))
                    await ctx.tick()
                    ctx.set(dut.sink.valid, 0)
                    ctx.set(dut.sink.payload.data, rng.getrandbits(8))   # must be ignored
                frame_cycles.append(cycles)
                if mode == "random" and rng.random() < 0.5:
                    await ctx.tick().repeat(rng.randint(1, 12))
            await ctx.tick().repeat(LATENCY + 1)
            state["reading"] = False
            while state["busy"]:
                await ctx.tick()
        state["done"] = True

    async def reader_bench(ctx):
        bus = AmaranthWishboneBus(ctx, dut.table, timeout=2)
        word = 0
        while not state["done"]:
            if not state["reading"]:
                state["busy"] = False
                await ctx.tick()
                continue
            state["busy"] = True
            (value,) = await bus.read(4 * word, 1)
            assert value == state["words"].get(word, 0), word
            state["reads"] += 1
            word = (word + 1) % TABLE_WORDS

    async def monitor(ctx):
        async for _, _, valid, payload, c in ctx.tick().sample(dut.source.valid,
                                                               dut.source.payload, cycle):
            if valid:
                seen.append((c, payload))

    sim = Simulator(top)
    sim.add_clock(1 / 125e6)
    sim.add_testbench(driver)
    if reader:
        sim.add_testbench(reader_bench)
    sim.add_testbench(monitor, background=True)
    sim.run()

    assert len(seen) == len(sent)
    verdicts = []
    for (c_in, byte, first, last, error, stamp), (c_out, p) in zip(sent, seen, strict=True):
        assert c_out - c_in == LATENCY
        assert (p.data, p.first, p.last, p.error) == (byte, first, last, error)
        if last:
            assert p.stamp.ns == stamp
            verdicts.append((p.verdict.route, p.verdict.reason, p.verdict.rtp_stream))
    assert len(verdicts) == sum(len(frames) for _, frames in segments)
    if reader:
        assert state["reads"] > 0
    return list(zip(verdicts, frame_cycles, strict=True))
OWN = "02:00:00:00:00:01"
OTHER = "02:00:00:00:00:77"
SRC = "02:00:00:00:00:09"
BCAST = "ff:ff:ff:ff:ff:ff"
MC_IN = "01:00:5e:7f:00:01"           # enabled table entry
MC_OFF = "01:00:5e:7f:00:05"          # disabled table entry
MC_OUT = "01:00:5e:7f:00:09"          # not in the table
PTP_MC, PTP_PDELAY = (mac_str(a) for a in PTP_IPV4_MACS)
L2_FWD, L2_PDELAY = (mac_str(a) for a in PTP_L2_MACS)
RTP_A = ("239.1.1.1", 5004)            # entries 1 and 4: 1 wins
RTP_B = ("239.1.1.2", 5006)            # entry 3
RTP_U = ("192.168.1.10", 5004)         # entry 0, unicast
RTP_OFF = ("239.9.9.9", 6000)          # entry 6, disabled


def base_config():
    cfg = Config()
    cfg.mcast = [(0, False)] * MCAST_ENTRIES
    cfg.mcast[2] = (mac(MC_IN), True)
    cfg.mcast[5] = (mac(MC_OFF), False)
    cfg.rtp = [(0, 0, False)] * RTP_ENTRIES
    cfg.rtp[0] = (ip_int(RTP_U[0]), RTP_U[1], True)
    cfg.rtp[1] = (ip_int(RTP_A[0]), RTP_A[1], True)
    cfg.rtp[3] = (ip_int(RTP_B[0]), RTP_B[1], True)
    cfg.rtp[4] = (ip_int(RTP_A[0]), RTP_A[1], True)
    cfg.rtp[6] = (ip_int(RTP_OFF[0]), RTP_OFF[1], False)
    return cfg


def udp(dst_mac, dst_ip, dport, *, tag=None, options=0, payload=b"\x80\x60payload", **ip):
    l2 = Ether(dst=dst_mac, src=SRC)
    if tag == "q":
        l2 = l2 / Dot1Q(vlan=7)
    elif tag == "ad":
        l2 = l2 / Dot1AD(vlan=7)
    elif tag == "qq":
        l2 = l2 / Dot1AD(vlan=7) / Dot1Q(vlan=8)
    opts = [IPOption_NOP()] * (4 * options)
    return bytes(l2 / IP(dst=dst_ip, src="192.168.1.2", options=opts, **ip) / UDP(dport=dport)
                 / Raw(payload))


def ptp_l2(dst_mac, tag=None):
    l2 = Ether(dst=dst_mac, src=SRC, type=ETHERTYPE_PTP)
    if tag:
        l2 = Ether(dst=dst_mac, src=SRC) / Dot1Q(vlan=3, type=ETHERTYPE_PTP)
    return bytes(l2 / Raw(b"\x00\x02" + bytes(42)))


def ip_offset(frame):
    return ETH_HEADER_BYTES + (VLAN_TAG_BYTES if frame[12:14] in (b"\x81\x00", b"\x88\xa8")
                               else 0)


def flip(frame, index, mask=0x01):
    out = bytearray(frame)
    out[index] ^= mask
    return bytes(out)


def with_ihl(frame, ihl):
    """Sets IHL without fixing the checksum, then fixes it (checksum over the new length)."""
    at = ip_offset(frame)
    out = bytearray(frame)
    out[at] = 0x40 | ihl
    out[at + 10:at + 12] = b"\0\0"
    out[at + 10:at + 12] = checksum(bytes(out[at:at + 4 * max(ihl, 1)])).to_bytes(2, "big")
    return bytes(out)


def matrix():
    """(name, frame, error, expected verdict with `base_config`, one byte per cycle); `SLOW`
    has the verdicts that differ with one byte every 4 cycles (RMII)."""
    own_ip = "192.168.1.10"
    good_ptp = udp(PTP_MC, "224.0.1.129", 319)
    rtp_a = udp(MC_OUT, *RTP_A)
    rows = [
        ("ptp event to 224.0.1.129", good_ptp, 0, (PTP, NONE, 0)),
        ("ptp general to 224.0.1.129", udp(PTP_MC, "224.0.1.129", 320), 0, (PTP, NONE, 0)),
        ("ptp pdelay to 224.0.0.107", udp(PTP_PDELAY, "224.0.0.107", 319), 0, (PTP, NONE, 0)),
        ("ptp unicast", udp(OWN, own_ip, 319), 0, (PTP, NONE, 0)),
        ("ptp unicast other mac", udp(OTHER, own_ip, 319), 0, (DROP, ADDRESS, 0)),
        ("ptp to table mcast", udp(MC_IN, "239.7.7.7", 320), 0, (PTP, NONE, 0)),
        ("ptp to mcast out of table", udp(MC_OUT, "239.7.7.7", 320), 0, (DROP, ADDRESS, 0)),
        ("ptp to broadcast", udp(BCAST, "255.255.255.255", 319), 0, (PTP, NONE, 0)),
        ("udp port 318 to ptp mac", udp(PTP_MC, "224.0.1.129", 318), 0, (DROP, ADDRESS, 0)),
        ("ptp with options", udp(PTP_MC, "224.0.1.129", 319, options=3), 0, (PTP, NONE, 0)),
        ("ptp vlan", udp(PTP_MC, "224.0.1.129", 319, tag="q"), 0, (PTP, NONE, 0)),
        ("ptp 802.1ad", udp(PTP_MC, "224.0.1.129", 320, tag="ad"), 0, (PTP, NONE, 0)),
        ("ptp two tags", udp(OWN, own_ip, 319, tag="qq"), 0, (CP, NONE, 0)),
        ("ptp fragment MF", udp(PTP_MC, "224.0.1.129", 319, flags="MF"), 0, (DROP, ADDRESS, 0)),
        ("ptp fragment offset", udp(OWN, own_ip, 319, frag=3), 0, (CP, NONE, 0)),
        ("ptp tcp", bytes(Ether(dst=OWN, src=SRC) / IP(dst=own_ip, proto=6)
                          / UDP(dport=319)), 0, (CP, NONE, 0)),
        ("ptp l2 forwardable", ptp_l2(L2_FWD), 0, (PTP, NONE, 0)),
        ("ptp l2 pdelay", ptp_l2(L2_PDELAY), 0, (PTP, NONE, 0)),
        ("ptp l2 own", ptp_l2(OWN), 0, (PTP, NONE, 0)),
        ("ptp l2 vlan", ptp_l2(L2_FWD, tag="q"), 0, (PTP, NONE, 0)),
        ("ptp l2 other mcast", ptp_l2(MC_IN), 0, (CP, NONE, 0)),
        ("ptp l2 other unicast", ptp_l2(OTHER), 0, (DROP, ADDRESS, 0)),
        ("rtp a (entries 1, 4)", rtp_a, 0, (RTP, NONE, 1)),
        ("rtp b", udp(MC_OUT, *RTP_B), 0, (RTP, NONE, 3)),
        ("rtp b vlan", udp(MC_OUT, *RTP_B, tag="q"), 0, (RTP, NONE, 3)),
        ("rtp b options", udp(MC_IN, *RTP_B, options=10), 0, (RTP, NONE, 3)),
        ("rtp unicast", udp(OWN, *RTP_U), 0, (RTP, NONE, 0)),
        ("rtp unicast other mac", udp(OTHER, *RTP_U), 0, (DROP, ADDRESS, 0)),
        ("rtp broadcast", udp(BCAST, *RTP_A), 0, (RTP, NONE, 1)),
        ("rtp disabled entry", udp(MC_IN, *RTP_OFF), 0, (CP, NONE, 0)),
        ("rtp wrong port", udp(MC_OUT, RTP_A[0], 5006), 0, (DROP, ADDRESS, 0)),
        ("rtp wrong ip", udp(MC_OUT, "239.1.1.3", 5004), 0, (DROP, ADDRESS, 0)),
        ("rtp port of a, ip of b", udp(MC_OUT, RTP_B[0], RTP_A[1]), 0, (DROP, ADDRESS, 0)),
        ("rtp fragment", udp(MC_IN, *RTP_A, flags="MF"), 0, (CP, NONE, 0)),
        ("rtp ends at port", udp(MC_OUT, *RTP_A)[:ETH_HEADER_BYTES + 24], 0,
         (DROP, ADDRESS, 0)),
        ("rtp scan done", udp(MC_OUT, *RTP_A)[:ETH_HEADER_BYTES + 24 + RTP_SCAN_CYCLES], 0,
         (RTP, NONE, 1)),
        ("rtp scan not done", udp(MC_OUT, *RTP_A)[:ETH_HEADER_BYTES + 23 + RTP_SCAN_CYCLES], 0,
         (DROP, ADDRESS, 0)),
        ("ptp ends at port", udp(PTP_MC, "224.0.1.129", 319)[:ETH_HEADER_BYTES + 24], 0,
         (PTP, NONE, 0)),
        ("cp ends at port", udp(MC_IN, "239.7.7.7", 9)[:ETH_HEADER_BYTES + 24], 0,
         (DROP, ADDRESS, 0)),
        ("mcast scan done", bytes(Ether(dst=MC_IN, src=SRC, type=0x1234) / Raw(bytes(20)))
         [:6 + MCAST_SCAN_CYCLES], 0, (CP, NONE, 0)),
        ("mcast scan not done", bytes(Ether(dst=MC_IN, src=SRC, type=0x1234) / Raw(bytes(20)))
         [:5 + MCAST_SCAN_CYCLES], 0, (DROP, ADDRESS, 0)),
        ("rtp ends before port lo", udp(MC_OUT, *RTP_A)[:ETH_HEADER_BYTES + 23], 0,
         (DROP, ADDRESS, 0)),
        ("unicast own", bytes(Ether(dst=OWN, src=SRC, type=0x1234) / Raw(bytes(20))), 0,
         (CP, NONE, 0)),
        ("unicast other", bytes(Ether(dst=OTHER, src=SRC, type=0x1234) / Raw(bytes(20))), 0,
         (DROP, ADDRESS, 0)),
        ("broadcast arp", bytes(Ether(dst=BCAST, src=SRC) / ARP(pdst="192.168.1.10")), 0,
         (CP, NONE, 0)),
        ("mcast in table", udp(MC_IN, "239.7.7.7", 9), 0, (CP, NONE, 0)),
        ("mcast disabled entry", udp(MC_OFF, "239.7.7.7", 9), 0, (DROP, ADDRESS, 0)),
        ("mcast out of table", udp(MC_OUT, "239.7.7.7", 9), 0, (DROP, ADDRESS, 0)),
        ("ip to own", udp(OWN, own_ip, 53), 0, (CP, NONE, 0)),
        ("mac error", good_ptp, 1, (DROP, MAC_ERROR, 0)),
        ("mac error other", udp(OTHER, own_ip, 9), 1, (DROP, MAC_ERROR, 0)),
        ("mac error bad checksum", flip(good_ptp, 24), 1, (DROP, MAC_ERROR, 0)),
        ("only 5 bytes", bytes.fromhex(OWN.replace(":", ""))[:5], 0, (DROP, ADDRESS, 0)),
        ("only da", bytes.fromhex(OWN.replace(":", "")), 0, (DROP, ADDRESS, 0)),
        ("one byte", b"\xff", 0, (DROP, ADDRESS, 0)),
        ("ends at ethertype", udp(OWN, own_ip, 319)[:14], 0, (DROP, ADDRESS, 0)),
        ("ends at version", udp(OWN, own_ip, 319)[:15], 0, (DROP, ADDRESS, 0)),
        ("ip version 6 in 0x0800", flip(udp(OWN, own_ip, 319), 14, 0x20), 0, (CP, NONE, 0)),
    ]
    for ihl in range(6, 16):
        rows.append((f"ptp ihl {ihl}", udp(PTP_MC, "224.0.1.129", 319, options=ihl - 5), 0,
                     (PTP, NONE, 0)))
    rows.append(("rtp ihl 15 vlan", udp(MC_OUT, *RTP_B, options=10, tag="q"), 0, (RTP, NONE, 3)))
    # Checksum errors: one flipped bit anywhere in the header, IHL < 5, truncated headers.
    hdr = ip_offset(good_ptp)
    for index, mask in [(0, 0x01), (1, 0x80), (3, 0x10), (8, 0x01), (10, 0x40), (11, 0x01),
                        (16, 0x80), (19, 0x02)]:
        rows.append((f"bad checksum byte {index}", flip(good_ptp, hdr + index, mask), 0,
                     (DROP, IP_CHECKSUM, 0)))
    long_ptp = udp(PTP_MC, "224.0.1.129", 319, options=7)
    rows.append(("bad checksum in options", flip(long_ptp, hdr + 40, 0x04), 0,
                 (DROP, IP_CHECKSUM, 0)))
    rows.append(("bad checksum vlan", flip(udp(MC_OUT, *RTP_A, tag="q"), 18 + 13), 0,
                 (DROP, IP_CHECKSUM, 0)))
    rows.append(("bad checksum rtp mcast", flip(rtp_a, hdr + 17), 0, (DROP, IP_CHECKSUM, 0)))
    rows.append(("bad checksum unicast own", flip(udp(OWN, own_ip, 53), hdr + 5), 0,
                 (DROP, IP_CHECKSUM, 0)))
    rows.append(("bad checksum unicast other", flip(udp(OTHER, own_ip, 53), hdr + 5), 0,
                 (DROP, ADDRESS, 0)))
    rows.append(("bad checksum fragment", flip(udp(OWN, own_ip, 53, frag=9), hdr + 2), 0,
                 (DROP, IP_CHECKSUM, 0)))
    for ihl in range(5):
        rows.append((f"ihl {ihl}", with_ihl(good_ptp, ihl), 0, (DROP, IP_CHECKSUM, 0)))
    for cut in (1, 2, 10, 19):
        rows.append((f"header cut to {cut}", good_ptp[:hdr + cut], 0,
                     (DROP, ADDRESS if cut < 3 else IP_CHECKSUM, 0)))
    rows.append(("options cut", long_ptp[:hdr + 30], 0, (DROP, IP_CHECKSUM, 0)))
    rows.append(("header complete, no udp", good_ptp[:hdr + 20], 0, (DROP, ADDRESS, 0)))
    return rows



#: Verdicts of `matrix` rows that differ with one byte every 4 cycles: the scans are done.
SLOW = {
    "rtp scan not done": (RTP, NONE, 1),
    "mcast scan not done": (CP, NONE, 0),
    "ends at ethertype": (CP, NONE, 0),
    "ends at version": (DROP, IP_CHECKSUM, 0),
    "header cut to 1": (DROP, IP_CHECKSUM, 0),
    "header cut to 2": (DROP, IP_CHECKSUM, 0),
}


def check(segments, results, stall=0):
    """Assert every verdict equals the reference's for the cycles its bytes were taken in."""
    frames = [(cfg, frame, error) for cfg, seg in segments for frame, error in seg]
    for i, ((cfg, frame, error), (verdict, cycles)) in enumerate(
            zip(frames, results, strict=True)):
        assert verdict == reference(frame, error, cfg, cycles, stall), (i, frame.hex())


def test_reference_matrix():
    """The reference model gives the verdicts written in the matrix (checks the model)."""
    cfg = base_config()
    for name, frame, error, expected in matrix():
        assert reference(frame, error, cfg) == expected, name
        rmii = [4 * i for i in range(len(frame))]
        assert reference(frame, error, cfg, rmii) == SLOW.get(name, expected), name


@pytest.mark.parametrize("mode", ["gmii", "rmii", "random"])
def test_matrix(mode):
    cfg = base_config()
    rows = matrix()
    segments = [(cfg, [(frame, error) for _, frame, error, _ in rows])]
    got = simulate(segments, mode, seed=len(mode))
    for (name, _, _, expected), (verdict, _) in zip(rows, got, strict=True):
        if mode == "gmii":
            assert verdict == expected, name
        if mode == "rmii":
            assert verdict == SLOW.get(name, expected), name
    check(segments, got)


@pytest.mark.parametrize("setting", ["promiscuous", "all_multicast", "no_ptp_l2"])
def test_matrix_settings(setting):
    """The same frames with the filter opened or PTP over Ethernet off, against the model."""
    cfg = base_config()
    if setting == "no_ptp_l2":
        cfg.ptp_l2 = False
    else:
        setattr(cfg, setting, True)
    rows = matrix()
    segments = [(cfg, [(frame, error) for _, frame, error, _ in rows])]
    got = simulate(segments, "random", seed=7)
    check(segments, got)
    changed = sum(reference(frame, error, cfg) != expected for _, frame, error, expected in rows)
    assert changed >= 3        # the setting matters for this matrix


def test_matrix_own_mac_in_table():
    """Own MAC changed: the old one is another station's; a table entry accepts unicast too."""
    cfg = base_config()
    cfg.mac_address = mac("02:00:00:00:00:02")
    cfg.mcast[7] = (mac(OTHER), True)
    rows = matrix()
    segments = [(cfg, [(frame, error) for _, frame, error, _ in rows])]
    check(segments, simulate(segments, "gmii"))
    assert reference(udp(OTHER, "1.2.3.4", 9), 0, cfg) == (CP, NONE, 0)


# --- short frames ------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["gmii", "rmii"])
def test_short_frames(mode):
    """Frames without error cut at every length, back to back: a frame that ends before a scan
    it needs is done gets DROP / ADDRESS; the next frame is judged normally (no hang, no stale
    results)."""
    cfg = base_config()
    templates = [
        udp(MC_OUT, *RTP_A),                                # RTP through the table
        udp(OWN, *RTP_U, tag="q", options=2),               # unicast RTP, tagged, options
        udp(MC_IN, "239.7.7.7", 9),                         # multicast table hit, not RTP
        udp(PTP_MC, "224.0.1.129", 319),                    # PTP: no RTP scan needed
        bytes(Ether(dst=OWN, src=SRC, type=0x1234) / Raw(bytes(30))),
    ]
    frames = [(t[:n], 0) for t in templates for n in range(1, len(t) + 1)]
    segments = [(cfg, frames)]
    got = simulate(segments, mode)
    check(segments, got)
    if mode == "gmii":
        # Where the verdict turns: the whole RTP frame, cut after its port plus k bytes.
        port_lo = ETH_HEADER_BYTES + 23
        first_rtp = min(len(f) for (f, _), (v, _) in zip(frames, got, strict=True)
                        if f == templates[0][:len(f)] and v == (RTP, NONE, 1))
        assert first_rtp - 1 - port_lo == RTP_SCAN_CYCLES
        first_cp = min(len(f) for (f, _), (v, _) in zip(frames, got, strict=True)
                       if f == templates[4][:len(f)] and v == (CP, NONE, 0))
        assert first_cp - 1 - 5 == MCAST_SCAN_CYCLES
    verdicts = {v for v, _ in got}
    assert {(DROP, ADDRESS, 0), (RTP, NONE, 1), (RTP, NONE, 0), (CP, NONE, 0),
            (PTP, NONE, 0), (DROP, IP_CHECKSUM, 0)} <= verdicts


# --- the table bus -----------------------------------------------------------------------------

def test_table_bus():
    """Every word of the window written and read back: table words keep their defined bits,
    the others read 0; byte selects write only their bytes; ack comes in the cycle after the
    request (the bus helper's timeout is one cycle) and never ``err``."""
    dut = RxClassifier()
    rng = random.Random(5)
    masks = [word_mask(w) for w in range(TABLE_WORDS)]
    assert sum(m != 0 for m in masks) == 2 * (MCAST_ENTRIES + RTP_ENTRIES)
    assert {m for m in masks[1::2] if m} == {0x1FFFF}

    async def testbench(ctx):
        bus = AmaranthWishboneBus(ctx, dut.table, timeout=2)
        model = [0] * TABLE_WORDS
        for w in range(TABLE_WORDS):
            assert await bus.read(4 * w, 1) == [0]          # the memory starts empty
        for rnd in range(4):
            for w in rng.sample(range(TABLE_WORDS), TABLE_WORDS):
                value = rng.getrandbits(32) if rnd else 0xFFFFFFFF
                await bus.write(4 * w, [value])
                model[w] = value & masks[w]
            assert await bus.read(0, TABLE_WORDS) == model
        for _ in range(200):
            w = rng.randrange(TABLE_WORDS)
            bus.sel = rng.randrange(16)
            value = rng.getrandbits(32)
            await bus.write(4 * w, [value])
            lanes = sum(0xFF << (8 * b) for b in range(4) if bus.sel >> b & 1)
            model[w] = (model[w] & ~lanes | value & lanes) & masks[w]
            bus.sel = 0b1111
            w = rng.randrange(TABLE_WORDS)
            assert await bus.read(4 * w, 1) == [model[w]], w
        assert await bus.read(0, TABLE_WORDS) == model

    sim = Simulator(dut)
    sim.add_clock(1 / 125e6)
    sim.add_testbench(testbench)
    sim.run()


def test_table_layout_follows_register_map():
    """The classifier refuses a register map whose table entries it would decode wrongly."""
    def moved(reg):
        if reg.name != "RTP_MATCH_3":
            return reg
        return dataclasses.replace(reg, fields=tuple(
            dataclasses.replace(f, width=f.width - 1) if f.name == "PORT" else f
            for f in reg.fields))
    blocks = tuple(dataclasses.replace(b, registers=tuple(moved(r) for r in b.registers))
                   if b is MAC_BLOCK else b for b in STAGEBOX_MAP.blocks)
    with warnings.catch_warnings():
        # The refused object is never elaborated: let it go quietly.
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match="RTP_MATCH_3") as refused:
            RxClassifier(dataclasses.replace(STAGEBOX_MAP, blocks=blocks))
        del refused
        gc.collect()


def test_table_changes_between_frames():
    """New tables between frames apply to the next frame: the same frames with four random
    tables, one after the other."""
    rng = random.Random(11)
    probe = [random_config(rng) for _ in range(4)]
    segments = []
    for cfg in probe:
        frames = [(random_frame(rng, cfg, min_len=60), 0) for _ in range(40)]
        frames += [(udp(mac_str(addr), "239.7.7.7", 9), 0) for addr, _ in cfg.mcast]
        frames += [(udp(MC_OUT, ".".join(str(b) for b in ip.to_bytes(4, "big")), port), 0)
                   for ip, port, _ in cfg.rtp]
        segments.append((cfg, frames))
    # The table entries' own frames, once more with each of the other tables.
    for i in range(len(probe)):
        segments.append((probe[(i + 1) % len(probe)], segments[i][1][40:]))
    got = simulate(segments, "gmii", seed=3)
    check(segments, got)
    routes = [v for v, _ in got]
    assert {RTP, CP, DROP} <= {v[0] for v in routes}
    assert len({v for v in routes if v[0] == RTP}) >= 4


def test_table_reads_during_frames():
    """A master reading the table at full rate while frames pass: reads return the table, and
    verdicts are right for frames long enough for a scan slowed by the reads (others are not
    sent)."""
    rng = random.Random(21)
    cfg = random_config(rng)
    cfg.promiscuous = False
    frames = []
    while len(frames) < 150:
        frame = random_frame(rng, cfg, min_len=60)
        if reference(frame, 0, cfg) == reference(frame, 0, cfg, stall=MAX_STALL):
            frames.append((frame, 0))
    segments = [(cfg, frames)]
    got = simulate(segments, "gmii", seed=4, reader=True)
    check(segments, got)
    assert {RTP, CP, DROP, PTP} <= {v[0] for v, _ in got}


# --- random frames -----------------------------------------------------------------------------

def random_config(rng):
    cfg = base_config()
    cfg.mac_address = rng.choice([cfg.mac_address, rng.getrandbits(48) & ~(1 << 40)])
    cfg.promiscuous = rng.random() < 0.2
    cfg.all_multicast = rng.random() < 0.3
    cfg.ptp_l2 = rng.random() < 0.7
    cfg.mcast = [(rng.choice([mac(MC_IN), mac(MC_OUT), rng.getrandbits(48) | (1 << 40)]),
                  rng.random() < 0.6) for _ in range(MCAST_ENTRIES)]
    cfg.rtp = [(rng.choice([ip_int(RTP_A[0]), ip_int(RTP_B[0]), rng.getrandbits(32)]),
                rng.choice([5004, 5006, 319, rng.getrandbits(16)]), rng.random() < 0.7)
               for _ in range(RTP_ENTRIES)]
    return cfg


def random_frame(rng, cfg, min_len=1):
    """A random frame of `min_len` bytes or more (cut frames are padded with random bytes)."""
    dst = rng.choice([mac_str(cfg.mac_address), BCAST, MC_IN, MC_OUT, OTHER, PTP_MC, PTP_PDELAY,
                      L2_FWD, L2_PDELAY, mac_str(rng.choice(cfg.mcast)[0]),
                      mac_str(rng.getrandbits(48))])
    kind = rng.random()
    if kind < 0.1:
        frame = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 90)))
    elif kind < 0.2:
        frame = ptp_l2(dst, tag=rng.random() < 0.3)
    else:
        entry = rng.choice(cfg.rtp)
        dst_ip = rng.choice([".".join(str(b) for b in entry[0].to_bytes(4, "big")),
                             "224.0.1.129", "10.0.0.1"])
        dport = rng.choice([entry[1], 319, 320, rng.getrandbits(16)])
        ip = {}
        if rng.random() < 0.15:
            ip["flags"] = "MF"
        if rng.random() < 0.1:
            ip["frag"] = rng.randint(1, 8191)
        if rng.random() < 0.1:
            ip["proto"] = rng.choice([6, 1, 17 ^ 0x80])
        frame = udp(dst, dst_ip, dport, tag=rng.choice([None, None, None, "q", "ad", "qq"]),
                    options=rng.choice([0, 0, 0, rng.randint(1, 10)]),
                    payload=bytes(rng.randint(0, 8)), **ip)
        if rng.random() < 0.15:
            frame = flip(frame, rng.randrange(len(frame)), 1 << rng.randrange(8))
        if rng.random() < 0.15:
            frame = frame[:rng.randint(1, len(frame))]
    return frame + bytes(rng.getrandbits(8) for _ in range(min_len - len(frame)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_frames(seed):
    """Random frames; those without error are 60 bytes or more, as from a MAC."""
    rng = random.Random(seed)
    cfg = random_config(rng)
    frames = []
    for _ in range(450):
        error = int(rng.random() < 0.05)
        frames.append((random_frame(rng, cfg, min_len=1 if error else 60), error))
    segments = [(cfg, frames)]
    got = simulate(segments, ["gmii", "random", "random"][seed % 3], seed=seed)
    check(segments, got)
    expected = [reference(frame, error, cfg, cycles)
                for (frame, error), (_, cycles) in zip(frames, got, strict=True)]
    kinds = {v[0] for v in expected} | {v[1] for v in expected}
    assert {PTP, RTP, CP, DROP, MAC_ERROR, IP_CHECKSUM} <= kinds
    assert cfg.promiscuous or ADDRESS in kinds
