"""The internal audio clock generator: MCLK, BCLK and LRCK (or the TDM frame sync) made from the
wallclock, phase-locked to the media clock.

Law. All three pins are bits of one edge counter ``n`` (``0 <= n < E``) that advances at edge
instants scheduled exactly: with ``B_j`` the media clock's sample boundaries and ``E`` edges per
sample (512 for MCLK = 256 fs, 1024 for 512 fs), edge ``k`` of sample ``j`` lies at
``B_j + k * (1e9 / fs) / E``. Edge 0 is the sample boundary itself and is taken from the media
clock's ``strobe_next``, so it happens in the same cycle as the media ``strobe``. The other edges
are kept as ``ns + rem / (fs * E)`` (the boundary's ``rem / fs`` scaled by the power of two
``E``), each step adding ``1e9 // (fs * E)`` and ``1e9 % (fs * E)`` with a carry: exact integer
arithmetic, and each sample restarts from the media clock's exact boundary, so nothing drifts.
A pin changes at the first cycle whose wallclock time is at or past its edge (``time_next`` is
compared one cycle ahead and the pins are registered), so every edge is late by less than one
clock period and never early. The edges of a sample never leave the boundary's second (the
next second begins at a boundary), so one bit of the seconds suffices for the comparison.

Levels after edge ``n`` (``b`` such that a BCLK period is ``2**(b + 1)`` edges):
``mclk = n[0]``, ``bclk = n[b]``; I2S: ``lrck = n[top]`` (low for the left channel, falling at
the boundary); TDM8: the frame sync is high for the first BCLK period of the frame. MCLK, BCLK
and LRCK fall at the boundary (the TDM frame sync rises there).

Steps and rate changes. On ``jump``, loss of the media clock's ``valid``, a change of
``mclk_512``, ``tdm`` or the media clock's rate, ``enable`` low or ``too_fast``, the pins freeze
at their levels in the same cycle. The generator restarts at edge 0 of the boundary after the
first valid media ``strobe`` it sees while stopped, which lies at least one sample period
(minus one clock period) after the freeze: every high or low phase in progress at the freeze
lasts at least its nominal length (every nominal phase is at most one sample period), so no
pin ever shows a runt, whichever way the wallclock stepped.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import SAMPLE_RATES_HZ

from ..ptp_time import NS_BITS, NS_PER_SEC, PtpTime
from .media_clock import RATE_BITS, ScheduleSignature

__all__ = ["AudioClockGenerator", "edges_per_sample", "mclk_hz", "pin_levels"]

#: log2 of the edges per sample for MCLK = 256 fs (512 fs adds one).
_EDGE_BITS_256 = 9
_EDGE_BITS = _EDGE_BITS_256 + 1


def edges_per_sample(mclk_512):
    """Edges of the counter per sample: two per MCLK period."""
    return 1 << (_EDGE_BITS_256 + mclk_512)


def mclk_hz(fs, mclk_512):
    return fs * edges_per_sample(mclk_512) // 2


def _bclk_bit(mclk_512, tdm):
    # BCLK is 64 fs (I2S) or 256 fs (TDM8): a period of E / 64 or E / 256 edges.
    return (0 if tdm else 2) + mclk_512


def pin_levels(n, *, mclk_512, tdm):
    """``(mclk, bclk, lrck)`` after edge ``n`` of a sample (the reference law)."""
    b = _bclk_bit(mclk_512, tdm)
    if tdm:
        lrck = int(n >> (b + 1) == 0)
    else:
        lrck = (n >> (_EDGE_BITS_256 - 1 + mclk_512)) & 1
    return n & 1, (n >> b) & 1, lrck


class AudioClockGenerator(wiring.Component):
    """MCLK, BCLK and LRCK / TDM frame sync from the wallclock: see the module docstring.

    Clock domain: ``sync``. Parameter: `sys_clk_hz`.

    Inputs: ``time_next``, ``jump`` (the wallclock's); ``schedule`` (`ScheduleSignature`, in:
    connect to `MediaClock.schedule`; the generator follows its ``rate``); ``mclk_512`` (MCLK
    512 fs, else 256 fs); ``tdm`` (TDM8: BCLK 256 fs and a one-BCLK frame sync; else I2S:
    BCLK 64 fs, LRCK 50 %); ``enable``; ``rate`` is not used (the media clock's rate in use,
    which stays put when a requested rate is rejected, is taken from ``schedule.rate``).

    Outputs, all registered:

    - ``mclk``, ``bclk``, ``lrck``: the pins; low after reset; hold their levels while stopped.
    - ``bclk_rise``, ``bclk_fall``: one-cycle strobes in the cycle in which ``bclk`` shows the
      new level (only for real level changes: not at a restart edge that finds BCLK low).
    - ``frame_start``: one-cycle strobe in the cycle in which the pins show edge 0 of a sample
      (the sample boundary; coincides with the media clock's ``strobe``).
    - ``restart``: one-cycle pulse with the ``frame_start`` that (re)starts the outputs.
    - ``running``: the outputs are running.
    - ``too_fast`` (combinational from ``mclk_512`` and ``schedule.rate``): 2 x MCLK exceeds
      `sys_clk_hz` (edges would come faster than one per cycle); the outputs stay stopped.

    Latency: pins change in the first cycle whose wallclock time is at or past their exact edge
    instant (from ``time_next``, one cycle ahead); a freeze acts in the cycle of its cause.

    Hazards: at 2 x MCLK close to `sys_clk_hz` a fast-running wallclock could bring two edges
    into one cycle; the generator then stops at the next sample boundary (``running`` falls)
    and restarts cleanly.
    """

    def __init__(self, *, sys_clk_hz):
        if not isinstance(sys_clk_hz, int) or sys_clk_hz <= 0:
            raise ValueError(f"sys_clk_hz must be a positive integer, not {sys_clk_hz!r}")
        self.sys_clk_hz = sys_clk_hz
        super().__init__({
            "time_next": In(PtpTime),
            "jump": In(1),
            "schedule": In(ScheduleSignature),
            "mclk_512": In(1),
            "tdm": In(1),
            "enable": In(1),
            "mclk": Out(1),
            "bclk": Out(1),
            "lrck": Out(1),
            "bclk_rise": Out(1),
            "bclk_fall": Out(1),
            "frame_start": Out(1),
            "restart": Out(1),
            "running": Out(1),
            "too_fast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        sched = self.schedule
        time_next = self.time_next

        # Per (rate, MCLK) constants: the edge step 1e9 / (fs * E) as quotient and remainder,
        # and fs * E - remainder (the remainder at or above which the step carries).
        table = {}
        for index, fs in enumerate(SAMPLE_RATES_HZ):
            for mclk_512 in (0, 1):
                denominator = fs * edges_per_sample(mclk_512)
                step_q, step_r = divmod(NS_PER_SEC, denominator)
                table[(index, mclk_512)] = (step_q, step_r, denominator - step_r,
                                            2 * mclk_hz(fs, mclk_512) > self.sys_clk_hz)
        q_bits = max(v[0] for v in table.values()).bit_length()
        rem_bits = max(fs * edges_per_sample(1) for fs in SAMPLE_RATES_HZ).bit_length()

        select = Cat(self.mclk_512, sched.rate)
        fast_mask = sum(1 << (2 * index + mclk_512)
                        for (index, mclk_512), v in table.items() if v[3])
        m.d.comb += self.too_fast.eq(Const(fast_mask, 2 * len(SAMPLE_RATES_HZ))
                                     .bit_select(select, 1))
        t_q, t_r, t_neg = Signal(q_bits), Signal(rem_bits), Signal(rem_bits)
        with m.Switch(select):
            for (index, mclk_512), (step_q, step_r, neg, _) in table.items():
                with m.Case(2 * index + mclk_512):
                    m.d.comb += [t_q.eq(step_q), t_r.eq(step_r), t_neg.eq(neg)]

        # Configuration latched at arming; a change of the inputs stops the outputs.
        cfg_m512, cfg_tdm, cfg_rate = Signal(), Signal(), Signal(RATE_BITS)
        k_q, k_r, k_neg = Signal(q_bits), Signal(rem_bits), Signal(rem_bits)
        mismatch = ((self.mclk_512 != cfg_m512) | (self.tdm != cfg_tdm)
                    | (sched.rate != cfg_rate))

        # The pending edge: index `p` (0: the next sample boundary, from the media clock),
        # else at `e_ns + e_rem / (fs * E)` ns into the second whose lowest bit is `e_sec0`.
        p = Signal(_EDGE_BITS)
        e_ns = Signal(NS_BITS)
        e_rem = Signal(rem_bits)
        e_zero = Signal()           # e_rem == 0: the edge is a whole nanosecond
        e_sec0 = Signal()
        fresh = Signal()
        p_zero = p == 0

        freeze = Signal()
        m.d.comb += freeze.eq(self.jump | ~sched.valid | ~self.enable | self.too_fast | mismatch
                              | (sched.strobe_next & ~p_zero))
        # time_next.ns >= ceil(edge) = e_ns + (e_rem != 0): the carry out of one adder.
        reach = Signal(NS_BITS + 1)
        m.d.comb += reach.eq(time_next.ns + ~e_ns + e_zero)
        own_hit = ~p_zero & ((time_next.sec[0] != e_sec0) | reach[NS_BITS])
        zero_hit = p_zero & sched.strobe_next
        edge = Signal()
        m.d.comb += edge.eq(self.running & ~freeze & (own_hit | zero_hit))

        # The step to the next edge, from the media clock's boundary at edge 0, else from the
        # pending edge; the candidates are computed side by side and selected by the carry.
        src_ns = Signal(NS_BITS)
        src_rem = Signal(rem_bits)
        m.d.comb += [
            src_ns.eq(Mux(p_zero, sched.ns, e_ns)),
            src_rem.eq(Mux(p_zero,
                           Mux(cfg_m512, sched.rem << (_EDGE_BITS_256 + 1),
                               sched.rem << _EDGE_BITS_256),
                           e_rem)),
        ]
        rem_sum = Signal(rem_bits)
        rem_over = Signal(rem_bits + 1)
        carry = Signal()
        rem_next = Signal(rem_bits)
        m.d.comb += [
            rem_sum.eq(src_rem + k_r),
            rem_over.eq(src_rem - k_neg),
            carry.eq(~rem_over[-1]),
            rem_next.eq(Mux(carry, rem_over, rem_sum)),
        ]
        ns_plus = [Signal(NS_BITS, name=f"ns_plus{i}") for i in range(2)]
        m.d.comb += [plus.eq(src_ns + k_q + i) for i, plus in enumerate(ns_plus)]

        n_new = Signal(_EDGE_BITS)
        n_inc = Signal(_EDGE_BITS + 1)
        m.d.comb += [n_new.eq(Mux(p_zero, 0, p)), n_inc.eq(n_new + 1)]
        mclk_n, bclk_n, lrck_n = Signal(), Signal(), Signal()
        m.d.comb += mclk_n.eq(n_new[0])
        with m.Switch(Cat(cfg_m512, cfg_tdm)):
            for mclk_512 in (0, 1):
                for tdm in (0, 1):
                    b = _bclk_bit(mclk_512, tdm)
                    with m.Case(mclk_512 | tdm << 1):
                        m.d.comb += bclk_n.eq(n_new[b])
                        if tdm:
                            m.d.comb += lrck_n.eq(n_new[b + 1:] == 0)
                        else:
                            m.d.comb += lrck_n.eq(n_new[_EDGE_BITS_256 - 1 + mclk_512])

        m.d.sync += [self.bclk_rise.eq(0), self.bclk_fall.eq(0), self.frame_start.eq(0),
                     self.restart.eq(0)]
        with m.If(~self.running):
            # A valid strobe: the media clock's pending boundary is now a full sample ahead.
            with m.If(self.enable & sched.valid & sched.strobe & ~self.too_fast & ~self.jump):
                m.d.sync += [
                    self.running.eq(1), p.eq(0), fresh.eq(1),
                    cfg_m512.eq(self.mclk_512), cfg_tdm.eq(self.tdm), cfg_rate.eq(sched.rate),
                    k_q.eq(t_q), k_r.eq(t_r), k_neg.eq(t_neg),
                ]
        with m.Elif(freeze):
            m.d.sync += self.running.eq(0)
        with m.Elif(edge):
            m.d.sync += [
                self.mclk.eq(mclk_n), self.bclk.eq(bclk_n), self.lrck.eq(lrck_n),
                self.bclk_rise.eq(bclk_n & ~self.bclk),
                self.bclk_fall.eq(~bclk_n & self.bclk),
                self.frame_start.eq(p_zero),
                self.restart.eq(p_zero & fresh),
                p.eq(Mux(cfg_m512, n_inc[:_EDGE_BITS], n_inc[:_EDGE_BITS_256])),
                e_ns.eq(Mux(carry, ns_plus[1], ns_plus[0])),
                e_rem.eq(rem_next),
                e_zero.eq(rem_next == 0),
            ]
            with m.If(p_zero):
                m.d.sync += [e_sec0.eq(sched.sec_lsb), fresh.eq(0)]
        return m
