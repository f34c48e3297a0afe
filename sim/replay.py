"""`stagebox sim replay`: a capture played into a simulated Stagebox, and what it did with it.

The capture's frames are injected on the simulated switch at their capture timing (offset so the
first arrives `start_ps` after power-up, once the core is out of reset) or re-timed at a fixed
interval. They cross the switch and the device's link like any traffic and reach its PHY
model, which puts them on the GMII/RMII receive pins. The recording (``--record``) holds every
frame as it reached the device's pins, at the true time of its first byte after the SFD: with a
constant link delay the recording reproduces the capture's frames and inter-frame timing (to
the receive clock's period where the capture's timestamps are finer than it, and later where the
capture's frames were closer than the link's inter-frame gap allows). ``--record-network``
writes everything on the switch instead, the device's own transmissions included.

``--waveform`` writes the device's signals (FST, every edge) for GTKWave or Surfer; it uses a
separately compiled library and runs several times slower.

The device listens promiscuously (every unicast and multicast address), so its MAC counters in
the result say how it classified the capture: PTP, RTP, control-plane frames, errors, and the
frames dropped because no block drains that port yet.
"""

import json

from .pcap import PcapSource, read_frames, write_frames
from .world import PS_PER_S, Progress, Simulation

__all__ = ["replay", "main_replay"]

#: Power-up to the first injected frame: the core leaves reset within a few cycles; the MAC is
#: enabled by register writes in the first microseconds.
START_PS = 50_000_000
#: Simulated time after the last frame's arrival, for the device to finish with it.
TAIL_PS = 200_000_000
COUNTERS = ("MAC_RX_FRAMES", "MAC_RX_CRC_ERRORS", "MAC_RX_RUNTS", "MAC_RX_GIANTS",
            "MAC_RX_PHY_ERRORS", "MAC_RX_PREAMBLE_ERRORS", "MAC_RX_FIFO_OVERFLOWS",
            "MAC_RX_IP_CHECKSUM_ERRORS", "MAC_RX_FILTERED", "MAC_RX_PTP_FRAMES",
            "MAC_RX_RTP_FRAMES", "MAC_RX_CP_FRAMES", "MAC_RX_PTP_OVERFLOWS",
            "MAC_RX_RTP_OVERFLOWS", "MAC_RX_CP_OVERFLOWS")


def replay(pcap, *, record=None, record_network=None, config=None, retime_ps=None, seed=0,
           max_frames=None, progress=None, log=None, waveform=None):
    """Replay `pcap` into one simulated Stagebox; returns the result dictionary."""
    frames = read_frames(pcap)
    if max_frames is not None:
        frames = frames[:max_frames]
    if not frames:
        raise ValueError(f"{pcap} holds no Ethernet frames")
    sim = Simulation(config, seed=seed, keep_rx_log=True, log=log, trace=waveform is not None)
    device = sim.add_stagebox("dut")
    if waveform is not None:
        device.trace(waveform)
    mac = device.regs.info("MAC_CONTROL")
    enable = 0
    for field in ("RX_ENABLE", "TX_ENABLE", "PROMISCUOUS", "ALL_MULTICAST"):
        enable |= mac.field(field).mask
    device.write("MAC_CONTROL", enable)
    source = PcapSource(frames, start_ps=START_PS, retime=retime_ps, name="capture")
    sim.connect(source)
    if record_network:
        sim.network.record(record_network)
    last_send = START_PS + (frames[-1][0] if retime_ps is None else retime_ps * (len(frames) - 1))
    end = last_send + TAIL_PS
    meter = progress and Progress(end, "replay")
    sim.run_until(end, meter)
    if meter:
        meter(sim.now_ps, final=True)
    if record_network:
        sim.network.stop_recording()
    received = device.rx_log
    if record:
        write_frames(record, received)
    counters = {name: device.read(name) for name in COUNTERS}
    result = {
        "capture": str(pcap),
        "design": sim.design.name,
        "phy": sim.config.phy,
        "frames_injected": len(frames),
        "frames_at_pins": len(received),
        "frames_transmitted": len(device.tx_log),
        "simulated_s": sim.now_ps / PS_PER_S,
        "timing": timing_comparison(frames, received, retime_ps),
        "counters": counters,
    }
    return result


def timing_comparison(injected, received, retime_ps=None):
    """How the frames at the pins keep the capture's inter-frame timing.

    Returns the count of frames whose bytes match in order, and the largest difference (ps)
    between a capture gap and the corresponding gap at the pins.
    """
    same = sum(1 for (_, a), (_, b) in zip(injected, received, strict=False)
               if a.ljust(60, b"\0") == b)
    worst = 0
    for i in range(1, min(len(injected), len(received))):
        want = (injected[i][0] - injected[i - 1][0]) if retime_ps is None else retime_ps
        got = received[i][0] - received[i - 1][0]
        worst = max(worst, abs(got - want))
    return {"frames_identical": same, "max_gap_error_ps": worst}


def main_replay(args):
    """CLI entry: prints the result as JSON (also to ``--report``)."""
    import sys

    from stagebox.gateware.config import CoreConfig

    config = CoreConfig(phy=args.interface, spi_bridge=False)
    result = replay(args.pcap, record=args.record, record_network=args.record_network,
                    config=config, retime_ps=args.retime_us and int(args.retime_us * 1e6),
                    seed=args.seed, max_frames=args.max_frames, progress=True,
                    log=lambda text: print(text, file=sys.stderr), waveform=args.waveform)
    text = json.dumps(result, indent=2)
    print(text)
    if args.report:
        with open(args.report, "w") as out:
            out.write(text + "\n")
    return 0
