"""The simulated network: endpoints on one store-and-forward learning switch.

Units and reference points
--------------------------
Every time is an int number of picoseconds of true (simulation) time. A frame is `bytes` from
the destination MAC through the payload (no preamble/SFD, no FCS). A frame's time is the instant
its first byte after the SFD is at the pins of the port in question: "sent at" at the sender's
pins, "arrives at" at the receiver's pins (the IEEE 1588 message timestamp point).

Path of one frame
-----------------
``port.send(frame, t)`` puts the frame's data start on the sender's pins at ``t``. It reaches
each egress endpoint at::

    t + serialisation of the rest of the frame at the ingress rate   (frame + FCS)
      + endpoint->switch delay of the ingress link                   (delay - asymmetry/2, + PDV)
      + switch latency                                               (store-and-forward decision)
      + preamble and SFD at the egress rate                          (8 byte times)
      + switch->endpoint delay of the egress link                    (delay + asymmetry/2, + PDV)
      + reorder delay, for the frames the egress link chooses to hold back

Frames shorter than the Ethernet minimum (60 bytes without FCS) are padded with zero bytes at
the sender, as every MAC does, so serialisation, recording and delivery all see the frame as it
is on the wire. Frames shorter than 14 bytes or longer than 1518 (1514 + one 802.1Q tag) are
counted as malformed on the sending port and go nowhere (they are still recorded: they were on
the sender's wire).

The switch learns each unicast source MAC at the send call (no ageing). A frame to a learned
unicast address goes to that port only (nowhere, if that is the port it came from); unknown
unicast, multicast and broadcast frames are flooded to every other port.

Impairments (per link, `LinkParams`): loss and packet delay variation (PDV, uniform in
``[0, pdv_ps]``) in each direction; reordering (an extra ``reorder_delay_ps`` so later frames
overtake) and duplication (a second copy one frame time plus the inter-frame gap after the
first) on the switch->endpoint direction. Every random choice comes from one
``random.Random(seed)`` owned by the `Network`, drawn in a fixed order per send: ingress loss,
ingress PDV, then for each egress port in connection order: loss, PDV, reorder, duplicate
(a draw is made only when its probability or range is non-zero). The same seed and the same
calls give the same result.

Not modelled
------------
Congestion and queueing at the egress between frames (two frames may overlap at a receiver's
pins; the receiving PHY model enforces the inter-frame gap itself), VLANs (tags are carried,
not interpreted), IGMP snooping (multicast always floods), MAC address ageing, link-down,
pause frames, FCS errors and bit errors.

Scheduling
----------
Delivery is immediate: ``endpoint.receive(frame, arrival)`` is called inside ``port.send`` with
a future arrival time. Endpoints act through `Endpoint.next_event_ps` / `Endpoint.run_event`;
`Network.run_until` runs those events in time order (ties in connection order).

Late sends
----------
A simulated device (the system simulator's harness) reports each frame when its transmission
has ended, dated at its data start: up to `LATE_SEND_PS` before the network time. Such sends are
accepted (every arrival is still after the end of the frame, hence in the future), and the
recording holds frames back by that much so it stays in send-time order.

Recording
---------
`Network.record` writes every frame any port sends to a nanosecond pcap, at its send time
(``floor(t_ps / 1000)`` ns after the pcap epoch plus ``epoch_s``). Frames are held back until
the network time has passed their send time, so the file is in send-time order (ties in send
call order) even when endpoints send into the future out of order.
"""

import dataclasses
import heapq
import operator
import random
from bisect import bisect_right

from stagebox.gateware.eth.interface import FCS_BYTES, MAX_FRAME, MIN_FRAME, MIN_IFG, PREAMBLE_BYTES

__all__ = [
    "PS_PER_S", "Endpoint", "LinkParams", "PortCounters", "Port", "Network", "Recorder",
    "MIN_FRAME_BYTES", "MAX_FRAME_BYTES", "HEADER_BYTES",
]

