"""A model PTP grandmaster for the simulated network: IEEE 1588-2008, AES67 media profile
defaults, UDP/IPv4 multicast to 224.0.1.129, end-to-end delay mechanism.

Clock. The grandmaster's time is an exact rational function of true (simulation) time in ps:
``gm(t) = gm_start + (t - t_start) * rate`` on segments that start at 0 and at each mid-run
change (`set_frequency_ppm`, `step_time_ps`, `set_time_offset_ps`); before the first change
``gm(t) = time_offset_ps + t * (1 + freq_ppm * 1e-6)``. A float `freq_ppm` is taken as the
decimal it prints as (``Fraction(str(ppm))``), so 0.1 ppm is exactly 1e-7. GM time is in ps
since the PTP epoch (TAI for the PTP timescale); the default offset puts true time 0 at
1_700_000_000 s (PTP timescale) or 1_700_000_000 - utc_offset s (ARB timescale carrying UTC,
as a software grandmaster on a system clock does).

Messages carry the GM time of their reference instant to 2**-16 ns: the timestamp holds the
whole nanoseconds of ``floor(gm(t) in 2**-16 ns)`` and the correctionField the remainder, added
in a Follow_Up (two-step) or a one-step Sync, subtracted in a Delay_Resp (11.3.2: its
correctionField is the Delay_Req's minus the remainder of t4). A two-step Sync carries a zero
originTimestamp (allowed by 1588-2008 9.5.9), so a slave that wrongly uses it fails loudly.

Reference instants (shared simulator convention): a message is sent at the true instant its
first byte after the SFD is at the grandmaster's pins; a Sync's time is the GM clock at that
instant, a Delay_Resp's receive time the GM clock at the Delay_Req's arrival time as given to
`receive`.

Schedule. Announce and Sync are first due at `start_ps`. The k-th next one is due at
``anchor + ceil(k * 2**log_interval s / rate)`` true ps, i.e. the interval is timed by the
grandmaster's own oscillator (``interval_true = 2**log / (1 + ppm * 1e-6)``), rounded up to the
first whole ps, without accumulating rounding. A frequency change takes effect from the next
interval (the one already running keeps its length); time steps do not move the schedule.
Follow_Up is due `follow_up_delay_ps` after its Sync is actually sent, a Delay_Resp
`response_delay_ps` after the Delay_Req arrived. One transmitter: a frame's data start is no
earlier than the previous frame's data start plus its wire time (padding to 60 bytes, FCS,
inter-frame gap and the next preamble at `rate_bps`, which must match the link's rate); frames
due at the same instant go out in the order Sync, Delay_Resp, Follow_Up, Announce.

Delay_Req. Every Delay_Req to UDP port 319 of 224.0.1.129 or of the grandmaster's own IP,
with good checksums, versionPTP 2 and the grandmaster's domain, is answered, whatever its source: to
224.0.1.129:320, or, for a Delay_Req sent to the grandmaster's unicast IP, to the requester's
IP and MAC with the unicast flag (hybrid mode). Anything else is counted in `counters` and
ignored: ``rx_not_ptp`` (not UDP to port 319/320 of those addresses), ``rx_bad_checksum``,
``rx_malformed`` (undecodable or versionPTP not 2), ``rx_other_domain``, ``rx_other_type``
(PTP messages other than a Delay_Req on port 319, e.g. another master's Announce).

Not modelled: the BMCA (the model is always master; priorities and clock quality are only
announced), Pdelay, Signaling/Management, unicast negotiation, VLANs, leap-second events
(the leap flags are announced as set, nothing else happens), timestamp noise (add it in the
network's packet delay variation or in a wrapper).
"""

import heapq
import math
from fractions import Fraction
from typing import NamedTuple

from stagebox.sim import ptp
from stagebox.sim.network import Endpoint

__all__ = ["ModelGrandmaster", "SyncRecord", "DelayRecord", "PS_PER_S", "DEFAULT_EPOCH_S"]

PS_PER_S = 10**12
PS_PER_NS = 1000
DEFAULT_EPOCH_S = 1_700_000_000

