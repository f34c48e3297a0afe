"""The PTP codec and framing (sim/ptp.py) and the model grandmaster (sim/grandmaster.py).

The grandmaster runs against a stand-in port that records ``port.send`` calls, so nothing here
depends on the network model. Expected times come from exact rational arithmetic written out
in the tests; tshark is the independent decoder of what the models send, and real captures
check the codec (decode then encode gives the captured bytes, the framing rebuilds the captured
frames with their checksums).
"""

import math
import subprocess
from fractions import Fraction

import pytest
from scapy.utils import RawPcapReader, RawPcapWriter

from stagebox.gateware.eth.classifier import PTP_IPV4_MACS, PTP_UDP_PORTS
from stagebox.sim import ptp
from stagebox.sim.grandmaster import DEFAULT_EPOCH_S, ModelGrandmaster
from stagebox.testing.captures import captures_dir, require_capture
from stagebox.testing.tools import require_tool

PS_PER_S = 10**12
CAPTURES = captures_dir()
SLAVE_MAC = "02:00:5e:10:00:02"
SLAVE_IP = "192.168.10.2"
SLAVE_PORT = ptp.PortIdentity(bytes.fromhex("02005efffe100002"), 1)


class StandInPort:
    """Records what the grandmaster sends: (t_ps, frame) in call order."""

    def __init__(self):
        self.sent = []

    def send(self, frame, t_ps):
        assert isinstance(frame, bytes) and isinstance(t_ps, int)
        assert not self.sent or t_ps >= self.sent[-1][0], "sends must go forward in time"
        self.sent.append((t_ps, frame))


def connect(gm):
    gm.port = StandInPort()
    return gm.port


def run_until(gm, t_ps):
    """Call run_event at each time next_event_ps asks for, up to `t_ps`."""
    while (t := gm.next_event_ps()) is not None and t <= t_ps:
        gm.run_event(t)


def sent_messages(port):
    """[(t_ps, frame, parsed UDP tuple, decoded message)] of everything sent."""
    result = []
    for t_ps, frame in port.sent:
        udp = ptp.parse_udp_frame(frame)
        assert udp is not None, "every frame is UDP/IPv4 with good checksums"
        result.append((t_ps, frame, udp, ptp.decode(udp[6])))
    return result


def of_type(messages, cls):
    return [m for m in messages if isinstance(m[3], cls)]


def gm_scaled(t_ps, offset_ps, ppm):
    """GM time in whole 2**-16 ns at true `t_ps`, written out independently of the model."""
    gm_ps = offset_ps + Fraction(t_ps) * (1 + Fraction(ppm) / 10**6)
    return math.floor(gm_ps * 65536 / 1000)


def carried_scaled(timestamp, correction, *, subtract=False):
    """The time a message carries, in 2**-16 ns: timestamp plus (or minus) correction."""
    base = (timestamp.seconds * 10**9 + timestamp.nanoseconds) * 65536
    return base - correction if subtract else base + correction


def delay_req_frame(*, sequence_id=5, domain=0, correction=0, dst_ip=ptp.PTP_PRIMARY_IP,
                    dst_mac=None, dport=ptp.EVENT_PORT, source=SLAVE_PORT):
    header = ptp.Header(message_type=ptp.DELAY_REQ, source_port_identity=source,
                        sequence_id=sequence_id, domain=domain, correction=correction)
    message = ptp.DelayReq(header=header, origin_timestamp=ptp.Timestamp(1_700_000_000, 7))
    return ptp.udp_frame(SLAVE_MAC, SLAVE_IP, dst_ip, dport, dport, message.encode(),
                         dst_mac=dst_mac)


# --- codec and framing ----------------------------------------------------------------------

def test_constants_match_the_gateware_classifier():
    assert PTP_UDP_PORTS == (ptp.EVENT_PORT, ptp.GENERAL_PORT)
    assert PTP_IPV4_MACS[0] == int.from_bytes(ptp.PTP_PRIMARY_MAC, "big")
    assert ptp.multicast_mac(ptp.PTP_PRIMARY_IP) == ptp.PTP_PRIMARY_MAC
    assert ptp.multicast_mac("239.255.1.2") == bytes.fromhex("01005e7f0102")   # bit 23 dropped
    assert ptp.clock_identity_from_mac("00:1d:c1:52:28:80") == bytes.fromhex("001dc1fffe522880")


