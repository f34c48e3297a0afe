"""The PTP-disciplined wallclock: seconds, nanoseconds and 32 bits of fractional nanoseconds.

The law. Time is kept in units of 2**-32 ns. Each tick of the system clock (``sys_clk_hz``)
adds ``2**32 * (10**12 + freq_adj) / (1000 * sys_clk_hz)`` units, where ``freq_adj`` is the
frequency correction in parts per 10**12. That rate is a fraction ``Q + R / D``: the design keeps
the quotient ``Q`` and the remainder ``R`` and adds ``R`` into an accumulator modulo ``D`` every
tick, adding one more unit whenever the accumulator wraps. After ``n`` ticks from an accumulator
state ``a`` the clock has advanced by ``n * Q + (a + n * R) // D`` units, which differs from the
exact ``n * (Q + R / D)`` by less than one unit however large ``n`` is: there is no rounding
drift, for any clock frequency, including those whose period is not a whole number of
nanoseconds. Over ``sys_clk_hz`` ticks the exact advance is ``10**9 + freq_adj / 1000`` ns. ``D``
is ``1000 * sys_clk_hz`` with its common power of two with the dividend (up to ``2**32``)
cancelled, which changes no value and shortens the division and the accumulator.

``freq_adj`` is a level: whenever it differs from the value last applied, a `SerialDivider`
recomputes ``Q`` and ``R`` (one quotient bit per cycle) while the old pair stays in use, and both
switch at one clock edge. A slew adds ``S = rate * (Q0 // 10**6)`` extra units to each tick
(``Q0`` the nominal quotient, ``rate`` in ppm), with the sign of the offset, for
``|offset| * 2**32 // S`` ticks and then the rest in one tick, so the slewed total is exactly the
offset and no tick gets more than ``S``. Set and step act on the time directly.

The pipeline. The remainder sequence does not depend on the time, so it runs ahead: per cycle,
(1) the slew stage decides the extra, (2) the accumulator produces its carry while the quotient
and the extra are added, (3) the carry is added, (4) a step is folded into the increment's
nanoseconds, normalized so that the tick's delta ``d`` lies in [0, 1 s) (a negative step's
nanoseconds borrow a second; if the sum with the increment reaches 1 s, a second moves into
the seconds part), and (5) the time register adds ``d``: the sum lies in [0, 2 s), so the two
candidates ``sum`` and ``sum - 1 s`` (one adder each, side by side, the second with ``d - 1 s``
precomputed in stage 4) and their seconds are selected by one sign bit. The low 32 bits of the
two sums are shared; the nanosecond parts continue their carry chain (carry-in trick). Every
path is one adder and a mux or two. ``time_next`` holds the result; ``time`` follows it one
cycle later.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import CLOCK_ERRORS, SLEW_RATE_MAX_PPM

from ..ptp_time import NS_BITS, NS_PER_SEC, SEC_BITS, PtpTime, ns_to_ptp_time
from .serial_divider import SerialDivider

__all__ = ["Wallclock", "FRAC_BITS", "PPT_PER_ONE"]

#: Bits of fractional nanoseconds: the unit of the increment is 2**-FRAC_BITS ns.
FRAC_BITS = 32
#: ``freq_adj`` counts parts of this (ppt).
PPT_PER_ONE = 10**12

_ERROR = {name: code for code, name, _ in CLOCK_ERRORS}
_FREQ_BITS = 32
# 10**12 + freq_adj for any signed 32-bit freq_adj is positive and fits in this many bits.
_RATE_BITS = (PPT_PER_ONE + (1 << (_FREQ_BITS - 1))).bit_length()
# Wide enough for every nanosecond intermediate: the sums lie within (-1 s, 2 s).
_NS_SUM_BITS = NS_BITS + 3


def _add_with_carry(m, a, b, carry_in, width, name):
    """``a + b + carry_in`` modulo ``2**width`` (signed) as one adder: ``(2a + 1) + (2b + c)``
    carries ``c`` into bit 1, so synthesis sees one carry chain, not two."""
    a_ext = Signal(signed(width), name=f"{name}_a")
    b_ext = Signal(signed(width), name=f"{name}_b")
    total = Signal(width + 2, name=f"{name}_total")
    result = Signal(signed(width), name=name)
    m.d.comb += [
        a_ext.eq(a),
        b_ext.eq(b),
        total.eq(Cat(Const(1, 1), a_ext) + Cat(carry_in, b_ext)),
        result.eq(total[1:width + 1]),
    ]
    return result


class Wallclock(wiring.Component):
    """The wallclock: `PtpTime` plus a 32-bit fraction, disciplined by set, step, slew and a
    frequency correction (see the module docstring for the law and its exactness).

    Clock domain: `domain` (all ports). ``sys_clk_hz`` is the domain's exact frequency.

    Outputs (registered unless noted):

    - ``time`` (`PtpTime`) and ``frac`` (32 bits, units of 2**-32 ns): the time of the current
      cycle; ``init_ns`` (frac 0) in the first cycle after reset.
    - ``time_next`` (`PtpTime`): exactly the value ``time`` shows after the next rising edge.
      Compare it (and register the result) to change a pin at the edge where ``time`` crosses
      an instant.
    - ``jump``: high in the cycle in which ``time_next`` is the first value after a SET or STEP
      (``time`` jumps at the next edge). Slews and frequency changes never raise it.
    - ``slewing``: a slew is in progress (from the cycle after ``slew_stb``).
    - ``freq_updating`` (combinational from ``freq_adj``): ``freq_adj`` differs from the
      applied value or a recomputation is running.
    - ``slew_remaining_ns`` (combinational from registers): the slew offset not yet handed to
      the increment pipeline, truncated toward zero (it reaches ``time`` 6 ticks later).
    - ``error``: one-cycle pulse, the cycle after a rejected command; ``error_code`` (valid with
      ``error``): ``CLOCK_ERRORS`` code. One code per cycle, in the order SET_RANGE, STEP_RANGE,
      SLEW_RATE.

    Controls, with their latency. Tick ``n`` is the advance from ``time`` in cycle ``n - 1``
    to ``time`` in cycle ``n`` (``time_next`` shows it in cycle ``n - 1``); cycle ``c`` is the
    cycle in which a strobe is high (inputs are sampled at its closing edge):

    - ``set_time``, ``set_stb``: ``time_next`` = ``set_time`` (frac 0) in cycle
      ``c + SET_TICK - 1``, ``time`` in cycle ``c + SET_TICK``; ``jump`` in ``c + SET_TICK - 1``.
      ``ns >= 10**9`` is rejected (SET_RANGE). A set wins over a step strobed in the same or
      the previous cycle (they would land on the same tick or earlier; the set overrides).
    - ``step_sec``, ``step_ns``, ``step_stb``: tick ``c + STEP_TICK`` adds the step (seconds
      wrap modulo 2**48); ``jump`` in ``c + STEP_TICK - 1``. ``|step_ns| >= 10**9`` is rejected
      (STEP_RANGE). A set or step cancels a slew in progress (see ``slew_stop_tick``).
    - ``freq_adj`` (signed ppt, a level): a change seen in cycle ``c`` with no recomputation
      running is used from tick ``c + freq_first_tick`` on (recomputation: ``freq_cycles``
      cycles; a change during one starts another when it ends).
    - ``slew_ns``, ``slew_rate_ppm``, ``slew_stb``: extras from tick ``c + slew_first_tick``;
      rate outside ``1..SLEW_RATE_MAX_PPM`` is rejected (SLEW_RATE). A new slew replaces one in
      progress; it starts even when a cancel, set or step comes in the same cycle.
    - ``slew_cancel``: stops a slew where it is: a slew stopped (by cancel, set, step or a new
      slew) in cycle ``x`` adds to no tick after ``x + SLEW_STOP_TICK``.

    Hazards: none across domains; ``freq_adj`` must be stable while the recomputation it
    started runs for it to be the value applied (a later value is picked up afterwards).
    """

    SET_TICK = 3
    STEP_TICK = 4
    SLEW_STOP_TICK = 5

    def __init__(self, *, sys_clk_hz, domain="sync", init_ns=0):
        if not isinstance(sys_clk_hz, int) or not 1_000 <= sys_clk_hz <= 1_000_000_000:
            raise ValueError(f"sys_clk_hz must be an integer in 1 kHz..1 GHz, not {sys_clk_hz!r}")
        if not isinstance(init_ns, int) or not 0 <= init_ns < NS_PER_SEC << SEC_BITS:
            raise ValueError(f"init_ns must be an integer in 0..1e9 * 2**48 - 1, not {init_ns!r}")
        self._domain = domain
        self.sys_clk_hz = sys_clk_hz
        self.init_ns = init_ns

        denominator = 1000 * sys_clk_hz
        cancelled = min((denominator & -denominator).bit_length() - 1, FRAC_BITS)
        #: ``D`` of the increment ``Q + R / D`` (2**-32 ns units), reduced: see module docstring.
        self.inc_denominator = denominator >> cancelled
        self._dividend_shift = FRAC_BITS - cancelled
        self.q_nominal, self.r_nominal = divmod(PPT_PER_ONE << self._dividend_shift,
                                                self.inc_denominator)
        q_max = ((PPT_PER_ONE + (1 << (_FREQ_BITS - 1)) - 1) << self._dividend_shift) \
            // self.inc_denominator
        q_min = ((PPT_PER_ONE - (1 << (_FREQ_BITS - 1))) << self._dividend_shift) \
            // self.inc_denominator
        #: Extra units per tick per ppm of slew rate.
        self.slew_unit = self.q_nominal // 10**6
        s_max = SLEW_RATE_MAX_PPM * self.slew_unit
        inc_max = q_max + s_max + 1
        # Within 1 kHz..1 GHz a tick stays positive and below one second, which the time adder
        # relies on.
        assert q_min - s_max > 0 and inc_max < NS_PER_SEC << FRAC_BITS
        self._q_width = q_max.bit_length()
        self._s_width = max(s_max.bit_length(), 1)
        self._qx_width = (q_max + s_max).bit_length()
        self._inc_width = max(inc_max.bit_length(), FRAC_BITS + 1)
        self._rate_bits = SLEW_RATE_MAX_PPM.bit_length()
        self._dividend_width = _RATE_BITS + self._dividend_shift

        #: Cycles of one recomputation of ``Q, R`` (`SerialDivider` start to done).
        self.freq_cycles = self._dividend_width + 1
        #: See the class docstring.
        self.freq_first_tick = self.freq_cycles + 6
        self.slew_first_tick = self._rate_bits + 7

        # The increment pipeline's reset contents follow the law from cycle 0: ticks 1..4 with
        # the nominal pair and an accumulator starting at 0.
        acc, incs = 0, []
        for _ in range(4):
            acc += self.r_nominal
            carry = acc >= self.inc_denominator
            acc -= carry * self.inc_denominator
            incs.append(self.q_nominal + carry)
        self._reset = {"acc": acc, "carry": incs[3] - self.q_nominal, "inc": incs[2],
                       "delta": incs[1]}
        first = (init_ns << FRAC_BITS) + incs[0]
        self._reset["frac_next"] = first & ((1 << FRAC_BITS) - 1)

        #: The increment in use (``Q``, ``R`` over `inc_denominator`), for tests.
        self.inc_q = Signal(self._q_width, init=self.q_nominal)
        self.inc_r = Signal(range(self.inc_denominator), init=self.r_nominal)

        super().__init__({
            "time": Out(PtpTime, init=ns_to_ptp_time(init_ns)),
            "frac": Out(FRAC_BITS),
            "time_next": Out(PtpTime, init=ns_to_ptp_time(first >> FRAC_BITS)),
            "jump": Out(1),
            "set_time": In(PtpTime),
            "set_stb": In(1),
            "step_ns": In(signed(32)),
            "step_sec": In(signed(32)),
            "step_stb": In(1),
            "freq_adj": In(signed(_FREQ_BITS)),
            "slew_ns": In(signed(32)),
            "slew_rate_ppm": In(16),
            "slew_stb": In(1),
            "slew_cancel": In(1),
            "slewing": Out(1),
            "freq_updating": Out(1),
            "slew_remaining_ns": Out(signed(32)),
            "error": Out(1),
            "error_code": Out(4),
        })

    def elaborate(self, platform):
        m = Module()
        sync = m.d[self._domain]
        reset = self._reset
        den = self.inc_denominator

        # --- Commands: validation and errors ---------------------------------------------
        set_ok = Signal()
        step_ok = Signal()
        slew_ok = Signal()
        set_bad = self.set_stb & (self.set_time.ns >= NS_PER_SEC)
        step_in_range = (self.step_ns > -NS_PER_SEC) & (self.step_ns < NS_PER_SEC)
        step_bad = self.step_stb & ~step_in_range
        rate_ok = (self.slew_rate_ppm >= 1) & (self.slew_rate_ppm <= SLEW_RATE_MAX_PPM)
        slew_bad = self.slew_stb & ~rate_ok
        m.d.comb += [
            set_ok.eq(self.set_stb & ~set_bad),
            step_ok.eq(self.step_stb & step_in_range & ~set_ok),
            slew_ok.eq(self.slew_stb & rate_ok),
        ]
        sync += self.error.eq(set_bad | step_bad | slew_bad)
        with m.If(set_bad):
            sync += self.error_code.eq(_ERROR["SET_RANGE"])
        with m.Elif(step_bad):
            sync += self.error_code.eq(_ERROR["STEP_RANGE"])
        with m.Elif(slew_bad):
            sync += self.error_code.eq(_ERROR["SLEW_RATE"])

        # --- Frequency: recompute Q, R when freq_adj changes --------------------------------
        m.submodules.divider = divider = SerialDivider(self._dividend_width, den.bit_length(),
                                                       domain=self._domain)
        applied = Signal(signed(_FREQ_BITS))
        pending = Signal(signed(_FREQ_BITS))
        # den - R, so that the accumulator's wrap test is one subtractor beside its adder.
        r_gap = Signal(range(den + 1), init=den - self.r_nominal)
        differs = self.freq_adj != applied
        start = differs & ~divider.busy & ~divider.done
        m.d.comb += [
            divider.start.eq(start),
            divider.dividend.eq(Cat(Const(0, self._dividend_shift),
                                    (PPT_PER_ONE + self.freq_adj)[:_RATE_BITS])),
            divider.divisor.eq(den),
            self.freq_updating.eq(differs | divider.busy | divider.done),
        ]
        with m.If(start):
            sync += pending.eq(self.freq_adj)
        with m.If(divider.done):
            # Q and R switch at the same edge; both are first used by the same tick below.
            sync += [
                applied.eq(pending),
                self.inc_q.eq(divider.quotient[:self._q_width]),
                self.inc_r.eq(divider.remainder),
                r_gap.eq(den - divider.remainder),
            ]

        # --- Slew: S by shift-and-add, then S per tick and the rest -------------------------
        slew_mult = Signal()
        slew_run = Signal()
        mult_count = Signal(range(self._rate_bits + 1))
        rate_shift = Signal(self._rate_bits)
        slew_step = Signal(self._s_width)           # S
        magnitude = Signal(2 * 32)                  # |offset not yet decided| in units
        negative = Signal()
        extra_mag = Signal(self._s_width)           # the extra of the tick decided last cycle
        extra_neg = Signal()
        after = Signal(signed(2 * 32 + 2))
        m.d.comb += after.eq(magnitude - slew_step)
        abs_ns = Mux(self.slew_ns < 0, -self.slew_ns, self.slew_ns)
        sync += [extra_mag.eq(0), extra_neg.eq(0)]
        with m.If(slew_ok):
            sync += [
                magnitude.eq(Cat(Const(0, FRAC_BITS), abs_ns[:32])),
                negative.eq(self.slew_ns < 0),
                rate_shift.eq(self.slew_rate_ppm[:self._rate_bits]),
                slew_step.eq(0),
                mult_count.eq(self._rate_bits),
                slew_mult.eq(1),
                slew_run.eq(0),
            ]
        with m.Elif(self.slew_cancel | set_ok | step_ok):
            sync += [magnitude.eq(0), slew_mult.eq(0), slew_run.eq(0)]
        with m.Elif(slew_mult):
            sync += [
                slew_step.eq((slew_step << 1) + Mux(rate_shift[-1], self.slew_unit, 0)),
                rate_shift.eq(rate_shift << 1),
                mult_count.eq(mult_count - 1),
            ]
            with m.If(mult_count == 1):
                sync += [slew_mult.eq(0), slew_run.eq(1)]
        with m.Elif(slew_run):
            sync += extra_neg.eq(negative)
            with m.If(after < 0):
                sync += [extra_mag.eq(magnitude), magnitude.eq(0), slew_run.eq(0)]
            with m.Else():
                sync += [extra_mag.eq(slew_step), magnitude.eq(after)]
        remaining = magnitude[FRAC_BITS:]
        m.d.comb += [
            self.slewing.eq(slew_mult | slew_run),
            self.slew_remaining_ns.eq(Mux(negative, -remaining, remaining)),
        ]

        # --- Increment pipeline ------------------------------------------------------------
        acc = Signal(range(den), init=reset["acc"])
        wrap = Signal(init=reset["carry"])
        quotient_extra = Signal(self._qx_width, init=self.q_nominal)
        inc = Signal(self._inc_width, init=reset["inc"])
        acc_sum = Signal(range(2 * den))
        acc_wrapped = Signal(signed(den.bit_length() + 1))
        m.d.comb += [acc_sum.eq(acc + self.inc_r), acc_wrapped.eq(acc - r_gap)]
        sync += [
            acc.eq(Mux(acc_wrapped >= 0, acc_wrapped, acc_sum)),
            wrap.eq(acc_wrapped >= 0),
        ]
        # Q -/+ extra as Q + (extra ^ sign) + sign: one adder.
        qx_width = self._qx_width + 1
        qx = _add_with_carry(m, self.inc_q, extra_mag ^ extra_neg.replicate(qx_width),
                             extra_neg, qx_width, "qx")
        sync += [quotient_extra.eq(qx), inc.eq(quotient_extra + wrap)]

        # --- Step: fold into the tick's delta --------------------------------------------
        # A step is taken as (sec - 1, ns + 1 s) when ns < 0, so its ns part n lies in [0, 1 s).
        # The input stage keeps n - k s and the seconds plus k for k = 0, 1, 2 (without a step:
        # -k s and k). The delta stage adds the increment's ns to the three and normalizes: if
        # inc + n >= 1 s it takes the k = 1, 2 pair, else k = 0, 1. So the tick's delta d lies in
        # [0, 1 s) and the time adder needs only the candidates d and d - 1 s.
        step_valid = Signal()
        step_ns = [Signal(signed(32), name=f"step_ns_{k}", init=-k * NS_PER_SEC)
                   for k in range(3)]
        step_sec = [Signal(signed(34), name=f"step_sec_{k}", init=k) for k in range(3)]
        negative_step = self.step_ns < 0
        sync += step_valid.eq(step_ok)
        for k in range(3):
            with m.If(step_ok):
                sync += [
                    step_ns[k].eq(self.step_ns + Mux(negative_step, (1 - k) * NS_PER_SEC,
                                                     -k * NS_PER_SEC)),
                    step_sec[k].eq(self.step_sec + Mux(negative_step, k - 1, k)),
                ]
            with m.Else():
                sync += [step_ns[k].eq(-k * NS_PER_SEC), step_sec[k].eq(k)]

        delta_reset = reset["delta"] >> FRAC_BITS
        delta_lo = Signal(FRAC_BITS, init=reset["delta"] & ((1 << FRAC_BITS) - 1))
        delta_ns = [Signal(signed(NS_BITS + 3), name=f"delta_ns_{j}",
                           init=delta_reset - j * NS_PER_SEC) for j in range(2)]
        delta_sec = [Signal(signed(34), name=f"delta_sec_{j}", init=j) for j in range(2)]
        delta_jump = Signal()
        candidates = [Signal(signed(NS_BITS + 3), name=f"delta_candidate_{k}")
                      for k in range(3)]
        for k in range(3):
            m.d.comb += candidates[k].eq(inc[FRAC_BITS:] + step_ns[k])
        normalize = candidates[1] >= 0
        sync += [delta_lo.eq(inc[:FRAC_BITS]), delta_jump.eq(step_valid)]
        for j in range(2):
            sync += [
                delta_ns[j].eq(Mux(normalize, candidates[j + 1], candidates[j])),
                delta_sec[j].eq(Mux(normalize, step_sec[j + 1], step_sec[j])),
            ]

        # --- Time ----------------------------------------------------------------------------
        frac_next = Signal(FRAC_BITS, init=reset["frac_next"])
        set_go = Signal()
        set_value = Signal(PtpTime)
        sync += set_go.eq(set_ok)
        with m.If(set_ok):
            sync += set_value.eq(self.set_time)

        # time_next + d lies in [0, 2 s): the sum or the sum minus one second.
        low = Signal(FRAC_BITS + 1)
        m.d.comb += low.eq(frac_next + delta_lo)
        ns_sum = [_add_with_carry(m, self.time_next.ns, delta_ns[j], low[FRAC_BITS],
                                  _NS_SUM_BITS, f"ns_sum_{j}") for j in range(2)]
        sec_sum = [Signal(SEC_BITS, name=f"sec_sum_{j}") for j in range(2)]
        for j in range(2):
            m.d.comb += sec_sum[j].eq(self.time_next.sec + delta_sec[j])
        carry = ns_sum[1] >= 0
        with m.If(set_go):
            sync += [self.time_next.eq(set_value), frac_next.eq(0)]
        with m.Else():
            sync += [
                frac_next.eq(low[:FRAC_BITS]),
                self.time_next.ns.eq(Mux(carry, ns_sum[1], ns_sum[0])),
                self.time_next.sec.eq(Mux(carry, sec_sum[1], sec_sum[0])),
            ]
        sync += [
            self.jump.eq(set_go | delta_jump),
            self.time.eq(self.time_next),
            self.frac.eq(frac_next),
        ]
        return m