# Ethernet overhead per frame on the wire besides the frame bytes: FCS, inter-frame gap and
# the next frame's preamble + SFD; frames shorter than 60 bytes are padded.
_FCS, _IFG, _PREAMBLE, _MIN_FRAME = 4, 12, 8, 60

# Transmit order of messages due at the same instant.
_PRIORITY = {"sync": 0, "delay_resp": 1, "follow_up": 2, "announce": 3}

_COUNTERS = ("rx_frames", "rx_not_ptp", "rx_bad_checksum", "rx_malformed", "rx_other_domain",
             "rx_other_type", "rx_delay_req", "tx_sync", "tx_follow_up", "tx_announce",
             "tx_delay_resp")

# Announce dataset fields that `set_dataset` may change, with their width in bits.
_DATASET_FIELDS = {"priority1": 8, "priority2": 8, "clock_class": 8, "clock_accuracy": 8,
                   "offset_scaled_log_variance": 16, "time_source": 8, "steps_removed": 16}
_DATASET_FLAGS = ("utc_offset_valid", "time_traceable", "frequency_traceable", "leap61",
                  "leap59")


class SyncRecord(NamedTuple):
    """A sent Sync: its sequenceId, true send time (ps) and the GM time then (ps, floored)."""
    sequence_id: int
    t_true_ps: int
    gm_ps: int


class DelayRecord(NamedTuple):
    """An answered Delay_Req: sequenceId, requester, true arrival time (ps), the GM time then
    (ps, floored) and the true send time of the Delay_Resp (ps)."""
    sequence_id: int
    requesting_port_identity: ptp.PortIdentity
    t_true_ps: int
    gm_ps: int
    t_response_ps: int


def _int_in(value, low, high, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what} must be in {low}..{high}, not {value}")
    return value


def _rate(freq_ppm):
    if isinstance(freq_ppm, bool):
        raise TypeError("freq_ppm must be a number")
    ppm = Fraction(str(freq_ppm)) if isinstance(freq_ppm, float) else Fraction(freq_ppm)
    rate = 1 + ppm / 10**6
    if rate <= 0:
        raise ValueError(f"freq_ppm must be above -1e6, not {freq_ppm}")
    return rate


