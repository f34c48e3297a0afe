"""The media clock: the sample count ``floor(t x fs)`` of the wallclock, and its sample strobe.

The count is the RTP timestamp source for transmit and the playout schedule for receive, so it
must equal ``floor(T * fs / 1e9) mod 2**32`` exactly, with ``T = sec * 1e9 + ns`` the
wallclock's integer nanoseconds (the PTP timestamp as it goes on the wire; the wallclock's
fraction of a nanosecond is ignored: a boundary is "reached" in the first cycle whose integer
time is at or past it, which is within one clock period of the true instant either way).

Exactness. Sample boundaries lie at ``n * 1e9 / fs`` ns. Within a second the boundary ``k``
(``1 <= k <= fs``) sits at ``k * 1e9 / fs``, kept exactly as ``ns + rem / fs`` with
``rem < fs``; stepping to the next boundary adds ``Q = 1e9 // fs`` and ``R = 1e9 % fs`` with a
carry from ``rem`` into ``ns``, which is exact integer arithmetic, so nothing drifts (44.1 kHz,
where ``1e9 / fs`` is not an integer, included). Boundary ``fs`` is exactly ``ns = 1e9``
(``Q * fs + R = 1e9``): it is kept in that form, as the end of its second, and the step after it
restarts the next second at ``Q + R / fs``. Since ``fs * 2**48`` is a multiple of ``2**32``,
the count stays continuous even where the wallclock's seconds wrap.

Each cycle compares ``time_next`` (the time of the next cycle) against the ceiling of the
pending boundary (one adder's carry: ``ns + (rem != 0)``) and registers the result, so
``strobe`` rises in exactly the cycle whose time is the first at or past the boundary; the
count increments in the same cycle. The seconds need no magnitude compare: the time lies in
the pending boundary's second or the next one (it is past the previous boundary and moves by
less than a sample per cycle), so the two lowest bits of the seconds tell which, and a
difference means the boundary has passed.

Acquisition (after reset, `jump` and a rate change) takes a snapshot ``(sec, ns)`` of
``time_next`` and computes, with one serial multiplier (Horner over the bits of ``fs``) and one
`SerialDivider` used twice, ``k, x = divmod(ns * fs, 1e9)``, ``count = sec * fs + k`` and the
next boundary ``ns + divmod(1e9 - x, fs)``: about 120 cycles. The clock then catches up one
boundary per cycle with the normal comparison and becomes ``valid`` in the first cycle in which
no boundary is pending.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import SAMPLE_RATES_HZ

from ..ptp_time import NS_BITS, NS_PER_SEC, PtpTime
from .serial_divider import SerialDivider

__all__ = ["MediaClock", "ScheduleSignature", "COUNT_BITS", "FS_BITS", "RATE_BITS",
           "check_sample_rates"]

COUNT_BITS = 32
#: Bits of a sample rate, and of a boundary's remainder (below fs).
FS_BITS = max(SAMPLE_RATES_HZ).bit_length()
#: Bits of a rate index into `SAMPLE_RATES_HZ`.
RATE_BITS = (len(SAMPLE_RATES_HZ) - 1).bit_length()

#: What the audio clock generator needs from the media clock (``Out`` on `MediaClock`):
#: ``valid``, ``strobe`` (registered, as the ports of the same name), ``strobe_next``
#: (combinational: ``strobe`` rises at the next edge), ``rate`` (the rate index in use), and the
#: pending boundary exactly: ``ns + rem / fs`` into the second whose lowest bit is ``sec_lsb``,
#: ``ns < 1e9`` (a boundary at a second's end shown as the next second's ``ns = 0``).
ScheduleSignature = wiring.Signature({
    "valid": Out(1),
    "strobe": Out(1),
    "strobe_next": Out(1),
    "rate": Out(RATE_BITS),
    "sec_lsb": Out(1),
    "ns": Out(NS_BITS),
    "rem": Out(FS_BITS),
})

_ACC_BITS = NS_BITS + FS_BITS


def check_sample_rates(sample_rates_hz, sys_clk_hz):
    """Validate the build's sample rates (a non-empty subset of `SAMPLE_RATES_HZ`) and system
    clock (fast enough that at most one boundary falls into a cycle, with margin for the
    wallclock's +-2000 ppm); returns the rates as a tuple."""
    rates = tuple(sample_rates_hz)
    if not rates or any(fs not in SAMPLE_RATES_HZ for fs in rates):
        raise ValueError(f"sample_rates_hz must be a non-empty subset of {SAMPLE_RATES_HZ}, "
                         f"not {rates!r}")
    if not isinstance(sys_clk_hz, int) or sys_clk_hz < 4 * max(SAMPLE_RATES_HZ):
        raise ValueError(f"sys_clk_hz must be an integer of at least {4 * max(SAMPLE_RATES_HZ)}, "
                         f"not {sys_clk_hz!r}")
    return rates


class MediaClock(wiring.Component):
    """The sample count and sample strobe of the wallclock: see the module docstring.

    Clock domain: ``sync``. Parameters: `sys_clk_hz`; `sample_rates_hz`, the rates this build
    supports (a subset of `SAMPLE_RATES_HZ`).

    Inputs: ``time_next`` (`PtpTime`) and ``jump``, the wallclock's; ``rate``, an index into
    `SAMPLE_RATES_HZ` (a level, e.g. ``MEDIA_CONTROL.RATE``).

    Outputs (registered unless said otherwise):

    - ``count`` (32): ``floor(T * fs / 1e9) mod 2**32``, ``T`` the integer nanoseconds of the
      wallclock's ``time`` in the same cycle; meaningful while ``valid``.
    - ``strobe``: high in the cycle whose ``time`` is the first at or past a sample boundary
      (``count`` has just incremented); meaningful while ``valid``.
    - ``boundary`` (`PtpTime`): the ceiling of the boundary that ``strobe`` marks (holds).
    - ``valid``: low after reset, in the cycle after ``jump`` or a rate change, and until
      re-acquired (about 120 cycles plus at most a few cycles of catching up).
    - ``rate_error``: one-cycle pulse, the cycle after ``rate`` took a value whose rate this
      build lacks (also after reset if it starts so); the clock keeps its previous rate.
    - ``schedule`` (`ScheduleSignature`, out): for the audio clock generator;
      ``schedule.strobe_next`` is combinational from ``time_next``.

    Latency: ``strobe``/``count`` change at the same edge at which ``time`` crosses the
    boundary (computed from ``time_next`` one cycle ahead).

    Hazards: every discontinuity of the wallclock must come with ``jump``; between jumps the
    wallclock must advance by less than one sample period per cycle (it advances by about one
    clock period). A ``jump`` or rate change during acquisition restarts it. While re-acquiring
    the clock may strobe once per cycle as it catches up (``valid`` low): consumers act on
    ``strobe`` only while ``valid``.
    """

    def __init__(self, *, sys_clk_hz, sample_rates_hz=SAMPLE_RATES_HZ):
        self.sample_rates_hz = check_sample_rates(sample_rates_hz, sys_clk_hz)
        self.sys_clk_hz = sys_clk_hz
        super().__init__({
            "time_next": In(PtpTime),
            "jump": In(1),
            "rate": In(RATE_BITS),
            "count": Out(COUNT_BITS),
            "strobe": Out(1),
            "boundary": Out(PtpTime),
            "valid": Out(1),
            "rate_error": Out(1),
            "schedule": Out(ScheduleSignature),
        })

    def elaborate(self, platform):
        m = Module()
        time_next = self.time_next
        default = SAMPLE_RATES_HZ.index(self.sample_rates_hz[0])

        # Rate selection: `rate_q` only ever holds a supported index.
        rate_q = Signal(RATE_BITS, init=default)
        rate_seen = Signal(RATE_BITS)
        rate_fresh = Signal(init=1)
        supported = Signal()
        mask = sum(1 << i for i, fs in enumerate(SAMPLE_RATES_HZ) if fs in self.sample_rates_hz)
        m.d.comb += supported.eq(Const(mask, len(SAMPLE_RATES_HZ)).bit_select(self.rate, 1))
        switch = Signal()
        m.d.comb += switch.eq(supported & (self.rate != rate_q))
        m.d.sync += [
            rate_seen.eq(self.rate),
            rate_fresh.eq(0),
            self.rate_error.eq((rate_fresh | (self.rate != rate_seen)) & ~supported),
        ]
        with m.If(switch):
            m.d.sync += rate_q.eq(self.rate)

        # Per-rate constants, selected by the registered rate: no input reaches the per-cycle
        # paths through them.
        fs = Signal(FS_BITS)
        q = Signal(NS_BITS)
        r = Signal(FS_BITS)
        k_last = Signal(FS_BITS)
        with m.Switch(rate_q):
            for index, rate_hz in enumerate(SAMPLE_RATES_HZ):
                if rate_hz not in self.sample_rates_hz:
                    continue
                quotient, remainder = divmod(NS_PER_SEC, rate_hz)
                with m.Case(index):
                    m.d.comb += [fs.eq(rate_hz), q.eq(quotient), r.eq(remainder),
                                 k_last.eq(rate_hz - 1)]

        # The pending boundary: `b_ns + b_rem / fs` ns (up to exactly 1e9) into the second whose
        # two lowest bits are `b_sec`; index `b_k` within the second; `b_end` marks boundary fs
        # (the second's end).
        b_sec = Signal(2)
        b_ns = Signal(NS_BITS)
        b_rem = Signal(FS_BITS)
        b_zero = Signal()           # b_rem == 0: the boundary is a whole nanosecond
        b_k = Signal(FS_BITS)
        b_end = Signal()

        restart = Signal()
        start_q = Signal(init=1)
        phase = Signal(range(5))
        MUL, DIV1_START, DIV1_WAIT, DIV2_WAIT, TRACK = range(5)
        tracking = phase == TRACK
        m.d.comb += restart.eq(start_q | self.jump | switch)
        m.d.sync += start_q.eq(0)

        snap_sec = Signal(COUNT_BITS)       # only sec * fs mod 2**32 is needed
        snap_ns = Signal(NS_BITS)

        # Tracking.
        crossed = Signal()
        # time_next.ns >= ceil(boundary) = b_ns + (b_rem != 0): the carry out of one adder.
        reach = Signal(NS_BITS + 1)
        m.d.comb += [reach.eq(time_next.ns + ~b_ns + b_zero),
                     crossed.eq((time_next.sec[:2] != b_sec) | reach[NS_BITS])]
        strobe_next = Signal()
        m.d.comb += strobe_next.eq(tracking & ~restart & crossed)

        rem_sum = Signal(FS_BITS + 1)
        rem_over = Signal(FS_BITS + 2)
        carry = Signal()
        rem_next = Signal(FS_BITS)
        ns_plus = [Signal(NS_BITS, name=f"ns_plus{i}") for i in range(2)]
        m.d.comb += [
            rem_sum.eq(b_rem + r),
            rem_over.eq(b_rem + r - fs),
            carry.eq(~rem_over[-1]),
            rem_next.eq(Mux(carry, rem_over, rem_sum)),
        ]
        m.d.comb += [plus.eq(b_ns + q + i) for i, plus in enumerate(ns_plus)]
        # Every boundary but a second's end lies at least a sample period before it, so only
        # that one has its ceiling in the next second.
        b_ceil = Signal(NS_BITS)
        m.d.comb += b_ceil.eq(b_ns + ~b_zero)

        # Acquisition: Horner multiplication over fs's bits, MSB first, then two divisions.
        acc_ns = Signal(_ACC_BITS)
        acc_sec = Signal(COUNT_BITS)
        bit = Signal(range(FS_BITS))
        k_acq = Signal(FS_BITS)
        fs_bit = fs.bit_select(bit, 1)
        m.submodules.divider = divider = SerialDivider(_ACC_BITS, NS_BITS)

        with m.If(restart):
            m.d.sync += [
                b_sec.eq(time_next.sec[:2]), snap_sec.eq(time_next.sec[:COUNT_BITS]),
                snap_ns.eq(time_next.ns),
                acc_ns.eq(0), acc_sec.eq(0), bit.eq(FS_BITS - 1),
                phase.eq(MUL), self.valid.eq(0), self.strobe.eq(0),
            ]
        with m.Elif(phase == MUL):
            m.d.sync += [
                acc_ns.eq((acc_ns << 1) + Mux(fs_bit, snap_ns, 0)),
                acc_sec.eq((acc_sec << 1) + Mux(fs_bit, snap_sec, 0)),
                bit.eq(bit - 1),
            ]
            with m.If(bit == 0):
                m.d.sync += phase.eq(DIV1_START)
        with m.Elif(phase == DIV1_START):
            m.d.comb += [divider.start.eq(1), divider.dividend.eq(acc_ns),
                         divider.divisor.eq(NS_PER_SEC)]
            m.d.sync += phase.eq(DIV1_WAIT)
        with m.Elif(phase == DIV1_WAIT):
            with m.If(divider.done):
                # k = floor(ns * fs / 1e9); the next boundary lies (1e9 - x) / fs ahead.
                m.d.comb += [divider.start.eq(1),
                             divider.dividend.eq(NS_PER_SEC - divider.remainder),
                             divider.divisor.eq(fs)]
                m.d.sync += [k_acq.eq(divider.quotient), phase.eq(DIV2_WAIT)]
        with m.Elif(phase == DIV2_WAIT):
            with m.If(divider.done):
                # snap_ns + quotient <= 1e9, equal only for boundary fs (exactness).
                m.d.sync += [
                    self.count.eq(acc_sec + k_acq),
                    b_ns.eq(snap_ns + divider.quotient),
                    b_rem.eq(divider.remainder),
                    b_zero.eq(divider.remainder == 0),
                    b_k.eq(k_acq + 1),
                    b_end.eq(k_acq == k_last),
                    phase.eq(TRACK),
                ]
        with m.Else():
            m.d.sync += [self.strobe.eq(crossed), self.valid.eq(self.valid | ~crossed)]
            with m.If(crossed):
                m.d.sync += [
                    self.count.eq(self.count + 1),
                    # Once valid, a boundary is crossed in the second it lies in (a second's
                    # end: its ceiling is the next second's start).
                    self.boundary.sec.eq(time_next.sec),
                    self.boundary.ns.eq(Mux(b_end, 0, b_ceil)),
                ]
                with m.If(b_end):
                    m.d.sync += [b_sec.eq(b_sec + 1), b_ns.eq(q), b_rem.eq(r),
                                 b_zero.eq(r == 0), b_k.eq(1), b_end.eq(0)]
                with m.Else():
                    m.d.sync += [
                        b_ns.eq(Mux(carry, ns_plus[1], ns_plus[0])),
                        b_rem.eq(rem_next),
                        b_zero.eq(rem_next == 0),
                        b_k.eq(b_k + 1),
                        b_end.eq(b_k == k_last),
                    ]

        schedule = self.schedule
        m.d.comb += [
            schedule.valid.eq(self.valid),
            schedule.strobe.eq(self.strobe),
            schedule.strobe_next.eq(strobe_next),
            schedule.rate.eq(rate_q),
            schedule.sec_lsb.eq(b_sec[0] ^ b_end),
            schedule.ns.eq(Mux(b_end, 0, b_ns)),
            schedule.rem.eq(b_rem),
        ]
        return m
