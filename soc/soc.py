"""The LiteX SoC around the Stagebox core, in its two shapes.

``soc`` (single-chip)
    VexRiscv with the LiteX BIOS in block-RAM ROM, block-RAM SRAM, UART console, timer, the
    board's SPI flash (memory-mapped: firmware executes in place, configuration storage), and
    the core as a Wishbone slave at the fixed base `STAGEBOX_BASE` (LiteX never assigns the
    core's addresses: the register map is the core's own, ``stagebox_regs.h`` adds the base).
    The core's control-plane packet port (its ``PKTBUF`` window and the ``CP_RX``/``CP_TX_*``
    interrupts) is the CPU's network interface; the core's interrupt line is CPU interrupt
    `STAGEBOX_IRQ` (LiteX constant ``STAGEBOX_CORE_INTERRUPT``).
``spi`` (CPU-less)
    No CPU and no LiteX bus: the core carries its own SPI register bridge (CRC-checked, see
    ``docs/registers.md``), whose pins and interrupt go to the board's ``stagebox_spi``
    header.

Both shapes connect the PHY (RMII directly; RGMII through LiteX's DDR primitives, which each
platform lowers to its vendor's), the MDIO tristate, the audio clocks, PPS and event input.
The core itself is the Verilog from `soc.export.export_core`, added to the platform's sources.
"""

from litex.build.io import DDRInput, DDROutput, Tristate
from litex.soc.integration.soc import SoCRegion
from litex.soc.integration.soc_core import SoCCore, SoCMini
from litex.soc.interconnect import wishbone
from migen import Cat, ClockSignal, Constant, Instance, ResetSignal, Signal

from stagebox.gateware.config import CoreConfig

from .export import export_core

__all__ = ["StageboxSoC", "VARIANTS", "STAGEBOX_BASE", "STAGEBOX_IRQ", "FIRMWARE_FLASH_OFFSET",
           "core_config_for", "add_core_bus"]

VARIANTS = ("soc", "spi")
#: Base of the core's register map on the CPU's bus: in VexRiscv's uncached IO region
#: (0x80000000..0xFFFFFFFF), clear of LiteX's CSR bank at 0xF0000000.
STAGEBOX_BASE = 0x9000_0000
#: Offset of the firmware image in the configuration flash (above any bitstream of these
#: boards, which are all under 1 MiB).
FIRMWARE_FLASH_OFFSET = 0x10_0000
#: CPU interrupt number of the core's interrupt line (LiteX's UART and timer take 0..2).
STAGEBOX_IRQ = 4


def core_config_for(board, variant, *, source_rev=0, source_dirty=False):
    """The `CoreConfig` a board and variant build."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    return CoreConfig(sys_clk_hz=board.sys_clk_hz, phy=board.phy, spi_bridge=variant == "spi",
                      cpu=variant == "soc", source_rev=source_rev, source_dirty=source_dirty)


class StageboxSoC:
    """Factory: ``StageboxSoC(board, variant)`` returns the LiteX SoC object to build."""

    def __new__(cls, board, variant, *, platform=None, config=None, with_flash=True):
        platform = platform or board.platform()
        config = config or core_config_for(board, variant)
        export = export_core(config)
        if variant == "soc":
            soc = SoCCore(platform, board.sys_clk_hz, ident="Stagebox " + board.title,
                          cpu_type="vexriscv", cpu_variant="lite",
                          integrated_rom_size=board.rom_bytes,
                          integrated_sram_size=board.sram_bytes,
                          uart_name="serial", with_timer=True)
        else:
            soc = SoCMini(platform, board.sys_clk_hz, ident="Stagebox " + board.title,
                          with_ctrl=False, with_identifier=False)
        crg, clocks = board.crg(platform)
        soc.crg = crg
        _add_core(soc, board, platform, export, clocks, crg)
        if variant == "soc" and with_flash and board.spi_flash_module() is not None:
            soc.add_spi_flash(mode="1x", module=board.spi_flash_module(), with_master=False)
            # The BIOS boots the firmware image (length + CRC header) from here; the
            # bitstream sits below it.
            soc.add_constant("FLASH_BOOT_ADDRESS", soc.bus.regions["spiflash"].origin
                             + FIRMWARE_FLASH_OFFSET)
        soc.stagebox_export = export
        soc.stagebox_config = config
        return soc


def _add_core(soc, board, platform, export, clocks, crg):
    """Instantiate the exported core in `soc` and wire it to the board's standard resources."""
    ports = {}
    for port, domain in clocks.items():
        ports[f"i_{port}"] = ClockSignal(domain)
        ports[f"i_{export.resets()[export.clocks.index(port)]}"] = ResetSignal(domain)

    def connect(name, expr):
        direction, width = export.ports[name]
        ports[("i_" if direction == "input" else "o_") + name] = expr

    # PHY.
    eth = platform.request("eth")
    mdio_o, mdio_oe, mdio_i = (Signal(name=n) for n in ("mdio_o", "mdio_oe", "mdio_i"))
    soc.specials += Tristate(eth.mdio, mdio_o, mdio_oe, mdio_i)
    connect("mdc", eth.mdc)
    connect("mdio_o", mdio_o)
    connect("mdio_oe", mdio_oe)
    connect("mdio_i", mdio_i)
    if hasattr(eth, "rst_n"):
        soc.comb += eth.rst_n.eq(crg.phy_rst_n)
    if "crs_dv" in export.ports:  # RMII: single data rate on the 50 MHz reference clock
        connect("rxd", eth.rx_data)
        connect("crs_dv", eth.crs_dv)
        connect("rx_er", eth.rx_er if hasattr(eth, "rx_er") else Constant(0))
        connect("txd", eth.tx_data)
        connect("tx_en", eth.tx_en)
    elif "rx_ctl_rise" in export.ports:  # RGMII: DDR at the pins, SDR pairs into the core
        _add_rgmii(soc, eth, connect)
    else:
        raise ValueError("the board's PHY type has no pin mapping here yet")

    audio = platform.request("stagebox_audio")
    for name in ("mclk", "bclk", "lrck"):
        connect(name, getattr(audio, name))
    soc.comb += audio.sdout.eq(0)  # the RX issue's serialiser drives it
    timing = platform.request("stagebox_time")
    connect("pps", timing.pps)
    connect("event_in", timing.event_in)
    led = _optional_request(platform, "led")
    irq = Signal(name="core_irq")
    connect("irq", irq)

    if "sclk" in export.ports:
        spi = platform.request("stagebox_spi")
        miso, miso_oe = Signal(name="spi_miso"), Signal(name="spi_miso_oe")
        soc.specials += Tristate(spi.miso, miso, miso_oe)
        connect("sclk", spi.sclk)
        connect("mosi", spi.mosi)
        connect("cs_n", spi.cs_n)
        connect("miso", miso)
        connect("miso_oe", miso_oe)
        soc.comb += spi.irq.eq(irq)
    else:
        add_core_bus(soc, export, ports, irq)
    if led is not None:
        # Light with the PPS pulse: a visible "the wallclock runs".
        soc.comb += led.eq(~timing.pps if board.led_active_low else timing.pps)

    soc.specials += Instance(export.name, **ports)
    platform.add_source(_write_export(platform, export), language="verilog")