def _ceil(x):
    return -((-x.numerator) // x.denominator)


class _Periodic:
    """Due times ``anchor + ceil(k * interval)`` (ps) for k = 0, 1, ..."""

    def __init__(self, anchor_ps, interval):
        self.anchor, self.k, self.interval = anchor_ps, 0, interval

    @property
    def due_ps(self):
        return self.anchor + _ceil(self.k * self.interval)

    def advance(self):
        self.k += 1

    def retime(self, interval):
        self.anchor, self.k, self.interval = self.due_ps, 0, interval


class ModelGrandmaster(Endpoint):
    """A deterministic PTP grandmaster endpoint (see the module docstring for the model).

    Times are true ps; `time_offset_ps` is GM time minus true time at true time 0 (default:
    `DEFAULT_EPOCH_S` for the PTP timescale, minus `utc_offset` s for ARB); `freq_ppm` the
    oscillator's error (GM time runs at ``1 + ppm * 1e-6`` times the true rate).

    Public state: `counters` (dict of counts, see ``_COUNTERS``), `sync_log` (`SyncRecord`
    per sent Sync), `delay_log` (`DelayRecord` per sent Delay_Resp), `port_identity`,
    `clock_identity`.
    """

    def __init__(self, *, name="gm", mac="02:00:5e:10:00:01", ip="192.168.10.1",
                 clock_identity=None, port_number=1, domain=0, priority1=128, priority2=128,
                 clock_class=6, clock_accuracy=0x21, offset_scaled_log_variance=0x4E5D,
                 time_source=ptp.TIME_SOURCE_GPS, utc_offset=37, utc_offset_valid=True,
                 time_traceable=True, frequency_traceable=True, leap61=False, leap59=False,
                 timescale="ptp", steps_removed=0, log_sync_interval=-3,
                 log_announce_interval=1, log_min_delay_req_interval=-3, two_step=True,
                 time_offset_ps=None, freq_ppm=0, dscp_event=46, dscp_general=46, ttl=1,
                 start_ps=0, follow_up_delay_ps=100_000, response_delay_ps=200_000,
                 rate_bps=1_000_000_000):
        self.name = name
        self.mac = ptp.mac_bytes(mac)
        self.ip = ptp.ip_bytes(ip)
        self._ip_str = ".".join(str(b) for b in self.ip)
        if clock_identity is None:
            clock_identity = ptp.clock_identity_from_mac(self.mac)
        self.port_identity = ptp.PortIdentity(bytes(clock_identity), port_number)
        self.clock_identity = self.port_identity.clock_identity
        self.domain = _int_in(domain, 0, 255, "domain")
        if timescale not in ("ptp", "arb"):
            raise ValueError(f"timescale must be 'ptp' or 'arb', not {timescale!r}")
        self.timescale = timescale
        self.utc_offset = _int_in(utc_offset, -(1 << 15), (1 << 15) - 1, "utc_offset")
        self._dataset = {}
        self.set_dataset(priority1=priority1, priority2=priority2, clock_class=clock_class,
                         clock_accuracy=clock_accuracy,
                         offset_scaled_log_variance=offset_scaled_log_variance,
                         time_source=time_source, steps_removed=steps_removed,
                         utc_offset_valid=utc_offset_valid, time_traceable=time_traceable,
                         frequency_traceable=frequency_traceable, leap61=leap61, leap59=leap59)
        self.log_sync_interval = _int_in(log_sync_interval, -128, 127, "log_sync_interval")
        self.log_announce_interval = _int_in(log_announce_interval, -128, 127,
                                             "log_announce_interval")
        self.log_min_delay_req_interval = _int_in(log_min_delay_req_interval, -128, 127,
                                                  "log_min_delay_req_interval")
        self.two_step = bool(two_step)
        self.dscp_event = _int_in(dscp_event, 0, 63, "dscp_event")
        self.dscp_general = _int_in(dscp_general, 0, 63, "dscp_general")
        self.ttl = _int_in(ttl, 1, 255, "ttl")
        self.start_ps = _int_in(start_ps, 0, math.inf, "start_ps")
        self.follow_up_delay_ps = _int_in(follow_up_delay_ps, 1, math.inf, "follow_up_delay_ps")
        self.response_delay_ps = _int_in(response_delay_ps, 0, math.inf, "response_delay_ps")
        self.rate_bps = _int_in(rate_bps, 1, math.inf, "rate_bps")
        if time_offset_ps is None:
            epoch_s = DEFAULT_EPOCH_S - (self.utc_offset if timescale == "arb" else 0)
            time_offset_ps = epoch_s * PS_PER_S
        _int_in(time_offset_ps, -math.inf, math.inf, "time_offset_ps")
        rate = _rate(freq_ppm)
        # Clock segments (t_start_ps, gm_start_ps: Fraction, rate: Fraction), t_start ascending;
        # the first one also covers negative true times.
        self._segments = [(0, Fraction(time_offset_ps), rate)]
        self._clock_used_ps = 0     # the clock may not be changed before this true time
        self._sync = _Periodic(self.start_ps, self._interval(self.log_sync_interval, rate))
        self._announce = _Periodic(self.start_ps,
                                   self._interval(self.log_announce_interval, rate))
        self._queue = []            # heap of (due_ps, priority, order, kind, data)
        self._order = 0
        self._wire_free_ps = 0      # earliest data start of the next frame
        self._seq = {"sync": 0, "announce": 0}
        self._ip_ident = 0
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self.sync_log = []
        self.delay_log = []
        self.port = None

    # --- clock ----------------------------------------------------------------------------------

    @staticmethod
    def _interval(log_interval, rate):
        return Fraction(PS_PER_S) * Fraction(2) ** log_interval / rate

    def _segment(self, true_ps):
        for segment in reversed(self._segments):
            if segment[0] <= true_ps:
                return segment
        return self._segments[0]

    def gm_time_exact(self, true_ps):
        """GM time at true time `true_ps` as an exact Fraction of ps since the PTP epoch."""
        t_start, gm_start, rate = self._segment(true_ps)
        return gm_start + (true_ps - t_start) * rate

    def gm_time_ps(self, true_ps):
        """GM time at true time `true_ps` in whole ps since the PTP epoch (floored)."""
        return math.floor(self.gm_time_exact(true_ps))

    def gm_time_scaled_ns(self, true_ps):
        """GM time at `true_ps` in whole 2**-16 ns (floored): what its messages carry."""
        return math.floor(self.gm_time_exact(true_ps) * ptp.SCALED_NS_PER_NS / PS_PER_NS)

    def true_time_ps(self, gm_ps):
        """The earliest whole true ps at which the GM clock reads `gm_ps` or later (the inverse
        of `gm_time_ps` where the clock is continuous; after a forward step over `gm_ps`, the
        instant of the step)."""
        gm_ps = Fraction(gm_ps)
        for i, (t_start, gm_start, rate) in enumerate(self._segments):
            t = _ceil(t_start + (gm_ps - gm_start) / rate)
            if i:
                t = max(t, t_start)
            if i + 1 == len(self._segments) or t < self._segments[i + 1][0]:
                return t
        raise AssertionError("unreachable")

    def _new_segment(self, at_ps, gm_start, rate):
        _int_in(at_ps, self._clock_used_ps, math.inf, "at_ps (not before a sent time)")
        if at_ps < self._segments[-1][0]:
            raise ValueError(f"at_ps {at_ps} is before the last clock change")
        if at_ps == self._segments[-1][0] and len(self._segments) > 1:
            self._segments[-1] = (at_ps, gm_start, rate)
        else:
            self._segments.append((at_ps, gm_start, rate))

    def set_frequency_ppm(self, freq_ppm, *, at_ps):
        """From true time `at_ps` on, the GM clock runs at ``1 + freq_ppm * 1e-6`` (no time
        step); the Sync and Announce intervals follow from the next interval on."""
        rate = _rate(freq_ppm)
        self._new_segment(at_ps, self.gm_time_exact(at_ps), rate)
        self._sync.retime(self._interval(self.log_sync_interval, rate))
        self._announce.retime(self._interval(self.log_announce_interval, rate))

    def step_time_ps(self, delta_ps, *, at_ps):
        """At true time `at_ps` the GM clock jumps by `delta_ps` (an int, either sign)."""
        _int_in(delta_ps, -math.inf, math.inf, "delta_ps")
        _, _, rate = self._segment(at_ps)
        self._new_segment(at_ps, self.gm_time_exact(at_ps) + delta_ps, rate)

    def set_time_offset_ps(self, time_offset_ps, *, at_ps):
        """At true time `at_ps` the GM clock is set to ``at_ps + time_offset_ps`` (it then runs on
        at its current rate)."""
        _int_in(time_offset_ps, -math.inf, math.inf, "time_offset_ps")
        _, _, rate = self._segment(at_ps)
        self._new_segment(at_ps, Fraction(at_ps + time_offset_ps), rate)

    # --- announced data set -----------------------------------------------------------------------

    def set_dataset(self, **changes):
        """Change announced fields, from the next Announce on: priority1, priority2,
        clock_class, clock_accuracy, offset_scaled_log_variance, time_source, steps_removed
        (ints) and the flags utc_offset_valid, time_traceable, frequency_traceable, leap61,
        leap59 (bools)."""
        for key, value in changes.items():
            if key in _DATASET_FIELDS:
                _int_in(value, 0, (1 << _DATASET_FIELDS[key]) - 1, key)
            elif key in _DATASET_FLAGS:
                value = bool(value)
            else:
                raise TypeError(f"set_dataset() got an unknown field {key!r}")
            self._dataset[key] = value

    def set_priority(self, priority1=None, priority2=None):
        """Change priority1 and/or priority2 from the next Announce on."""
        self.set_dataset(**{k: v for k, v in (("priority1", priority1),
                                              ("priority2", priority2)) if v is not None})

    def set_clock_class(self, clock_class):
        """Change the announced clockClass from the next Announce on."""
        self.set_dataset(clock_class=clock_class)

    @property
    def dataset(self):
        """The announced fields (a copy)."""
        return dict(self._dataset)

    # --- Endpoint protocol ------------------------------------------------------------------------

    def _next(self):
        """(send time, priority, kind) of the next frame to send."""
        candidates = [(self._sync.due_ps, _PRIORITY["sync"], "sync"),
                      (self._announce.due_ps, _PRIORITY["announce"], "announce")]
        if self._queue:
            due, priority, _, kind, _ = self._queue[0]
            candidates.append((due, priority, kind))
        due, priority, kind = min(candidates)
        return max(due, self._wire_free_ps), priority, kind

    def next_event_ps(self):
        return self._next()[0]

    def run_event(self, now_ps):
        while True:
            t_ps, _, kind = self._next()
            if t_ps > now_ps:
                return
            if self.port is None:
                raise RuntimeError(f"{self.name} is not connected to a network")
            if kind == "sync":
                self._sync.advance()
                frame = self._send_sync(t_ps)
            elif kind == "announce":
                self._announce.advance()
                frame = self._send_announce(t_ps)
            else:
                _, _, _, kind, data = heapq.heappop(self._queue)
                frame = (self._send_follow_up if kind == "follow_up"
                         else self._send_delay_resp)(t_ps, data)
            self._clock_used_ps = max(self._clock_used_ps, t_ps)
            length = max(len(frame), _MIN_FRAME) + _FCS + _IFG + _PREAMBLE
            self._wire_free_ps = t_ps + -(-length * 8 * PS_PER_S // self.rate_bps)

    def receive(self, frame, t_ps):
        self.counters["rx_frames"] += 1
        parsed = ptp.parse_udp_frame(frame, verify_checksums=False)
        if (parsed is None or parsed[3] not in (ptp.EVENT_PORT, ptp.GENERAL_PORT)
                or parsed[1] not in (ptp.PTP_PRIMARY_IP, self._ip_str)):
            self.counters["rx_not_ptp"] += 1
            return
        if ptp.parse_udp_frame(frame) is None:
            self.counters["rx_bad_checksum"] += 1
            return
        ip_src, ip_dst, _, dport, _, _, payload = parsed
        try:
            message = ptp.decode(payload)
        except ValueError:
            self.counters["rx_malformed"] += 1
            return
        if message.header.domain != self.domain:
            self.counters["rx_other_domain"] += 1
            return
        if not isinstance(message, ptp.DelayReq) or dport != ptp.EVENT_PORT:
            self.counters["rx_other_type"] += 1
            return
        self.counters["rx_delay_req"] += 1
        reply_to = (ip_src, bytes(frame[6:12])) if ip_dst == self._ip_str else None
        self._push(t_ps + self.response_delay_ps, "delay_resp", (message, t_ps, reply_to))

    # --- transmit ---------------------------------------------------------------------------------

    def _push(self, due_ps, kind, data):
        heapq.heappush(self._queue, (due_ps, _PRIORITY[kind], self._order, kind, data))
        self._order += 1

    def _header(self, message_type, sequence_id, *, flags=0, correction=0, log_interval):
        return ptp.Header(message_type=message_type, source_port_identity=self.port_identity,
                          sequence_id=sequence_id, domain=self.domain, flags=flags,
                          correction=correction, log_message_interval=log_interval)

    def _transmit(self, t_ps, message, *, dst_ip=ptp.PTP_PRIMARY_IP, dst_mac=None):
        port = (ptp.EVENT_PORT if message.header.message_type in ptp.EVENT_MESSAGE_TYPES
                else ptp.GENERAL_PORT)
        dscp = self.dscp_event if port == ptp.EVENT_PORT else self.dscp_general
        frame = ptp.udp_frame(self.mac, self.ip, dst_ip, port, port, message.encode(), dscp,
                              self.ttl, dst_mac=dst_mac, ident=self._ip_ident)
        self._ip_ident = (self._ip_ident + 1) & 0xFFFF
        self.port.send(frame, t_ps)
        return frame

    def _send_sync(self, t_ps):
        sequence_id = self._seq["sync"]
        self._seq["sync"] = (sequence_id + 1) & 0xFFFF
        timestamp, fraction = ptp.split_scaled_ns(self.gm_time_scaled_ns(t_ps))
        if self.two_step:
            header = self._header(ptp.SYNC, sequence_id, flags=ptp.FLAG_TWO_STEP,
                                  log_interval=self.log_sync_interval)
            message = ptp.Sync(header=header, origin_timestamp=ptp.Timestamp(0, 0))
            self._push(t_ps + self.follow_up_delay_ps, "follow_up",
                       (sequence_id, timestamp, fraction))
        else:
            header = self._header(ptp.SYNC, sequence_id, correction=fraction,
                                  log_interval=self.log_sync_interval)
            message = ptp.Sync(header=header, origin_timestamp=timestamp)
        self.sync_log.append(SyncRecord(sequence_id, t_ps, self.gm_time_ps(t_ps)))
        self.counters["tx_sync"] += 1
        return self._transmit(t_ps, message)

    def _send_follow_up(self, t_ps, data):
        sequence_id, timestamp, fraction = data
        header = self._header(ptp.FOLLOW_UP, sequence_id, correction=fraction,
                              log_interval=self.log_sync_interval)
        self.counters["tx_follow_up"] += 1
        return self._transmit(t_ps, ptp.FollowUp(header=header,
                                                 precise_origin_timestamp=timestamp))

    def _send_delay_resp(self, t_ps, data):
        request, t_arrival_ps, reply_to = data
        timestamp, fraction = ptp.split_scaled_ns(self.gm_time_scaled_ns(t_arrival_ps))
        # Saturate like a 64-bit field would have to for a Delay_Req already at the minimum.
        correction = max(request.header.correction - fraction, -(1 << 63))
        header = self._header(ptp.DELAY_RESP, request.header.sequence_id,
                              flags=ptp.FLAG_UNICAST if reply_to else 0, correction=correction,
                              log_interval=self.log_min_delay_req_interval)
        requester = request.header.source_port_identity
        message = ptp.DelayResp(header=header, receive_timestamp=timestamp,
                                requesting_port_identity=requester)
        self.delay_log.append(DelayRecord(request.header.sequence_id, requester, t_arrival_ps,
                                          self.gm_time_ps(t_arrival_ps), t_ps))
        self.counters["tx_delay_resp"] += 1
        if reply_to:
            return self._transmit(t_ps, message, dst_ip=reply_to[0], dst_mac=reply_to[1])
        return self._transmit(t_ps, message)

    def _announce_flags(self):
        d = self._dataset
        return ((ptp.FLAG_PTP_TIMESCALE if self.timescale == "ptp" else 0)
                | (ptp.FLAG_CURRENT_UTC_OFFSET_VALID if d["utc_offset_valid"] else 0)
                | (ptp.FLAG_TIME_TRACEABLE if d["time_traceable"] else 0)
                | (ptp.FLAG_FREQUENCY_TRACEABLE if d["frequency_traceable"] else 0)
                | (ptp.FLAG_LEAP_61 if d["leap61"] else 0)
                | (ptp.FLAG_LEAP_59 if d["leap59"] else 0))

    def _send_announce(self, t_ps):
        sequence_id = self._seq["announce"]
        self._seq["announce"] = (sequence_id + 1) & 0xFFFF
        d = self._dataset
        header = self._header(ptp.ANNOUNCE, sequence_id, flags=self._announce_flags(),
                              log_interval=self.log_announce_interval)
        timestamp, _ = ptp.split_scaled_ns(self.gm_time_scaled_ns(t_ps))
        message = ptp.Announce(
            header=header, origin_timestamp=timestamp, current_utc_offset=self.utc_offset,
            grandmaster_priority1=d["priority1"],
            grandmaster_clock_quality=ptp.ClockQuality(d["clock_class"], d["clock_accuracy"],
                                                       d["offset_scaled_log_variance"]),
            grandmaster_priority2=d["priority2"], grandmaster_identity=self.clock_identity,
            steps_removed=d["steps_removed"], time_source=d["time_source"])
        self.counters["tx_announce"] += 1
        return self._transmit(t_ps, message)
