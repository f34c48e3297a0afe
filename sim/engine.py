"""ctypes binding of the simulator library (sim/engine/harness.cpp).

`Engine` is one world: true time, every device (an instance of the compiled design), their
clocks and models. Times are int picoseconds. The classes here are thin: each method is one call
into the library; `stagebox.sim.world` and `stagebox.sim.device` build the user-facing API on
top (network, registers by name, progress).
"""

import ctypes
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Engine", "EngineError", "STOP_TX_FRAME", "STOP_BUS", "STOP_MONITOR", "STOP_AUDIO",
           "STOP_RX_FRAME", "FRAME_FLAGS", "TxFrame", "PHY_WIDTH"]

STOP_TX_FRAME, STOP_BUS, STOP_MONITOR, STOP_AUDIO, STOP_RX_FRAME = 1, 2, 4, 8, 16
#: Bits of a transmitted frame's flags (harness.cpp FrameFlags).
FRAME_FLAGS = {"bad_fcs": 1, "error": 2, "bad_preamble": 4, "short": 8, "gap": 16,
               "dribble": 32}
#: Bits per symbol of each PHY interface the harness models.
PHY_WIDTH = {"gmii": 8, "mii": 4, "rmii": 2}
#: Bus operation status codes.
BUS_OK, BUS_ERROR, BUS_TIMEOUT = 1, 2, 3

_i, _d, _p, _s = ctypes.c_int, ctypes.c_double, ctypes.c_void_p, ctypes.c_char_p
_i64, _u64, _u32 = ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint32
_P = ctypes.POINTER
_SIGNATURES = {
    "sb_error": (_s, []),
    "sb_design": (_s, []),
    "sb_world_new": (_p, []),
    "sb_world_free": (None, [_p]),
    "sb_device_new": (_i, [_p, _i]),
    "sb_port_count": (_i, [_p, _i]),
    "sb_port_info": (_s, [_p, _i, _i, _P(_i), _P(_i)]),
    "sb_clock_add": (_i, [_p, _i, _s, _d, _d, _d, _i64, _u64]),
    "sb_clock_set_ppm": (_i, [_p, _i, _i, _d]),
    "sb_clock_ppm": (_d, [_p, _i, _i]),
    "sb_clock_quiet_falls": (_i, [_p, _i, _i, _i]),
    "sb_clock_rises": (_u64, [_p, _i, _i]),
    "sb_now_ps": (_i64, [_p]),
    "sb_run": (_i, [_p, _i64, _i]),
    "sb_phy_attach": (_i, [_p, _i, _i, _i, _i]),
    "sb_phy_send": (_i, [_p, _i, _i, _s, _i, _i64, _u64, _i]),
    "sb_phy_rx_pop": (_i, [_p, _i, _i, _P(_u64), _P(_i64)]),
    "sb_phy_rx_pending": (_i, [_p, _i, _i]),
    "sb_phy_tx_pop": (_i, [_p, _i, _i, _s, _i, _P(_i), _P(_i64), _P(_i)]),
    "sb_bus_attach": (_i, [_p, _i, _i, _s, _i, _i]),
    "sb_bus_submit": (_i64, [_p, _i, _i, _i, _u32, _u32, _u32]),
    "sb_bus_pop": (_i, [_p, _i, _i, _P(_u64), _P(_i), _P(_u32)]),
    "sb_monitor_add": (_i, [_p, _i, _i, _s, _i]),
    "sb_monitor_pop": (_i, [_p, _i, _i, _P(_i64), _P(_u64)]),
    "sb_input_attach": (_i, [_p, _i, _i, _s]),
    "sb_input_schedule": (_i, [_p, _i, _i, _i64, _u64]),
    "sb_audio_attach": (_i, [_p, _i, _i, _s, _s, _s, _i, _i, _i, _i, _i, _i, _i]),
    "sb_audio_push": (_i, [_p, _i, _i, _P(ctypes.c_int32), _i]),
    "sb_audio_pop": (_i, [_p, _i, _i, _P(ctypes.c_int32), _P(_i64), _i]),
    "sb_audio_stats": (_i, [_p, _i, _i, _P(_u64), _P(_u64), _P(_u64)]),
    "sb_audio_stop_on_frame": (_i, [_p, _i, _i, _i]),
    "sb_pin_get": (_u64, [_p, _i, _s]),
    "sb_pin_set": (_i, [_p, _i, _s, _u64]),
    "sb_trace_open": (_i, [_p, _i, _s]),
}
_LIBRARIES = {}