def test_message_layout_by_hand():
    """A Delay_Resp with every header field distinct, against bytes written out by hand."""
    header = ptp.Header(message_type=ptp.DELAY_RESP, transport_specific=0x1, minor_version=1,
                        domain=44, flags=ptp.FLAG_UNICAST | ptp.FLAG_PTP_TIMESCALE,
                        correction=-3, source_port_identity=ptp.PortIdentity(
                            bytes.fromhex("0102030405060708"), 0x090A),
                        sequence_id=0xBEEF, log_message_interval=-4)
    message = ptp.DelayResp(header=header,
                            receive_timestamp=ptp.Timestamp(0x123456789ABC, 999_999_999),
                            requesting_port_identity=ptp.PortIdentity(b"\xaa" * 8, 0xBBCC))
    expected = bytes.fromhex(
        "19" "12" "0036" "2c" "00" "0408" "fffffffffffffffd" "00000000"
        "0102030405060708" "090a" "beef" "03" "fc"
        "123456789abc" "3b9ac9ff" "aaaaaaaaaaaaaaaa" "bbcc")
    assert message.encode() == expected
    decoded = ptp.decode(expected + b"\0\0")     # trailing padding is not part of the message
    assert decoded == ptp.DelayResp(
        header=ptp.Header(**{**header.__dict__, "message_length": 54, "control": 3}),
        receive_timestamp=message.receive_timestamp,
        requesting_port_identity=message.requesting_port_identity)


def test_announce_layout_by_hand():
    header = ptp.Header(message_type=ptp.ANNOUNCE, source_port_identity=ptp.PortIdentity(
        bytes(8), 1), sequence_id=2, log_message_interval=1)
    message = ptp.Announce(header=header, origin_timestamp=ptp.Timestamp(1, 2),
                           current_utc_offset=37, grandmaster_priority1=100,
                           grandmaster_clock_quality=ptp.ClockQuality(6, 0x21, 0x4E5D),
                           grandmaster_priority2=200, grandmaster_identity=b"\x11" * 8,
                           steps_removed=3, time_source=ptp.TIME_SOURCE_GPS)
    body = bytes.fromhex("000000000001" "00000002" "0025" "00" "64" "06" "21" "4e5d" "c8"
                         "1111111111111111" "0003" "20")
    encoded = message.encode()
    assert len(encoded) == 64 and encoded[34:] == body and encoded[2:4] == b"\x00\x40"
    assert encoded[32] == 5 and encoded[33] == 1          # controlField "other", interval 1
    assert ptp.decode(encoded).grandmaster_clock_quality == ptp.ClockQuality(6, 0x21, 0x4E5D)


def test_decode_rejects_bad_messages():
    good = delay_req_frame()[42:]
    with pytest.raises(ValueError, match="shorter than its header"):
        ptp.decode(good[:33])
    with pytest.raises(ValueError, match="versionPTP 1"):
        ptp.decode(good[:1] + b"\x01" + good[2:])
    with pytest.raises(ValueError, match="exceeds"):
        ptp.decode(good[:-1])
    with pytest.raises(ValueError, match="too short for DelayReq"):
        ptp.decode(good[:2] + (40).to_bytes(2, "big") + good[4:])
    other = ptp.decode(good[:1].replace(b"\x01", b"\x0d") + good[1:])
    assert isinstance(other, ptp.OtherMessage) and other.body == good[34:]
    assert other.encode() == good[:1].replace(b"\x01", b"\x0d") + good[1:]
    with pytest.raises(ValueError, match="correction"):
        ptp.Header(message_type=0, source_port_identity=SLAVE_PORT, correction=1 << 63)
    with pytest.raises(ValueError, match="needs header.message_type"):
        ptp.Sync(header=ptp.Header(message_type=ptp.FOLLOW_UP, source_port_identity=SLAVE_PORT),
                 origin_timestamp=ptp.Timestamp(0, 0))


