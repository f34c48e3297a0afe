"""The MAC subsystem inside the core (gateware/eth/mac.py, gateware/core.py) in amaranth.sim:
frames on the PHY pins in, out of the PTP and RTP ports and the control-plane buffers (read
over the register bus); frames from the control plane and the PTP source out on the pins; the
counters, interrupts and timestamps that go with them. The system clock and the PHY clocks
are unrelated (a few tens of ppm apart), as on a board.

Independent references: scapy builds the frames, zlib.crc32 the FCS; the expected routes are
written from the register settings each test makes.
"""

import random
import struct
import zlib

from amaranth.hdl import Cat
from amaranth.sim import Simulator
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from stagebox.driver.device import Device
from stagebox.gateware.config import CoreConfig
from stagebox.gateware.core import StageboxCore
from stagebox.gateware.eth.interface import FCS_BYTES, MIN_FRAME, PREAMBLE, PREAMBLE_BYTES, SFD
from stagebox.gateware.eth.mac import PHY_PERIOD_PS
from stagebox.gateware.ptp_time import ptp_time_to_ns
from stagebox.regmap.map import DEFAULT_MAC_ADDRESS, IRQ_SOURCES, STAGEBOX_MAP
from stagebox.testing.amaranth_sim import AmaranthWishboneBus

SYS_PS = 8_000
OWN_MAC = ":".join(f"{b:02x}" for b in DEFAULT_MAC_ADDRESS.to_bytes(6, "big"))
PEER_MAC = "02:00:00:00:00:99"
IRQ = {f.name: 1 << f.lsb for f in IRQ_SOURCES}
PKTBUF_RX = STAGEBOX_MAP.block("PKTBUF").base + STAGEBOX_MAP.block("PKTBUF").window("RX").offset
PKTBUF_TX = STAGEBOX_MAP.block("PKTBUF").base + STAGEBOX_MAP.block("PKTBUF").window("TX").offset
MIN_DATA = MIN_FRAME - FCS_BYTES
WIRE_PREAMBLE = bytes([PREAMBLE] * PREAMBLE_BYTES + [SFD])
# PHY clocks a little off nominal, in opposite directions (ppm).
RX_PPM, TX_PPM = +45, -35


def with_fcs(frame):
    return frame + struct.pack("<I", zlib.crc32(frame))


def ptp_frame(seq, port=319):
    """A PTP Sync (two-step flag) to 224.0.1.129 on `port`."""
    body = bytes([0x00, 0x02]) + struct.pack(">H", 44) + bytes(4) + bytes(8) + bytes(4)
    body += bytes(10) + struct.pack(">H", seq) + bytes([0, 0]) + bytes(10)
    return bytes(Ether(dst="01:00:5e:00:01:81", src=PEER_MAC) / IP(dst="224.0.1.129", ttl=1)
                 / UDP(sport=port, dport=port) / Raw(body))


def rtp_frame(dst_ip, dport, seq):
    group = [int(x) for x in dst_ip.split(".")]
    mac = f"01:00:5e:{group[1] & 0x7F:02x}:{group[2]:02x}:{group[3]:02x}"
    rtp = bytes([0x80, 97]) + struct.pack(">HII", seq, 48 * seq, 0x1234) + bytes(288)
    return bytes(Ether(dst=mac, src=PEER_MAC) / IP(src="192.168.1.9", dst=dst_ip)
                 / UDP(sport=5004, dport=dport) / Raw(rtp))


def cp_udp(dst_mac, payload=b"hello control plane", chksum=None):
    ip = IP(src="192.168.1.9", dst="192.168.1.10")
    if chksum is not None:
        ip.chksum = chksum
    return bytes(Ether(dst=dst_mac, src=PEER_MAC) / ip / UDP(sport=40000, dport=80)
                 / Raw(payload))


def arp_request():
    return bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC)
                 / ARP(psrc="192.168.1.9", pdst="192.168.1.10"))