class EngineError(RuntimeError):
    """The harness refused a call (its reason is the message)."""


def _load(path):
    path = str(Path(path).resolve())
    if path not in _LIBRARIES:
        lib = ctypes.CDLL(path)
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        _LIBRARIES[path] = lib
    return _LIBRARIES[path]


@dataclass(frozen=True)
class TxFrame:
    """A frame a device transmitted: bytes without FCS, the true time of its first byte after
    the SFD at the pins, and the harness's findings (`FRAME_FLAGS` names)."""

    data: bytes
    t_ps: int
    flags: frozenset


class Engine:
    """One simulated world of devices built from the library at `library_path`."""

    def __init__(self, library_path):
        self._world = None
        self._lib = _load(library_path)
        self._world = self._lib.sb_world_new()
        self._buffer = ctypes.create_string_buffer(16384)

    def close(self):
        if self._world:
            self._lib.sb_world_free(self._world)
            self._world = None

    def __del__(self):
        self.close()

    def _check(self, value):
        if value is None or (isinstance(value, int) and value < 0):
            raise EngineError(self._lib.sb_error().decode())
        return value

    @property
    def design(self):
        return self._lib.sb_design().decode()

    @property
    def now_ps(self):
        return self._lib.sb_now_ps(self._world)

    def add_device(self, reset_cycles=4):
        return self._check(self._lib.sb_device_new(self._world, reset_cycles))

    def ports(self, device):
        """``{name: (direction, width)}`` of the compiled design's (wrapper's) ports."""
        out = {}
        width, is_input = ctypes.c_int(), ctypes.c_int()
        for i in range(self._check(self._lib.sb_port_count(self._world, device))):
            name = self._lib.sb_port_info(self._world, device, i, ctypes.byref(width),
                                          ctypes.byref(is_input))
            out[name.decode()] = ("input" if is_input.value else "output", width.value)
        return out

    def add_clock(self, device, pins, hz, *, ppm=0.0, wander_ppm=0.0, phase_ps=0, seed=0):
        """A clock on `pins` (a list); returns its index within the device."""
        return self._check(self._lib.sb_clock_add(self._world, device, ",".join(pins).encode(),
                                                  float(hz), float(ppm), float(wander_ppm),
                                                  int(phase_ps), seed & (2**64 - 1)))

    def set_ppm(self, device, clock, ppm):
        self._check(self._lib.sb_clock_set_ppm(self._world, device, clock, float(ppm)))

    def quiet_falls(self, device, clock, on=True):
        """Skip the eval of this clock's falling edges (posedge-only designs with registered
        inputs and no output depending on the clock combinationally, such as the core)."""
        self._check(self._lib.sb_clock_quiet_falls(self._world, device, clock, int(on)))

    def ppm(self, device, clock):
        return self._lib.sb_clock_ppm(self._world, device, clock)

    def rises(self, device, clock):
        return self._lib.sb_clock_rises(self._world, device, clock)

    def run(self, until_ps, stop_mask=0):
        """Advance to `until_ps`, or until a stop condition of `stop_mask` is raised (returned)."""
        return self._lib.sb_run(self._world, int(until_ps), stop_mask)

    def attach_phy(self, device, kind, rx_clock, tx_clock):
        return self._check(self._lib.sb_phy_attach(self._world, device, PHY_WIDTH[kind],
                                                   rx_clock, tx_clock))

    def phy_send(self, device, phy, frame, t_ps, frame_id=0, *, bad_fcs=False, rx_error=False):
        flags = (1 if bad_fcs else 0) | (2 if rx_error else 0)
        self._check(self._lib.sb_phy_send(self._world, device, phy, bytes(frame), len(frame),
                                          int(t_ps), frame_id, flags))

    def phy_rx_notes(self, device, phy):
        """``[(frame_id, t_ps)]``: frames whose first byte after the SFD reached the pins."""
        notes = []
        fid, t = ctypes.c_uint64(), ctypes.c_int64()
        while self._check(self._lib.sb_phy_rx_pop(self._world, device, phy, ctypes.byref(fid),
                                                  ctypes.byref(t))):
            notes.append((fid.value, t.value))
        return notes

    def phy_rx_pending(self, device, phy):
        return self._check(self._lib.sb_phy_rx_pending(self._world, device, phy))

    def phy_tx_frames(self, device, phy):
        """Every frame the device has finished transmitting since the last call."""
        frames = []
        length, t, flags = ctypes.c_int(), ctypes.c_int64(), ctypes.c_int()
        while self._check(self._lib.sb_phy_tx_pop(self._world, device, phy, self._buffer,
                                                  len(self._buffer), ctypes.byref(length),
                                                  ctypes.byref(t), ctypes.byref(flags))):
            names = frozenset(n for n, bit in FRAME_FLAGS.items() if flags.value & bit)
            frames.append(TxFrame(self._buffer.raw[:length.value], t.value, names))
        return frames

    def attach_bus(self, device, clock, prefix="bus_", *, address_shift=2, timeout=1024):
        return self._check(self._lib.sb_bus_attach(self._world, device, clock, prefix.encode(),
                                                   address_shift, timeout))

    def bus_submit(self, device, bus, write, address, data=0, sel=0xF):
        return self._check(self._lib.sb_bus_submit(self._world, device, bus, int(write),
                                                   address, data, sel))

    def bus_results(self, device, bus):
        """``{op_id: (status, data)}`` of finished operations."""
        out = {}
        op, status, data = ctypes.c_uint64(), ctypes.c_int(), ctypes.c_uint32()
        while self._check(self._lib.sb_bus_pop(self._world, device, bus, ctypes.byref(op),
                                               ctypes.byref(status), ctypes.byref(data))):
            out[op.value] = (status.value, data.value)
        return out

    def add_monitor(self, device, clock, pin, *, stop=False):
        return self._check(self._lib.sb_monitor_add(self._world, device, clock, pin.encode(),
                                                    int(stop)))

    def monitor_changes(self, device, monitor):
        """``[(t_ps, value)]`` of the pin's changes since the last call."""
        out = []
        t, value = ctypes.c_int64(), ctypes.c_uint64()
        while self._check(self._lib.sb_monitor_pop(self._world, device, monitor,
                                                   ctypes.byref(t), ctypes.byref(value))):
            out.append((t.value, value.value))
        return out

    def attach_input(self, device, clock, pin):
        return self._check(self._lib.sb_input_attach(self._world, device, clock, pin.encode()))

    def schedule_input(self, device, hook, t_ps, value):
        self._check(self._lib.sb_input_schedule(self._world, device, hook, int(t_ps), value))

    def attach_audio(self, device, clock, *, bclk, lrck, data, to_design, lines, slots,
                     slot_bits, sample_bits, frame_on_rise, delay):
        return self._check(self._lib.sb_audio_attach(
            self._world, device, clock, bclk.encode(), lrck.encode(), data.encode(),
            int(to_design), lines, slots, slot_bits, sample_bits, int(frame_on_rise), delay))

    def audio_push(self, device, hook, frames, values_per_frame):
        """Queue frames (each a sequence of ``values_per_frame`` ints, line-major)."""
        flat = [int(v) for frame in frames for v in frame]
        if len(flat) != len(frames) * values_per_frame:
            raise ValueError(f"each audio frame needs {values_per_frame} samples")
        array = (ctypes.c_int32 * len(flat))(*flat)
        self._check(self._lib.sb_audio_push(self._world, device, hook, array, len(frames)))

    def audio_pop(self, device, hook, values_per_frame, max_frames=4096, samples=True):
        """``[(t_ps, samples)]`` (samples None for inputs: only the latch times)."""
        times = (ctypes.c_int64 * max_frames)()
        buf = (ctypes.c_int32 * (max_frames * values_per_frame))() if samples else None
        n = self._check(self._lib.sb_audio_pop(self._world, device, hook, buf, times,
                                               max_frames))
        out = []
        for i in range(n):
            values = (tuple(buf[i * values_per_frame:(i + 1) * values_per_frame])
                      if samples else None)
            out.append((times[i], values))
        return out

    def audio_stats(self, device, hook):
        f, u, s = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
        self._check(self._lib.sb_audio_stats(self._world, device, hook, ctypes.byref(f),
                                             ctypes.byref(u), ctypes.byref(s)))
        return {"frames": f.value, "underruns": u.value, "short_frames": s.value}

    def audio_stop_on_frame(self, device, hook, stop=True):
        self._check(self._lib.sb_audio_stop_on_frame(self._world, device, hook, int(stop)))

    def pin(self, device, name):
        return self._lib.sb_pin_get(self._world, device, name.encode())

    def set_pin(self, device, name, value):
        self._check(self._lib.sb_pin_set(self._world, device, name.encode(), value))

    def trace(self, device, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._check(self._lib.sb_trace_open(self._world, device, str(path).encode()))
