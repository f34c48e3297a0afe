"""Trenz Electronic CYC1000 (10CL025YU256C8G, 12 MHz oscillator) with an RMII PHY module.

Clocks: the 12 MHz oscillator (ball M2, a dedicated clock input) feeds an ALTPLL for ``sys``
at 96 MHz = 12 MHz x 80 / 10 exactly (VCO 960 MHz). Exact, because the wallclock advances by a
rational number of nanoseconds derived from the nominal frequency; a whole number of MHz,
because the SPI bridge's microsecond prescaler counts whole cycles. 96 MHz rather than 100 MHz:
it leaves timing margin on the slowest speed grade (C8) with the VexRiscv, it is more than
twice the 24.576 MHz of a 512 fs / 48 kHz MCLK (the audio clocks are toggled from ``sys``), and
one 48 kHz sample period is exactly 2000 ``sys`` cycles (1000 at 96 kHz).

Ethernet: the CYC1000 has no PHY. A LAN8720A module (the common "ETH board" with its own 50 MHz
oscillator: REF_CLK is an output of the module) wires to the Arduino-MKR-style header row
D5..D14 plus 3.3 V and GND (`pins`, `Cyc1000.notes`). The RMII reference clock is the ``eth``
domain. None of the header pins is a dedicated clock input of the 10CL025 U256 package (those
are the E1/E2/M1/M2, E15/E16/M15/M16, A8/B8/A9/B9 and R8/T8/R9/T9 balls; M2 carries the
oscillator, E15 the board's unpopulated second-oscillator net CLK_X): REF_CLK enters on D6, a
regular I/O, and is promoted onto a global clock network through a clock control block
(``GLOBAL_SIGNAL`` assignment), which adds a few nanoseconds of insertion delay to the RMII
input sampling; Quartus' timing report shows the margin left of the 20 ns cycle. ``eth`` and
``sys`` need no relation: the core crosses them properly.

Reset: a power-on counter on the oscillator (2^18 cycles, 21.8 ms) holds the PLL, ``sys`` and the
PHY (``nRST``, the LAN8720A wants at least 100 us) in reset.

Configuration flash: the board's serial flash sits on the dedicated configuration pins
(DCLK H1, DATA0 H2 are not user I/O on Cyclone 10 LP; only the ASMI block reaches them after
configuration), which LiteSPI cannot drive: `spi_flash_module` returns None and the single-chip
variant boots from its block-RAM BIOS.
"""

from dataclasses import dataclass

from .board import Board, Pin

__all__ = ["Cyc1000"]

_IO_STD = "3.3-V LVTTL"

_PINS = (
    Pin("mclk", "F13", "PMOD PIO_01", "audio master clock (256/512 fs)"),
    Pin("bclk", "F15", "PMOD PIO_02", "bit clock (64 fs I2S, 256 fs TDM8)"),
    Pin("lrck", "F16", "PMOD PIO_03", "word clock / TDM frame sync"),
    Pin("sdout", "D16", "PMOD PIO_04", "serial data to a DAC (driven low until the RX issue)"),
    Pin("sdin", "D15", "PMOD PIO_05", "serial data from an ADC (read by the TX issue)"),
    Pin("pps", "C15", "PMOD PIO_06", "pulse per second, rising on the wallclock second"),
    Pin("event_in", "B16", "PMOD PIO_07", "event-capture input (timestamped edges)"),
    Pin("spi_sclk", "N16", "MKR header D0", "CPU-less variant: SPI clock from the host"),
    Pin("spi_mosi", "L15", "MKR header D1", "CPU-less variant: host to Stagebox"),
    Pin("spi_miso", "L16", "MKR header D2", "CPU-less variant: Stagebox to host (tristate)"),
    Pin("spi_cs_n", "K15", "MKR header D3", "CPU-less variant: chip select, active low"),
    Pin("irq", "K16", "MKR header D4", "CPU-less variant: interrupt to the host, active high"),
    Pin("eth_rst_n", "J14", "MKR header D5", "LAN8720 module nRST"),
    Pin("eth_ref_clk", "N2", "MKR header D6",
        "LAN8720 module REF_CLK / nINT (50 MHz out of the module); regular I/O, global clock"),
    Pin("eth_crs_dv", "N1", "MKR header D7", "LAN8720 module CRS_DV"),
    Pin("eth_rxd0", "P2", "MKR header D8", "LAN8720 module RXD0"),
    Pin("eth_rxd1", "J1", "MKR header D9", "LAN8720 module RXD1"),
    Pin("eth_tx_en", "J2", "MKR header D10", "LAN8720 module TX_EN"),
    Pin("eth_mdc", "K2", "MKR header D11", "LAN8720 module MDC (D11_R, K1, stays unused)"),
    Pin("eth_mdio", "L2", "MKR header D12", "LAN8720 module MDIO (D12_R, L1, stays unused)"),
    Pin("eth_txd0", "P1", "MKR header D13", "LAN8720 module TXD0"),
    Pin("eth_txd1", "R1", "MKR header D14", "LAN8720 module TXD1"),
    Pin("serial tx/rx", "T7 / R7", "USB (FT2232H channel B)", "single-chip console, 115200"),
    Pin("led", "M6", "LED1", "lights with the PPS pulse (active high on this board)"),
)