def test_parse_udp_frame_checks():
    frame = ptp.udp_frame(SLAVE_MAC, SLAVE_IP, "224.0.1.129", 319, 320, b"abc", dscp=34, ttl=7)
    assert ptp.parse_udp_frame(frame + bytes(20)) == (SLAVE_IP, "224.0.1.129", 319, 320, 34, 7,
                                                      b"abc")
    tagged = frame[:12] + bytes.fromhex("81000064") + frame[12:]
    assert ptp.parse_udp_frame(tagged)[6] == b"abc"
    bad_ip = bytearray(frame)
    bad_ip[22] ^= 1                     # TTL changed, header checksum not
    assert ptp.parse_udp_frame(bytes(bad_ip)) is None
    assert ptp.parse_udp_frame(bytes(bad_ip), verify_checksums=False)[5] == 6
    bad_udp = bytearray(frame)
    bad_udp[-1] ^= 1
    assert ptp.parse_udp_frame(bytes(bad_udp)) is None
    no_udp_checksum = bytearray(bad_udp)
    no_udp_checksum[40:42] = b"\0\0"    # 0: the sender computed no checksum
    assert ptp.parse_udp_frame(bytes(no_udp_checksum))[6] == b"abb"
    fragment = bytearray(frame)
    fragment[20] |= 0x20                # more fragments
    assert ptp.parse_udp_frame(bytes(fragment), verify_checksums=False) is None
    assert ptp.parse_udp_frame(frame[:-1], verify_checksums=False) is None
    with pytest.raises(ValueError, match="explicit dst_mac"):
        ptp.udp_frame(SLAVE_MAC, SLAVE_IP, "192.168.10.1", 319, 319, b"")


def capture_ptp_frames():
    for path in sorted(CAPTURES.glob("*.pcap")):
        with RawPcapReader(str(path)) as reader:
            frames = [data for data, _ in reader]
        for number, data in enumerate(frames, 1):
            udp = ptp.parse_udp_frame(data, verify_checksums=False)
            if udp is not None and udp[3] in PTP_UDP_PORTS:
                yield f"{path.name}#{number}", data, udp


def test_real_captures_round_trip():
    """Every PTP-over-UDP message in the captures (65, as tshark counts them) decodes and
    re-encodes to the same bytes, and `udp_frame` rebuilds each captured frame, checksums
    included; the one frame tshark reports with a bad UDP checksum is refused by the checked
    parse."""
    if CAPTURES is None:
        require_capture("pilist_ptpv2.pcap")   # skips, or fails under CI
    kinds = set()
    count = 0
    bad_checksums = []
    for name, data, (src, dst, sport, dport, dscp, ttl, payload) in capture_ptp_frames():
        message = ptp.decode(payload)
        kinds.add(type(message).__name__)
        assert message.encode() == payload[:message.header.message_length], name
        rebuilt = ptp.udp_frame(data[6:12], src, dst, sport, dport, payload, dscp, ttl,
                                dst_mac=data[:6], ident=int.from_bytes(data[18:20], "big"),
                                dont_fragment=bool(data[20] & 0x40), ecn=data[15] & 3)
        if data[40:42] == b"\0\0":           # the sender computed no UDP checksum
            rebuilt = rebuilt[:40] + b"\0\0" + rebuilt[42:]
        if ptp.parse_udp_frame(data) is None:
            bad_checksums.append(name)
            rebuilt = rebuilt[:40] + data[40:42] + rebuilt[42:]
        assert rebuilt == data[:len(rebuilt)], name
        count += 1
    assert count == 65
    assert bad_checksums == ["tcpdump_ptp_corrections.pcap#1"]
    assert {"Sync", "FollowUp", "DelayReq", "DelayResp", "Announce"} <= kinds


# --- grandmaster: schedule and clock ----------------------------------------------------------

@pytest.mark.parametrize(("log_sync", "log_announce", "ppm"),
                         [(-3, 1, 0), (-4, 0, 12.5), (0, 1, -37.25), (-7, -2, 100.001)])
def test_intervals_exact(log_sync, log_announce, ppm):
    start = 1_234_567
    gm = ModelGrandmaster(log_sync_interval=log_sync, log_announce_interval=log_announce,
                          freq_ppm=ppm, start_ps=start)
    port = connect(gm)
    rate = 1 + Fraction(str(ppm)) / 10**6
    sync_interval = PS_PER_S * Fraction(2) ** log_sync / rate
    announce_interval = PS_PER_S * Fraction(2) ** log_announce / rate
    end = start + math.ceil(5 * announce_interval) + 880_000
    run_until(gm, end)
    messages = sent_messages(port)
    syncs = of_type(messages, ptp.Sync)
    expected = [start + math.ceil(k * sync_interval) for k in range(10_000)]
    assert [t for t, *_ in syncs] == [t for t in expected if t <= end]
    # Announces share the Sync schedule's instants; the Sync goes first, the Announce right
    # after its wire time (86 + 4 FCS + 12 IFG + 8 preamble bytes at 8 ns).
    sync_times = {t for t, *_ in syncs}
    announces = [t for t, *_ in of_type(messages, ptp.Announce)]
    expected = []
    for k in range(6):
        due = start + math.ceil(k * announce_interval)
        expected.append(due + 880_000 if due in sync_times else due)
    assert announces == expected
    assert [r.t_true_ps for r in gm.sync_log] == [t for t, *_ in syncs]


