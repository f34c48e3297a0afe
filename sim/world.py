"""The system simulator's Python API: devices on a simulated network, at frame granularity.

`Simulation` owns one compiled world (`Engine`: every device is an instance of one design,
stepped edge by edge in true-time order in C++) and one `Network` (switch, links, Python
endpoints such as the model grandmaster or a pcap source). `Simulation.run_until(t)` alternates
between them without ever calling Python per clock cycle:

1. the horizon is the earliest of `t` and the next Python endpoint event;
2. the engine runs to the horizon, stopping early when a device finishes transmitting a frame;
3. frames transmitted are handed to the network (which schedules their arrival at every other
   port: always in the future, because the switch stores and forwards), frames the network
   sent to a device are already queued in that device's PHY model with their arrival time;
4. the network runs its endpoints' events up to the engine's time; repeat.

Causality holds exactly: a frame influences another device no earlier than its arrival, and the
engine never runs past a Python event. Register reads and writes run the same loop until the
bus cycle completes.

`SimDevice` is any compiled design with its clocks and models; `Stagebox` is the core with its
standard board around it (oscillator, PHY, register bus, PPS/event pins) and the register driver.
"""

import math
import sys
import time
from dataclasses import dataclass, replace

from .engine import BUS_ERROR, BUS_OK, STOP_BUS, STOP_TX_FRAME, Engine
from .network import Endpoint, LinkParams, Network

__all__ = ["Simulation", "SimDevice", "Stagebox", "DeviceClock", "BusError", "PS_PER_S",
           "Progress"]

PS_PER_S = 10**12
_INF = 1 << 62
#: With a progress callback, the engine returns to Python at least this often (simulated).
PROGRESS_STEP_PS = 10**10


class BusError(RuntimeError):
    """A register access ended with the bus's error or timed out."""


def _drive(coro):
    """Run a driver coroutine whose awaits complete synchronously (the simulator's bus)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the register driver waited for something the simulator cannot provide")


class _SimBus:
    """`stagebox.driver.RegisterBus` over a simulated device's Wishbone master."""

    def __init__(self, device):
        self.device = device

    async def read(self, address, count):
        return [self.device.read32(address + 4 * i) for i in range(count)]

    async def write(self, address, words):
        for i, word in enumerate(words):
            self.device.write32(address + 4 * i, word)


@dataclass(frozen=True)
class DeviceClock:
    """An oscillator-driven clock of a device: the pins it drives, nominal frequency, error."""

    pins: tuple
    hz: float
    ppm: float = 0.0
    wander_ppm: float = 0.0
    phase_ps: int = 0
    #: Skip the model's eval at falling edges (see `Engine.quiet_falls`): ~1.3x faster for
    #: posedge-only designs whose outputs do not depend on the clock combinationally.
    quiet_falls: bool = False


