"""Clock and reset generator for Gowin GW2A boards: oscillator -> rPLL -> ``sys``; PHY clocks.

LiteX (Migen) module, used by the board modules only. Domains:

``por``  the oscillator, counting the power-on delay (also the PHY's reset pulse);
``sys``  the rPLL output at exactly `sys_clk_hz` (`GW2APLL` with zero margin: an inexact PLL
         setting is refused at elaboration rather than built into a wallclock that runs fast);
``eth``  the RMII reference clock from the PHY (50 MHz), when `eth_clock` names its resource;
``eth_rx``/``eth_tx``  RGMII receive and transmit clocks, when the resource has ``rx``/``tx``.

Hazards: ``sys`` is released only once the PLL has locked; the PHY domains are reset from
``sys``'s reset through asynchronous-assert / synchronous-release synchronizers, so they leave
reset only while their clock runs (the PHY's clock stops while the PHY itself is in reset).
"""

from litex.gen import LiteXModule
from litex.soc.cores.clock.gowin_gw2a import GW2APLL
from migen import ClockDomain, If, Signal
from migen.genlib.resetsync import AsyncResetSynchronizer

__all__ = ["GowinCrg", "POR_CYCLES_LOG2"]

#: Power-on reset length: 2^19 oscillator cycles (19.4 ms at 27 MHz).
POR_CYCLES_LOG2 = 19


class GowinCrg(LiteXModule):
    def __init__(self, platform, sys_clk_hz, *, osc, osc_hz, eth_clock=None):
        self.osc_hz = osc_hz
        self.rst = Signal()
        #: Low while the PHY must stay in reset (board code drives the PHY's ``rst_n``).
        self.phy_rst_n = Signal()
        self.cd_por = ClockDomain("por", reset_less=True)
        self.cd_sys = ClockDomain("sys")

        clk = platform.request(osc)
        self.comb += self.cd_por.clk.eq(clk)
        por_count = Signal(POR_CYCLES_LOG2 + 1)
        por_done = por_count[-1]
        self.sync.por += If(~por_done, por_count.eq(por_count + 1))
        self.comb += self.phy_rst_n.eq(por_done)

        self.pll = pll = GW2APLL(devicename=platform.devicename, device=platform.device)
        self.comb += pll.reset.eq(~por_done | self.rst)
        pll.register_clkin(clk, osc_hz)
        # with_reset=False: the lock-qualified synchronizer below is sys's only reset (LiteX's
        # default would add a second one driving the same net).
        pll.create_clkout(self.cd_sys, sys_clk_hz, margin=0, with_reset=False)
        platform.add_period_constraint(self.cd_sys.clk, 1e9 / sys_clk_hz)
        self.specials += AsyncResetSynchronizer(self.cd_sys, ~pll.locked | self.rst)

        if eth_clock is not None:
            pads = platform.request(eth_clock)
            if hasattr(pads, "ref_clk"):
                domains = {"eth": (pads.ref_clk, 50e6)}
            else:
                domains = {"eth_rx": (pads.rx, 125e6), "eth_tx": (pads.tx, 125e6)}
            for name, (pad, hz) in domains.items():
                cd = ClockDomain(name)
                setattr(self, f"cd_{name}", cd)
                self.comb += cd.clk.eq(pad)
                platform.add_period_constraint(pad, 1e9 / hz)
                self.specials += AsyncResetSynchronizer(cd, self.cd_sys.rst)

