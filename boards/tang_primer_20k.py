"""Sipeed Tang Primer 20K (GW2A-LV18PG256C8/I7) on its Dock: RTL8201F RMII PHY, 27 MHz oscillator.

Clocks: the 27 MHz oscillator (ball H11) feeds an rPLL for ``sys`` at 81 MHz = 27 MHz x 3
exactly (PFD 27 MHz, VCO 648 MHz): exact because the wallclock advances by a rational number
of nanoseconds derived from the nominal frequency, and a whole number of MHz because the SPI
bridge's microsecond prescaler counts whole cycles. 81 MHz leaves the audio clocks room for
96 kHz at 256 fs and 48 kHz at 512 fs (MCLK must stay below half the system clock) and closes
timing with the VexRiscv on the open-source flow. The PHY's 50 MHz RMII reference clock
(ball A9, a global clock pin) is the ``eth`` domain: the core crosses it properly, so ``sys``
and ``eth`` need no relation.

Reset: a power-on counter in the oscillator's domain holds the PLL, ``sys`` and the PHY
(``rst_n``, 19 ms: the RTL8201F wants at least 10 ms) in reset; ``sys`` leaves reset when the
PLL has locked, ``eth`` when ``sys`` has (each through an asynchronous-assert, synchronous-
release synchronizer in its own domain).

Pins: the Dock's PMOD headers, as the amaranth-boards and litex-boards tables for the Dock
name them (PMOD0 is the upper-left header, PMOD1 the upper-right; pins 1-4 on the row at the
board edge, 7-10 on the inner row, 5/11 GND, 6/12 3.3 V). Some PMOD0 pins are shared with the
Ethernet PHY: Stagebox uses only the others. Check your Dock revision's schematic before
connecting a 3.3 V source: every pin here is LVCMOS33.
"""

from dataclasses import dataclass

from .board import Board, Pin

__all__ = ["TangPrimer20k"]

_PINS = (
    Pin("mclk", "T6", "PMOD1 pin 1", "audio master clock (256/512 fs)"),
    Pin("bclk", "T7", "PMOD1 pin 2", "bit clock (64 fs I2S, 256 fs TDM8)"),
    Pin("lrck", "T8", "PMOD1 pin 3", "word clock / TDM frame sync"),
    Pin("sdout", "P6", "PMOD1 pin 7", "serial data to a DAC (driven low until the RX issue)"),
    Pin("sdin", "R8", "PMOD1 pin 8", "serial data from an ADC (read by the TX issue)"),
    Pin("pps", "P8", "PMOD1 pin 9", "pulse per second, rising on the wallclock second"),
    Pin("event_in", "P9", "PMOD1 pin 10", "event-capture input (timestamped edges)"),
    Pin("spi_sclk", "P7", "PMOD0 pin 2", "CPU-less variant: SPI clock from the host"),
    Pin("spi_mosi", "E10", "PMOD0 pin 3", "CPU-less variant: host to Stagebox"),
    Pin("spi_miso", "D11", "PMOD0 pin 4", "CPU-less variant: Stagebox to host (tristate)"),
    Pin("spi_cs_n", "R7", "PMOD0 pin 8", "CPU-less variant: chip select, active low"),
    Pin("irq", "D10", "PMOD0 pin 9", "CPU-less variant: interrupt to the host, active high"),
    Pin("serial tx/rx", "M11 / T13", "Dock USB-C (BL702 serial)", "single-chip console, 115200"),
    Pin("led", "L16", "Dock LED 0", "lights with the PPS pulse"),
)


@dataclass(frozen=True)
class TangPrimer20k(Board):
    name: str = "tang_primer_20k"
    title: str = "Sipeed Tang Primer 20K + Dock (GW2A-18C, RMII)"
    family: str = "gowin"
    device: str = "GW2A-LV18PG256C8/I7"
    sys_clk_hz: int = 81_000_000
    phy: str = "rmii"
    programmer: str | None = "tangprimer20k"
    pins: tuple = _PINS
    notes: str = ("Ethernet: the Dock's RJ45 (RTL8201F, 100 Mbit/s RMII). Console: the Dock's "
                  "USB-C port. The SPI flash (the MSPI pins, released to user logic after "
                  "configuration) holds the bitstream and, from 1 MiB, the firmware.")
    #: BIOS ROM 32 KiB + SRAM 8 KiB = 20 of the 46 BSRAM blocks; the core takes the rest it
    #: needs (the synthesis report gives the split).
    rom_bytes: int = 0x8000
    sram_bytes: int = 0x2000

    def platform(self):
        from litex.build.generic_platform import IOStandard, Pins, Subsignal
        from litex_boards.platforms import sipeed_tang_primer_20k

        platform = sipeed_tang_primer_20k.Platform(dock="standard", toolchain="apicula")
        ball = {p.signal: p.ball for p in _PINS}
        platform.add_extension([
            ("stagebox_audio", 0,
                Subsignal("mclk", Pins(ball["mclk"])), Subsignal("bclk", Pins(ball["bclk"])),
                Subsignal("lrck", Pins(ball["lrck"])), Subsignal("sdout", Pins(ball["sdout"])),
                Subsignal("sdin", Pins(ball["sdin"])), IOStandard("LVCMOS33")),
            ("stagebox_time", 0,
                Subsignal("pps", Pins(ball["pps"])), Subsignal("event_in", Pins(ball["event_in"])),
                IOStandard("LVCMOS33")),
            ("stagebox_spi", 0,
                *(Subsignal(name, Pins(ball[f"spi_{name}"])) for name in ("sclk", "mosi", "miso",
                                                                          "cs_n")),
                Subsignal("irq", Pins(ball["irq"])), IOStandard("LVCMOS33")),
        ])
        # The Dock's LEDs are active low; LiteX names them ``led``.
        return platform

    def crg(self, platform):
        from .gowin_crg import GowinCrg
        crg = GowinCrg(platform, self.sys_clk_hz, osc="clk27", osc_hz=27_000_000,
                       eth_clock="eth_clocks")
        return crg, {"clk": "sys", "eth_clk": "eth"}

    def spi_flash_module(self):
        from litespi.modules import W25Q32JV
        from litespi.opcodes import SpiNorFlashOpCodes

        # Single-bit reads: the Dock routes only MOSI/MISO of the flash to the FPGA.
        return W25Q32JV(SpiNorFlashOpCodes.READ_1_1_1)