class SimDevice(Endpoint):
    """One instance of the simulation's design, attached to its network when it has a PHY.

    Generic: any design following the port conventions (see `stagebox.sim.build`). Models are
    attached by port name; this class keeps their handles and turns their queues into Python
    values.
    """

    def __init__(self, sim, name, clocks, *, reset_cycles=4):
        self.sim = sim
        self.name = name
        self.port = None
        self.engine = sim.engine
        self.index = self.engine.add_device(reset_cycles)
        self.clocks = {}
        for key, clock in clocks.items():
            self.clocks[key] = self.engine.add_clock(
                self.index, list(clock.pins), clock.hz, ppm=clock.ppm,
                wander_ppm=clock.wander_ppm, phase_ps=clock.phase_ps,
                seed=sim.derive_seed(name, key))
            if clock.quiet_falls:
                self.engine.quiet_falls(self.index, self.clocks[key])
        self.phy = None
        self.bus = None
        self._monitors = {}
        self._inputs = {}
        self._received = {}
        self._next_frame_id = 0
        self.rx_log = []   # (t_ps at the pins, frame) when sim.keep_rx_log
        self.tx_log = []   # TxFrame

    # -- network ---------------------------------------------------------------------------
    def attach_phy(self, kind, rx_clock, tx_clock, link=None):
        self.phy = self.engine.attach_phy(self.index, kind, self.clocks[rx_clock],
                                          self.clocks[tx_clock])
        self.sim.network.connect(self, link or LinkParams(
            rate_bps=100_000_000 if kind in ("rmii", "mii") else 1_000_000_000))

    def receive(self, frame, t_ps):
        """From the network: `frame` arrives (first byte after the SFD) at `t_ps`."""
        self._next_frame_id += 1
        if self.sim.keep_rx_log:
            self._received[self._next_frame_id] = bytes(frame)
        self.engine.phy_send(self.index, self.phy, frame, t_ps, self._next_frame_id)

    def send_frame(self, frame, t_ps, *, bad_fcs=False, rx_error=False):
        """Put a frame on this device's receive pins directly (no network)."""
        self._next_frame_id += 1
        if self.sim.keep_rx_log:
            self._received[self._next_frame_id] = bytes(frame)
        self.engine.phy_send(self.index, self.phy, frame, t_ps, self._next_frame_id,
                             bad_fcs=bad_fcs, rx_error=rx_error)

    def _collect(self):
        """Move what the harness queued into Python: transmitted frames go to the network."""
        if self.phy is None:
            return
        for fid, t in self.engine.phy_rx_notes(self.index, self.phy):
            frame = self._received.pop(fid, None)
            if frame is not None:
                self.rx_log.append((t, frame))
        for frame in self.engine.phy_tx_frames(self.index, self.phy):
            self.tx_log.append(frame)
            if self.port is not None and not frame.flags & {"bad_fcs", "bad_preamble"}:
                self.port.send(frame.data, frame.t_ps)

    # -- registers -------------------------------------------------------------------------
    def attach_bus(self, clock, prefix="bus_"):
        self.bus = self.engine.attach_bus(self.index, self.clocks[clock], prefix)

    def _bus(self, write, address, data=0):
        if self.bus is None:
            raise RuntimeError(f"{self.name} has no register bus")
        op = self.engine.bus_submit(self.index, self.bus, write, address, data)
        status, value = self.sim.wait_bus(self, op)
        if status != BUS_OK:
            what = "error" if status == BUS_ERROR else "timeout"
            raise BusError(f"{self.name}: bus {what} at {address:#x}")
        return value

    def read32(self, address):
        return self._bus(False, address)

    def write32(self, address, value):
        self._bus(True, address, value)

    # -- pins ------------------------------------------------------------------------------
    def monitor(self, pin, clock):
        """Record every change of output `pin` (sampled after each `clock` edge)."""
        self._monitors[pin] = self.engine.add_monitor(self.index, self.clocks[clock], pin)

    def changes(self, pin):
        """``[(t_ps, value)]`` of `pin`'s changes since the last call."""
        return self.engine.monitor_changes(self.index, self._monitors[pin])

    def schedule_input(self, pin, t_ps, value, clock="sys"):
        """Set input `pin` to `value` at true time `t_ps` (sampled at the next `clock` edge)."""
        if pin not in self._inputs:
            self._inputs[pin] = self.engine.attach_input(self.index, self.clocks[clock], pin)
        self.engine.schedule_input(self.index, self._inputs[pin], t_ps, value)

    def trace(self, path):
        """Write this device's waveforms (FST) to `path` (needs ``Simulation(trace=True)``)."""
        self.engine.trace(self.index, path)


class Stagebox(SimDevice):
    """The Stagebox core on a simulated board.

    The board: one crystal oscillator (``ppm`` off nominal, optional ``wander_ppm`` random walk
    per sqrt(second)) clocking the system clock and, through a PLL, the PHY's transmit clock
    (GMII GTX_CLK, the same clock at 125 MHz) or REF_CLK (RMII, 50 MHz). GMII's receive clock is
    recovered by the PHY from the link partner (``link_ppm``). Registers go through the driver
    (`read`/`write` by name); PPS changes are recorded. Falling clock edges are not evaluated
    (nothing happens there in the core) unless ``exact_falls`` or waveforms are on.
    """

    def __init__(self, sim, name="stagebox", *, ppm=0.0, wander_ppm=0.0, link_ppm=0.0,
                 link=None, exact_falls=False):
        config = sim.config
        self.config = config
        sys_hz = config.sys_clk_hz
        clocks = {}
        if config.phy == "gmii" and sys_hz == 125_000_000:
            clocks["sys"] = DeviceClock(("clk", "eth_tx_clk"), sys_hz, ppm, wander_ppm)
        else:
            clocks["sys"] = DeviceClock(("clk",), sys_hz, ppm, wander_ppm)
        if config.phy == "gmii":
            if sys_hz != 125_000_000:
                clocks["eth_tx"] = DeviceClock(("eth_tx_clk",), 125e6, ppm, wander_ppm, 1_000)
            clocks["eth_rx"] = DeviceClock(("eth_rx_clk",), 125e6, link_ppm, 0.0, 3_000)
        elif config.phy in ("rmii", "mii"):
            hz = 50e6 if config.phy == "rmii" else 25e6
            if config.phy == "mii":
                raise ValueError("the system simulator models GMII and RMII boards")
            clocks["eth"] = DeviceClock(("eth_clk",), hz, ppm, wander_ppm, 2_000)
        else:
            raise ValueError(f"the system simulator has no board for phy {config.phy!r}")
        if not exact_falls:
            # The core is posedge-only and the wrapper registers its inputs: a falling edge
            # has nothing to evaluate (tests/test_sim_world.py checks both ways agree).
            clocks = {k: replace(c, quiet_falls=True) for k, c in clocks.items()}
        super().__init__(sim, name, clocks)
        if config.phy == "gmii":
            self.attach_phy("gmii", "eth_rx", "eth_tx" if "eth_tx" in clocks else "sys", link)
        else:
            self.attach_phy("rmii", "eth", "eth", link)
        self.attach_bus("sys")
        self.monitor("pps", "sys")
        from stagebox.driver.device import Device

        self.regs = Device(_SimBus(self))

    def read(self, name):
        """Register `name` (generated names, e.g. ``IDENT_MAGIC``)."""
        return _drive(self.regs.read(name))

    def write(self, name, value):
        _drive(self.regs.write(name, value))

    def read_field(self, name, field):
        return _drive(self.regs.read_field(name, field))

    def pps_edges(self):
        """True times (ps) of the PPS pin's rising edges since the last call."""
        return [t for t, v in self.changes("pps") if v]


