"""Identity block: what was built, from which source, for which board; uptime; bus diagnostics."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import MAGIC, STAGEBOX_MAP

from .regbank import block_signature

__all__ = ["Identity"]


class Identity(wiring.Component):
    """Drives the IDENT registers from a `CoreConfig`.

    Clock domain ``sync``. ``bus_error`` / ``bus_error_addr`` come from the register bank; the
    error counter saturates instead of wrapping, so a host never mistakes many errors for none.
    """

    def __init__(self, config, regmap=STAGEBOX_MAP):
        self.config = config
        self.regmap = regmap
        super().__init__({
            "regs": Out(block_signature(regmap.block("IDENT"))),
            "bus_error": In(1),
            "bus_error_addr": In(regmap.address_bits),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, regs = self.config, self.regs

        major, minor, patch = cfg.version
        m.d.comb += [
            regs.magic.eq(MAGIC),
            regs.version.major.eq(major),
            regs.version.minor.eq(minor),
            regs.version.patch.eq(patch),
            regs.source_rev.eq(cfg.source_rev),
            regs.build_flags.dirty.eq(cfg.source_dirty),
            regs.build_flags.cpu.eq(cfg.cpu),
            regs.build_flags.external_audio_clock.eq(cfg.external_audio_clock),
            regs.regmap_hash.eq(self.regmap.digest),
            regs.sys_clk_hz.eq(cfg.sys_clk_hz),
            regs.phy.type.eq(cfg.phy_type),
            regs.streams.tx_streams.eq(cfg.tx_streams),
            regs.streams.rx_streams.eq(cfg.rx_streams),
            regs.streams.tx_channels.eq(cfg.tx_channels),
            regs.streams.rx_channels.eq(cfg.rx_channels),
            regs.sample_rates.as_value().eq(cfg.sample_rate_mask),
        ]

        m.d.sync += regs.uptime.eq(regs.uptime + 1)

        count = regs.bus_error_count
        with m.If(regs.bus_error_clear_stb & regs.bus_error_clear[0]):
            m.d.sync += count.eq(0)
        with m.Elif(self.bus_error & ~count.all()):
            m.d.sync += count.eq(count + 1)
        with m.If(self.bus_error):
            m.d.sync += regs.bus_error_addr.eq(self.bus_error_addr)
        return m
