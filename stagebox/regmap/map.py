"""The Stagebox register map: the single source of truth for every register's address and meaning.

The gateware register bank, ``firmware/include/stagebox_regs.h``, ``stagebox/driver/regs.py`` and
``docs/registers.md`` are all generated from `STAGEBOX_MAP` (``stagebox regs generate``).

Each gateware block owns a fixed window. Windows of blocks that later issues add are reserved
here already, so no address ever moves with build order; a block grows inside its window.
"""

from .model import Access, Block, Field, Register, RegisterMap

__all__ = ["STAGEBOX_MAP", "MAGIC", "PhyType", "IRQ_SOURCES", "SPI_COUNTERS", "SAMPLE_RATES_HZ",
           "MDIO_OP_WRITE", "MDIO_OP_READ"]

#: ASCII "SBOX": the first thing a host checks.
MAGIC = 0x53424F58

#: Sample rates the media clock can run at, in the bit order of IDENT_SAMPLE_RATES.
SAMPLE_RATES_HZ = (44_100, 48_000, 88_200, 96_000)


class PhyType:
    """Encoding of the PHY interface in IDENT_PHY."""

    NONE = 0
    MII = 1
    RMII = 2
    GMII = 3
    RGMII = 4
    NAMES = {"none": NONE, "mii": MII, "rmii": RMII, "gmii": GMII, "rgmii": RGMII}


#: Interrupt sources, in bit order of IRQ_STATUS / IRQ_ENABLE / IRQ_PENDING.
IRQ_SOURCES = (
    Field("BUS_ERROR", 0, 1, "a bus master accessed an unmapped address or wrote a read-only one"),
    Field("SPI_ERROR", 1, 1, "the SPI bridge rejected or aborted a transaction"),
    Field("SOFTWARE", 31, 1, "raised by a write to IRQ_TEST"),
)

#: SPI bridge error counters, in bit order of SPI_COUNTERS_CLEAR.
SPI_COUNTERS = (
    ("CRC_ERRORS", "requests whose CRC did not match (nothing was applied)"),
    ("ABORTS", "transactions cut short: CS rose mid-byte, or CS stayed high past the timeout"),
    ("BUS_ERRORS", "bus accesses that ended in an error or timed out"),
    ("BAD_REQUESTS", "requests with an unknown command, an unaligned or out-of-range address, "
                     "or a burst longer than SPI_MAX_WORDS"),
)


def _counter(name, offset, desc, width=16):
    return Register(name, offset, width, Access.RO, f"{desc}; saturates at all ones")


_IDENT = Block(
    "IDENT", 0x0000, 0x100, "Identity, build configuration, scratch and bus diagnostics",
    registers=(
        Register("MAGIC", 0x00, 32, Access.RO, 'Always 0x53424F58 ("SBOX")'),
        Register("VERSION", 0x04, 32, Access.RO, "Gateware release", fields=(
            Field("PATCH", 0, 16, "patch number"),
            Field("MINOR", 16, 8, "minor version"),
            Field("MAJOR", 24, 8, "major version"),
        )),
        Register("SOURCE_REV", 0x08, 32, Access.RO,
                 "First 8 hex digits of the git commit the gateware was built from"),
        Register("BUILD_FLAGS", 0x0C, 32, Access.RO, "How the gateware was built", fields=(
            Field("DIRTY", 0, 1, "the source tree had uncommitted changes"),
            Field("CPU", 1, 1, "built with the on-chip softcore (0: CPU-less SPI variant)"),
        )),
        Register("REGMAP_HASH", 0x10, 32, Access.RO,
                 "Hash of the register map the gateware was built with (SB_REGMAP_HASH)"),
        Register("SYS_CLK_HZ", 0x14, 32, Access.RO, "System clock frequency in Hz"),
        Register("PHY", 0x18, 32, Access.RO, "Ethernet PHY interface", fields=(
            Field("TYPE", 0, 4, "0 none, 1 MII, 2 RMII, 3 GMII, 4 RGMII"),
        )),
        Register("STREAMS", 0x1C, 32, Access.RO, "Stream and channel counts", fields=(
            Field("TX_STREAMS", 0, 8, "RTP transmit streams"),
            Field("RX_STREAMS", 8, 8, "RTP receive streams"),
            Field("TX_CHANNELS", 16, 8, "audio input channels"),
            Field("RX_CHANNELS", 24, 8, "audio output channels"),
        )),
        Register("SAMPLE_RATES", 0x20, 32, Access.RO, "Supported sample rates", fields=(
            Field("FS_44K1", 0, 1, "44.1 kHz"),
            Field("FS_48K", 1, 1, "48 kHz"),
            Field("FS_88K2", 2, 1, "88.2 kHz"),
            Field("FS_96K", 3, 1, "96 kHz"),
        )),
        Register("SCRATCH", 0x24, 32, Access.RW, "Free for the host: bus and link tests",
                 reset=0x5CA7C4ED),
        Register("UPTIME", 0x28, 64, Access.RO,
                 "System clock cycles since reset (snapshot: read the low word first)"),
        _counter("BUS_ERROR_COUNT", 0x30,
                 "Accesses to unmapped addresses and writes to read-only registers"),
        Register("BUS_ERROR_ADDR", 0x34, 32, Access.RO, "Byte address of the last such access"),
        Register("BUS_ERROR_CLEAR", 0x38, 1, Access.WS, "Write 1 to zero BUS_ERROR_COUNT"),
    ),
)

