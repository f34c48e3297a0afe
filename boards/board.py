"""What a board module provides: its LiteX platform, its clocks, its sys clock and PHY, its pins.

A board never touches the core's internals. It supplies:

* `Board.platform()`: the LiteX platform with the board's own resources plus Stagebox's
  standard resources (`STAGEBOX_RESOURCES`), so `soc/` connects every board the same way;
* `Board.crg()`: the clock and reset generator, a LiteX module with the ``sys`` domain (exactly
  `Board.sys_clk_hz`: the wallclock's arithmetic depends on it) and the PHY's domains (RMII:
  ``eth`` at 50 MHz; RGMII: ``eth_rx`` and ``eth_tx``), and which core clock ports they feed;
* `Board.pins`: the documentation of every Stagebox signal on the board's headers, which the
  README's board table and ``stagebox boards`` print.

Standard resources every board defines (LiteX naming):

``eth_clocks`` / ``eth``
    The PHY, as LiteX names its RMII (``ref_clk``; ``rst_n rx_data crs_dv rx_er tx_en tx_data
    mdc mdio``) and RGMII (``rx tx``; ``rst_n rx_ctl rx_data tx_ctl tx_data mdc mdio``) pads.
``stagebox_audio``
    ``mclk bclk lrck`` (outputs from the core's media clock), ``sdout`` and ``sdin`` (one data
    line each: the I2S/TDM serialisers arrive with the RTP issues; ``sdout`` is driven low
    until then).
``stagebox_time``
    ``pps`` (out) and ``event_in`` (in).
``stagebox_spi``
    The CPU-less variant's register bridge: ``sclk mosi cs_n`` (in), ``miso`` (tristate),
    ``irq`` (out, active high).
``serial``, ``spiflash``, ``user_led``
    The single-chip variant's console, its boot / configuration flash and status LEDs.
"""

from dataclasses import dataclass, field

__all__ = ["Board", "Pin"]


@dataclass(frozen=True)
class Pin:
    """One Stagebox signal on a board: where a user solders or plugs it."""

    signal: str
    ball: str
    header: str
    note: str = ""


@dataclass(frozen=True)
class Board:
    """A supported board. Subclasses implement `platform` and `crg`."""

    name: str
    title: str
    #: ``gowin`` (open-source flow, bitstream in CI) or ``cyclone10lp`` (Quartus project).
    family: str
    device: str
    sys_clk_hz: int
    phy: str
    #: openFPGALoader's name for the board (``-b``), or None when it has no support.
    programmer: str | None
    pins: tuple = field(default=())
    #: Free text for the documentation: wiring, jumpers, what to check.
    notes: str = ""
    #: Whether the board's LED lights when its pin is low.
    led_active_low: bool = True
    #: Block RAM the single-chip variant gives the CPU (LiteX sizes, bytes).
    rom_bytes: int = 0x8000
    sram_bytes: int = 0x2000

    def platform(self):
        raise NotImplementedError

    def crg(self, platform):
        """The clock/reset generator; returns ``(module, {core clock port: LiteX domain})``."""
        raise NotImplementedError

    def spi_flash_module(self):
        """The LiteSPI module of the board's configuration flash, or None."""
        return None
