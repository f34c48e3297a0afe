"""The Stagebox core: register bank, identity, interrupts, the time base (wallclock, PPS, event
capture, media and audio clocks), the Ethernet MAC with its PHY's MDIO master and (CPU-less
variant) the SPI bridge.

Later issues add the PTP and RTP blocks here; each block owns a window of the register
map and connects to the bank through its register group.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import IRQ_SOURCES, MAC_TABLES_BYTES, MAC_TABLES_OFFSET, STAGEBOX_MAP

from . import wishbone
from .bus_decoder import BusDecoder
from .clock.timebase import Timebase
from .config import CoreConfig
from .eth.mac import IRQ_OUTPUTS, EthernetMac
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
    board's MDIO line, which idles released and pulled up).

    With a PHY (``config.phy`` other than ``"none"``) the core carries `EthernetMac` and has
    its PHY pins (see `EthernetPort`: ``rxd``, ``rx_dv``/``crs_dv``/``rx_ctl_rise``, ...);
    the board supplies the PHY clock domains, ``eth_rx`` and ``eth_tx`` (GMII, RGMII, MII) or
    ``eth`` (RMII), besides ``sync``. Frames are stamped with the `Timebase`'s wallclock.
    The MAC's PTP and RTP ports wait
    for the blocks that will use them: frames routed there are dropped and counted as buffer
    overflows (MAC_RX_PTP_OVERFLOWS, MAC_RX_RTP_OVERFLOWS), and those sources never send.

    Time pins (every variant): ``pps`` (out), ``event_in`` (in, asynchronous), the audio clocks
    ``mclk``, ``bclk``, ``lrck`` (out). With ``config.external_audio_clock`` the board also
    supplies the clock domain ``audio_ext``: the MCLK of an external clock generator.
    """

    def __init__(self, config=None, regmap=STAGEBOX_MAP):
        self.config = config = config or CoreConfig()
        self.regmap = regmap
        members = {
            "irq": Out(1),
            "mdc": Out(1), "mdio_i": In(1, init=1), "mdio_o": Out(1), "mdio_oe": Out(1),
            "pps": Out(1), "event_in": In(1), "mclk": Out(1), "bclk": Out(1), "lrck": Out(1),
        }
        if config.spi_bridge:
            members.update({
                "sclk": In(1), "mosi": In(1), "cs_n": In(1, init=1),
                "miso": Out(1), "miso_oe": Out(1),
            })
        else:
            members["bus"] = In(wishbone.Signature(regmap.address_bits - 2))
        if config.phy != "none":
            self.mac = EthernetMac(config.phy, sys_clk_hz=config.sys_clk_hz, regmap=regmap)
            for name, member in self.mac.signature.members.items():
                if name in self.mac.pin_names:
                    members[name] = member
        else:
            self.mac = None
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.bank = bank = RegisterBank(self.regmap)
        m.submodules.ident = ident = Identity(cfg, self.regmap)
        m.submodules.irq = irq = InterruptController(self.regmap)
        m.submodules.mdio = mdio = MdioMaster(cfg.sys_clk_hz, regmap=self.regmap)
        m.submodules.timebase = timebase = Timebase(
            sys_clk_hz=cfg.sys_clk_hz, sample_rates_hz=cfg.sample_rates_hz,
            external_clock=cfg.external_audio_clock, regmap=self.regmap)

        # Registers go to the bank; the MAC's tables and packet buffers answer their windows.
        addr_width = self.regmap.address_bits - 2
        windows = []
        if self.mac is not None:
            pktbuf = self.regmap.block("PKTBUF")
            mac_base = self.regmap.block("MAC").base
            windows = [("tables", mac_base + MAC_TABLES_OFFSET, MAC_TABLES_BYTES),
                       ("pktbuf", pktbuf.base, pktbuf.size)]
        m.submodules.decoder = decoder = BusDecoder(addr_width, windows)
        wiring.connect(m, decoder.bank, bank.bus)

        wiring.connect(m, bank.ident, ident.regs)
        wiring.connect(m, bank.irq, irq.regs)
        wiring.connect(m, bank.clock, timebase.regs)
        connect_registers(m, bank.mac, mdio.regs)
        m.d.comb += [
            self.mdc.eq(mdio.mdc), mdio.mdio_i.eq(self.mdio_i),
            self.mdio_o.eq(mdio.mdio_o), self.mdio_oe.eq(mdio.mdio_oe),
            self.irq.eq(irq.irq),
        ]
        sources = {f.name: f.lsb for f in IRQ_SOURCES}
        m.d.comb += [
            timebase.event_in.eq(self.event_in),
            self.pps.eq(timebase.pps), self.mclk.eq(timebase.mclk),
            self.bclk.eq(timebase.bclk), self.lrck.eq(timebase.lrck),
            irq.sources[sources["EVENT"]].eq(timebase.event_irq),
            irq.sources[sources["PPS"]].eq(timebase.pps_irq),
        ]
        bus_error = bank.bus_error
        bus_error_addr = bank.bus_error_addr

        if self.mac is not None:
            m.submodules.mac = mac = self.mac
            connect_registers(m, bank.mac, mac.regs)
            wiring.connect(m, decoder.tables, mac.tables)
            wiring.connect(m, decoder.pktbuf, mac.pktbuf)
            m.d.comb += mac.time.eq(timebase.time)
            for name in mac.pin_names:
                if mac.signature.members[name].flow == In:
                    m.d.comb += getattr(mac, name).eq(getattr(self, name))
                else:
                    m.d.comb += getattr(self, name).eq(getattr(mac, name))
            for name in IRQ_OUTPUTS:
                m.d.comb += irq.sources[sources[name.upper()]].eq(getattr(mac.irq, name))
            # The packet window answers in the cycle its master still holds the address.
            bus_error = bank.bus_error | mac.pktbuf_error
            bus_error_addr = Mux(mac.pktbuf_error, decoder.bus.adr << 2, bank.bus_error_addr)
        m.d.comb += [
            ident.bus_error.eq(bus_error),
            ident.bus_error_addr.eq(bus_error_addr),
            irq.sources[sources["BUS_ERROR"]].eq(bus_error),
        ]

        if cfg.spi_bridge:
            m.submodules.spi = spi = SpiBridge(sys_clk_hz=cfg.sys_clk_hz,
                                               addr_width=self.regmap.address_bits - 2,
                                               regmap=self.regmap)
            wiring.connect(m, spi.bus, decoder.bus)
            wiring.connect(m, spi.regs, bank.spi)
            m.d.comb += [
                spi.sclk.eq(self.sclk), spi.mosi.eq(self.mosi), spi.cs_n.eq(self.cs_n),
                self.miso.eq(spi.miso), self.miso_oe.eq(spi.miso_oe),
                irq.sources[sources["SPI_ERROR"]].eq(spi.error),
            ]
        else:
            wiring.connect(m, wiring.flipped(self.bus), decoder.bus)
            # No bridge: its registers read as zero (RW storage in the bank is simply unused).
        return m