PS_PER_S = 10**12
HEADER_BYTES = 14                           # destination, source, EtherType
MIN_FRAME_BYTES = MIN_FRAME - FCS_BYTES     # 60: shorter frames are padded on the wire
MAX_FRAME_BYTES = MAX_FRAME - FCS_BYTES     # 1518: 1514 plus one 802.1Q tag
PREAMBLE_SFD_BYTES = PREAMBLE_BYTES + 1
RATES_BPS = (100_000_000, 1_000_000_000)
#: How far before the network time a send may be dated: a simulated device reports a frame
#: when its transmission has ended, so its data start lies up to one longest frame (at the
#: slowest rate) in the past. Its arrivals are still in the future (store-and-forward).
LATE_SEND_PS = (MAX_FRAME_BYTES + FCS_BYTES) * 8 * PS_PER_S // RATES_BPS[0]


class Endpoint:
    """Something connected to the network: a simulated device, a model, a capture source.

    Subclasses set `name`; `Network.connect` sets `port`.
    """

    name: str = "endpoint"
    port: "Port | None" = None

    def receive(self, frame: bytes, t_ps: int) -> None:
        """Take `frame` arriving at this endpoint's pins at `t_ps`.

        Called at the sender's send time, so `t_ps` is in the future (> ``network.now_ps``).
        """
        raise NotImplementedError(f"{type(self).__name__} does not receive frames")

    def next_event_ps(self) -> int | None:
        """The earliest time this endpoint wants `run_event` called, or None."""
        return None

    def run_event(self, now_ps: int) -> None:
        """Act at `now_ps` (may call ``self.port.send``); must consume the event it announced."""


def _int(value, what):
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None


@dataclasses.dataclass(frozen=True)
class LinkParams:
    """One endpoint's link to the switch. Times in ps, probabilities in [0, 1], rate in bit/s.

    `asymmetry_ps` lengthens the switch->endpoint direction by half its value and shortens the
    endpoint->switch direction by the same amount (so the round trip stays ``2 * delay_ps``); it
    must be even so both halves are exact.
    """

    delay_ps: int = 500_000
    asymmetry_ps: int = 0
    pdv_ps: int = 0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay_ps: int = 0
    rate_bps: int = 1_000_000_000

    def __post_init__(self):
        for name in ("delay_ps", "asymmetry_ps", "pdv_ps", "reorder_delay_ps", "rate_bps"):
            object.__setattr__(self, name, _int(getattr(self, name), name))
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], not {p!r}")
        if self.delay_ps < 0 or self.pdv_ps < 0 or self.reorder_delay_ps < 0:
            raise ValueError("delay_ps, pdv_ps and reorder_delay_ps must be >= 0")
        if self.asymmetry_ps % 2:
            raise ValueError(f"asymmetry_ps must be even (each direction gets half), "
                             f"not {self.asymmetry_ps}")
        if self.to_endpoint_ps < 0 or self.to_switch_ps < 0:
            raise ValueError(f"asymmetry_ps {self.asymmetry_ps} makes a direction of a "
                             f"{self.delay_ps} ps link negative")
        if self.rate_bps not in RATES_BPS:
            raise ValueError(f"rate_bps must be one of {RATES_BPS}, not {self.rate_bps}")

    @property
    def to_endpoint_ps(self) -> int:
        """Fixed switch->endpoint delay."""
        return self.delay_ps + self.asymmetry_ps // 2

    @property
    def to_switch_ps(self) -> int:
        """Fixed endpoint->switch delay."""
        return self.delay_ps - self.asymmetry_ps // 2

    @property
    def byte_ps(self) -> int:
        """Time of one byte on the wire."""
        return 8 * PS_PER_S // self.rate_bps


@dataclasses.dataclass
class PortCounters:
    """Per-port frame counts. `sent`, `dropped_malformed` and the ingress part of
    `dropped_loss` count frames this port's endpoint sent; `delivered` (every copy, duplicates
    included), `duplicated`, `reordered` and the egress part of `dropped_loss` count frames
    towards it."""

    sent: int = 0
    delivered: int = 0
    dropped_loss: int = 0
    dropped_malformed: int = 0
    duplicated: int = 0
    reordered: int = 0