_IRQ = Block(
    "IRQ", 0x0100, 0x100, "Interrupt controller: one level output, the OR of enabled pending bits",
    registers=(
        Register("STATUS", 0x00, 32, Access.RO, "Current level of each source", fields=IRQ_SOURCES),
        Register("ENABLE", 0x04, 32, Access.RW, "Sources allowed to drive the interrupt output",
                 fields=IRQ_SOURCES),
        Register("PENDING", 0x08, 32, Access.W1C,
                 "Sources that rose since last cleared", fields=IRQ_SOURCES),
        Register("TEST", 0x0C, 32, Access.WS, "Write ones to set the matching PENDING bits",
                 fields=IRQ_SOURCES),
    ),
)

_SPI = Block(
    "SPI", 0x0200, 0x100,
    "SPI register bridge (without a bridge in the build its status registers read as zero)",
    registers=(
        Register("GAP_TIMEOUT_US", 0x00, 16, Access.RW,
                 "How long CS may stay high inside one transaction before it is aborted, in "
                 "microseconds; 0 aborts at once", reset=1000),
        Register("TRANSACTIONS", 0x04, 32, Access.RO,
                 "Transactions completed with status OK; wraps"),
        *(_counter(name, 0x08 + 4 * i, desc) for i, (name, desc) in enumerate(SPI_COUNTERS)),
        Register("LAST_STATUS", 0x18, 8, Access.RO, "Status code of the last transaction"),
        Register("MAX_WORDS", 0x20, 16, Access.RO,
                 "Longest burst the bridge accepts, in 32-bit words"),
        Register("COUNTERS_CLEAR", 0x1C, len(SPI_COUNTERS), Access.WS,
                 "Write ones to zero the matching error counters", fields=tuple(
                     Field(name, i, 1, f"zero SPI_{name}")
                     for i, (name, _) in enumerate(SPI_COUNTERS))),
    ),
)


#: Where the MDIO registers sit inside the MAC window; 0x000-0xEFF stay free for the MAC itself.
MDIO_OFFSET = 0x0F00

#: MDIO_COMMAND.OP values (IEEE 802.3 clause 22 OP codes).
MDIO_OP_WRITE = 1
MDIO_OP_READ = 2

_MAC = Block(
    "MAC", 0x1000, 0x1000,
    "Ethernet MAC, classifier and timestamps (to come); MDIO management at 0x1F00",
    registers=(
        Register("MDIO_COMMAND", MDIO_OFFSET + 0x00, 32, Access.WS,
                 "Start an IEEE 802.3 clause 22 MDIO transaction; ignored (and counted in "
                 "MAC_MDIO_ERRORS) while busy or with an invalid OP", fields=(
                     Field("DATA", 0, 16, "data to write (ignored by reads)"),
                     Field("REG", 16, 5, "PHY register address (REGAD)"),
                     Field("PHY", 21, 5, "PHY address (PHYAD)"),
                     Field("OP", 26, 2, "1 write, 2 read; 0 and 3 are invalid"),
                 )),
        Register("MDIO_STATUS", MDIO_OFFSET + 0x04, 32, Access.RO, "MDIO master state", fields=(
            Field("BUSY", 0, 1, "a transaction is in progress"),
            Field("READ_DATA", 16, 16, "data of the last completed read"),
        )),
        Register("MDIO_DIVIDER", MDIO_OFFSET + 0x08, 32, Access.RO,
                 "MDC period in system clock cycles (even: MDC has a 50% duty cycle)"),
        _counter("MDIO_ERRORS", MDIO_OFFSET + 0x0C,
                 "MDIO commands ignored because the master was busy or OP was invalid"),
    ),
)


def _reserved(name, base, size, what):
    return Block(name, base, size, f"Reserved for {what}")


STAGEBOX_MAP = RegisterMap(
    name="stagebox",
    address_bits=16,
    blocks=(
        _IDENT,
        _IRQ,
        _SPI,
        _MAC,
        _reserved("CLOCK", 0x2000, 0x1000, "the wallclock, media clock and audio clocks"),
        _reserved("PTP", 0x3000, 0x1000, "the PTP port, BMCA and servo"),
        _reserved("RTP_TX", 0x4000, 0x1000, "the RTP transmitter and its stream table"),
        _reserved("RTP_RX", 0x5000, 0x1000, "the RTP receiver and its stream table"),
        _reserved("AUDIO", 0x6000, 0x1000, "the I2S/TDM inputs and outputs"),
        _reserved("PKTBUF", 0x8000, 0x8000, "the control-plane packet buffers"),
    ),
)
