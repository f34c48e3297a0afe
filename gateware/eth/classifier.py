"""Receive classifier: decides, while a frame streams past, where it goes (PTP engine, RTP
receiver, control plane) or why it is dropped.

The classifier parses the headers byte by byte, as they arrive, and never stores the frame: it
keeps a position counter, the previous byte, a few flags and a capture of the fields the tables
match on. Constant addresses are matched a byte at a time into flags. The multicast and RTP
tables live in a small memory that the control plane writes over Wishbone; once a field is
captured, a scanner reads the table one entry per cycle and compares it with the capture, so
one 48-bit comparator serves all 16 entries.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import MAC_TABLES_BYTES, MAC_TABLES_OFFSET, STAGEBOX_MAP

from .. import wishbone
from .interface import RTP_STREAM_BITS, DropReason, RxRoute, classified_stream, rx_frame_stream

__all__ = ["RxClassifier", "LATENCY", "MCAST_SCAN_CYCLES", "RTP_SCAN_CYCLES", "MCAST_ENTRIES",
           "RTP_ENTRIES", "McastEntry", "RtpEntry", "TABLE_ADDR_WIDTH", "MCAST_TABLE_WORD",
           "RTP_TABLE_WORD",
           "ETHERTYPE_IPV4", "ETHERTYPE_PTP", "VLAN_TPIDS", "IP_PROTO_UDP", "PTP_UDP_PORTS",
           "PTP_IPV4_MACS", "PTP_L2_MACS", "BROADCAST_MAC", "ETH_HEADER_BYTES", "VLAN_TAG_BYTES"]

#: Cycles from a byte on ``sink`` to the same byte on ``source``.
LATENCY = 2
#: Entries of the multicast address table (filled by the control plane).
MCAST_ENTRIES = 8
#: Entries of the RTP stream table; an entry's index is the frame's ``rtp_stream``.
RTP_ENTRIES = 1 << RTP_STREAM_BITS
#: Cycles from the 6th byte (which starts the multicast scan) to the first ``last`` byte whose
#: verdict has the scan's result; one more per bus read of the table meanwhile.
MCAST_SCAN_CYCLES = MCAST_ENTRIES + 3
#: Cycles from the UDP destination port's low byte (which starts the RTP scan) to the first
#: ``last`` byte whose verdict has the scan's result; one more per bus read meanwhile.
RTP_SCAN_CYCLES = RTP_ENTRIES + 2

#: Word address bits of the ``table`` bus: a window of ``MAC_TABLES_BYTES``.
TABLE_ADDR_WIDTH = 6
#: Word of multicast entry 0 in the ``table`` window; entry i is at words 2i, 2i + 1.
MCAST_TABLE_WORD = 0
#: Word of RTP entry 0 in the ``table`` window; entry i is at words 32 + 2i, 33 + 2i.
RTP_TABLE_WORD = 32

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_PTP = 0x88F7
VLAN_TPIDS = (0x8100, 0x88A8)        # 802.1Q C-tag, 802.1ad S-tag
IP_PROTO_UDP = 17
PTP_UDP_PORTS = (319, 320)           # event, general
#: Destination MACs of PTP over UDP/IPv4 multicast: 224.0.1.129 (default domain), 224.0.0.107
#: (peer delay).
PTP_IPV4_MACS = (0x01005E000181, 0x01005E00006B)
#: Destination MACs of PTP over Ethernet (forwardable, peer delay).
PTP_L2_MACS = (0x011B19000000, 0x0180C200000E)
BROADCAST_MAC = 0xFFFFFFFFFFFF
ETH_HEADER_BYTES = 14                # destination, source, Ethertype
VLAN_TAG_BYTES = 4

#: A multicast table entry (register MAC_MCAST_i, two words): ``address`` (first byte on the
#: wire in bits 47:40) is accepted by the address filter while ``enable`` is set.
McastEntry = data.StructLayout({"address": 48, "enable": 1})
#: An RTP stream table entry (register MAC_RTP_MATCH_i, two words): UDP/IPv4 to ``ip`` (first
#: byte on the wire in bits 31:24) and ``port`` goes to the RTP receiver while ``enable`` is set.
RtpEntry = data.StructLayout({"ip": 32, "port": 16, "enable": 1})

# Both entry kinds are a 48-bit key and an enable bit: one memory row each, multicast entries
# in rows 0..7, RTP entries in rows 8..15. The first word of an entry holds key bits 31:0, the
# second key bits 47:32 and the enable bit.
_KEY_BITS = 48
_ENABLE_BIT = _KEY_BITS - 32         # in the second word
_ROWS = MCAST_ENTRIES + RTP_ENTRIES

# Frame offsets (after removing a VLAN tag) of the fields the classifier looks at.
_DA_BYTES = 6
_ETHERTYPE_LO = ETH_HEADER_BYTES - 1
_IP = ETH_HEADER_BYTES               # version / IHL
_IP_FRAG_HI = _IP + 6                # flags (MF in bit 5) and fragment offset 12:8
_IP_FRAG_LO = _IP + 7
_IP_PROTO = _IP + 9
_IP_DST = _IP + 16                   # 4 bytes
_POS_MAX = 127                       # saturates; the farthest field ends at 14 + 60 + 3 = 77


def _check_table_layout(regmap):
    """Raise ValueError unless `regmap` places the tables where the decoder expects them."""
    if MCAST_ENTRIES != RTP_ENTRIES or MCAST_ENTRIES != 8:
        raise ValueError("the table decoder expects 8 multicast and 8 RTP entries")
    if MAC_TABLES_BYTES != 4 << TABLE_ADDR_WIDTH:
        raise ValueError(f"the table window must be {4 << TABLE_ADDR_WIDTH} bytes")
    mac = regmap.block("MAC")
    layouts = (("MCAST", MCAST_TABLE_WORD, McastEntry, MCAST_ENTRIES),
               ("RTP_MATCH", RTP_TABLE_WORD, RtpEntry, RTP_ENTRIES))
    for name, word, layout, entries in layouts:
        for i in range(entries):
            reg = mac.register(f"{name}_{i}")
            fields = {f.name.lower(): (f.lsb, f.width) for f in reg.fields}
            expected = {n: (f.offset, f.width) for n, f in layout}
            if (reg.offset != MAC_TABLES_OFFSET + 4 * (word + 2 * i) or not reg.external
                    or fields != expected):
                raise ValueError(f"register map: MAC_{name}_{i} is not the classifier's "
                                 f"table entry ({layout} at word {word + 2 * i})")


def _equal_stages(m, name, a, b):
    """Terms whose AND is ``a == b`` two cycles after `a` and `b`: 2-bit compares, registered,
    then 4-input ANDs of those, registered (one LUT4 each; `b` may be one bit shorter than `a`,
    the last bit of `a` then joins as is). Left to itself, Yosys' wide-LUT mapping for Gowin
    spends about 86 LUT4 on a 48-bit compare."""
    parts = []
    for i in range(0, len(a), 2):
        part = Signal(name=f"{name}_eq{i // 2}")
        m.d.sync += part.eq(a[i:i + 2] == b[i:i + 2] if i + 2 <= len(b) else a[i:])
        parts.append(part)
    groups = []
    for i in range(0, len(parts), 4):
        group = Signal(name=f"{name}_and{i // 4}")
        m.d.sync += group.eq(Cat(parts[i:i + 4]).all())
        groups.append(group)
    return Cat(groups)


def _select(index, items):
    """``items[index]`` as a binary tree of 2:1 multiplexers on the bits of `index` (a shift
    by a variable amount, which ``word_select`` becomes, maps to a barrel shifter); `items` is
    padded by repeating its last element."""
    items = list(items)
    for bit in range(len(index)):
        if len(items) == 1:
            break
        if len(items) % 2:
            items.append(items[-1])
        items = [Mux(index[bit], items[i + 1], items[i]) for i in range(0, len(items), 2)]
    return items[0]


def _bytes_of(value, count):
    """`count` bytes of a value, the first byte on the wire (most significant) first."""
    return [value[(count - 1 - i) * 8:(count - i) * 8] for i in range(count)]


class RxClassifier(wiring.Component):
    """The receive classifier. One clock domain, ``sync``.

    Ports:

    ``sink`` (in, `rx_frame_stream`, always ready): frames from the destination MAC on, FCS
    stripped, at most one byte per cycle with any gaps; ``error`` and ``stamp`` are read on
    ``last``.
    ``source`` (out, `classified_stream`, always ready, registered): every ``sink`` transfer,
    unchanged, exactly `LATENCY` (2) cycles later (``valid`` included, so gaps are kept);
    ``verdict`` is added and valid on ``last``. No backpressure.
    ``mac_address`` (in, 48), ``promiscuous``, ``all_multicast``, ``ptp_l2`` (in, 1):
    configuration, quasi-static. A change while a frame passes may give that one frame a
    verdict mixing old and new settings; frames after it are judged on the new ones.
    ``table`` (in, `wishbone.Signature` (`TABLE_ADDR_WIDTH`), a classic slave): the multicast
    and RTP tables, 64 words (the integrator maps them at MAC offset ``MAC_TABLES_OFFSET``).
    Multicast entry i (`McastEntry`): word 2i holds address bits 31:0, word 2i + 1 bits 15:0
    address bits 47:32 and bit 16 ENABLE. RTP entry i (`RtpEntry`): word 32 + 2i holds the
    IPv4 address, word 33 + 2i bits 15:0 the UDP port and bit 16 ENABLE. Words 16..31 and
    48..63 read 0 and ignore writes; undefined bits read 0. Byte selects apply. ``ack`` comes
    in the cycle after the request (one wait state), ``err`` never. The table is a memory: it
    is 0 (all entries disabled) after configuration and a reset does not clear it.

    Counting: the verdict carries the drop reason; statistics count ``source`` transfers with
    ``last`` by ``route`` / ``reason``.

    Parsing (offsets from the destination MAC, 0-based):

    - One 802.1Q (0x8100) or 802.1ad (0x88A8) tag is skipped: the Ethertype is then read at
      16..17 and every later offset moves by 4. A second tag makes the frame non-IP (it can
      still go to the control plane).
    - IPv4 is Ethertype 0x0800 with version 4 in the first IP byte. Another version makes the
      frame non-IP. A frame that ends before the version byte is non-IP.
    - The IPv4 header checksum is verified over IHL * 4 bytes (RFC 1071: the one's complement
      sum of the header's 16-bit words must be 0xFFFF). The header is bad when the sum is wrong,
      IHL < 5, or the frame ends before the header does. The total length is not checked
      (Ethernet padding follows short datagrams; a frame shorter than the total length is not
      an IP checksum error).
    - A fragment (MF set or fragment offset not 0) is never PTP or RTP.
    - UDP is protocol 17; the destination port is read at IP + IHL * 4 + 2..3. A frame that ends
      before it is not UDP for routing. UDP length and checksum are not checked.

    Table scans: the destination MAC is captured and, once its 6th byte is taken, the 8
    multicast entries are read and compared with it, one per cycle (the own address is
    compared at the same time). For IPv4 with a complete header the destination IP and UDP
    port are captured and, once the port's low byte is taken, the 8 RTP entries are scanned the
    same way. The multicast result is in the verdict of a ``last`` byte taken
    `MCAST_SCAN_CYCLES` (11) or more cycles after the 6th byte, the RTP result `RTP_SCAN_CYCLES`
    (10) or more cycles after the port's low byte. Bus reads share the memory's read port and
    win: each delays a running scan by a cycle (the bus reads at most every other cycle, so by
    8 cycles at most).

    Cycle budget at one byte per cycle (GMII; slower PHYs give more cycles per byte): the
    multicast result is there for a last byte at offset 16 or later (24 with bus reads), long
    before the destination IP (offset 30 or later) reuses the capture. The RTP scan starts at
    offset 37 (IHL 5; 41 tagged) and its result is there for a last byte at 47 (51 tagged) or
    later, 55 (59) with bus reads: every frame of 60 bytes or more whose IPv4 header has no
    options. With options, every UDP datagram with 6 payload bytes or more (14 with bus reads
    at full rate). Rules 2 and 5 give the verdict of frames that end sooner.

    Address classes of the destination MAC (all need the 6 bytes present):
    own (= ``mac_address``), broadcast, multicast (I/G bit set; broadcast included), table hit
    (equal to the ``address`` of an entry with ``enable``; unicast addresses work too).
    The address filter passes own, broadcast, table hits, any multicast with
    ``all_multicast``, and everything (even frames shorter than 6 bytes) with ``promiscuous``.

    Verdict, first rule that applies:

    1. ``error`` on ``last``: DROP / MAC_ERROR.
    2. The destination MAC is complete but the frame ends before its multicast result is there
       (a runt, which a MAC flags): DROP / ADDRESS.
    3. IPv4 with a bad header (see above), when the destination passes the address filter or is
       any multicast (the PTP and RTP rules accept multicasts the filter may not): DROP /
       IP_CHECKSUM. Bad IPv4 unicast to another station: DROP / ADDRESS (rule 8).
    4. PTP: good IPv4 header, not a fragment, UDP, destination port 319 or 320, destination MAC
       own, `PTP_IPV4_MACS` or passing the filter. Or, with ``ptp_l2``, Ethertype 0x88F7 to
       `PTP_L2_MACS` or the own MAC (other 0x88F7 frames fall through to rule 7).
    5. A frame rule 6 has to consider (good IPv4 header, not a fragment, UDP, destination MAC
       own or multicast) that ends before its RTP result is there: DROP / ADDRESS.
    6. RTP: the same frames, when (destination IP, destination port) equals an enabled RTP
       entry: RTP, ``rtp_stream`` the lowest such index. PTP wins over an RTP entry on port
       319/320.
    7. Passing the address filter: CP.
    8. DROP / ADDRESS.

    ``reason`` is NONE and ``rtp_stream`` is 0 unless stated.

    Area (Yosys ``synth_gowin``): about 370 LUT4 and ALU, 410 DFF and the 16 x 49-bit table
    in 13 RAM16SDP4 (LUTRAM).

    Hazards: bytes are never held back or reordered, so a consumer must buffer the frame until
    the verdict on ``last``. A frame without ``last`` is ended by the next ``first`` (its bytes
    get no verdict, its scans are abandoned; the next frame is parsed normally). A scan reads
    each entry once, in one cycle, at a time that depends on the frame: an entry the bus writes
    while a frame's scan runs may or may not apply to that frame, and an entry whose two words
    are being rewritten may be seen half old, half new (clear ENABLE first, set it last).
    """

    def __init__(self, regmap=STAGEBOX_MAP):
        _check_table_layout(regmap)
        super().__init__({
            "sink": In(rx_frame_stream()),
            "source": Out(classified_stream()),
            "mac_address": In(48),
            "promiscuous": In(1),
            "all_multicast": In(1),
            "ptp_l2": In(1),
            "table": In(wishbone.Signature(TABLE_ADDR_WIDTH)),
        })

    def elaborate(self, platform):
        m = Module()
        sink, source = self.sink, self.source

        # Stage 1 holds the byte just taken (loaded only on valid, so its data is also the
        # previous byte while the next one is parsed); stage 2 is the output register, and the
        # verdict is computed from the parser state that includes the last byte.
        s1_valid = Signal()
        s1 = Signal.like(sink.payload)
        m.d.sync += s1_valid.eq(sink.valid)
        with m.If(sink.valid):
            m.d.sync += s1.eq(sink.payload)

        valid = sink.valid
        byte = sink.payload.data
        first = sink.payload.first
        prev = s1.data
        word = Cat(byte, prev)               # the 16-bit field ending with this byte

        pos = Signal(range(_POS_MAX + 1), init=_POS_MAX)
        p = Signal.like(pos)
        m.d.comb += p.eq(Mux(first, 0, pos))

        def and_flag(name, match, at):
            """A flag that starts at 1 on ``first`` and stays 1 while every byte at ``at``
            matches."""
            flag = Signal(name=name)
            with m.If(valid & first):
                m.d.sync += flag.eq(1)
            with m.If(valid & at):
                m.d.sync += flag.eq((flag | first) & match)
            return flag

        # -- destination MAC ----------------------------------------------------------------
        # Range checks by decoding bits: a "<" against a constant maps to a carry chain.
        in_da = (p[3:] == 0) & ~(p[2] & p[1])               # p < 6
        da_last = valid & in_da & (p[:3] == _DA_BYTES - 1)
        da_index = p[:3]

        def da_flag(name, address):
            expected = _select(da_index, _bytes_of(address, _DA_BYTES))
            return and_flag(name, byte == expected, in_da)

        da_bcast = da_flag("da_bcast", Const(BROADCAST_MAC, 48))
        da_ptp_ip = [da_flag(f"da_ptp_ip{i}", Const(a, 48)) for i, a in enumerate(PTP_IPV4_MACS)]
        da_ptp_l2 = [da_flag(f"da_ptp_l2{i}", Const(a, 48)) for i, a in enumerate(PTP_L2_MACS)]
        da_group = Signal()                  # I/G bit
        da_seen = Signal()
        with m.If(valid & first):
            m.d.sync += da_group.eq(byte[0])

        # -- Ethertype, VLAN tag, IPv4 header ---------------------------------------------------
        tagged = Signal()
        l3 = Signal()                        # past the Ethertype: p >= 14
        et_ipv4 = Signal()
        et_ptp = Signal()
        ipv4 = Signal()                      # Ethertype 0x0800 and version 4
        ihl = Signal(4)
        ihl_ok = Signal()
        fragment = Signal()
        udp = Signal()
        hdr_done = Signal()                  # the last header byte was seen
        hdr_ok = Signal()                    # ... and the header checksum verified
        csum = Signal(16)
        csum_carry = Signal()                # end-around carry, added with the next word
        csum_next = Signal(17)
        m.d.comb += csum_next.eq(csum + word + csum_carry)

        # The header ends at 14 + 4 * IHL - 1 = 4 * (IHL + 3) + 1; the UDP destination port
        # follows 3..4 bytes later.
        hdr_last = l3 & ipv4 & ihl_ok & (p[:2] == 1) & (p[2:] == ihl + 3)
        after_hdr = Signal(4)                # hdr_last, delayed by 1..4 bytes
        with m.If(valid):
            m.d.sync += after_hdr.eq(Mux(first, 0, Cat(hdr_last, after_hdr[:3])))
        dport_hi = after_hdr[2] & ~first      # (a frame cut short leaves bits behind)
        dport_lo = after_hdr[3] & ~first
        assert _IP_DST == 30
        in_dst_ip = ((p[2:] == 7) & p[1]) | ((p[2:] == 8) & ~p[1])     # 30 <= p < 34

        with m.If(valid):
            m.d.sync += pos.eq(Mux(p == _POS_MAX, _POS_MAX, p + 1))
            with m.If(first):
                m.d.sync += [tagged.eq(0), l3.eq(0), et_ipv4.eq(0), et_ptp.eq(0), ipv4.eq(0),
                             fragment.eq(0), udp.eq(0), hdr_done.eq(0), hdr_ok.eq(0),
                             csum.eq(0), csum_carry.eq(0), da_seen.eq(0)]
            with m.If(p == _DA_BYTES - 1):
                m.d.sync += da_seen.eq(1)
            with m.If(p == _ETHERTYPE_LO):
                with m.If(((word == VLAN_TPIDS[0]) | (word == VLAN_TPIDS[1])) & ~tagged):
                    # Parse the tag's last two bytes (the real Ethertype) as offsets 12..13.
                    m.d.sync += [tagged.eq(1), pos.eq(_ETHERTYPE_LO - VLAN_TAG_BYTES + 1)]
                with m.Else():
                    m.d.sync += [l3.eq(1), et_ipv4.eq(word == ETHERTYPE_IPV4),
                                 et_ptp.eq(word == ETHERTYPE_PTP)]
            with m.If(p == _IP):
                m.d.sync += [ipv4.eq(et_ipv4 & (byte[4:] == 4)), ihl.eq(byte[:4]),
                             ihl_ok.eq(byte[:4] >= 5)]
            with m.If(p == _IP_FRAG_HI):
                m.d.sync += fragment.eq(byte[:6] != 0)
            with m.If(p == _IP_FRAG_LO):
                m.d.sync += fragment.eq(fragment | (byte != 0))
            with m.If(p == _IP_PROTO):
                m.d.sync += udp.eq(byte == IP_PROTO_UDP)
            with m.If(l3 & p[0] & ~hdr_done):
                m.d.sync += Cat(csum, csum_carry).eq(csum_next)
            with m.If(hdr_last):
                # The one's complement sum, the last word included, must be 0xFFFF: checked
                # with that word's addition, so that the verdict logic stays small.
                m.d.sync += [hdr_done.eq(1), hdr_ok.eq((csum_next[1:16] == 0x7FFF)
                                                       & (csum_next[0] != csum_next[16]))]

        # The scanners' search key, in the entries' bit order: the destination MAC shifts in
        # through both parts, then the destination IP replaces the low part and the UDP port
        # the high part (the multicast scan ended long before: see the cycle budget).
        key_lo = Signal(32)
        key_hi = Signal(_KEY_BITS - 32)
        key = Cat(key_lo, key_hi)
        with m.If(valid & (in_da | in_dst_ip)):
            m.d.sync += key_lo.eq(Cat(byte, key_lo[:24]))
        with m.If(valid & (in_da | dport_hi | dport_lo)):
            m.d.sync += key_hi.eq(Cat(Mux(in_da, key_lo[24:], byte), key_hi[:8]))

        # -- tables ----------------------------------------------------------------------------
        # Row r holds entry bits 31:0 in `lo`, 47:32 in `hi`, the enable in `en`: the split
        # follows the bus words, so a byte select is a memory write enable. The read ports are
        # asynchronous (LUTRAM reads are): the compare's first stage registers them.
        m.submodules.lo_mem = lo_mem = Memory(shape=32, depth=_ROWS, init=[])
        m.submodules.hi_mem = hi_mem = Memory(shape=16, depth=_ROWS, init=[])
        m.submodules.en_mem = en_mem = Memory(shape=1, depth=_ROWS, init=[])
        lo_w, hi_w, en_w = (lo_mem.write_port(granularity=8), hi_mem.write_port(granularity=8),
                            en_mem.write_port())
        lo_r, hi_r, en_r = (mem.read_port(domain="comb") for mem in (lo_mem, hi_mem, en_mem))

        bus = self.table
        bus_row = Cat(bus.adr[1:4], bus.adr[5])
        bus_unused = bus.adr[4]              # words 16..31, 48..63
        bus_second = bus.adr[0]              # the entry's second word
        request = bus.cyc & bus.stb & ~bus.ack
        bus_read = request & ~bus.we
        write = request & bus.we & ~bus_unused
        m.d.sync += bus.ack.eq(request)
        m.d.comb += [
            lo_w.addr.eq(bus_row), hi_w.addr.eq(bus_row), en_w.addr.eq(bus_row),
            lo_w.data.eq(bus.dat_w), hi_w.data.eq(bus.dat_w[:16]),
            en_w.data.eq(bus.dat_w[_ENABLE_BIT]),
            lo_w.en.eq(bus.sel & Mux(write & ~bus_second, 0b1111, 0)),
            hi_w.en.eq(bus.sel[:2] & Mux(write & bus_second, 0b11, 0)),
            en_w.en.eq(bus.sel[_ENABLE_BIT // 8] & write & bus_second),
        ]
        with m.If(bus_read):
            m.d.sync += bus.dat_r.eq(Mux(bus_unused, 0, Mux(bus_second,
                                                            Cat(hi_r.data, en_r.data),
                                                            lo_r.data)))

        # Scanner: `scan_row` is the next row to read; the compare takes two more cycles.
        scan_run = Signal()
        scan_row = Signal(range(_ROWS))
        scan_read = scan_run & ~bus_read
        read_row = Mux(bus_read, bus_row, scan_row)
        m.d.comb += [lo_r.addr.eq(read_row), hi_r.addr.eq(read_row), en_r.addr.eq(read_row)]
        with m.If(scan_read):
            m.d.sync += scan_row.eq(scan_row + 1)
            with m.If(scan_row[:3] == MCAST_ENTRIES - 1):
                m.d.sync += scan_run.eq(0)
        cmp_valid = Signal(2)                # per compare stage
        cmp_row = [Signal.like(scan_row, name=f"cmp_row{i}") for i in range(2)]
        m.d.sync += [cmp_valid.eq(Cat(scan_read, cmp_valid[0])),
                     cmp_row[0].eq(scan_row), cmp_row[1].eq(cmp_row[0])]
        hit = _equal_stages(m, "key", Cat(lo_r.data, hi_r.data, en_r.data), key).all()
        # The own address is compared the same way, all the time; the value is taken when the
        # multicast scan ends (the key holds the destination MAC from the 6th byte until then).
        own = _equal_stages(m, "own", key, self.mac_address).all()

        cmp_last = cmp_row[1][:3] == MCAST_ENTRIES - 1
        da_own = Signal()
        mcast_hit = Signal()
        mcast_done = Signal()
        rtp_hit = Signal()
        rtp_done = Signal()
        rtp_stream = Signal(RTP_STREAM_BITS)
        with m.If(cmp_valid[1]):
            with m.If(~cmp_row[1][3]):
                m.d.sync += [mcast_hit.eq(mcast_hit | hit), mcast_done.eq(cmp_last),
                             da_own.eq(own)]
            with m.Else():
                with m.If(hit & ~rtp_hit):
                    m.d.sync += [rtp_hit.eq(1), rtp_stream.eq(cmp_row[1][:3])]
                m.d.sync += rtp_done.eq(cmp_last)

        with m.If(da_last):
            m.d.sync += [scan_run.eq(1), scan_row.eq(0)]
        with m.If(valid & dport_lo):
            m.d.sync += [scan_run.eq(1), scan_row.eq(MCAST_ENTRIES)]
        with m.If(valid & first):
            # A frame cut short leaves its scan behind: abandon it, results and all.
            m.d.sync += [scan_run.eq(0), cmp_valid.eq(0), da_own.eq(0), mcast_hit.eq(0),
                         mcast_done.eq(0), rtp_hit.eq(0), rtp_done.eq(0)]

        # -- verdict, from the state that includes the byte in stage 1 -------------------------
        # What the destination address allows is registered once more: it is final one cycle
        # after the multicast scan (rule 2 waits for that), and the verdict logic stays small.
        da_ready = Signal()                  # the multicast scan ended a cycle ago or earlier
        addr_pass = Signal()                 # the filter, but for `promiscuous`
        addr_ptp_ip = Signal()
        addr_ptp_l2 = Signal()
        addr_rtp = Signal()
        addr_now = da_own | da_bcast | mcast_hit | (da_group & self.all_multicast)
        m.d.sync += [
            addr_pass.eq(addr_now),
            addr_ptp_ip.eq(self.promiscuous | addr_now | Cat(da_ptp_ip).any()),
            addr_ptp_l2.eq(self.ptp_l2 & (da_own | Cat(da_ptp_l2).any())),
            addr_rtp.eq(da_own | da_group),
        ]
        with m.If(mcast_done):
            m.d.sync += da_ready.eq(1)
        with m.If(valid & first):
            m.d.sync += da_ready.eq(0)

        filter_pass = self.promiscuous | (da_seen & addr_pass)
        ip_bad = ipv4 & ~hdr_ok
        # Decided when the UDP port's low byte is taken, from flags that settled long before.
        ptp_ip = Signal()
        rtp_candidate = Signal()
        with m.If(valid & first):
            m.d.sync += [ptp_ip.eq(0), rtp_candidate.eq(0)]
        with m.If(valid & dport_lo):
            udp_ok = hdr_ok & ~fragment & udp
            ptp_port = (word == PTP_UDP_PORTS[0]) | (word == PTP_UDP_PORTS[1])
            m.d.sync += [ptp_ip.eq(udp_ok & ptp_port & addr_ptp_ip),
                         rtp_candidate.eq(udp_ok & addr_rtp)]
        ptp_eth = et_ptp & addr_ptp_l2

        verdict = Signal.like(source.payload.verdict)
        with m.If(s1.error):
            m.d.comb += [verdict.route.eq(RxRoute.DROP), verdict.reason.eq(DropReason.MAC_ERROR)]
        with m.Elif(da_seen & ~da_ready):
            m.d.comb += [verdict.route.eq(RxRoute.DROP), verdict.reason.eq(DropReason.ADDRESS)]
        with m.Elif(ip_bad & (filter_pass | (da_seen & da_group))):
            m.d.comb += [verdict.route.eq(RxRoute.DROP),
                         verdict.reason.eq(DropReason.IP_CHECKSUM)]
        with m.Elif(ptp_ip | ptp_eth):
            m.d.comb += verdict.route.eq(RxRoute.PTP)
        with m.Elif(rtp_candidate & ~rtp_done):
            m.d.comb += [verdict.route.eq(RxRoute.DROP), verdict.reason.eq(DropReason.ADDRESS)]
        with m.Elif(rtp_candidate & rtp_hit):
            m.d.comb += [verdict.route.eq(RxRoute.RTP), verdict.rtp_stream.eq(rtp_stream)]
        with m.Elif(filter_pass):
            m.d.comb += verdict.route.eq(RxRoute.CP)
        with m.Else():
            m.d.comb += [verdict.route.eq(RxRoute.DROP), verdict.reason.eq(DropReason.ADDRESS)]

        m.d.sync += source.valid.eq(s1_valid)
        with m.If(s1_valid):
            m.d.sync += [
                source.payload.data.eq(s1.data),
                source.payload.first.eq(s1.first),
                source.payload.last.eq(s1.last),
                source.payload.error.eq(s1.error),
                source.payload.stamp.eq(s1.stamp),
                source.payload.verdict.eq(verdict),
            ]
        return m