def test_sequence_ids_and_follow_up_exact():
    ppm, offset = Fraction("3.21"), 1_700_000_000 * PS_PER_S + 123_456_789
    gm = ModelGrandmaster(freq_ppm=3.21, time_offset_ps=offset, start_ps=777)
    port = connect(gm)
    run_until(gm, 3 * PS_PER_S)
    messages = sent_messages(port)
    syncs, follow_ups = of_type(messages, ptp.Sync), of_type(messages, ptp.FollowUp)
    announces = of_type(messages, ptp.Announce)
    assert [m.header.sequence_id for *_, m in syncs] == list(range(len(syncs)))
    assert [m.header.sequence_id for *_, m in follow_ups] == list(range(len(syncs)))
    assert [m.header.sequence_id for *_, m in announces] == [0, 1]
    assert len(syncs) == 25    # 24 intervals are a little under 3 s at +3.21 ppm
    fractions = set()
    for (t_sync, _, _, sync), (t_fu, _, _, fu) in zip(syncs, follow_ups, strict=True):
        assert sync.header.flags == ptp.FLAG_TWO_STEP
        assert sync.origin_timestamp == ptp.Timestamp(0, 0)
        assert sync.header.correction == 0
        # The 100 ns delay is shorter than the Sync's wire time (880 ns); an Announce due with
        # the Sync goes before the Follow_Up (due later) and takes 1040 ns.
        after_announce = any(t == t_sync + 880_000 for t, *_ in announces)
        assert t_fu == t_sync + 880_000 + (1_040_000 if after_announce else 0)
        assert fu.header.flags == 0 and fu.header.log_message_interval == -3
        carried = carried_scaled(fu.precise_origin_timestamp, fu.header.correction)
        assert carried == gm_scaled(t_sync, offset, ppm) == gm.gm_time_scaled_ns(t_sync)
        assert 0 <= fu.header.correction < 65536
        fractions.add(fu.header.correction)
    assert len(fractions) > 10, "the sub-ns fraction is really carried"
    assert [tuple(r) for r in gm.sync_log] == [
        (m.header.sequence_id, t, math.floor(offset + t * (1 + ppm / 10**6)))
        for t, _, _, m in syncs]


def test_one_step():
    gm = ModelGrandmaster(two_step=False, freq_ppm=-1.5, start_ps=3)
    port = connect(gm)
    run_until(gm, PS_PER_S)
    messages = sent_messages(port)
    assert not of_type(messages, ptp.FollowUp)
    syncs = of_type(messages, ptp.Sync)
    assert len(syncs) == 8
    for t, _, _, sync in syncs:
        assert sync.header.flags == 0
        assert carried_scaled(sync.origin_timestamp, sync.header.correction) == gm_scaled(
            t, DEFAULT_EPOCH_S * PS_PER_S, Fraction("-1.5"))


