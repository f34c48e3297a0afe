"""The system simulator on the real core: registers by name, oscillators, PPS, the network loop,
the model grandmaster's traffic through the MAC, capture replay and determinism.

Each module-scoped library is compiled once (cached under build/sim-cache by content); every
test builds its own world from it, so tests stay independent.
"""

import hashlib

from stagebox.gateware.config import CoreConfig
from stagebox.gateware.ptp_time import NS_PER_SEC
from stagebox.regmap.map import STAGEBOX_MAP
from stagebox.sim.engine import STOP_BUS
from stagebox.sim.grandmaster import ModelGrandmaster
from stagebox.sim.network import LinkParams, Recorder
from stagebox.sim.pcap import read_frames, write_frames
from stagebox.sim.replay import replay
from stagebox.sim.world import PS_PER_S, Simulation
from stagebox.testing.captures import require_capture

CAPTURE_1MS = "pilist_st2110-30_24bit_48khz_1ms_2ch.pcap"
CAPTURE_125US = "pilist_st2110-30_16bit_48khz_125us_2ch.pcap"
GMII = CoreConfig(phy="gmii", spi_bridge=False)
RMII = CoreConfig(phy="rmii", spi_bridge=False)
US = 1_000_000
MS = 1_000 * US


def test_registers_by_name_and_bus_errors():
    sim = Simulation(GMII)
    dev = sim.add_stagebox("dut")
    assert dev.read("IDENT_MAGIC") == 0x53424F58
    dev.write("IDENT_SCRATCH", 0xA5C3_0F96)
    assert dev.read("IDENT_SCRATCH") == 0xA5C3_0F96
    # Each access is a few bus cycles, so the world advanced by nanoseconds, not more.
    assert 0 < sim.now_ps < 2 * US
    # A hole in the IDENT block: the core acknowledges with its unmapped value and records it.
    assert dev.read32(0x0FFC) == STAGEBOX_MAP.unmapped_read_value
    assert dev.read("IDENT_BUS_ERROR_COUNT") == 1
    assert dev.read("IDENT_BUS_ERROR_ADDR") == 0x0FFC


def test_oscillator_error_counts_exactly():
    """1 ms of true time holds 125,000 x (1 + ppm) rising edges of a clock `ppm` off."""
    sim = Simulation(GMII)
    fast = sim.add_stagebox("fast", ppm=100.0)
    slow = sim.add_stagebox("slow", ppm=-250.0)
    sim.run_until(MS)
    # Edges at (k + 1/2) periods: the count is floor(1 ms / period + 1/2).
    assert sim.engine.rises(fast.index, fast.clocks["sys"]) == 125_013
    assert sim.engine.rises(slow.index, slow.clocks["sys"]) == 124_969


def test_wander_is_seeded():
    def ppm_after(seed):
        sim = Simulation(GMII, seed=seed)
        dev = sim.add_stagebox("dut", ppm=5.0, wander_ppm=2.0)
        sim.run_until(5 * MS)
        return sim.engine.ppm(dev.index, dev.clocks["sys"])

    a, b, c = ppm_after(1), ppm_after(1), ppm_after(2)
    assert a == b != c
    assert a != 5.0 and abs(a - 5.0) < 2.0   # 5 updates of sigma 2 ppm * sqrt(1 ms)


def test_pps_edge_at_the_wallclock_second():
    """Set each device's wallclock 1 ms before a second boundary: its PPS pin rises when its
    wallclock reaches the boundary, 1 ms of *its* time later. On an oscillator 80 ppm fast that
    is 80 ns less true time than on an exact one (10 cycles; each edge is quantised to its
    device's 8 ns clock), and both lie within the PPS block's few cycles of latency."""
    sim = Simulation(GMII)
    devices = [sim.add_stagebox("exact", ppm=0.0), sim.add_stagebox("fast", ppm=80.0)]
    offsets = []
    for dev in devices:
        dev.write("CLOCK_SET_TIME", (41 << 32) | (NS_PER_SEC - 1_000_000))
        dev.write("CLOCK_COMMAND", dev.regs.info("CLOCK_COMMAND").field("SET").mask)
        offsets.append(sim.now_ps)
        dev.pps_edges()   # forget the power-up second's edge
    sim.run_for(1_100 * US)
    period = PS_PER_S // 125_000_000
    for i, dev in enumerate(devices):
        (edge,) = dev.pps_edges()
        offsets[i] = edge - offsets[i]
    assert 0 <= offsets[0] - MS <= 8 * period
    assert abs((offsets[0] - offsets[1]) - 80_000) <= 2 * period


