"""Intel Cyclone 10 LP FPGA Evaluation Kit (10CL025YU256I7G): GPY111 RGMII gigabit PHY, 50 MHz.

litex-boards has no platform for this kit: `evkit_platform` is written here from the pin
names of Intel's baseline pinout for the kit (``c10lp_golden_top``: ``c10_clk50m``,
``enet_rx_clk``, ``enet_tx_clk``, ``enet_rx_d``..., ``gpio[35:0]``, ``pmod_d[7:0]``,
``arduino_io[13:0]``, ``user_led[3:0]``; all 3.3 V LVTTL except the 1.8 V HyperRAM). The ball
numbers come from a public port of that pinout; the Ethernet balls agree with a second,
independent public project for the same kit. Verified against two sources: the 50 MHz clock
(E1), all Ethernet balls. From one source only (check against the kit's schematic or Intel's
``c10lp_golden_top.qsf`` before wiring anything to them): the LEDs, the push buttons, the
PMOD, GPIO and Arduino header balls. Unverified assumptions: the user LEDs are active low, and
PMOD pins 1-4 / 7-10 carry ``pmod_d[0:4]`` / ``pmod_d[4:8]``.

Clocks: the 50 MHz oscillator (E1, a dedicated clock input) feeds an ALTPLL (VCO 1000 MHz) with
three outputs: ``sys`` at 125 MHz exactly (gigabit RGMII wants the core's ``sys`` at least as
fast as the 125 MHz byte clock), ``eth_tx`` at 125 MHz, and ``eth_tx90``, 125 MHz shifted by 90
degrees, which only forwards TXC to the PHY so that TXC arrives 2 ns after the data (RGMII
without the PHY's TX delay). RXC (B8, a dedicated clock input) clocks ``eth_rx`` directly: the
data must arrive 1.5-2 ns before RXC's edges, so the GPY111's RX delay must be enabled (its
MII control register's RX skew set to 2 ns over MDIO; the default depends on the kit's
strapping, unverified). Link speed: gigabit only (the core's RGMII adapter is 1 Gbit/s; a 10/100
link needs a 25 / 2.5 MHz TXC this CRG does not make).

Reset: a power-on counter on the oscillator (2^20 cycles, 21 ms) holds the PLL, ``sys`` and the
PHY (``ENET_RSTn``) in reset.

Console: the kit has no USB-UART to the FPGA (its USB port is the on-board USB-Blaster II and a
parallel side bus); the single-chip variant's console is on Arduino header D0 (FPGA RX) / D1
(FPGA TX) for a 3.3 V USB-serial cable. The EPCQ configuration flash is on dedicated pins LiteSPI
cannot reach: `spi_flash_module` returns None and the BIOS runs from block RAM. openFPGALoader
has no board entry for the kit; its USB-Blaster II works as a cable (``-c usb-blasterII``).
"""

from dataclasses import dataclass

from .board import Board, Pin

__all__ = ["C10lpEvkit", "evkit_platform"]

_IO_STD = "3.3-V LVTTL"

_PINS = (
    Pin("mclk", "L13", "2x20 GPIO header GPIO0", "audio master clock (256/512 fs)"),
    Pin("bclk", "L16", "2x20 GPIO header GPIO1", "bit clock (64 fs I2S, 256 fs TDM8)"),
    Pin("lrck", "L15", "2x20 GPIO header GPIO2", "word clock / TDM frame sync"),
    Pin("sdout", "K16", "2x20 GPIO header GPIO3",
        "serial data to a DAC (driven low until the RX issue)"),
    Pin("sdin", "P16", "2x20 GPIO header GPIO4", "serial data from an ADC (read by the TX issue)"),
    Pin("pps", "R16", "2x20 GPIO header GPIO5", "pulse per second, rising on the wallclock second"),
    Pin("event_in", "N16", "2x20 GPIO header GPIO6", "event-capture input (timestamped edges)"),
    Pin("spi_cs_n", "D16", "PMOD pin 1", "CPU-less variant: chip select, active low"),
    Pin("spi_mosi", "F13", "PMOD pin 2", "CPU-less variant: host to Stagebox"),
    Pin("spi_miso", "D15", "PMOD pin 3", "CPU-less variant: Stagebox to host (tristate)"),
    Pin("spi_sclk", "F16", "PMOD pin 4", "CPU-less variant: SPI clock from the host"),
    Pin("irq", "C16", "PMOD pin 7", "CPU-less variant: interrupt to the host, active high"),
    Pin("serial rx/tx", "B1 / C2", "Arduino header D0 / D1",
        "single-chip console, 115200, 3.3 V USB-serial cable"),
    Pin("led", "L14", "USER_LED0", "lights with the PPS pulse"),
)