class Port:
    """A switch port with its link and endpoint. Made by `Network.connect`."""

    def __init__(self, network, endpoint, link, index):
        self.network = network
        self.endpoint = endpoint
        self.link = link
        self.index = index
        self.counters = PortCounters()

    def __repr__(self):
        return f"<Port {self.index} {self.endpoint.name!r}>"

    def send(self, frame: bytes, t_ps: int) -> None:
        """Send `frame` with its data start at the sender's pins at `t_ps` (>= network time)."""
        self.network._send(self, bytes(frame), _int(t_ps, "t_ps"))


class Network:
    """Endpoints on one store-and-forward learning switch (see the module docstring)."""

    def __init__(self, seed=0, switch_latency_ps=1_000_000):
        self.switch_latency_ps = _int(switch_latency_ps, "switch_latency_ps")
        if self.switch_latency_ps < 0:
            raise ValueError("switch_latency_ps must be >= 0")
        self.seed = seed
        self.now_ps = 0
        self.ports: list[Port] = []
        self.mac_table: dict[bytes, Port] = {}
        self._random = random.Random(seed)
        self._writer = None
        self._pending = []      # heap of (t_ps, sequence, frame) not yet written to the recording
        self._sequence = 0

    # Topology

    def connect(self, endpoint: Endpoint, link: LinkParams | None = None) -> Port:
        """Connect `endpoint` through a link with `link` parameters; returns its port."""
        if not isinstance(endpoint, Endpoint):
            raise TypeError(f"{endpoint!r} is not an Endpoint")
        if endpoint.port is not None:
            raise ValueError(f"endpoint {endpoint.name!r} is already connected")
        link = LinkParams() if link is None else link
        if not isinstance(link, LinkParams):
            raise TypeError(f"link must be a LinkParams, not {type(link).__name__}")
        port = Port(self, endpoint, link, len(self.ports))
        self.ports.append(port)
        endpoint.port = port
        return port

    # Time

    def next_event_ps(self) -> int | None:
        """The earliest time any endpoint wants to act, or None."""
        times = [t for t in (p.endpoint.next_event_ps() for p in self.ports) if t is not None]
        return min(times) if times else None

    def run_until(self, t_ps: int) -> None:
        """Run every endpoint event at or before `t_ps` in time order (ties in connection
        order), then set `now_ps` to `t_ps`."""
        t_ps = _int(t_ps, "t_ps")
        if t_ps < self.now_ps:
            raise ValueError(f"cannot run back to {t_ps} ps: the network is at {self.now_ps} ps")
        while True:
            first, first_t = None, None
            for port in self.ports:
                t = port.endpoint.next_event_ps()
                if t is not None and (first_t is None or t < first_t):
                    first, first_t = port.endpoint, t
            if first is None or first_t > t_ps:
                break
            if first_t < self.now_ps:
                raise RuntimeError(f"endpoint {first.name!r} asks for an event at {first_t} ps, "
                                   f"before the network time {self.now_ps} ps")
            self.now_ps = first_t
            first.run_event(first_t)
        self.now_ps = t_ps
        self._flush_recording(t_ps)

    # Forwarding

    def _send(self, ingress, frame, t_ps):
        if t_ps < self.now_ps - LATE_SEND_PS:
            raise ValueError(f"{ingress.endpoint.name!r} sends at {t_ps} ps, before the network "
                             f"time {self.now_ps} ps")
        reaches_switch = (t_ps + (max(len(frame), MIN_FRAME_BYTES) + FCS_BYTES)
                          * ingress.link.byte_ps + ingress.link.to_switch_ps)
        if reaches_switch < self.now_ps:
            # Only a late send can get here: the frame would have reached the switch already.
            raise ValueError(f"{ingress.endpoint.name!r} sends a frame dated {t_ps} ps that "
                             f"would have reached the switch before the network time "
                             f"{self.now_ps} ps")
        counters = ingress.counters
        counters.sent += 1
        if HEADER_BYTES <= len(frame) < MIN_FRAME_BYTES:
            frame += bytes(MIN_FRAME_BYTES - len(frame))
        if self._writer is not None:
            heapq.heappush(self._pending, (t_ps, self._sequence, frame))
            self._sequence += 1
        if not HEADER_BYTES <= len(frame) <= MAX_FRAME_BYTES:
            counters.dropped_malformed += 1
            return

        rng = self._random
        in_link = ingress.link
        if in_link.loss and rng.random() < in_link.loss:
            counters.dropped_loss += 1
            return
        at_switch = (t_ps + (len(frame) + FCS_BYTES) * in_link.byte_ps + in_link.to_switch_ps
                     + self.switch_latency_ps)
        if in_link.pdv_ps:
            at_switch += rng.randint(0, in_link.pdv_ps)

        destination, source = frame[0:6], frame[6:12]
        if not source[0] & 1:
            self.mac_table[source] = ingress
        learned = None if destination[0] & 1 else self.mac_table.get(destination)
        if learned is not None:
            egresses = [] if learned is ingress else [learned]
        else:
            egresses = [p for p in self.ports if p is not ingress]

        for egress in egresses:
            link, counters = egress.link, egress.counters
            if link.loss and rng.random() < link.loss:
                counters.dropped_loss += 1
                continue
            arrival = at_switch + PREAMBLE_SFD_BYTES * link.byte_ps + link.to_endpoint_ps
            if link.pdv_ps:
                arrival += rng.randint(0, link.pdv_ps)
            if link.reorder and rng.random() < link.reorder:
                arrival += link.reorder_delay_ps
                counters.reordered += 1
            copies = [arrival]
            if link.duplicate and rng.random() < link.duplicate:
                # The copy follows back to back: rest of the frame, FCS, gap, next preamble.
                frame_bytes = len(frame) + FCS_BYTES + MIN_IFG + PREAMBLE_SFD_BYTES
                copies.append(arrival + frame_bytes * link.byte_ps)
                counters.duplicated += 1
            for t in copies:
                counters.delivered += 1
                egress.endpoint.receive(frame, t)

    # Recording

    def record(self, path, epoch_s=0) -> None:
        """Write every frame sent from now on to the nanosecond pcap `path`; true time 0 is
        `epoch_s` seconds after the pcap epoch."""
        from .pcap import NanoPcapWriter  # pcap.py imports this module for `Endpoint`

        if self._writer is not None:
            raise RuntimeError("the network is already recording")
        self._writer = NanoPcapWriter(path, epoch_s)

    def stop_recording(self) -> None:
        """Write the frames still held back and close the recording."""
        if self._writer is None:
            return
        self._flush_recording(None)
        self._writer.close()
        self._writer = None

    def _flush_recording(self, up_to_ps):
        # Later sends happen at >= now_ps with a larger sequence number, so every frame at or
        # before now_ps is already in its final place.
        pending = self._pending
        if up_to_ps is not None:
            up_to_ps -= LATE_SEND_PS
        while pending and (up_to_ps is None or pending[0][0] <= up_to_ps):
            t_ps, _, frame = heapq.heappop(pending)
            self._writer.write(t_ps, frame)


class Recorder(Endpoint):
    """An endpoint that keeps every frame it receives: `frames` is a list of (t_ps, frame) in
    arrival order (ties in the order they were sent)."""

    def __init__(self, name="recorder"):
        self.name = name
        self.frames: list[tuple[int, bytes]] = []
        self._times: list[int] = []     # arrival times, parallel to `frames`

    def receive(self, frame: bytes, t_ps: int) -> None:
        # bisect_right puts a frame after those arriving at the same time.
        i = bisect_right(self._times, t_ps)
        self._times.insert(i, t_ps)
        self.frames.insert(i, (t_ps, frame))