def test_grandmaster_traffic_reaches_the_mac():
    """Every PTP frame of the model grandmaster crosses the switch, the PHY model and the MAC's
    classifier: the MAC counts exactly the frames the grandmaster sent, all as PTP."""
    sim = Simulation(GMII, seed=3)
    dev = sim.add_stagebox("dut", ppm=30.0, link_ppm=-10.0)
    mac = dev.regs.info("MAC_CONTROL")
    dev.write("MAC_CONTROL", mac.field("RX_ENABLE").mask | mac.field("ALL_MULTICAST").mask)
    gm = ModelGrandmaster(log_sync_interval=-5, log_announce_interval=-3, freq_ppm=-3.0,
                          start_ps=sim.now_ps + US)
    sim.connect(gm)
    sim.run_until(100 * MS)
    sent = sum(v for k, v in gm.counters.items() if k.startswith("tx_"))
    assert sent == 4 + 4 + 1   # Syncs at 0, 31.25, 62.5, 93.75 ms, their Follow_Ups, 1 Announce
    # Classified PTP: delivered to the PTP port, or dropped there (nothing drains it before
    # the PTP block exists) and counted.
    assert dev.read("MAC_RX_PTP_FRAMES") + dev.read("MAC_RX_PTP_OVERFLOWS") == sent
    assert dev.read("MAC_RX_CRC_ERRORS") == 0 and dev.read("MAC_RX_FRAMES") == sent


def test_device_frames_reach_the_network_with_true_times():
    """A frame the core transmits (the control-plane port) is reported by the PHY model with
    its data-start time and forwarded by the switch: the recorder sees the same bytes at that
    time plus the exact path delay (serialisation, links, switch, preamble)."""
    sim = Simulation(GMII)
    dev = sim.add_stagebox("dut")
    rec = Recorder("rec")
    link = LinkParams(delay_ps=700_000)
    sim.connect(rec, link)
    mac = dev.regs.info("MAC_CONTROL")
    dev.write("MAC_CONTROL", mac.field("TX_ENABLE").mask | mac.field("RX_ENABLE").mask)
    frame = bytes.fromhex("ffffffffffff020000000001") + b"\x88\xb5" + bytes(range(50))
    _send_control_plane_frame(dev, frame)
    sim.run_for(50 * US)
    (sent,) = dev.tx_log
    assert sent.data == frame and not sent.flags
    (arrival, data) = rec.frames[0]
    assert data == frame
    byte_ps = 8_000
    expected = (sent.t_ps + (len(frame) + 4) * byte_ps + dev.port.link.to_switch_ps
                + sim.network.switch_latency_ps + 8 * byte_ps + link.to_endpoint_ps)
    assert arrival == expected


def _send_control_plane_frame(dev, frame):
    """Fill the TX slot MAC_CP_TX_STATUS names in PKTBUF_TX and queue it (docs/registers.md)."""
    shift = dev.read_field("MAC_CP_GEOMETRY", "SLOT_SHIFT")
    slot = dev.read_field("MAC_CP_TX_STATUS", "SLOT")
    pktbuf = STAGEBOX_MAP.block("PKTBUF")
    base = pktbuf.base + pktbuf.window("TX").offset + (slot << shift)
    padded = frame + bytes(-len(frame) % 4)
    for i in range(0, len(padded), 4):
        dev.write32(base + i, int.from_bytes(padded[i:i + 4], "little"))
    dev.write("MAC_CP_TX_SEND", len(frame))


def test_replay_keeps_frames_and_timing(tmp_path):
    """Issue 5: a public capture replayed through the simulator and recorded again comes back
    with the same frames and inter-frame timing (to the receive clock's 8 ns grid: the capture
    has nanosecond timestamps)."""
    capture = require_capture(CAPTURE_1MS)
    out = tmp_path / "again.pcap"
    result = replay(capture, record=out, config=GMII)
    original = read_frames(capture)
    again = read_frames(out)
    assert len(again) == len(original) == result["frames_at_pins"] == 128
    assert [f for _, f in again] == [f.ljust(60, b"\0") for _, f in original]
    gaps = [(b[0] - a[0], d[0] - c[0])
            for a, b, c, d in zip(original, original[1:], again, again[1:], strict=False)]
    # The pcap written holds ns; the pins' grid is 8 ns (the receive clock).
    assert max(abs(want - got) for want, got in gaps) <= 8_000
    assert result["timing"]["max_gap_error_ps"] <= 8_000
    assert result["counters"]["MAC_RX_FRAMES"] == 128
    assert result["counters"]["MAC_RX_CRC_ERRORS"] == 0


def test_replay_on_rmii():
    capture = require_capture(CAPTURE_125US)
    result = replay(capture, config=RMII)
    assert result["frames_at_pins"] == result["frames_injected"] == 8
    assert result["timing"]["frames_identical"] == 8
    assert result["timing"]["max_gap_error_ps"] <= 20_000   # REF_CLK is 50 MHz
    assert result["counters"]["MAC_RX_FRAMES"] == 8


