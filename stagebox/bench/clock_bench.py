"""The time base as a synthesis benchmark: `Timebase` with its CLOCK registers, on one clock.

What the issue's area and Fmax targets count is the ``timebase`` block of the report
(wallclock, PPS, event capture, media clock, audio clock generator; with ``external_clock``
also the external clock divider and meter). Around it, so that nothing is optimised away: the
register bank of the CLOCK block alone behind a Wishbone port, and the strobes the RTP blocks
will use folded into one registered parity pin. With ``external_clock`` the ``audio_ext``
domain is a second clock input (``audio_ext_clk``).
"""

from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.gateware import wishbone
from stagebox.gateware.clock.timebase import Timebase
from stagebox.gateware.regbank import RegisterBank
from stagebox.regmap.map import SAMPLE_RATES_HZ, STAGEBOX_MAP
from stagebox.regmap.model import RegisterMap

__all__ = ["ClockBench"]


class ClockBench(wiring.Component):
    """`Timebase` with its registers (see the module docstring). Ports: ``bus`` (Wishbone
    slave, the full map's word addresses), the time pins ``pps``, ``event_in``, ``mclk``,
    ``bclk``, ``lrck``, ``irq`` (event, PPS), ``strobe_parity``; with `external_clock`,
    ``audio_ext_clk`` (in), unless `audio_ext_pin` is false: then whoever instantiates the
    bench defines the ``audio_ext`` domain (a simulator's clock)."""

    def __init__(self, *, sys_clk_hz=125_000_000, external_clock=False,
                 sample_rates_hz=SAMPLE_RATES_HZ, audio_ext_pin=True):
        self.regmap = RegisterMap(name="clock_bench", address_bits=STAGEBOX_MAP.address_bits,
                                  blocks=(STAGEBOX_MAP.block("CLOCK"),))
        self.timebase = Timebase(sys_clk_hz=sys_clk_hz, external_clock=external_clock,
                                 sample_rates_hz=sample_rates_hz, regmap=self.regmap)
        self.external_clock = external_clock
        self.audio_ext_pin = external_clock and audio_ext_pin
        members = {
            "bus": In(wishbone.Signature(self.regmap.address_bits - 2)),
            "pps": Out(1), "event_in": In(1), "mclk": Out(1), "bclk": Out(1), "lrck": Out(1),
            "irq": Out(2), "strobe_parity": Out(1),
        }
        if self.audio_ext_pin:
            members["audio_ext_clk"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.timebase = tb = self.timebase
        m.submodules.bank = bank = RegisterBank(self.regmap)
        wiring.connect(m, wiring.flipped(self.bus), bank.bus)
        wiring.connect(m, bank.clock, tb.regs)
        if self.audio_ext_pin:
            audio_ext = ClockDomain("audio_ext", reset_less=True)
            m.domains += audio_ext
            m.d.comb += audio_ext.clk.eq(self.audio_ext_clk)
        m.d.comb += [
            tb.event_in.eq(self.event_in),
            self.pps.eq(tb.pps), self.mclk.eq(tb.mclk), self.bclk.eq(tb.bclk),
            self.lrck.eq(tb.lrck), self.irq.eq(tb.event_irq | (tb.pps_irq << 1)),
        ]
        parity = Signal()
        m.d.sync += parity.eq(tb.media_strobe ^ tb.bclk_rise ^ tb.bclk_fall ^ tb.frame_start
                              ^ tb.media_valid ^ tb.jump ^ tb.media_count.xor()
                              ^ tb.time_next.as_value().xor())
        m.d.comb += self.strobe_parity.eq(parity)
        return m
