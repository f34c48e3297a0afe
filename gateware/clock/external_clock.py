"""External audio clock generator support: BCLK/LRCK divided from an external MCLK, and a meter
of that MCLK against the wallclock.

A board with an external clock generator (Si5351A-style, trimmed over I2C by the firmware)
feeds its MCLK into the FPGA as the clock of the ``audio_ext`` domain; the board also routes it
to the converters. The FPGA then only divides BCLK and LRCK from it (`ExternalClockDivider`)
and measures it (`ExternalClockMeter`): the frequency error against the disciplined wallclock
in ppb, and the phase of the frames against the media clock's sample boundaries. The firmware
closes the loop through the generator's fractional divider.

Clock-domain crossings, all through `amaranth.lib.cdc.FFSynchronizer`:

- settings (``sync`` -> ``audio_ext``): quasi-static levels, each bit synchronised; they take
  effect at a frame start only, so a change never cuts a pulse short. Change them together
  with the outputs disabled if a mixed intermediate setting must never show for a frame.
- ``align`` (``sync`` -> ``audio_ext``): a toggle; safe for any ratio of the clocks as long as
  two align pulses are at least ``stages + 1`` ``audio_ext`` cycles apart (they come from sample
  strobes, microseconds apart).
- frame starts (``audio_ext`` -> ``sync``): a toggle per frame (frames are 256 or 512 MCLK
  cycles apart, so any ``sync`` faster than MCLK / 128 sees every toggle).
- the meter's cycle counter (``audio_ext`` -> ``sync``): `COUNT_BITS` of Gray code, which
  changes one bit per MCLK cycle, so every sample is either the old or the new count (constrain
  the bus's skew to below one MCLK period). The ``sync`` side sees the count move by
  ``ceil(S / A) + 1`` at most per cycle (``S``, ``A``: the ``sync`` and MCLK periods), far below
  ``2 ** COUNT_BITS``, and accumulates the increments into a wide count.

Exactness of the meter: a gate is the count between two ``sync`` cycles that enter a new
wallclock second; each of those cycles starts within one tick after the true second, and the
count observed in a cycle covers the MCLK edges before a ``sync`` edge a constant number of
cycles earlier (`ExternalClockMeter.count_delay`). So the reported count is the number of MCLK
edges in an interval whose ends lie in ``[0, S)`` after the true gate's: it differs from
``f * gate`` (``f`` the true MCLK frequency in wallclock time) by less than ``1 + f * S`` counts
(1.1 counts at 12.288 MHz and 8 ns). ``ppb`` is then computed exactly from the count (see
`ExternalClockMeter`), so its error is that count error times ``1e9 / (gate * nominal)``, plus
less than 1 ppb of rounding.
"""

from fractions import Fraction

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..ptp_time import NS_BITS, NS_PER_SEC, PtpTime
from .serial_divider import SerialDivider

__all__ = ["ExternalClockDivider", "ExternalClockMeter", "MCLK_PER_FRAME", "BCLK_PER_FRAME",
           "HOLD_CYCLES", "COUNT_BITS"]

#: MCLK cycles per frame (one sample period): ``mclk_512`` 0 and 1.
MCLK_PER_FRAME = (256, 512)
#: BCLK cycles per frame: I2S (BCLK 64 fs) and TDM8 (256 fs).
BCLK_PER_FRAME = {"i2s": 64, "tdm": 256}
#: MCLK cycles from an ``align`` request's arrival to the aligned frame start: a whole number
#: of frames at either MCLK ratio, so the aligned frames keep the request's phase, and long
#: enough for the running frame to finish first (see `ExternalClockDivider`).
HOLD_CYCLES = 512
#: Width of the meter's Gray-coded cycle counter in ``audio_ext``.
COUNT_BITS = 8
#: The ppb scale, as ``5 ** 9 * 2 ** 9``: the meter multiplies by 5 nine times and shifts.
PPB_SCALE = 1_000_000_000
_PPB_FIVES, _PPB_SHIFT = 9, 9
assert 5 ** _PPB_FIVES << _PPB_SHIFT == PPB_SCALE