def _impaired_recording(path, seed):
    """Traffic through impaired links; returns digests of the network recording and of the
    frames as they reached the device's pins (the latter carries every random choice)."""
    sim = Simulation(GMII, seed=seed, keep_rx_log=True)
    sim.connect(ModelGrandmaster(log_sync_interval=-6, log_announce_interval=-4),
                LinkParams(pdv_ps=400_000, loss=0.1, duplicate=0.1, reorder=0.1,
                           reorder_delay_ps=2 * US))
    dev = sim.add_stagebox("dut", ppm=20.0, wander_ppm=1.0,
                           link=LinkParams(pdv_ps=300_000, loss=0.05))
    sim.network.record(path)
    sim.run_until(30 * MS)
    sim.network.stop_recording()
    pins = path.with_suffix(".pins.pcap")
    write_frames(pins, dev.rx_log)
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in (path, pins)]


def test_determinism(tmp_path):
    """The same seed gives byte-identical recordings; another seed another one."""
    a = _impaired_recording(tmp_path / "a.pcap", 7)
    b = _impaired_recording(tmp_path / "b.pcap", 7)
    c = _impaired_recording(tmp_path / "c.pcap", 8)
    assert a == b
    assert a[1] != c[1]


def test_bus_stop_condition_and_event_input():
    """The engine stops on a finished bus cycle (Python is not called per cycle otherwise), and
    a scheduled event-capture edge is stamped by the core."""
    sim = Simulation(GMII)
    dev = sim.add_stagebox("dut")
    op = sim.engine.bus_submit(dev.index, dev.bus, False, 0)
    raised = sim.engine.run(sim.now_ps + MS, STOP_BUS)
    assert raised == STOP_BUS and sim.now_ps < US
    assert sim.engine.bus_results(dev.index, dev.bus)[op] == (1, 0x53424F58)
    dev.write("CLOCK_EVENT_CONTROL", dev.regs.info("CLOCK_EVENT_CONTROL").field("ENABLE").mask)
    t_event = sim.now_ps + 10 * US
    dev.schedule_input("event_in", t_event, 1)
    dev.schedule_input("event_in", t_event + 2 * US, 0)
    sim.run_for(20 * US)
    assert dev.read("CLOCK_EVENT_COUNT") == 1


def _scenario(exact_falls, trace=None):
    """GM traffic in, a control-plane frame out, a PPS edge: everything observable."""
    sim = Simulation(GMII, keep_rx_log=True, trace=trace is not None)
    sim.connect(ModelGrandmaster(log_sync_interval=-7, log_announce_interval=-3, start_ps=US))
    dev = sim.add_stagebox("dut", ppm=-35.0, link_ppm=11.0, exact_falls=exact_falls)
    if trace is not None:
        dev.trace(trace)
    mac = dev.regs.info("MAC_CONTROL")
    dev.write("MAC_CONTROL", mac.field("TX_ENABLE").mask | mac.field("RX_ENABLE").mask
              | mac.field("ALL_MULTICAST").mask)
    dev.write("CLOCK_SET_TIME", (7 << 32) | (NS_PER_SEC - 300_000))
    dev.write("CLOCK_COMMAND", dev.regs.info("CLOCK_COMMAND").field("SET").mask)
    _send_control_plane_frame(dev, bytes.fromhex("ffffffffffff020000000001") + bytes(48))
    sim.run_until(400 * US)
    return (dev.rx_log, dev.tx_log, dev.pps_edges(), dev.read("MAC_RX_FRAMES"),
            dev.read("MAC_TX_CP_FRAMES"), dev.read("CLOCK_TIME"), sim.now_ps)


def test_quiet_falling_edges_change_nothing():
    """The Stagebox skips evaluating falling clock edges (the speed-up); doing them changes no
    observable: frames and their times at the pins both ways, PPS, counters, the wallclock."""
    quiet, exact = _scenario(False), _scenario(True)
    assert quiet == exact
    rx_log, tx_log, pps = quiet[:3]
    assert len(rx_log) == 3 and len(tx_log) == 1 and len(pps) == 2   # power-up edge + second


def test_waveforms_on_request(tmp_path):
    """Waveforms come from a separately compiled library (tracing costs speed); the FST file
    is written where asked, and the traced run behaves like the untraced one."""
    path = tmp_path / "waves" / "dut.fst"
    traced = _scenario(True, trace=path)
    assert traced == _scenario(True)
    data = path.read_bytes()
    assert len(data) > 10_000 and data[0] == 0   # FST starts with its header block (type 0)


def test_sim_replay_command(tmp_path, capsys):
    """`stagebox sim replay` as a user runs it: JSON on stdout and in --report, the recording."""
    import json

    from stagebox.cli import main

    capture = require_capture(CAPTURE_125US)
    report, record = tmp_path / "r.json", tmp_path / "rec.pcap"
    assert main(["sim", "replay", "--pcap", str(capture), "--record", str(record),
                 "--report", str(report)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(report.read_text())
    assert printed["frames_at_pins"] == len(read_frames(record)) == 8
    assert printed["counters"]["MAC_RX_FRAMES"] == 8