_NOTES = (
    "Ethernet: a LAN8720A RMII module (with its own 50 MHz oscillator, REF_CLK out) on the "
    "MKR header: D5 nRST, D6 REF_CLK, D7 CRS_DV, D8 RXD0, D9 RXD1, D10 TX_EN, D11 MDC, "
    "D12 MDIO, D13 TXD0, D14 TXD1, plus the header's 3V3 and GND; keep the wires short "
    "(< 10 cm) and equal, RMII runs at 50 MHz. No header pin is a dedicated clock input: "
    "REF_CLK reaches a global clock through a clock control block (check the RMII input "
    "margin in Quartus' timing report). Audio and PPS on the PMOD (PIO_01..07), the CPU-less "
    "variant's SPI host on D0..D4. All pins are 3.3 V LVTTL. Console: the board's USB port "
    "(FT2232H channel B). The configuration flash is on dedicated pins LiteSPI cannot reach: "
    "the single-chip variant runs from block RAM only.")


@dataclass(frozen=True)
class Cyc1000(Board):
    name: str = "cyc1000"
    title: str = "Trenz CYC1000 (Cyclone 10 LP 10CL025, RMII module)"
    family: str = "cyclone10lp"
    #: The CYC1000's user LEDs light when driven high.
    led_active_low: bool = False
    device: str = "10CL025YU256C8G"
    sys_clk_hz: int = 96_000_000
    phy: str = "rmii"
    programmer: str | None = "cyc1000"
    pins: tuple = _PINS
    notes: str = _NOTES
    #: BIOS ROM 32 KiB + SRAM 8 KiB = 40 of the 66 M9K blocks.
    rom_bytes: int = 0x8000
    sram_bytes: int = 0x2000

    def platform(self):
        from litex.build.generic_platform import IOStandard, Misc, Pins, Subsignal
        from litex_boards.platforms import trenz_cyc1000

        platform = trenz_cyc1000.Platform()
        ball = {p.signal: p.ball for p in _PINS}

        def sub(name, signal):
            return Subsignal(name, Pins(ball[signal]))

        platform.add_extension([
            ("eth_clocks", 0,
                Subsignal("ref_clk", Pins(ball["eth_ref_clk"]),
                          Misc(("GLOBAL_SIGNAL", "GLOBAL CLOCK"))),
                IOStandard(_IO_STD)),
            ("eth", 0,
                sub("rst_n", "eth_rst_n"),
                sub("crs_dv", "eth_crs_dv"),
                Subsignal("rx_data", Pins(f"{ball['eth_rxd0']} {ball['eth_rxd1']}")),
                sub("tx_en", "eth_tx_en"),
                Subsignal("tx_data", Pins(f"{ball['eth_txd0']} {ball['eth_txd1']}")),
                sub("mdc", "eth_mdc"),
                sub("mdio", "eth_mdio"),
                IOStandard(_IO_STD)),
            ("stagebox_audio", 0,
                sub("mclk", "mclk"), sub("bclk", "bclk"), sub("lrck", "lrck"),
                sub("sdout", "sdout"), sub("sdin", "sdin"), IOStandard(_IO_STD)),
            ("stagebox_time", 0,
                sub("pps", "pps"), sub("event_in", "event_in"), IOStandard(_IO_STD)),
            ("stagebox_spi", 0,
                sub("sclk", "spi_sclk"), sub("mosi", "spi_mosi"), sub("miso", "spi_miso"),
                sub("cs_n", "spi_cs_n"), sub("irq", "irq"), IOStandard(_IO_STD)),
            # soc/ drives ``led`` active low (the Tang Dock's polarity) and LiteX's Quartus
            # flow cannot invert a pin (``Inverted`` has no .qsf form): this active-high LED
            # goes dark for the PPS pulse instead of lighting.
            ("led", 0, Pins(ball["led"]), IOStandard(_IO_STD)),
        ])
        platform.toolchain.additional_qsf_commands.append(
            'set_global_assignment -name FAMILY "Cyclone 10 LP"')
        return platform

    def crg(self, platform):
        from .altera_crg import AlteraCrg
        crg = AlteraCrg(platform, self.sys_clk_hz, osc="clk12", osc_hz=12_000_000,
                        speedgrade="-C8", eth_clock="eth_clocks")
        return crg, {"clk": "sys", "eth_clk": "eth"}

    def spi_flash_module(self):
        return None