def add_core_bus(soc, export, ports, irq):
    """Attach the exported core's Wishbone slave at `STAGEBOX_BASE` and its interrupt line `irq`
    to CPU interrupt `STAGEBOX_IRQ`; adds the bus ports to `ports` (the core's ``Instance``
    arguments). Shared by the boards' SoC and the simulation (soc/sim.py)."""
    bus = wishbone.Interface(data_width=32, address_width=32, addressing="word")
    adr_bits = export.ports["bus__adr"][1]
    for name in ("cyc", "stb", "we", "sel", "dat_w"):
        ports[f"i_bus__{name}"] = getattr(bus, name)
    ports["i_bus__adr"] = bus.adr[:adr_bits]
    for name in ("dat_r", "ack", "err"):
        ports[f"o_bus__{name}"] = getattr(bus, name)
    soc.bus.add_slave("stagebox", bus,
                      SoCRegion(origin=STAGEBOX_BASE, size=4 << adr_bits, cached=False))
    soc.irq.add("stagebox_core", n=STAGEBOX_IRQ)
    soc.comb += soc.cpu.interrupt[STAGEBOX_IRQ].eq(irq)
    soc.add_constant("STAGEBOX_BASE", STAGEBOX_BASE)


def _add_rgmii(soc, eth, connect):
    width = len(eth.rx_data)
    rxd_rise, rxd_fall = Signal(width, name="rxd_rise"), Signal(width, name="rxd_fall")
    rx_ctl_rise, rx_ctl_fall = Signal(name="rx_ctl_rise"), Signal(name="rx_ctl_fall")
    for i in range(width):
        soc.specials += DDRInput(eth.rx_data[i], rxd_rise[i], rxd_fall[i], ClockSignal("eth_rx"))
    soc.specials += DDRInput(eth.rx_ctl, rx_ctl_rise, rx_ctl_fall, ClockSignal("eth_rx"))
    txd_rise, txd_fall = Signal(width, name="txd_rise"), Signal(width, name="txd_fall")
    tx_ctl_rise, tx_ctl_fall = Signal(name="tx_ctl_rise"), Signal(name="tx_ctl_fall")
    for i in range(width):
        soc.specials += DDROutput(txd_rise[i], txd_fall[i], eth.tx_data[i], ClockSignal("eth_tx"))
    soc.specials += DDROutput(tx_ctl_rise, tx_ctl_fall, eth.tx_ctl, ClockSignal("eth_tx"))
    connect("rxd", Cat(rxd_rise, rxd_fall))
    connect("rx_ctl_rise", rx_ctl_rise)
    connect("rx_ctl_fall", rx_ctl_fall)
    connect("txd", Cat(txd_rise, txd_fall))
    connect("tx_ctl_rise", tx_ctl_rise)
    connect("tx_ctl_fall", tx_ctl_fall)


def _optional_request(platform, name):
    from litex.build.generic_platform import ConstraintError
    try:
        return platform.request(name)
    except ConstraintError:
        return None


def _write_export(platform, export):
    """Write the core's Verilog next to the build (LiteX copies sources by path)."""
    import tempfile
    from pathlib import Path

    directory = Path(getattr(platform, "stagebox_source_dir", None) or tempfile.mkdtemp())
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{export.name}.v"
    path.write_text(export.verilog)
    return str(path)