def _io():
    """The kit's resources, LiteX naming (LiteX is imported lazily, like every board's)."""
    from litex.build.generic_platform import IOStandard, Pins, Subsignal

    std = IOStandard(_IO_STD)
    return [
        ("clk50", 0, Pins("E1"), std),
        ("clk125", 0, Pins("T8"), std),  # the PHY's 125 MHz clock output, unused
        ("cpu_reset_n", 0, Pins("J15"), std),
        ("user_led", 0, Pins("L14"), std),
        ("user_led", 1, Pins("K15"), std),
        ("user_led", 2, Pins("J14"), std),
        ("user_led", 3, Pins("J13"), std),
        ("user_btn", 0, Pins("E15"), std),
        ("user_btn", 1, Pins("F14"), std),
        ("user_btn", 2, Pins("C11"), std),
        ("user_btn", 3, Pins("D9"), std),
        ("serial", 0, Subsignal("tx", Pins("C2")), Subsignal("rx", Pins("B1")), std),
        ("eth_clocks", 0, Subsignal("tx", Pins("D3")), Subsignal("rx", Pins("B8")), std),
        ("eth", 0,
            Subsignal("rst_n", Pins("C6")),
            Subsignal("int_n", Pins("B5")),
            Subsignal("mdio", Pins("A4")),
            Subsignal("mdc", Pins("B4")),
            Subsignal("rx_ctl", Pins("A5")),
            Subsignal("rx_data", Pins("A7 B7 A6 B6")),
            Subsignal("tx_ctl", Pins("D6")),
            Subsignal("tx_data", Pins("E6 A3 B3 A2")),
            std),
        ("pmod", 0, Pins("D16 F13 D15 F16 C16 F15 C15 B16"), std),
    ]


def evkit_platform(toolchain="quartus"):
    """The kit's LiteX platform (an `AlteraPlatform`)."""
    from litex.build.altera import AlteraPlatform

    class _Platform(AlteraPlatform):
        default_clk_name = "clk50"
        default_clk_period = 1e9 / 50e6

        def __init__(self):
            AlteraPlatform.__init__(self, "10CL025YU256I7G", _io(), toolchain=toolchain)
            self.toolchain.additional_qsf_commands.append(
                'set_global_assignment -name FAMILY "Cyclone 10 LP"')

    return _Platform()


@dataclass(frozen=True)
class C10lpEvkit(Board):
    name: str = "c10lp_evkit"
    title: str = "Intel Cyclone 10 LP Evaluation Kit (10CL025, GPY111 RGMII)"
    family: str = "cyclone10lp"
    device: str = "10CL025YU256I7G"
    sys_clk_hz: int = 125_000_000
    phy: str = "rgmii"
    programmer: str | None = None
    pins: tuple = _PINS
    notes: str = (
        "Ethernet: the kit's RJ45 (MaxLinear GPY111 RGMII PHY, gigabit only); enable the PHY's "
        "RX delay (2 ns) over MDIO, keep its TX delay off (the FPGA shifts TXC by 90 degrees). "
        "Audio and PPS on the 2x20 GPIO header (GPIO0..6), the CPU-less variant's SPI host on "
        "the PMOD (pins 1-4 CS/MOSI/MISO/SCK, pin 7 IRQ), the console on Arduino D0/D1 (3.3 V "
        "USB-serial cable). Program with openFPGALoader -c usb-blasterII or Quartus' "
        "programmer. Header, LED and button balls come from one public source only: check "
        "them against the kit's schematic (the Ethernet and clock balls agree across two).")
    #: BIOS ROM 32 KiB + SRAM 8 KiB = 40 of the 66 M9K blocks.
    rom_bytes: int = 0x8000
    sram_bytes: int = 0x2000

    def platform(self):
        from litex.build.generic_platform import IOStandard, Pins, Subsignal

        platform = evkit_platform()
        ball = {p.signal: p.ball for p in _PINS}

        def sub(name, signal):
            return Subsignal(name, Pins(ball[signal]))

        platform.add_extension([
            ("stagebox_audio", 0,
                sub("mclk", "mclk"), sub("bclk", "bclk"), sub("lrck", "lrck"),
                sub("sdout", "sdout"), sub("sdin", "sdin"), IOStandard(_IO_STD)),
            ("stagebox_time", 0,
                sub("pps", "pps"), sub("event_in", "event_in"), IOStandard(_IO_STD)),
            ("stagebox_spi", 0,
                sub("sclk", "spi_sclk"), sub("mosi", "spi_mosi"), sub("miso", "spi_miso"),
                sub("cs_n", "spi_cs_n"), sub("irq", "irq"), IOStandard(_IO_STD)),
            # Active low (assumed, like the Tang Dock's: soc/ drives ``led`` low to light it).
            ("led", 0, Pins(ball["led"]), IOStandard(_IO_STD)),
        ])
        return platform

    def crg(self, platform):
        from .altera_crg import AlteraCrg
        crg = AlteraCrg(platform, self.sys_clk_hz, osc="clk50", osc_hz=50_000_000,
                        speedgrade="-I7", eth_clock="eth_clocks")
        return crg, {"clk": "sys", "eth_rx_clk": "eth_rx", "eth_tx_clk": "eth_tx"}

    def spi_flash_module(self):
        return None