class Progress:
    """A line on stderr every few seconds of a long run: simulated time and speed."""

    def __init__(self, total_ps, label="sim", every_s=5.0, stream=None):
        self.total_ps = total_ps
        self.label = label
        self.every_s = every_s
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.last = self.started

    def __call__(self, now_ps, final=False):
        wall = time.monotonic()
        if not final and wall - self.last < self.every_s:
            return
        self.last = wall
        elapsed = wall - self.started
        rate = now_ps / PS_PER_S / elapsed if elapsed else 0.0
        self.stream.write(f"{self.label}: {now_ps / PS_PER_S:.3f} s of "
                          f"{self.total_ps / PS_PER_S:.3f} simulated, "
                          f"{rate * 1e3:.1f} ms per wall second\n")
        self.stream.flush()


class Simulation:
    """A world of `Stagebox` devices (one core configuration) and Python endpoints on a switch.

    ``config``: the `CoreConfig` every device is built from (default: GMII at 125 MHz, Wishbone
    register bus); ``seed``: every random choice (network impairments, oscillator wander) derives
    from it; ``trace``: build the library with waveform support; ``keep_rx_log``: remember every
    frame a device received with its time at the pins (`SimDevice.rx_log`).
    """

    def __init__(self, config=None, *, design=None, seed=0, trace=False, keep_rx_log=False,
                 switch_latency_ps=1_000_000, log=None):
        from .build import SimDesign, build_library

        if design is None:
            from stagebox.gateware.config import CoreConfig

            self.config = config or CoreConfig(phy="gmii", spi_bridge=False)
            design = SimDesign.from_core(self.config)
        else:
            self.config = config
        self.design = design
        self.seed = seed
        self.keep_rx_log = keep_rx_log
        self.library = build_library(design, trace=trace, log=log)
        self.engine = Engine(self.library)
        self.network = Network(seed=seed, switch_latency_ps=switch_latency_ps)
        self.devices = []

    def derive_seed(self, *parts):
        import hashlib

        text = "/".join([str(self.seed), *map(str, parts)]).encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "little")

    def add_stagebox(self, name=None, **kwargs):
        device = Stagebox(self, name or f"stagebox{len(self.devices)}", **kwargs)
        self.devices.append(device)
        return device

    def add_device(self, name, clocks, **kwargs):
        """A device of the simulation's design with the given `DeviceClock`s (generic designs)."""
        device = SimDevice(self, name, clocks, **kwargs)
        self.devices.append(device)
        return device

    def connect(self, endpoint, link=None):
        """Put a Python endpoint (grandmaster, pcap source, recorder, ...) on the switch."""
        return self.network.connect(endpoint, link or LinkParams())

    @property
    def now_ps(self):
        return self.engine.now_ps

    def _step(self, horizon, mask):
        raised = self.engine.run(horizon, mask | STOP_TX_FRAME)
        for device in self.devices:
            device._collect()
        self.network.run_until(self.engine.now_ps)
        return raised

    def run_until(self, t_ps, progress=None):
        """Advance the whole world to true time `t_ps` (`progress`: called with the time now and
        then, at least every `PROGRESS_STEP_PS` of simulated time)."""
        while True:
            pending = self.network.next_event_ps()
            horizon = t_ps if pending is None else min(t_ps, max(pending, self.engine.now_ps))
            if progress:
                horizon = min(horizon, self.engine.now_ps + PROGRESS_STEP_PS)
            self._step(horizon, 0)
            if progress:
                progress(self.engine.now_ps)
            if self.engine.now_ps >= t_ps:
                return

    def run_for(self, duration_ps, progress=None):
        self.run_until(self.engine.now_ps + duration_ps, progress)

    def wait_bus(self, device, op):
        """Run until bus operation `op` of `device` finishes; returns (status, data)."""
        results = {}
        while op not in results:
            pending = self.network.next_event_ps()
            horizon = _INF if pending is None else max(pending, self.engine.now_ps)
            if horizon == _INF:
                horizon = self.engine.now_ps + PS_PER_S
            self._step(horizon, STOP_BUS)
            results.update(self.engine.bus_results(device.index, device.bus))
        return results[op]


def seconds(value):
    """Seconds (float) to integer picoseconds."""
    return int(round(value * PS_PER_S))


def cycles_per_second(hz, simulated_ps, wall_s):
    return hz * simulated_ps / PS_PER_S / wall_s if wall_s > 0 else math.inf