class Wire:
    """The PHY side of the core for amaranth.sim: frames queued on the receive pins at chosen
    PHY clock cycles; frames captured on the transmit pins with the cycle of their SFD."""

    def __init__(self, core, phy):
        self.core, self.phy = core, phy
        self.rx_dom, self.tx_dom = core.mac.rx_domain, core.mac.tx_domain
        self.queue = []          # (bytes from the preamble on, idle bytes before, RX_ER byte)
        self.rx_cycle = 0        # receive clock cycles so far
        self.rx_sfd_cycles = []  # cycle at which each frame's SFD (last symbol) was driven
        self.sent = []           # (frame without preamble, cycle of the SFD's first symbol)
        self.tx_cycle = 0

    def receive(self, frame, *, gap=12):
        """Queue `frame` (Ethernet header on, without FCS: it is padded to the minimum and the
        FCS added, as a sender does) after `gap` idle byte times."""
        self.queue.append((WIRE_PREAMBLE + with_fcs(frame.ljust(MIN_DATA, b"\0")), gap, None))

    def receive_raw(self, wire, *, gap=12, er_at=None):
        """Queue raw bytes (preamble included) as one burst, RX_ER high at byte `er_at`."""
        self.queue.append((wire, gap, er_at))

    def symbols(self, wire):
        if self.phy in ("gmii", "rgmii"):
            return [(b, b == SFD and i == len(WIRE_PREAMBLE) - 1) for i, b in enumerate(wire)]
        out = []
        for i, byte in enumerate(wire):
            for k in range(4):
                out.append(((byte >> (2 * k)) & 3, i == len(WIRE_PREAMBLE) - 1 and k == 3))
        return out

    async def rx_driver(self, ctx):
        core = self.core
        # RGMII on the SDR side: RX_CTL is dv at both edges (no error), as the board delivers.
        if self.phy == "rgmii":
            dv = Cat(core.rx_ctl_rise, core.rx_ctl_fall)
        else:
            dv = core.crs_dv if self.phy == "rmii" else core.rx_dv
        per_byte = 4 if self.phy == "rmii" else 1
        while True:
            if not self.queue:
                await ctx.tick(self.rx_dom)
                self.rx_cycle += 1
                continue
            wire, gap, er_at = self.queue[0]
            ctx.set(dv, 0)
            for _ in range(gap * per_byte):
                await ctx.tick(self.rx_dom)
                self.rx_cycle += 1
            for k, (symbol, is_sfd) in enumerate(self.symbols(wire)):
                ctx.set(core.rxd, symbol)
                ctx.set(dv, (1 << len(dv)) - 1)
                if self.phy != "rgmii":
                    ctx.set(core.rx_er, er_at is not None and k // per_byte == er_at)
                await ctx.tick(self.rx_dom)
                if is_sfd:
                    self.rx_sfd_cycles.append(self.rx_cycle)
                self.rx_cycle += 1
            ctx.set(dv, 0)
            ctx.set(core.rxd, 0)
            if self.phy != "rgmii":
                ctx.set(core.rx_er, 0)
            self.queue.pop(0)       # only now: "queue empty" means the wire has gone quiet

    async def tx_monitor(self, ctx):
        core = self.core
        current, start = None, None
        bits = []
        tx_en = core.tx_ctl_rise if self.phy == "rgmii" else core.tx_en
        per_byte = 4 if self.phy == "rmii" else 1
        async for _, _, en, txd in ctx.tick(self.tx_dom).sample(tx_en, core.txd):
            if en:
                if current is None:
                    current, start, bits = bytearray(), self.tx_cycle, []
                if self.phy != "rmii":
                    current.append(txd)
                else:
                    bits.append(txd)
                    if len(bits) == 4:
                        current.append(sum(d << (2 * k) for k, d in enumerate(bits)))
                        bits = []
            elif current is not None:
                sfd_at = start + current.index(SFD) * per_byte
                self.sent.append((bytes(current), sfd_at))
                current = None
            self.tx_cycle += 1


def simulate(phy, testbench, *, collect=True):
    """Run `testbench(ctx, core, dev, wire, ports)` against a core with `phy`; `ports` holds
    what the PTP and RTP ports delivered (ready always high when `collect`)."""
    core = StageboxCore(CoreConfig(spi_bridge=False, phy=phy, sys_clk_hz=10**12 // SYS_PS))
    wire = Wire(core, phy)
    ports = {"ptp": [], "rtp": [], "ptp_event_stamps": [], "ptp_event_queue": []}
    sim = Simulator(core)
    sim.add_clock(SYS_PS * 1e-12)
    nominal = PHY_PERIOD_PS[phy] * 1e-12
    if wire.rx_dom == wire.tx_dom:
        sim.add_clock(nominal * (1 + RX_PPM * 1e-6), domain=wire.rx_dom)
    else:
        sim.add_clock(nominal * (1 + RX_PPM * 1e-6), domain=wire.rx_dom)
        sim.add_clock(nominal * (1 + TX_PPM * 1e-6), domain=wire.tx_dom)
    sim.add_testbench(wire.rx_driver, background=True)
    sim.add_testbench(wire.tx_monitor, background=True)

    def collector(name):
        async def run(ctx):
            stream = getattr(core.mac, f"{name}_rx")
            ctx.set(stream.ready, collect)
            frame = bytearray()
            async for _, _, valid, payload in ctx.tick().sample(stream.valid, stream.payload):
                if valid and collect:
                    frame.append(payload.data)
                    if payload.last:
                        ports[name].append((bytes(frame), ptp_time_to_ns(payload.stamp),
                                            payload.rtp_stream))
                        frame = bytearray()
        return run

    async def stamps(ctx):
        stamp = core.mac.ptp_event_stamp
        async for _, _, valid, tag, time in ctx.tick().sample(stamp.valid, stamp.tag,
                                                               stamp.time):
            if valid:
                ports["ptp_event_stamps"].append((tag, ptp_time_to_ns(time)))

    async def feeder(ctx):
        """Offers the frames queued in ports["ptp_event_queue"] on the PTP event source,
        gapless, asking for stamps with the queued tag."""
        tx = core.mac.ptp_event_tx
        while True:
            if not ports["ptp_event_queue"]:
                await ctx.tick()
                continue
            frame, tag = ports["ptp_event_queue"].pop(0)
            for i, byte in enumerate(frame):
                ctx.set(tx.valid, 1)
                ctx.set(tx.payload, {"data": byte, "first": i == 0, "last": i == len(frame) - 1,
                                     "stamp": 1, "tag": tag})
                while not (await ctx.tick().sample(tx.ready))[2]:   # taken at this edge?
                    pass
            ctx.set(tx.valid, 0)

    sim.add_testbench(feeder, background=True)
    sim.add_testbench(collector("ptp"), background=True)
    sim.add_testbench(collector("rtp"), background=True)
    sim.add_testbench(stamps, background=True)

    async def bench(ctx):
        await testbench(ctx, core, Device(AmaranthWishboneBus(ctx, core.bus)), wire, ports)

    sim.add_testbench(bench)
    sim.run()


async def wait_for(ctx, predicate, limit=20_000):
    for _ in range(limit):
        if predicate():
            return
        await ctx.tick()
    raise TimeoutError("condition not reached")


async def read_cp_frame(dev):
    """The oldest control-plane RX frame: (bytes, stamp in ns), popped."""
    status = await dev.read("MAC_CP_RX_STATUS")
    assert status & 0xFF, "no frame waiting"
    slot, length = (status >> 8) & 0xFF, status >> 16
    slot_bytes = 1 << await dev.read_field("MAC_CP_GEOMETRY", "SLOT_SHIFT")
    words = await dev.bus.read(PKTBUF_RX + slot * slot_bytes, (length + 3) // 4)
    stamp = await dev.read("MAC_CP_RX_STAMP")
    await dev.write("MAC_CP_RX_POP", 1)
    data = b"".join(struct.pack("<I", w) for w in words)[:length]
    return data, (stamp >> 32) * 10**9 + (stamp & 0x3FFF_FFFF)


def rtp_entry(ip, port):
    return int.from_bytes(bytes(int(x) for x in ip.split(".")), "big") | port << 32 | 1 << 48


def test_receive_routes_every_kind_of_frame():
    sap_mac = 0x01005E7FFFFF                   # 239.255.255.255, SAP announcements
    ptp1, ptp2 = ptp_frame(1), ptp_frame(2, port=320)
    rtp_ok, rtp_other = rtp_frame("239.1.2.3", 5004, 7), rtp_frame("239.1.2.3", 5006, 8)
    sap = bytes(Ether(dst="01:00:5e:7f:ff:ff", src=PEER_MAC)
                / IP(src="192.168.1.9", dst="239.255.255.255") / UDP(sport=9875, dport=9875)
                / Raw(b"v=0\r\n"))
    unicast, arp = cp_udp(OWN_MAC), arp_request()
    elsewhere = cp_udp(PEER_MAC)
    bad_checksum = cp_udp(OWN_MAC, chksum=0x1234)
    bad_fcs = WIRE_PREAMBLE + cp_udp(OWN_MAC) + b"\xde\xad\xbe\xef"
    short = WIRE_PREAMBLE + with_fcs(arp[:20])   # a runt: 24 bytes with FCS

    async def testbench(ctx, core, dev, wire, ports):
        await dev.write("MAC_RTP_MATCH_3", rtp_entry("239.1.2.3", 5004))
        await dev.write("MAC_MCAST_5", sap_mac | 1 << 48)
        assert await dev.read("MAC_RTP_MATCH_3") == rtp_entry("239.1.2.3", 5004)
        await dev.write("IRQ_ENABLE", IRQ["CP_RX"] | IRQ["MAC_RX_DROP"])
        for frame in (ptp1, rtp_ok, rtp_other, sap, unicast, elsewhere, arp, bad_checksum):
            wire.receive(frame)
        wire.receive_raw(bad_fcs)
        wire.receive_raw(short)
        wire.receive(ptp2, gap=1000)          # a known distance from ptp1, for the stamps
        await wait_for(ctx, lambda: len(ports["ptp"]) == 2 and not wire.queue, 40_000)
        await ctx.tick().repeat(200)

        assert [f for f, _, _ in ports["ptp"]] == [ptp1, ptp2]
        assert [(f, s) for f, _, s in ports["rtp"]] == [(rtp_ok, 3)]
        cp = []
        while await dev.read_field("MAC_CP_RX_STATUS", "COUNT"):
            cp.append(await read_cp_frame(dev))
        # Frames shorter than 60 bytes arrive padded, as the MAC received them.
        assert [f for f, _ in cp] == [f.ljust(MIN_DATA, b"\0") for f in (sap, unicast, arp)]
        expected = {
            "RX_FRAMES": 9, "RX_CRC_ERRORS": 1, "RX_RUNTS": 1, "RX_FILTERED": 2,
            "RX_IP_CHECKSUM_ERRORS": 1, "RX_PTP_FRAMES": 2, "RX_RTP_FRAMES": 1,
            "RX_CP_FRAMES": 3, "RX_CP_OVERFLOWS": 0, "RX_PREAMBLE_ERRORS": 0,
        }
        for name, value in expected.items():
            assert await dev.read(f"MAC_{name}") == value, name
        pending = await dev.read("IRQ_PENDING")
        assert pending & IRQ["CP_RX"] and pending & IRQ["MAC_RX_DROP"]
        assert ctx.get(core.irq)

        # Stamps: ptp2's SFD came a known number of receive clock cycles after ptp1's.
        (_, s1, _), (_, s2, _) = ports["ptp"]
        c1, c2 = wire.rx_sfd_cycles[0], wire.rx_sfd_cycles[-1]
        true_ns = (c2 - c1) * PHY_PERIOD_PS["gmii"] * (1 + RX_PPM * 1e-6) / 1000
        assert abs((s2 - s1) - true_ns) <= PHY_PERIOD_PS["gmii"] / 1000
        # Control-plane stamps are in SFD order too, and after ptp1's.
        stamps = [s for _, s in cp]
        assert s1 < stamps[0] < stamps[1] < stamps[2] < s2

    simulate("gmii", testbench)


def test_rx_latency_calibration_shifts_stamps_exactly():
    frame = ptp_frame(9)

    async def testbench(ctx, core, dev, wire, ports):
        results = []
        for latency in (0, -6200, (1 << 23) - 1, -(1 << 23)):
            await dev.write("MAC_RX_LATENCY_NS", latency & 0xFF_FFFF)
            wire.receive(frame, gap=400)
            await wait_for(ctx, lambda: len(ports["ptp"]) > len(results))
            results.append((ports["ptp"][-1][1], wire.rx_sfd_cycles[-1], latency))
        rx_ns = PHY_PERIOD_PS["gmii"] * (1 + RX_PPM * 1e-6) / 1000
        (s0, c0, _), *rest = results
        epoch = (1 << 48) * 10**9         # the seconds field wraps: a stamp before reset
        for stamp, cycle, latency in rest:
            # The stamp moved by the calibration, and by the true time between the SFDs.
            moved = (stamp - s0 + epoch // 2) % epoch - epoch // 2
            assert abs(moved - latency - (cycle - c0) * rx_ns) <= 8, latency

    simulate("gmii", testbench)


def test_transmit_priority_stamps_and_counters():
    cp_payload = cp_udp(PEER_MAC, payload=bytes(range(200)))
    short = arp_request()                      # 42 bytes: padded on the wire
    ptp = ptp_frame(3)

    async def testbench(ctx, core, dev, wire, ports):
        await dev.write("IRQ_ENABLE", IRQ["CP_TX_DONE"] | IRQ["CP_TX_STAMP"])
        await dev.write_field("MAC_CONTROL", "TX_ENABLE", 0)
        slot_bytes = 1 << await dev.read_field("MAC_CP_GEOMETRY", "SLOT_SHIFT")
        sent_by_cp = []
        for frame, tag in ((cp_payload, 0x5A), (short, 0x21)):
            status = await dev.read("MAC_CP_TX_STATUS")
            assert status & 0xFF, "no free TX slot"
            slot = (status >> 8) & 0xFF
            padded = frame.ljust((len(frame) + 3) // 4 * 4, b"\0")
            words = list(struct.unpack(f"<{len(padded) // 4}I", padded))
            await dev.bus.write(PKTBUF_TX + slot * slot_bytes, words)
            await dev.write("MAC_CP_TX_SEND", len(frame) | 1 << 16 | tag << 24)
            sent_by_cp.append(frame)
        assert await dev.read_field("MAC_CP_TX_STATUS", "FREE") == 0
        # A bad send is refused and counted; nothing is queued.
        await dev.write("MAC_CP_TX_SEND", 1519 | 1 << 16)
        await ctx.tick().repeat(4)             # the strobe, the check, the counter
        assert await dev.read("MAC_CP_TX_REJECTS") == 1

        # The PTP event source offers a frame while the control plane waits; when transmission
        # is enabled, both are pending and PTP goes first.
        ports["ptp_event_queue"].append((ptp, 0x77))
        await wait_for(ctx, lambda: ctx.get(core.mac.ptp_event_tx.valid))
        await dev.write_field("MAC_CONTROL", "TX_ENABLE", 1)
        await wait_for(ctx, lambda: len(wire.sent) == 3, 40_000)
        await ctx.tick().repeat(100)

        frames = [w for w, _ in wire.sent]
        assert frames[0] == WIRE_PREAMBLE + with_fcs(ptp)
        assert frames[1:] == [WIRE_PREAMBLE + with_fcs(f.ljust(MIN_DATA, b"\0"))
                              for f in sent_by_cp]
        # Each source got its own frames' SFD times; they follow the wire's SFD cycles.
        assert [tag for tag, _ in ports["ptp_event_stamps"]] == [0x77]
        ptp_stamp = ports["ptp_event_stamps"][0][1]
        assert await dev.read_field("MAC_CP_TX_STATUS", "STAMP_COUNT") == 2
        assert await dev.read_field("MAC_CP_TX_STATUS", "STAMP_TAG") == 0x21
        stamp = await dev.read("MAC_CP_TX_STAMP")
        last_ns = (stamp >> 32) * 10**9 + (stamp & 0x3FFF_FFFF)
        tx_ns = PHY_PERIOD_PS["gmii"] * (1 + TX_PPM * 1e-6) / 1000
        true_ns = (wire.sent[2][1] - wire.sent[0][1]) * tx_ns
        assert abs(last_ns - ptp_stamp - true_ns) <= 8
        counts = {"TX_PTP_EVENT_FRAMES": 1, "TX_CP_FRAMES": 2, "TX_RTP_FRAMES": 0,
                  "TX_UNDERRUNS": 0, "TX_FRAMING_ERRORS": 0}
        for name, value in counts.items():
            assert await dev.read(f"MAC_{name}") == value, name
        assert await dev.read_field("MAC_STATUS", "TX_STAMP_ERROR") == 0
        pending = await dev.read("IRQ_PENDING")
        assert pending & IRQ["CP_TX_DONE"] and pending & IRQ["CP_TX_STAMP"]

    simulate("gmii", testbench)


def test_full_buffers_drop_whole_frames_and_count():
    frames = [cp_udp(OWN_MAC, payload=bytes([i]) * (30 + 40 * i)) for i in range(7)]

    async def testbench(ctx, core, dev, wire, ports):
        slots = await dev.read_field("MAC_CP_GEOMETRY", "RX_SLOTS")
        for frame in frames:
            wire.receive(frame)
        for i in range(3):
            wire.receive(ptp_frame(i))         # the PTP port is not read in this test
        await wait_for(ctx, lambda: not wire.queue, 40_000)
        await ctx.tick().repeat(300)
        assert await dev.read("MAC_RX_CP_FRAMES") == slots
        assert await dev.read("MAC_RX_CP_OVERFLOWS") == len(frames) - slots
        got = [await read_cp_frame(dev) for _ in range(slots)]
        assert [f for f, _ in got] == frames[:slots]
        # Slots are free again: the next frame is taken whole.
        wire.receive(frames[-1])
        await wait_for(ctx, lambda: ctx.get(core.mac.irq.cp_rx), 40_000)
        assert (await read_cp_frame(dev))[0] == frames[-1]
        # The window refuses writes into RX slots, and MAC_COUNTERS_CLEAR zeroes the counters.
        await dev.bus.write(PKTBUF_RX, [0])
        assert await dev.read("IDENT_BUS_ERROR_ADDR") == PKTBUF_RX
        await dev.write("MAC_COUNTERS_CLEAR", 1)
        assert await dev.read("MAC_RX_CP_OVERFLOWS") == 0
        assert await dev.read("MAC_RX_FRAMES") == 0

    simulate("gmii", testbench, collect=False)


def test_rmii_round_trip():
    frame_in, frame_out = cp_udp(OWN_MAC, payload=b"x" * 80), arp_request()

    async def testbench(ctx, core, dev, wire, ports):
        wire.receive(frame_in)
        await wait_for(ctx, lambda: not wire.queue, 40_000)
        await wait_for(ctx, lambda: ctx.get(core.mac.irq.cp_rx), 4_000)
        assert (await read_cp_frame(dev))[0] == frame_in
        padded = frame_out.ljust(44, b"\0")
        await dev.bus.write(PKTBUF_TX, list(struct.unpack("<11I", padded)))
        await dev.write("MAC_CP_TX_SEND", len(frame_out))
        await wait_for(ctx, lambda: len(wire.sent) == 1, 40_000)
        assert wire.sent[0][0] == WIRE_PREAMBLE + with_fcs(frame_out.ljust(MIN_DATA, b"\0"))
        assert await dev.read("MAC_RX_FRAMES") == 1
        assert await dev.read("MAC_TX_CP_FRAMES") == 1

    simulate("rmii", testbench)


def test_rgmii_round_trip_and_inband_status():
    frame_in, frame_out = cp_udp(OWN_MAC, payload=b"y" * 100), arp_request()

    async def testbench(ctx, core, dev, wire, ports):
        # Between frames an RGMII PHY may send its status on RXD (both RX_CTL halves low):
        # link up, 1000 Mbit/s (2), full duplex.
        ctx.set(core.rxd, 1 | 2 << 1 | 1 << 3)
        await ctx.tick().repeat(20)
        assert await dev.read_field("MAC_STATUS", "INBAND") == 1
        assert await dev.read_field("MAC_STATUS", "LINK") == 1
        assert await dev.read_field("MAC_STATUS", "SPEED") == 2
        assert await dev.read_field("MAC_STATUS", "FULL_DUPLEX") == 1
        wire.receive(frame_in)
        await wait_for(ctx, lambda: ctx.get(core.mac.irq.cp_rx), 40_000)
        assert (await read_cp_frame(dev))[0] == frame_in
        padded = frame_out.ljust(44, b"\0")
        await dev.bus.write(PKTBUF_TX, list(struct.unpack("<11I", padded)))
        await dev.write("MAC_CP_TX_SEND", len(frame_out))
        await wait_for(ctx, lambda: len(wire.sent) == 1, 40_000)
        assert wire.sent[0][0] == WIRE_PREAMBLE + with_fcs(frame_out.ljust(MIN_DATA, b"\0"))

    simulate("rgmii", testbench)


def test_status_without_inband_signalling():
    async def testbench(ctx, core, dev, wire, ports):
        assert await dev.read("MAC_STATUS") == 0

    simulate("rmii", testbench)


def test_fuzz_garbage_never_hides_a_good_frame():
    """Random bursts on the wire, half of them good frames to this station, half garbage
    (noise, preamble errors, PHY errors, cut or corrupted frames), with random gaps; software
    drains the control-plane buffer meanwhile. Every burst is judged exactly once by the MAC
    (RX_FRAMES plus the error counters add up to the bursts sent), and every good frame
    arrives intact and in order unless the buffer was full (then it is counted)."""
    rng = random.Random(67)
    bursts, good = [], []
    for _ in range(120):
        kind = rng.randrange(6)
        frame = cp_udp(OWN_MAC, payload=rng.randbytes(rng.randrange(18, 260)))
        wire = WIRE_PREAMBLE + with_fcs(frame)
        er_at = None
        if kind <= 2:                                   # good
            good.append(frame)
        elif kind == 3:                                 # noise, maybe with a PHY error
            wire = rng.randbytes(rng.randrange(1, 120))
            er_at = rng.randrange(len(wire)) if rng.random() < 0.5 else None
        elif kind == 4:                                 # a frame cut short or corrupted
            wire = bytearray(wire)
            if rng.random() < 0.5:
                del wire[rng.randrange(9, len(wire)):]
            else:
                wire[rng.randrange(8, len(wire))] ^= 1 << rng.randrange(8)
            wire = bytes(wire)
        else:                                           # a good frame with RX_ER inside
            er_at = rng.randrange(len(wire))
        bursts.append((wire, er_at, rng.randrange(12, 60)))

    async def testbench(ctx, core, dev, wire_model, ports):
        for wire, er_at, gap in bursts:
            wire_model.queue.append((wire, gap, er_at))
        received = []
        while wire_model.queue or ctx.get(core.mac.irq.cp_rx):
            if await dev.read_field("MAC_CP_RX_STATUS", "COUNT"):
                received.append((await read_cp_frame(dev))[0])
            else:
                await ctx.tick().repeat(50)
        await ctx.tick().repeat(400)
        while await dev.read_field("MAC_CP_RX_STATUS", "COUNT"):
            received.append((await read_cp_frame(dev))[0])

        judged = await dev.read("MAC_RX_FRAMES")
        for name in ("CRC_ERRORS", "RUNTS", "GIANTS", "PHY_ERRORS", "PREAMBLE_ERRORS"):
            judged += await dev.read(f"MAC_RX_{name}")
        assert judged == len(bursts)
        overflows = await dev.read("MAC_RX_CP_OVERFLOWS")
        padded = [f.ljust(MIN_DATA, b"\0") for f in good]
        assert len(received) + overflows == len(good)
        it = iter(padded)
        assert all(frame in it for frame in received)      # in order, each intact
        assert await dev.read("MAC_RX_FIFO_OVERFLOWS") == 0

    simulate("gmii", testbench, collect=False)
