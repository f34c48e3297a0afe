"""Clock and reset generator for Cyclone 10 LP boards: oscillator -> ALTPLL -> ``sys``; PHY clocks.

LiteX (Migen) module, used by the board modules only. Domains:

``por``     the oscillator, counting the power-on delay (also the PHY's reset pulse, >= 20 ms);
``sys``     PLL output 0 at exactly `sys_clk_hz` (`Cyclone10LPPLL` with zero margin: an inexact
            setting is refused at elaboration rather than built into a wallclock that runs fast);
``eth``     RMII: the 50 MHz reference clock from the PHY (module), when the resource has
            ``ref_clk``;
``eth_rx``  RGMII: RXC from the PHY (125 MHz at gigabit);
``eth_tx``  RGMII: PLL output 1, 125 MHz, clocks the core's transmit side and the DDR output
            registers of TXD/TX_CTL;
``eth_tx90`` RGMII: PLL output 2, 125 MHz shifted by 90 degrees (2 ns). It only clocks the DDR
            register that forwards TXC (constant 1/0 inputs), so TXC reaches the PHY 2 ns after
            the data edges, the centre of the eye that RGMII 1.3 without internal delay
            expects. A PHY whose own TX delay is enabled must have it disabled (or pass
            ``tx_clock_shift=0``).

Hazards: ``sys`` and ``eth_tx`` leave reset only once the PLL has locked; the PHY-clocked
domains are reset from ``sys``'s reset through asynchronous-assert / synchronous-release
synchronizers, so they leave reset only while their clock runs (the PHY's clock stops while
the PHY itself is in reset). Every clock gets a named period constraint (`CLOCK_NAMES`);
`clock_groups` lists which of them are related (the board flow declares all groups mutually
asynchronous: the core crosses every pair through ``lib.cdc`` / ``AsyncFIFO``).
"""

import math

from litex.build.io import DDROutput
from litex.gen import LiteXModule
from litex.soc.cores.clock.intel_cyclone10 import Cyclone10LPPLL
from migen import ClockDomain, ClockSignal, If, Signal
from migen.genlib.resetsync import AsyncResetSynchronizer

__all__ = ["AlteraCrg", "por_cycles_log2", "RGMII_HZ", "RMII_HZ"]

RMII_HZ = 50_000_000
RGMII_HZ = 125_000_000


def por_cycles_log2(osc_hz, seconds=0.02):
    """Smallest n with 2**n oscillator cycles >= `seconds` (the PHYs want >= 10 ms of reset)."""
    return math.ceil(math.log2(osc_hz * seconds))


def _period_ns(hz):
    return 1e9 / hz


class AlteraCrg(LiteXModule):
    """`osc`: the oscillator's resource name; `speedgrade`: LiteX's PLL speed grade key
    (``-C8``, ``-I7``); `eth_clock`: the PHY clock resource (``eth_clocks``) or None."""

    def __init__(self, platform, sys_clk_hz, *, osc, osc_hz, speedgrade, eth_clock=None,
                 tx_clock_shift=90):
        self.rst = Signal()
        #: Low while the PHY must stay in reset (board code drives the PHY's ``rst_n``).
        self.phy_rst_n = Signal()
        #: Clock names in the SDC that are related to each other (one PLL, fixed phase).
        self.clock_groups = []
        self.cd_por = ClockDomain("por", reset_less=True)
        self.cd_sys = ClockDomain("sys")

        clk = platform.request(osc)
        self.comb += self.cd_por.clk.eq(clk)
        platform.add_period_constraint(clk, _period_ns(osc_hz))
        por_count = Signal(por_cycles_log2(osc_hz) + 1)
        por_done = por_count[-1]
        self.sync.por += If(~por_done, por_count.eq(por_count + 1))
        self.comb += self.phy_rst_n.eq(por_done)

        self.pll = pll = Cyclone10LPPLL(speedgrade=speedgrade)
        self.comb += pll.reset.eq(~por_done | self.rst)
        pll.register_clkin(clk, osc_hz)
        pll.create_clkout(self.cd_sys, sys_clk_hz, margin=0, with_reset=False)
        platform.add_period_constraint(self.cd_sys.clk, _period_ns(sys_clk_hz), name="sys")
        self.specials += AsyncResetSynchronizer(self.cd_sys, ~pll.locked | self.rst)
        self.clock_groups.append(["sys"])

        if eth_clock is None:
            return
        pads = platform.request(eth_clock)
        if hasattr(pads, "ref_clk"):
            self.cd_eth = ClockDomain("eth")
            self.comb += self.cd_eth.clk.eq(pads.ref_clk)
            platform.add_period_constraint(pads.ref_clk, _period_ns(RMII_HZ), name="eth")
            self.specials += AsyncResetSynchronizer(self.cd_eth, self.cd_sys.rst)
            self.clock_groups.append(["eth"])
            return

        self.cd_eth_rx = ClockDomain("eth_rx")
        self.comb += self.cd_eth_rx.clk.eq(pads.rx)
        platform.add_period_constraint(pads.rx, _period_ns(RGMII_HZ), name="eth_rx")
        self.specials += AsyncResetSynchronizer(self.cd_eth_rx, self.cd_sys.rst)
        self.clock_groups.append(["eth_rx"])

        self.cd_eth_tx = ClockDomain("eth_tx")
        self.cd_eth_tx90 = ClockDomain("eth_tx90", reset_less=True)
        pll.create_clkout(self.cd_eth_tx, RGMII_HZ, margin=0, with_reset=False)
        pll.create_clkout(self.cd_eth_tx90, RGMII_HZ, phase=tx_clock_shift, margin=0,
                          with_reset=False)
        platform.add_period_constraint(self.cd_eth_tx.clk, _period_ns(RGMII_HZ), name="eth_tx")
        platform.add_period_constraint(self.cd_eth_tx90.clk, _period_ns(RGMII_HZ),
                                       name="eth_tx90")
        self.specials += AsyncResetSynchronizer(self.cd_eth_tx, ~pll.locked | self.rst)
        # TXC: a DDR register with constant inputs reproduces its clock at the pin with the
        # same output delay as the data's DDR registers, so the skew is the PLL's phase shift.
        self.specials += DDROutput(1, 0, pads.tx, ClockSignal("eth_tx90"))
        self.clock_groups.append(["eth_tx", "eth_tx90"])