_GATE_BITS = 8
_NOMINAL_BITS = 32
_GATE_COUNT_BITS = _NOMINAL_BITS + _GATE_BITS       # gate * nominal, and the cycle count
_PPB_MAX = (1 << 31) - 1


def _check_stages(stages):
    if not isinstance(stages, int) or stages < 2:
        raise ValueError(f"stages must be an integer >= 2, not {stages!r}")


class ExternalClockDivider(wiring.Component):
    """BCLK and LRCK (or the TDM frame sync) divided from an external MCLK.

    Clock domains: `domain` (``audio_ext``, clocked by the external MCLK) for the outputs,
    ``sync`` for the settings, ``align`` and ``frame_start``. Parameters: `stages`, the length
    of every synchroniser.

    Ports:

    - ``mclk_512``, ``tdm``, ``enable`` (in, ``sync`` levels, quasi-static): MCLK is 512 fs
      (else 256 fs); TDM8 framing (else I2S); drive the outputs. TDM8 needs ``mclk_512``:
      BCLK would equal MCLK, which a register clocked by MCLK cannot make, so with ``tdm`` and
      not ``mclk_512`` the outputs stay low (as when disabled; the integrator reports it).
    - ``align`` (in, ``sync``): a one-cycle pulse in the cycle in which the media clock's
      sample strobe is high. Pulse it to (re)align, e.g. after enabling or a wallclock step,
      not at every sample.
    - ``bclk``, ``lrck`` (out, `domain`, registered): I2S: BCLK is MCLK / 4 or / 8 (64 fs),
      low in the first half of its period; LRCK has 50 % duty, falls at the frame start (left
      channel low) and rises half a frame later; both change at BCLK's falling edge. TDM8:
      BCLK is MCLK / 2 (256 fs); ``lrck`` is the frame sync, high for the first BCLK period of
      the frame (rising at the frame start). Low while disabled.
    - ``frame_start`` (out, ``sync``, registered): a one-cycle pulse per frame start, for the
      phase meter: high in the cycle that starts `frame_start_latency` ``sync`` edges after the
      first ``sync`` edge that follows the frame start (one more under metastability).

    The frame: a phase counter runs over the MCLK cycles of a frame; the outputs are decoded
    from its next value and registered, so they are glitch-free and change at MCLK edges.
    Settings are taken at frame starts only.

    Alignment: let ``A1`` be the first MCLK edge after the ``sync`` edge that ends the
    ``align`` cycle (the toggle changes there). The aligned frame start is the MCLK edge
    ``A1 + align_latency`` cycles (``align_latency = stages + HOLD_CYCLES``), one cycle later
    under metastability; frames then follow every 256 or 512 MCLK cycles. Relative to the sample
    boundary ``B`` marked by the strobe (within one tick before the strobe's edge), the frame
    start lies ``S .. 2 S + A`` plus ``align_latency`` MCLK cycles after ``B`` (``S``, ``A``:
    ``sync`` and MCLK periods); ``HOLD_CYCLES`` is a whole number of frames, so the frames'
    phase to the sample grid is ``S .. 2 S + A`` plus ``stages`` MCLK cycles, which the phase
    meter measures.

    No runt pulses: on ``align`` the running frame goes on to its last cycle (BCLK high,
    I2S LRCK high, TDM frame sync low) and stays there until the aligned frame start; so a
    re-alignment only stretches the last BCLK high phase and the last half frame. Disabling
    takes effect at the end of the running frame; enabling starts a frame at once (after the
    synchroniser), or at the aligned instant if an alignment is pending.

    Hazards: the crossings (see the module docstring); reset of either domain costs at most a
    frame (and a pending alignment).
    """

    def __init__(self, *, domain="audio_ext", stages=2):
        _check_stages(stages)
        if domain == "sync":
            raise ValueError("the divider runs in the external MCLK's domain, not sync")
        self._domain = domain
        self.stages = stages
        #: MCLK cycles from ``A1`` to the aligned frame start (see the class docstring).
        self.align_latency = stages + HOLD_CYCLES
        #: ``sync`` cycles from the first ``sync`` edge after a frame start to the pulse.
        self.frame_start_latency = stages
        super().__init__({
            "mclk_512": In(1),
            "tdm": In(1),
            "enable": In(1),
            "align": In(1),
            "bclk": Out(1),
            "lrck": Out(1),
            "frame_start": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        dom = self._domain
        ext = m.d[dom]

        settings = Signal(3)
        m.submodules.settings_cdc = FFSynchronizer(
            Cat(self.mclk_512, self.tdm, self.enable), settings, o_domain=dom,
            stages=self.stages)
        set_512, set_tdm, set_enable = settings[0], settings[1], settings[2]
        supported = set_enable & (set_512 | ~set_tdm)

        align_toggle = Signal()
        with m.If(self.align):
            m.d.sync += align_toggle.eq(~align_toggle)
        align_ext = Signal()
        m.submodules.align_cdc = FFSynchronizer(align_toggle, align_ext, o_domain=dom,
                                                stages=self.stages)
        align_seen = Signal()
        ext += align_seen.eq(align_ext)
        restart = align_ext != align_seen

        running = Signal()
        mode_512 = Signal()
        mode_tdm = Signal()
        phase = Signal(range(MCLK_PER_FRAME[1]))
        pending = Signal()
        until = Signal(range(HOLD_CYCLES))
        with m.If(restart):
            ext += [pending.eq(1), until.eq(HOLD_CYCLES - 1)]
        with m.Elif(pending):
            ext += until.eq(until - 1)
            with m.If(until == 0):
                ext += pending.eq(0)

        hold = pending & (until != 0)
        last = Mux(mode_512, MCLK_PER_FRAME[1] - 1, MCLK_PER_FRAME[0] - 1)
        at_end = ~running | (phase == last)
        next_phase = Signal.like(phase)
        next_running = Signal()
        next_512 = Signal()
        next_tdm = Signal()
        frame = Signal()
        m.d.comb += [
            next_phase.eq(phase + 1),
            next_running.eq(running),
            next_512.eq(mode_512),
            next_tdm.eq(mode_tdm),
        ]
        with m.If(at_end):
            with m.If(hold):
                m.d.comb += next_phase.eq(phase)
            with m.Elif(supported):
                m.d.comb += [next_phase.eq(0), next_running.eq(1), next_512.eq(set_512),
                             next_tdm.eq(set_tdm), frame.eq(1)]
            with m.Else():
                m.d.comb += [next_phase.eq(phase), next_running.eq(0)]
        ext += [phase.eq(next_phase), running.eq(next_running), mode_512.eq(next_512),
                mode_tdm.eq(next_tdm)]

        # I2S: BCLK is phase bit 1 (/4) or 2 (/8), LRCK the frame's top bit; TDM8 (512 fs
        # only): BCLK is bit 0, the frame sync the first BCLK period.
        i2s_bclk = Mux(next_512, next_phase[2], next_phase[1])
        i2s_lrck = Mux(next_512, next_phase[8], next_phase[7])
        ext += [
            self.bclk.eq(next_running & Mux(next_tdm, next_phase[0], i2s_bclk)),
            self.lrck.eq(next_running & Mux(next_tdm, next_phase[1:] == 0, i2s_lrck)),
        ]

        frame_toggle = Signal()
        ext += frame_toggle.eq(frame_toggle ^ frame)
        frame_sync = Signal()
        m.submodules.frame_cdc = FFSynchronizer(frame_toggle, frame_sync, o_domain="sync",
                                                stages=self.stages)
        frame_seen = Signal()
        m.d.sync += [frame_seen.eq(frame_sync), self.frame_start.eq(frame_sync ^ frame_seen)]
        return m


class ExternalClockMeter(wiring.Component):
    """Frequency and phase of the external MCLK against the wallclock and the media clock.

    Clock domains: ``sync``, plus a `COUNT_BITS`-bit Gray counter in `domain` (``audio_ext``).
    Parameters: `sys_clk_hz` (nominal ``sync`` frequency, for the phase compensation),
    `stages` (synchroniser length), `frame_start_latency` (the divider's, in ``sync`` cycles).

    Ports (all ``sync``):

    - ``time_next``, ``time`` (in, `PtpTime`), ``jump`` (in): the wallclock's outputs. A gate
      with a jump in it is discarded (the next second boundary starts a new one). Slews are
      not jumps: a gate during a slew measures against the slewing wallclock.
    - ``gate_sec`` (in, 8 bits): gate length in wallclock seconds; 0 stops the meter and
      clears ``valid``. A change applies to the running gate (its ``gate * nominal`` is summed
      per elapsed second, so the result stays consistent).
    - ``nominal_hz`` (in, 32 bits): the nominal MCLK frequency (fs * 256 or 512), supplied by
      the integrator; summed once per second into ``gate * nominal`` (no multiplier).
    - ``boundary`` (in, `PtpTime`): the media clock's last sample boundary (only its
      nanoseconds are used: frame starts and boundaries are assumed less than half a second
      apart, true whenever the media clock runs).
    - ``frame_start`` (in): the divider's ``frame_start`` pulse.
    - ``cycles`` (out, 32 bits): MCLK cycles in the last gate (modulo 2**32; the ppb uses the
      full count).
    - ``ppb`` (out, signed 32): ``(cycles - G) * 1e9 / G``, ``G = gate * nominal``, rounded
      towards zero, saturated to +-(2**31 - 1); 0 with ``valid`` low if ``G`` is 0.
    - ``measurements`` (out, 32 bits): gates completed; wraps. ``cycles``, ``ppb``,
      ``measurements`` and ``valid`` change together, in one cycle.
    - ``phase_ns`` (out, signed 32): wallclock time of the last frame start (``frame_start``
      minus the crossing latency) minus the nearest sample boundary, so within about half a
      sample; updated once per frame, after the boundary that follows it.
    - ``valid`` (out): a gate has completed since ``gate_sec`` was last 0 (and ``G`` was not 0).

    Gates: the first second boundary after ``gate_sec`` becomes non-zero (or after a jump)
    starts a gate, and every ``gate_sec`` seconds later one ends and the next starts at once.
    The count of a gate is that of the MCLK edges between the ``sync`` edges `count_delay`
    cycles before the cycles that enter the first and last second (see the module docstring:
    the error bound is ``1 + f * S`` counts). The results follow about 85 cycles after
    the gate's end (a multiplication by 1e9 in nine steps and a 70-bit `SerialDivider`); a
    "second" must last longer than that.

    Phase: the frame start pulse's cycle starts ``frame_start_latency`` edges after the first
    ``sync`` edge following the MCLK frame start, which is ``d`` in ``(0, S]`` after it. The
    meter subtracts ``phase_compensation_ns = round((frame_start_latency + 1 / 2) * S)``, so the
    frame start's time is estimated within ``(-S / 2, S / 2]`` (plus the rounding of the
    compensation and the wallclock's floor to whole nanoseconds). Then it waits for the next
    sample boundary and reports the difference to whichever of the two boundaries (the one
    current at the pulse, the next) is nearer (the earlier one on a tie). If the next frame
    start comes first (the frame start was just after the boundary current at its pulse, and
    the external clock runs fast), it reports the difference to that boundary. ``phase_ns``
    read in the cycle after a ``frame_start`` pulse holds the previous frame's result.

    Hazards: the Gray crossing (see the module docstring); ``nominal_hz`` changing inside a
    gate mixes the two values in that gate; second boundaries are found from the top bit of
    the nanoseconds, so the wallclock must advance less than 0.46 s per cycle (it advances
    one clock period).
    """

    def __init__(self, *, sys_clk_hz, domain="audio_ext", stages=2, frame_start_latency=2):
        _check_stages(stages)
        sys_clk_hz = Fraction(sys_clk_hz)
        if not 0 < sys_clk_hz <= 2 * NS_PER_SEC:
            raise ValueError(f"sys_clk_hz must be positive and at most 2 GHz, not {sys_clk_hz}")
        if not isinstance(frame_start_latency, int) or frame_start_latency < 0:
            raise ValueError("frame_start_latency must be a non-negative integer")
        if domain == "sync":
            raise ValueError("the counter runs in the external MCLK's domain, not sync")
        self._domain = domain
        self.stages = stages
        self.sys_clk_hz = sys_clk_hz
        #: The gate's count covers MCLK edges before the ``sync`` edge this many cycles before
        #: the cycle that enters the second.
        self.count_delay = stages
        period_ns = Fraction(NS_PER_SEC) / sys_clk_hz
        #: Nanoseconds from a frame start to the ``time`` of its pulse's cycle, on average.
        self.phase_compensation_ns = int((frame_start_latency + Fraction(1, 2)) * period_ns
                                         + Fraction(1, 2))
        if self.phase_compensation_ns >= NS_PER_SEC // 4:
            raise ValueError("the frame start latency must be well below a second")
        super().__init__({
            "time_next": In(PtpTime),
            "time": In(PtpTime),
            "jump": In(1),
            "gate_sec": In(_GATE_BITS),
            "nominal_hz": In(_NOMINAL_BITS),
            "boundary": In(PtpTime),
            "frame_start": In(1),
            "cycles": Out(32),
            "ppb": Out(signed(32)),
            "measurements": Out(32),
            "phase_ns": Out(signed(32)),
            "valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        self._counter(m)
        self._phase(m)
        return m

    def _counter(self, m):
        ext = m.d[self._domain]
        count = Signal(COUNT_BITS)
        gray = Signal(COUNT_BITS)
        count_next = Signal(COUNT_BITS)
        m.d.comb += count_next.eq(count + 1)
        ext += [count.eq(count_next), gray.eq(count_next ^ (count_next >> 1))]
        gray_sync = Signal(COUNT_BITS)
        m.submodules.count_cdc = FFSynchronizer(gray, gray_sync, stages=self.stages)
        binary = Signal(COUNT_BITS)
        m.d.comb += [binary[i].eq(gray_sync[i:].xor()) for i in range(COUNT_BITS)]
        binary_prev = Signal(COUNT_BITS)
        delta = Signal(COUNT_BITS)
        m.d.sync += [binary_prev.eq(binary), delta.eq(binary - binary_prev)]

        total = Signal(_GATE_COUNT_BITS)            # MCLK cycles in the running gate
        total_next = Signal(_GATE_COUNT_BITS)
        m.d.comb += total_next.eq(total + delta)
        m.d.sync += total.eq(total_next)

        new_second = Signal()
        jumped = Signal()
        # The second's nanoseconds pass 2**29 once and drop below it only at the wrap (the
        # wallclock advances far less than 0.46 s per cycle; jumps are flagged apart).
        top_bit = NS_BITS - 1
        m.d.sync += [new_second.eq(self.time.ns[top_bit] & ~self.time_next.ns[top_bit]),
                     jumped.eq(self.jump)]

        armed = Signal()
        seconds = Signal(_GATE_BITS)
        target = Signal(_GATE_COUNT_BITS)           # nominal * seconds so far
        target_next = Signal(_GATE_COUNT_BITS)
        m.d.comb += target_next.eq(target + self.nominal_hz)
        counted = Signal(_GATE_COUNT_BITS)
        expected = Signal(_GATE_COUNT_BITS)
        capture = Signal()
        with m.If((self.gate_sec == 0) | jumped):
            m.d.sync += armed.eq(0)
        with m.Elif(new_second):
            with m.If(~armed):
                m.d.sync += [armed.eq(1), total.eq(0), seconds.eq(0), target.eq(0)]
            with m.Elif(seconds + 1 >= self.gate_sec):
                m.d.comb += capture.eq(1)
                m.d.sync += [counted.eq(total_next), expected.eq(target_next), total.eq(0),
                             seconds.eq(0), target.eq(0)]
            with m.Else():
                m.d.sync += [seconds.eq(seconds + 1), target.eq(target_next)]

        # (counted - expected) * 1e9 / expected: the magnitude times 5**9 by nine steps of
        # x * 4 + x, shifted by 9 into the dividend of a serial division by `expected`.
        difference = Signal(signed(_GATE_COUNT_BITS + 1))
        negative = Signal()
        product_bits = _GATE_COUNT_BITS + (5 ** _PPB_FIVES).bit_length()
        product = Signal(product_bits)
        steps = Signal(range(_PPB_FIVES + 1))
        m.submodules.divider = divider = SerialDivider(product_bits + _PPB_SHIFT,
                                                       _GATE_COUNT_BITS)
        m.d.comb += [divider.dividend.eq(Cat(Const(0, _PPB_SHIFT), product)),
                     divider.divisor.eq(expected)]
        quotient = divider.quotient
        saturated = quotient[31:] != 0
        magnitude = Mux(saturated, _PPB_MAX, quotient[:31])
        with m.FSM(name="ppb"):
            with m.State("IDLE"):
                with m.If(capture):
                    m.next = "DIFFERENCE"
            with m.State("DIFFERENCE"):
                m.d.sync += difference.eq(counted - expected)
                m.next = "MAGNITUDE"
            with m.State("MAGNITUDE"):
                m.d.sync += [negative.eq(difference < 0),
                             product.eq(Mux(difference < 0, -difference, difference)),
                             steps.eq(_PPB_FIVES)]
                m.next = "SCALE"
            with m.State("SCALE"):
                m.d.sync += [product.eq((product << 2) + product), steps.eq(steps - 1)]
                with m.If(steps == 1):
                    m.next = "DIVIDE"
            with m.State("DIVIDE"):
                m.d.comb += divider.start.eq(1)
                m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(divider.done):
                    m.d.sync += [
                        self.cycles.eq(counted),
                        self.ppb.eq(Mux(divider.div_by_zero, 0,
                                        Mux(negative, -magnitude, magnitude))),
                        self.measurements.eq(self.measurements + 1),
                        self.valid.eq(~divider.div_by_zero),
                    ]
                    m.next = "IDLE"
        with m.If(self.gate_sec == 0):
            m.d.sync += self.valid.eq(0)

    def _phase(self, m):
        stamp = Signal(NS_BITS)          # time.ns in the frame start pulse's cycle
        first = Signal(NS_BITS)          # the boundary current at the pulse
        use_live = Signal()
        operand = Signal(NS_BITS)
        raw = Signal(signed(NS_BITS + 1))
        wrapped = Signal(signed(32))
        m.d.comb += operand.eq(Mux(use_live, self.boundary.ns, first))
        # Two pipeline stages: the difference of the nanoseconds, then the wrap across the
        # second and the latency compensation in one adder. The true difference is below half
        # a second, so the wrap can test loose thresholds of +-2**29 ns on the top two bits.
        top = raw[NS_BITS - 1:]
        comp = self.phase_compensation_ns
        m.d.sync += [
            raw.eq(stamp - operand),
            wrapped.eq(raw + Mux(top == 0b01, -NS_PER_SEC - comp,
                                 Mux(top == 0b10, NS_PER_SEC - comp, -comp))),
        ]
        near = Signal(signed(32))        # the difference to the boundary at the pulse
        wait = Signal(2)
        nearer_first = near + wrapped <= 0

        def restart_on_frame_start(*, report_near=False):
            # A frame start always starts a new measurement. If the boundary after the last
            # one has not come yet, that frame start was within a few cycles after the
            # boundary current at its pulse, which is then the nearer one: report it.
            with m.If(self.frame_start):
                m.d.sync += [stamp.eq(self.time.ns),
                             first.eq(self.boundary.ns), wait.eq(2)]
                if report_near:
                    m.d.sync += self.phase_ns.eq(near)
                m.next = "FIRST"

        with m.FSM(name="phase"):
            with m.State("IDLE"):
                restart_on_frame_start()
            with m.State("FIRST"):
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 0):
                    m.d.sync += near.eq(wrapped)
                    m.next = "WAIT"
                restart_on_frame_start()
            with m.State("WAIT"):
                m.d.comb += use_live.eq(1)
                m.d.sync += wait.eq(1)
                with m.If(self.boundary.ns != first):
                    m.next = "SECOND"
                restart_on_frame_start(report_near=True)
            with m.State("SECOND"):
                m.d.comb += use_live.eq(1)
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 0):
                    m.d.sync += self.phase_ns.eq(Mux(nearer_first, near, wrapped))
                    m.next = "IDLE"
                with m.Else():
                    restart_on_frame_start(report_near=True)
                with m.If(wait == 0):
                    restart_on_frame_start()
