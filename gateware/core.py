"""The Stagebox core: register bank, identity, interrupts, the PHY's MDIO master and (CPU-less
variant) the SPI bridge.

Later issues add the MAC, clocks, PTP and RTP blocks here; each block owns a window of the
register map and connects to the bank through its register group.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import IRQ_SOURCES, STAGEBOX_MAP

from . import wishbone
from .config import CoreConfig
from .eth.mdio import MdioMaster
from .ident import Identity
from .irq import InterruptController
from .regbank import RegisterBank, connect_registers
from .spi_bridge import SpiBridge

__all__ = ["StageboxCore"]


class StageboxCore(wiring.Component):
    """Board-agnostic top of the data plane.

    With ``config.spi_bridge`` the register bus is mastered by the SPI bridge and the ports are
    ``sclk``, ``mosi``, ``cs_n``, ``miso``, ``miso_oe`` and ``irq``; otherwise ``bus`` is a
    Wishbone slave for a SoC (LiteX) and ``irq`` goes to its CPU. Both variants have the PHY
    management pins ``mdc``, ``mdio_i``, ``mdio_o`` and ``mdio_oe`` (a tristate buffer on the
    board's MDIO line, which idles released and pulled up). Clock domain ``sync``.
    """

    def __init__(self, config=None, regmap=STAGEBOX_MAP):
        self.config = config = config or CoreConfig()
        self.regmap = regmap
        members = {
            "irq": Out(1),
            "mdc": Out(1), "mdio_i": In(1, init=1), "mdio_o": Out(1), "mdio_oe": Out(1),
        }
        if config.spi_bridge:
            members.update({
                "sclk": In(1), "mosi": In(1), "cs_n": In(1, init=1),
                "miso": Out(1), "miso_oe": Out(1),
            })
        else:
            members["bus"] = In(wishbone.Signature(regmap.address_bits - 2))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.bank = bank = RegisterBank(self.regmap)
        m.submodules.ident = ident = Identity(cfg, self.regmap)
        m.submodules.irq = irq = InterruptController(self.regmap)
        m.submodules.mdio = mdio = MdioMaster(cfg.sys_clk_hz, regmap=self.regmap)

        wiring.connect(m, bank.ident, ident.regs)
        wiring.connect(m, bank.irq, irq.regs)
        connect_registers(m, bank.mac, mdio.regs)
        m.d.comb += [
            self.mdc.eq(mdio.mdc), mdio.mdio_i.eq(self.mdio_i),
            self.mdio_o.eq(mdio.mdio_o), self.mdio_oe.eq(mdio.mdio_oe),
            ident.bus_error.eq(bank.bus_error),
            ident.bus_error_addr.eq(bank.bus_error_addr),
            self.irq.eq(irq.irq),
        ]
        sources = {f.name: f.lsb for f in IRQ_SOURCES}
        m.d.comb += irq.sources[sources["BUS_ERROR"]].eq(bank.bus_error)

        if cfg.spi_bridge:
            m.submodules.spi = spi = SpiBridge(sys_clk_hz=cfg.sys_clk_hz,
                                               addr_width=self.regmap.address_bits - 2,
                                               regmap=self.regmap)
            wiring.connect(m, spi.bus, bank.bus)
            wiring.connect(m, spi.regs, bank.spi)
            m.d.comb += [
                spi.sclk.eq(self.sclk), spi.mosi.eq(self.mosi), spi.cs_n.eq(self.cs_n),
                self.miso.eq(spi.miso), self.miso_oe.eq(spi.miso_oe),
                irq.sources[sources["SPI_ERROR"]].eq(spi.error),
            ]
        else:
            wiring.connect(m, wiring.flipped(self.bus), bank.bus)
            # No bridge: its registers read as zero (RW storage in the bank is simply unused).
        return m