def test_clock_changes_mid_run():
    gm = ModelGrandmaster(time_offset_ps=0, freq_ppm=0, start_ps=0)
    port = connect(gm)
    run_until(gm, PS_PER_S // 2)                       # Syncs at 0, 125, 250, 375, 500 ms
    gm.set_frequency_ppm(100, at_ps=600 * 10**9)
    assert gm.gm_time_ps(600 * 10**9) == 600 * 10**9
    assert gm.gm_time_ps(700 * 10**9) == 700 * 10**9 + 10_000_000
    # The interval running at the change (to 625 ms) keeps its length; the next are shorter.
    run_until(gm, 900 * 10**9)
    new_interval = Fraction(125 * 10**9) / Fraction(10_001, 10_000)
    assert [r.t_true_ps for r in gm.sync_log][4:] == [
        500 * 10**9, 625 * 10**9, 625 * 10**9 + math.ceil(new_interval),
        625 * 10**9 + math.ceil(2 * new_interval)]
    gm.step_time_ps(-5_000, at_ps=10**12)
    assert gm.gm_time_ps(10**12 - 1) == 10**12 + 39_999_998    # 1e12 - 1 + 39_999_999.9999
    assert gm.gm_time_ps(10**12) == 10**12 + 40_000_000 - 5_000
    gm.set_time_offset_ps(7 * PS_PER_S, at_ps=2 * 10**12)
    assert gm.gm_time_ps(2 * 10**12) == 9 * PS_PER_S
    assert gm.gm_time_ps(2 * 10**12 + 10_000) == 9 * PS_PER_S + 10_001
    # The inverse: earliest true ps at which the clock reads at least the value.
    for t in (0, 123_456_789, 600 * 10**9 + 1, 700 * 10**9 + 17, 2 * 10**12 + 99):
        assert gm.true_time_ps(gm.gm_time_ps(t)) <= t < gm.true_time_ps(gm.gm_time_ps(t) + 1)
    # A forward step skips GM times: their inverse is the instant of the step.
    assert gm.true_time_ps(8 * PS_PER_S) == 2 * 10**12
    with pytest.raises(ValueError, match="at_ps"):
        gm.set_frequency_ppm(0, at_ps=10**9)          # before a Sync already sent
    assert port.sent


# --- grandmaster: Delay_Req handling ------------------------------------------------------------

def test_delay_resp():
    ppm, offset = Fraction("-7.7"), 1_600_000_000 * PS_PER_S + 999
    gm = ModelGrandmaster(freq_ppm=-7.7, time_offset_ps=offset, log_min_delay_req_interval=0,
                          start_ps=PS_PER_S)       # no Sync or Announce in the way
    port = connect(gm)
    arrivals = [(1_000_003, 5, 0), (2_000_007, 6, 12_345 * 65536 + 77)]
    for t, seq, correction in arrivals:
        gm.receive(delay_req_frame(sequence_id=seq, correction=correction), t)
    run_until(gm, PS_PER_S // 2)
    responses = sent_messages(port)
    assert len(responses) == 2 and gm.counters["tx_delay_resp"] == 2
    assert gm.counters["rx_delay_req"] == 2
    for (t_arrival, seq, req_correction), (t, frame, udp, resp) in zip(arrivals, responses,
                                                                        strict=True):
        assert t == t_arrival + 200_000
        assert udp[:6] == ("192.168.10.1", ptp.PTP_PRIMARY_IP, 320, 320, 46, 1)
        assert frame[:12] == ptp.PTP_PRIMARY_MAC + bytes.fromhex("02005e100001")
        assert isinstance(resp, ptp.DelayResp)
        assert resp.header.sequence_id == seq and resp.header.flags == 0
        assert resp.header.log_message_interval == 0
        assert resp.requesting_port_identity == SLAVE_PORT
        assert resp.header.source_port_identity == ptp.PortIdentity(
            bytes.fromhex("02005efffe100001"), 1)
        # 11.3.2: t4 = receiveTimestamp - (Delay_Resp correction - Delay_Req correction)
        t4 = carried_scaled(resp.receive_timestamp, resp.header.correction - req_correction,
                            subtract=True)
        assert t4 == gm_scaled(t_arrival, offset, ppm)
        assert -65536 < resp.header.correction - req_correction <= 0
    assert [(r.sequence_id, r.t_true_ps, r.t_response_ps) for r in gm.delay_log] == [
        (5, 1_000_003, 1_200_003), (6, 2_000_007, 2_200_007)]


def test_unicast_delay_req_gets_unicast_resp():
    gm = ModelGrandmaster(start_ps=PS_PER_S)
    port = connect(gm)
    gm.receive(delay_req_frame(dst_ip="192.168.10.1", dst_mac="02:00:5e:10:00:01"), 10_000)
    run_until(gm, 10**9)
    [(_, frame, udp, resp)] = sent_messages(port)
    assert frame[:6] == ptp.mac_bytes(SLAVE_MAC)
    assert udp[1] == SLAVE_IP and udp[3] == 320
    assert resp.header.flags == ptp.FLAG_UNICAST


def test_ignored_frames_are_counted():
    gm = ModelGrandmaster(domain=3, start_ps=PS_PER_S)
    port = connect(gm)
    announce = ModelGrandmaster(domain=3)
    other_port = connect(announce)
    run_until(announce, 10**6)
    another_masters_announce = next(f for _, f, _, m in sent_messages(other_port)
                                    if isinstance(m, ptp.Announce))
    bad_checksum = bytearray(delay_req_frame(domain=3))
    bad_checksum[-1] ^= 0xFF
    version_1 = bytearray(delay_req_frame(domain=3))
    version_1[43] = 1
    frames = [
        delay_req_frame(domain=0),                                          # other domain
        delay_req_frame(domain=4),                                          # other domain
        another_masters_announce,                                           # other type
        delay_req_frame(domain=3, dport=320),                               # other type
        ptp.udp_frame(SLAVE_MAC, SLAVE_IP, "239.1.2.3", 5004, 5004, bytes(60)),    # not PTP
        delay_req_frame(domain=3, dst_ip="192.168.10.9", dst_mac=SLAVE_MAC),  # not for it
        bytes(bad_checksum),
        ptp.udp_frame(SLAVE_MAC, SLAVE_IP, ptp.PTP_PRIMARY_IP, 319, 319, b"\x01\x02"),
        ptp.udp_frame(SLAVE_MAC, SLAVE_IP, ptp.PTP_PRIMARY_IP, 319, 319,
                      bytes(version_1[42:])),
        delay_req_frame(domain=3),                                          # answered
    ]
    for i, frame in enumerate(frames):
        gm.receive(frame, 1_000_000 * (i + 1))
    run_until(gm, PS_PER_S // 2)
    assert gm.counters == {
        "rx_frames": 10, "rx_not_ptp": 2, "rx_bad_checksum": 1, "rx_malformed": 2,
        "rx_other_domain": 2, "rx_other_type": 2, "rx_delay_req": 1, "tx_sync": 0,
        "tx_follow_up": 0, "tx_announce": 0, "tx_delay_resp": 1}
    [(t, _, _, resp)] = sent_messages(port)
    assert t == 10_200_000 and resp.header.domain == 3


# --- grandmaster: Announce -------------------------------------------------------------------

def test_announce_fields_and_mid_run_changes():
    gm = ModelGrandmaster(priority1=100, priority2=101, clock_class=7, clock_accuracy=0x22,
                          offset_scaled_log_variance=0x1234, time_source=ptp.TIME_SOURCE_PTP,
                          utc_offset=36, steps_removed=2, domain=9, log_announce_interval=0,
                          clock_identity=bytes.fromhex("0a0b0cfffe0d0e0f"), port_number=4)
    port = connect(gm)
    run_until(gm, 10**9)
    gm.set_priority(priority1=50)
    gm.set_clock_class(248)
    gm.set_dataset(time_traceable=False, leap61=True)
    run_until(gm, 3 * 10**12 // 2)
    first, second = (m for *_, m in of_type(sent_messages(port), ptp.Announce))
    identity = bytes.fromhex("0a0b0cfffe0d0e0f")
    assert first.header == ptp.Header(
        message_type=ptp.ANNOUNCE, source_port_identity=ptp.PortIdentity(identity, 4),
        sequence_id=0, domain=9, log_message_interval=0, message_length=64, control=5,
        flags=(ptp.FLAG_PTP_TIMESCALE | ptp.FLAG_CURRENT_UTC_OFFSET_VALID
               | ptp.FLAG_TIME_TRACEABLE | ptp.FLAG_FREQUENCY_TRACEABLE))
    assert (first.current_utc_offset, first.grandmaster_priority1, first.grandmaster_priority2,
            first.grandmaster_identity, first.steps_removed, first.time_source) == (
        36, 100, 101, identity, 2, ptp.TIME_SOURCE_PTP)
    assert first.grandmaster_clock_quality == ptp.ClockQuality(7, 0x22, 0x1234)
    assert first.origin_timestamp == ptp.Timestamp(DEFAULT_EPOCH_S, 880)   # after the Sync
    assert second.header.sequence_id == 1
    assert (second.grandmaster_priority1, second.grandmaster_priority2) == (50, 101)
    assert second.grandmaster_clock_quality.clock_class == 248
    assert second.header.flags == (ptp.FLAG_PTP_TIMESCALE | ptp.FLAG_CURRENT_UTC_OFFSET_VALID
                                   | ptp.FLAG_FREQUENCY_TRACEABLE | ptp.FLAG_LEAP_61)


def test_arb_timescale():
    gm = ModelGrandmaster(timescale="arb", utc_offset=37)
    port = connect(gm)
    run_until(gm, 10**6)
    [announce] = [m for *_, m in of_type(sent_messages(port), ptp.Announce)]
    assert not announce.header.flags & ptp.FLAG_PTP_TIMESCALE
    assert gm.gm_time_ps(0) == (DEFAULT_EPOCH_S - 37) * PS_PER_S


def test_wire_time_at_100m():
    gm = ModelGrandmaster(rate_bps=100_000_000, start_ps=5)
    port = connect(gm)
    run_until(gm, 10**9)
    times = [(t, type(m).__name__) for t, *_, m in sent_messages(port)]
    # Sync 86 bytes, then Announce 106 bytes, then Follow_Up: (len + 24) bytes at 80 ns each.
    assert times == [(5, "Sync"), (5 + 110 * 80_000, "Announce"),
                     (5 + 110 * 80_000 + 130 * 80_000, "FollowUp")]


def test_parameter_validation():
    with pytest.raises(ValueError, match="timescale"):
        ModelGrandmaster(timescale="utc")
    with pytest.raises(ValueError, match="priority1"):
        ModelGrandmaster(priority1=256)
    with pytest.raises(ValueError, match="freq_ppm"):
        ModelGrandmaster(freq_ppm=-1e6)
    with pytest.raises(TypeError, match="unknown field"):
        ModelGrandmaster().set_dataset(priority3=1)
    with pytest.raises(RuntimeError, match="not connected"):
        ModelGrandmaster().run_event(0)


# --- tshark as the independent decoder ----------------------------------------------------------

TSHARK_FIELDS = [
    "ip.checksum.status", "udp.checksum.status", "ip.dsfield.dscp", "ip.ttl", "ip.src",
    "ip.dst", "eth.src", "eth.dst", "udp.srcport", "udp.dstport", "ptp.v2.versionptp",
    "ptp.v2.messagetype", "ptp.v2.messagelength", "ptp.v2.domainnumber", "ptp.v2.flags",
    "ptp.v2.correction.ns", "ptp.v2.correction.subns", "ptp.v2.clockidentity",
    "ptp.v2.sourceportid", "ptp.v2.sequenceid", "ptp.v2.controlfield",
    "ptp.v2.logmessageperiod",
    "ptp.v2.sdr.origintimestamp.seconds", "ptp.v2.sdr.origintimestamp.nanoseconds",
    "ptp.v2.fu.preciseorigintimestamp.seconds", "ptp.v2.fu.preciseorigintimestamp.nanoseconds",
    "ptp.v2.dr.receivetimestamp.seconds", "ptp.v2.dr.receivetimestamp.nanoseconds",
    "ptp.v2.dr.requestingsourceportidentity", "ptp.v2.dr.requestingsourceportid",
    "ptp.v2.an.origintimestamp.seconds", "ptp.v2.an.origintimestamp.nanoseconds",
    "ptp.v2.an.origincurrentutcoffset", "ptp.v2.an.priority1", "ptp.v2.an.priority2",
    "ptp.v2.an.grandmasterclockclass", "ptp.v2.an.grandmasterclockaccuracy",
    "ptp.v2.an.grandmasterclockvariance", "ptp.v2.an.grandmasterclockidentity",
    "ptp.v2.an.localstepsremoved", "ptp.v2.timesource", "_ws.malformed", "_ws.expert",
]


def tshark_fields(tshark, frames, tmp_path):
    path = tmp_path / "gm.pcap"
    writer = RawPcapWriter(str(path), linktype=1)
    for frame in frames:
        writer.write(frame)
    writer.close()
    result = subprocess.run(
        [tshark, "-r", str(path), "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
         "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f",
         *(arg for field in TSHARK_FIELDS for arg in ("-e", field))],
        capture_output=True, text=True, check=True, timeout=60)
    rows = [dict(zip(TSHARK_FIELDS, line.split("\t"), strict=True))
            for line in result.stdout.splitlines()]
    assert len(rows) == len(frames)
    return rows


def test_tshark_decodes_what_the_grandmaster_sends(tmp_path):
    tshark = require_tool("tshark")
    gm = ModelGrandmaster(domain=44, freq_ppm=2.5, priority1=90, priority2=91, clock_class=13,
                          dscp_general=34, ttl=9, log_sync_interval=-2, start_ps=1_000)
    port = connect(gm)
    gm.receive(delay_req_frame(domain=44, sequence_id=300), 50_000_123)
    run_until(gm, 300 * 10**9)
    frames = [frame for _, frame in port.sent]
    rows = tshark_fields(tshark, frames, tmp_path)
    seen = set()
    for (_, _, udp, message), row in zip(sent_messages(port), rows, strict=True):
        h = message.header
        seen.add(type(message).__name__)
        event = isinstance(message, ptp.Sync)
        assert row["ip.checksum.status"] == "1" and row["udp.checksum.status"] == "1"
        assert row["_ws.malformed"] == "" and row["_ws.expert"] == ""
        assert (row["ip.dsfield.dscp"], row["ip.ttl"]) == ("46" if event else "34", "9")
        assert (row["ip.src"], row["ip.dst"]) == ("192.168.10.1", "224.0.1.129")
        assert (row["eth.src"], row["eth.dst"]) == ("02:00:5e:10:00:01", "01:00:5e:00:01:81")
        assert row["udp.srcport"] == row["udp.dstport"] == ("319" if event else "320")
        assert row["ptp.v2.versionptp"] == "2"
        assert int(row["ptp.v2.messagetype"], 16) == h.message_type
        assert int(row["ptp.v2.messagelength"]) == len(udp[6])
        assert row["ptp.v2.domainnumber"] == "44"
        assert int(row["ptp.v2.flags"], 16) == h.flags
        ns = int(row["ptp.v2.correction.ns"])
        ns -= (1 << 64) if ns >> 63 else 0          # tshark prints it as unsigned
        assert ns * 65536 + round(float(row["ptp.v2.correction.subns"]) * 65536) == h.correction
        assert row["ptp.v2.clockidentity"] == "0x02005efffe100001"
        assert row["ptp.v2.sourceportid"] == "1"
        assert int(row["ptp.v2.sequenceid"]) == h.sequence_id
        assert int(row["ptp.v2.logmessageperiod"]) == h.log_message_interval
        if isinstance(message, ptp.Sync):
            assert row["ptp.v2.controlfield"] == "0"
            assert row["ptp.v2.flags"] == "0x0200"
            assert (row["ptp.v2.sdr.origintimestamp.seconds"],
                    row["ptp.v2.sdr.origintimestamp.nanoseconds"]) == ("0", "0")
        elif isinstance(message, ptp.FollowUp):
            assert row["ptp.v2.controlfield"] == "2"
            sync_t = next(r.t_true_ps for r in gm.sync_log if r.sequence_id == h.sequence_id)
            seconds = int(row["ptp.v2.fu.preciseorigintimestamp.seconds"])
            nanoseconds = int(row["ptp.v2.fu.preciseorigintimestamp.nanoseconds"])
            assert ((seconds * 10**9 + nanoseconds) * 65536 + h.correction
                    == gm_scaled(sync_t, DEFAULT_EPOCH_S * PS_PER_S, Fraction("2.5")))
        elif isinstance(message, ptp.DelayResp):
            assert row["ptp.v2.controlfield"] == "3"
            assert h.sequence_id == 300
            assert row["ptp.v2.dr.requestingsourceportidentity"] == "0x02005efffe100002"
            assert row["ptp.v2.dr.requestingsourceportid"] == "1"
            seconds = int(row["ptp.v2.dr.receivetimestamp.seconds"])
            nanoseconds = int(row["ptp.v2.dr.receivetimestamp.nanoseconds"])
            assert ((seconds * 10**9 + nanoseconds) * 65536 - h.correction
                    == gm_scaled(50_000_123, DEFAULT_EPOCH_S * PS_PER_S, Fraction("2.5")))
        else:
            assert isinstance(message, ptp.Announce)
            assert row["ptp.v2.controlfield"] == "5"
            assert row["ptp.v2.flags"] == "0x003c"
            assert (row["ptp.v2.an.origintimestamp.seconds"],
                    row["ptp.v2.an.origintimestamp.nanoseconds"]) == (
                str(message.origin_timestamp.seconds), str(message.origin_timestamp.nanoseconds))
            assert [row["ptp.v2.an." + f] for f in (
                "origincurrentutcoffset", "priority1", "priority2", "grandmasterclockclass",
                "grandmasterclockaccuracy", "grandmasterclockvariance",
                "grandmasterclockidentity", "localstepsremoved")] == [
                "37", "90", "91", "13", "0x21", "20061", "0x02005efffe100001", "0"]
            assert row["ptp.v2.timesource"] == "0x20"
    assert seen == {"Sync", "FollowUp", "DelayResp", "Announce"}
    assert any(m.header.correction < 0 for *_, m in sent_messages(port)), \
        "a negative correctionField went through tshark"
