"""The time base of the endpoint: wallclock, PPS, event capture, media clock and audio clocks,
behind the CLOCK registers.

Everything here runs in ``sync`` (the optional external audio clock adds ``audio_ext``). The
blocks that need time read it from `Timebase`'s ports: the MAC stamps frames with ``time``, the
PTP engine disciplines the wallclock through the same operations the registers offer, the RTP
transmitter and receiver take ``media_count`` / ``media_strobe`` and the audio strobes.

::

    CLOCK regs ──► Wallclock ──time, time_next, jump──┬─► PpsGenerator ──► pps pin, PPS irq
                      ▲  set/step/slew/freq             ├─► EventCapture ◄── event pin
                      │                                 ├─► MediaClock ──count, strobe──► RTP
                   (PTP servo, issue 6)                 │        │
                                                        └─► AudioClockGenerator ──► mclk/bclk/lrck
                                                                  (or ExternalClockDivider in
                                                                   audio_ext + ExternalClockMeter)

Status and errors: every rejected command or setting (a step or set out of range, a bad slew
rate, a sample rate the build lacks, audio clocks faster than the system clock allows, EXTERNAL
without the external clock input) sets CLOCK_STATUS.LAST_ERROR and counts in CLOCK_REJECTS;
every SET and STEP counts in CLOCK_DISCONTINUITIES.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import CLOCK_ERRORS, SAMPLE_RATES_HZ, STAGEBOX_MAP

from ..ptp_time import PtpTime
from ..regbank import block_signature
from .audio_clocks import AudioClockGenerator
from .event_capture import EventCapture
from .external_clock import ExternalClockDivider, ExternalClockMeter
from .media_clock import MediaClock
from .pps import PpsGenerator
from .wallclock import Wallclock

__all__ = ["Timebase", "ERROR_CODES"]

#: CLOCK_STATUS.LAST_ERROR codes by name.
ERROR_CODES = {name: code for code, name, _ in CLOCK_ERRORS}


class Timebase(wiring.Component):
    """The CLOCK block: see the module docstring.

    Parameters: `sys_clk_hz`; `sample_rates_hz`, the rates the build supports (a subset of
    `SAMPLE_RATES_HZ`); `external_clock`, whether the board feeds an external generator's MCLK
    in as clock domain ``audio_ext`` (then ``MEDIA_CONTROL.EXTERNAL`` selects it).

    Ports (``sync``): ``regs`` (the CLOCK register group); ``time``, ``time_next``, ``jump``
    (the wallclock's, see `Wallclock`); ``media_count``, ``media_strobe``, ``media_valid``
    (`MediaClock`'s ``count``, ``strobe``, ``valid``); ``bclk_rise``, ``bclk_fall``,
    ``frame_start`` (the internal generator's strobes, for the I2S/TDM serialisers); the pins
    ``pps`` (out), ``event_in`` (in, asynchronous), ``mclk``, ``bclk``, ``lrck`` (out; with the
    external clock selected, ``bclk`` and ``lrck`` come from ``audio_ext`` and ``mclk`` is low:
    the board routes the generator's MCLK to the converters); interrupt sources ``event_irq``
    and ``pps_irq`` (one-cycle pulses).
    """

    def __init__(self, *, sys_clk_hz, sample_rates_hz=SAMPLE_RATES_HZ, external_clock=False,
                 regmap=STAGEBOX_MAP):
        self.sys_clk_hz = sys_clk_hz
        self.sample_rates_hz = tuple(sample_rates_hz)
        self.external_clock = external_clock
        self.regmap = regmap
        super().__init__({
            "regs": Out(block_signature(regmap.block("CLOCK"))),
            "time": Out(PtpTime),
            "time_next": Out(PtpTime),
            "jump": Out(1),
            "media_count": Out(32),
            "media_strobe": Out(1),
            "media_valid": Out(1),
            "bclk_rise": Out(1),
            "bclk_fall": Out(1),
            "frame_start": Out(1),
            "pps": Out(1),
            "event_in": In(1),
            "mclk": Out(1),
            "bclk": Out(1),
            "lrck": Out(1),
            "event_irq": Out(1),
            "pps_irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        regs = self.regs

        m.submodules.wallclock = clock = Wallclock(sys_clk_hz=self.sys_clk_hz)
        command = regs.command
        m.d.comb += [
            clock.set_time.ns.eq(regs.set_time.ns),
            clock.set_time.sec.eq(regs.set_time.sec),
            clock.set_stb.eq(regs.command_stb & command.set),
            clock.step_ns.eq(regs.step.ns),
            clock.step_sec.eq(regs.step.sec),
            clock.step_stb.eq(regs.command_stb & command.step),
            clock.freq_adj.eq(regs.freq_adj),
            clock.slew_ns.eq(regs.slew_ns),
            clock.slew_rate_ppm.eq(regs.slew_rate_ppm),
            clock.slew_stb.eq(regs.command_stb & command.slew),
            clock.slew_cancel.eq(regs.command_stb & command.slew_cancel),
            self.time.eq(clock.time),
            self.time_next.eq(clock.time_next),
            self.jump.eq(clock.jump),
            regs.time.ns.eq(clock.time.ns),
            regs.time.sec.eq(clock.time.sec),
            regs.status.slewing.eq(clock.slewing),
            regs.status.freq_updating.eq(clock.freq_updating),
            regs.slew_remaining_ns.eq(clock.slew_remaining_ns),
        ]
        with m.If(clock.jump):
            m.d.sync += regs.discontinuities.eq(regs.discontinuities + 1)

        m.submodules.pps = pps = PpsGenerator()
        m.d.comb += [
            pps.time.eq(clock.time), pps.time_next.eq(clock.time_next),
            pps.width_ns.eq(regs.pps_width_ns),
            self.pps.eq(pps.pps), self.pps_irq.eq(pps.second),
        ]

        m.submodules.event = event = EventCapture(sys_clk_hz=self.sys_clk_hz)
        m.d.comb += [
            event.pin.eq(self.event_in), event.time.eq(clock.time),
            event.enable.eq(regs.event_control.enable),
            event.falling.eq(regs.event_control.falling),
            regs.event_count.eq(event.count),
            regs.event_stamp.ns.eq(event.stamp.ns),
            regs.event_stamp.sec.eq(event.stamp.sec),
            self.event_irq.eq(event.event),
        ]

        control = regs.media_control
        m.submodules.media = media = MediaClock(sys_clk_hz=self.sys_clk_hz,
                                                sample_rates_hz=self.sample_rates_hz)
        m.d.comb += [
            media.time_next.eq(clock.time_next), media.jump.eq(clock.jump),
            media.rate.eq(control.rate),
            self.media_count.eq(media.count), self.media_strobe.eq(media.strobe),
            self.media_valid.eq(media.valid),
            regs.media_count.eq(media.count),
            regs.status.media_valid.eq(media.valid),
        ]

        external = Signal()
        tdm_needs_512 = Signal()
        if self.external_clock:
            m.d.comb += external.eq(control.external)
            self._external(m, clock, media, external)
            m.d.comb += tdm_needs_512.eq(external & control.audio_enable & control.tdm
                                         & ~control.mclk_512)

        m.submodules.audio = audio = AudioClockGenerator(sys_clk_hz=self.sys_clk_hz)
        m.d.comb += [
            audio.time_next.eq(clock.time_next), audio.jump.eq(clock.jump),
            audio.mclk_512.eq(control.mclk_512),
            audio.tdm.eq(control.tdm), audio.enable.eq(control.audio_enable & ~external),
            self.bclk_rise.eq(audio.bclk_rise), self.bclk_fall.eq(audio.bclk_fall),
            self.frame_start.eq(audio.frame_start),
            regs.status.audio_running.eq(audio.running),
        ]
        wiring.connect(m, media.schedule, audio.schedule)
        if self.external_clock:
            # The pins switch between domains only when the host flips EXTERNAL (a glitch
            # then is a restart the converters see anyway).
            m.d.comb += [
                self.mclk.eq(Mux(external, 0, audio.mclk)),
                self.bclk.eq(Mux(external, self._divider.bclk, audio.bclk)),
                self.lrck.eq(Mux(external, self._divider.lrck, audio.lrck)),
            ]
        else:
            m.d.comb += [self.mclk.eq(audio.mclk), self.bclk.eq(audio.bclk),
                         self.lrck.eq(audio.lrck)]

        # Rejections: each source is a one-cycle pulse; a level condition counts on its rising
        # edge, so a setting left in place counts once.
        no_external = Signal()
        if not self.external_clock:
            m.d.comb += no_external.eq(control.external)
        rejections = [(clock.error, clock.error_code), (media.rate_error, ERROR_CODES["RATE"])]
        for level, name in ((audio.too_fast & audio.enable, "AUDIO_CLOCK_FAST"),
                            (no_external, "NO_EXTERNAL"), (tdm_needs_512, "TDM_NEEDS_512")):
            before = Signal(name=f"{name.lower()}_q")
            m.d.sync += before.eq(level)
            rejections.append((level & ~before, ERROR_CODES[name]))
        for pulse, code in rejections:
            with m.If(pulse):
                m.d.sync += regs.status.last_error.eq(code)
        # The sources cannot pulse in the same cycle except by coincidence of a bus command
        # with a settings change; one count then stands for both.
        any_reject = Signal()
        m.d.comb += any_reject.eq(Cat(pulse for pulse, _ in rejections).any())
        with m.If(any_reject & ~regs.rejects.all()):
            m.d.sync += regs.rejects.eq(regs.rejects + 1)
        return m

    def _external(self, m, clock, media, external):
        """The external clock generator's divider (in ``audio_ext``) and meter."""
        regs, control = self.regs, self.regs.media_control
        m.submodules.ext_divider = divider = self._divider = ExternalClockDivider()
        m.submodules.ext_meter = meter = ExternalClockMeter(
            sys_clk_hz=self.sys_clk_hz, frame_start_latency=divider.frame_start_latency)

        # Align the divider's frames to the media clock once per (re)start: when EXTERNAL or
        # AUDIO_ENABLE rises, and after the time jumped, at the next valid sample boundary.
        running = Signal()
        running_q = Signal()
        align_pending = Signal()
        m.d.comb += running.eq(external & control.audio_enable)
        m.d.sync += running_q.eq(running)
        align = Signal()
        m.d.comb += align.eq(align_pending & media.valid & media.strobe)
        with m.If((running & ~running_q) | clock.jump):
            m.d.sync += align_pending.eq(1)
        with m.Elif(align):
            m.d.sync += align_pending.eq(0)

        nominal = Signal(32)
        with m.Switch(control.rate):
            for index, fs in enumerate(SAMPLE_RATES_HZ):
                with m.Case(index):
                    m.d.comb += nominal.eq(Mux(control.mclk_512, 512 * fs, 256 * fs))
        m.d.comb += [
            divider.mclk_512.eq(control.mclk_512), divider.tdm.eq(control.tdm),
            divider.enable.eq(running), divider.align.eq(align),
            meter.time.eq(clock.time), meter.time_next.eq(clock.time_next),
            meter.jump.eq(clock.jump), meter.gate_sec.eq(regs.ext_gate_sec),
            meter.nominal_hz.eq(nominal), meter.boundary.eq(media.boundary),
            meter.frame_start.eq(divider.frame_start),
            regs.ext_ppb.eq(meter.ppb), regs.ext_cycles.eq(meter.cycles),
            regs.ext_phase_ns.eq(meter.phase_ns), regs.ext_measurements.eq(meter.measurements),
        ]
