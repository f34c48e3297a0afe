"""The Stagebox register map: the single source of truth for every register's address and meaning.

The gateware register bank, ``firmware/include/stagebox_regs.h``, ``stagebox/driver/regs.py`` and
``docs/registers.md`` are all generated from `STAGEBOX_MAP` (``stagebox regs generate``).

Each gateware block owns a fixed window. Windows of blocks that later issues add are reserved
here already, so no address ever moves with build order; a block grows inside its window.
"""

from .model import Access, Block, Field, Register, RegisterMap, Window

__all__ = ["STAGEBOX_MAP", "MAGIC", "PhyType", "IRQ_SOURCES", "SPI_COUNTERS", "SAMPLE_RATES_HZ",
           "MDIO_OP_WRITE", "MDIO_OP_READ", "MAC_COUNTERS", "MCAST_ENTRIES", "RTP_MATCH_ENTRIES",
           "PKTBUF_RX_OFFSET", "PKTBUF_TX_OFFSET", "PKTBUF_WINDOW_BYTES", "DEFAULT_MAC_ADDRESS",
           "MAC_TABLES_OFFSET", "MAC_TABLES_BYTES", "CLOCK_ERRORS", "CLOCK_COMMANDS",
           "SLEW_RATE_MAX_PPM", "COMMAND_LATENCY_CYCLES"]

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
    Field("CP_RX", 2, 1, "a received frame waits in the control-plane RX buffer (level)"),
    Field("CP_TX_DONE", 3, 1, "a control-plane frame has left its TX slot (the slot is free)"),
    Field("CP_TX_STAMP", 4, 1, "the SFD time of a control-plane frame sent with STAMP arrived"),
    Field("MAC_RX_DROP", 5, 1, "a received frame was dropped: MAC error, bad IPv4 checksum, "
                               "or a full buffer (MAC_RX_* counters say which)"),
    Field("EVENT", 6, 1, "the event-capture input saw an edge (CLOCK_EVENT_STAMP is new)"),
    Field("PPS", 7, 1, "the wallclock entered a new second (rises with the PPS output)"),
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
            Field("EXTERNAL_AUDIO_CLOCK", 2, 1, "built with the external audio clock input "
                                                "(CLOCK_MEDIA_CONTROL.EXTERNAL available)"),
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

#: Locally administered, "SBOX" in the middle: a board's firmware sets its own.
DEFAULT_MAC_ADDRESS = 0x0253424F5800

#: Entries of the multicast address table and of the RTP match table.
MCAST_ENTRIES = 8
RTP_MATCH_ENTRIES = 8
#: The tables live in the classifier's memory, in this 0x100-byte part of the MAC window.
MAC_TABLES_OFFSET = 0x200
MAC_TABLES_BYTES = 0x100
_TABLE_NOTE = (" (held in the classifier's memory: words are accessed one at a time, so write "
               "the word with ENABLE last)")

#: MAC statistics counters: (name, bits, description). 32-bit ones count traffic and wrap;
#: 16-bit ones count errors and saturate. All of them are zeroed by MAC_COUNTERS_CLEAR.
MAC_COUNTERS = (
    ("RX_FRAMES", 32, "frames the MAC received with a good FCS"),
    ("RX_CRC_ERRORS", 16, "frames with a bad FCS (dribble/alignment errors included)"),
    ("RX_RUNTS", 16, "frames shorter than 64 bytes"),
    ("RX_GIANTS", 16, "frames longer than 1522 bytes"),
    ("RX_PHY_ERRORS", 16, "frames during which the PHY raised RX_ER"),
    ("RX_PREAMBLE_ERRORS", 16, "bursts without a valid preamble and SFD (garbage, false starts)"),
    ("RX_DRIBBLE", 16, "frames that ended with a partial byte (MII, RMII)"),
    ("RX_FIFO_OVERFLOWS", 16, "frames lost in the crossing into the system clock (clock too slow)"),
    ("RX_IP_CHECKSUM_ERRORS", 16, "IPv4 frames with a bad or truncated header, dropped"),
    ("RX_FILTERED", 32, "frames whose destination address did not pass the filter, dropped"),
    ("RX_PTP_FRAMES", 32, "frames delivered to the PTP engine"),
    ("RX_RTP_FRAMES", 32, "frames delivered to the RTP receiver"),
    ("RX_CP_FRAMES", 32, "frames delivered to the control-plane RX buffer"),
    ("RX_PTP_OVERFLOWS", 16, "PTP frames dropped because the PTP buffer was full"),
    ("RX_RTP_OVERFLOWS", 16, "RTP frames dropped because the RTP buffer was full"),
    ("RX_CP_OVERFLOWS", 16, "control-plane frames dropped because no RX slot was free"),
    ("TX_PTP_EVENT_FRAMES", 32, "PTP event frames sent"),
    ("TX_PTP_GENERAL_FRAMES", 32, "PTP general frames sent"),
    ("TX_RTP_FRAMES", 32, "RTP frames sent"),
    ("TX_CP_FRAMES", 32, "control-plane frames sent"),
    ("TX_UNDERRUNS", 16, "frames cut because their source stalled (sent with an error symbol)"),
    ("TX_OVERSIZE", 16, "frames cut because they exceeded 1518 bytes before the FCS"),
    ("TX_FRAMING_ERRORS", 16, "bytes a TX source offered outside a frame, dropped"),
    ("CP_TX_REJECTS", 16, "MAC_CP_TX_SEND writes refused: no slot queued, or a bad LENGTH"),
)

#: The control-plane packet buffers inside the PKTBUF window: RX slots from 0x0000 (read-only),
#: TX slots from 0x4000; slot k at k * slot size (MAC_CP_GEOMETRY).
PKTBUF_RX_OFFSET = 0x0000
PKTBUF_TX_OFFSET = 0x4000
PKTBUF_WINDOW_BYTES = 0x4000


def _stamp_register(name, offset, desc):
    return Register(name, offset, 80, Access.RO, desc + " (snapshot: read the NS word first)",
                    fields=(Field("NS", 0, 30, "nanoseconds"), Field("SEC", 32, 48, "seconds")))


def _mac_counter_registers():
    regs = []
    for i, (name, bits, desc) in enumerate(MAC_COUNTERS):
        tail = "; wraps" if bits == 32 else "; saturates at all ones"
        regs.append(Register(name, 0x100 + 4 * i, bits, Access.RO, desc + tail))
    return tuple(regs)


_MAC = Block(
    "MAC", 0x1000, 0x1000,
    "Ethernet MAC: addresses and filters, timestamp calibration, statistics, the control-plane "
    "packet port; MDIO management at 0x1F00",
    registers=(
        Register("ADDRESS", 0x000, 48, Access.RW,
                 "Own MAC address; the first byte on the wire is bits 47:40",
                 reset=DEFAULT_MAC_ADDRESS),
        Register("CONTROL", 0x008, 32, Access.RW, "Receive and transmit switches",
                 reset=0b10011, fields=(
                     Field("RX_ENABLE", 0, 1, "deliver received frames (0: all are dropped "
                                              "at the classifier and counted as filtered)"),
                     Field("TX_ENABLE", 1, 1, "start new frames (0: a frame in progress ends)"),
                     Field("PROMISCUOUS", 2, 1, "accept every destination address"),
                     Field("ALL_MULTICAST", 3, 1, "accept every multicast address"),
                     Field("PTP_L2", 4, 1, "route PTP over Ethernet (Ethertype 0x88F7) to PTP"),
                 )),
        Register("STATUS", 0x00C, 32, Access.RO, "MAC state", fields=(
            Field("TX_STAMP_ERROR", 0, 1, "a TX timestamp could not be matched to its frame "
                                          "(sticky until MAC_COUNTERS_CLEAR)"),
            Field("INBAND", 1, 1, "the interface carries the PHY's status in band (RGMII): "
                                  "LINK, SPEED and FULL_DUPLEX are valid if the PHY sends it; "
                                  "otherwise read them from the PHY over MDIO (register 1, BMSR, "
                                  "bit 2 is the link)"),
            Field("LINK", 2, 1, "in-band link status: up"),
            Field("SPEED", 3, 2, "in-band speed: 0 10 Mbit/s, 1 100 Mbit/s, 2 1000 Mbit/s"),
            Field("FULL_DUPLEX", 5, 1, "in-band duplex: full"),
        )),
        Register("RX_LATENCY_NS", 0x010, 24, Access.RW,
                 "Nanoseconds added to every RX timestamp, signed (24-bit two's complement, "
                 "+/-8.38 ms): the PHY's receive latency and board delays, to calibrate a "
                 "board. RX stamps are the SFD's last symbol at the FPGA's pins plus this"),
        Register("TX_LATENCY_NS", 0x014, 24, Access.RW,
                 "Nanoseconds added to every TX timestamp, signed (24-bit two's complement): "
                 "the PHY's transmit latency and board delays. TX stamps are the SFD's first "
                 "symbol at the FPGA's pins plus this"),
        Register("COUNTERS_CLEAR", 0x018, 1, Access.WS,
                 "Write 1 to zero every MAC counter and MAC_STATUS.TX_STAMP_ERROR"),
        Register("CP_GEOMETRY", 0x01C, 32, Access.RO, "Control-plane packet buffer geometry",
                 fields=(
                     Field("RX_SLOTS", 0, 8, "RX slots"),
                     Field("TX_SLOTS", 8, 8, "TX slots"),
                     Field("SLOT_SHIFT", 16, 5, "log2 of the slot size in bytes"),
                 )),
        Register("CP_RX_STATUS", 0x020, 32, Access.RO, "The oldest received frame", fields=(
            Field("COUNT", 0, 8, "frames waiting (0: none; the other fields are stale)"),
            Field("SLOT", 8, 8, "its slot in PKTBUF_RX"),
            Field("LENGTH", 16, 16, "its length in bytes, from the destination address, "
                                    "FCS not included"),
        )),
        Register("CP_RX_POP", 0x024, 1, Access.WS,
                 "Write 1 to free the oldest received frame's slot"),
        Register("CP_TX_STATUS", 0x028, 32, Access.RO, "Transmit slots", fields=(
            Field("FREE", 0, 8, "free slots"),
            Field("SLOT", 8, 8, "the slot in PKTBUF_TX to fill next"),
            Field("STAMP_COUNT", 16, 8, "TX timestamps received so far (wraps)"),
            Field("STAMP_TAG", 24, 8, "TAG of the frame MAC_CP_TX_STAMP belongs to"),
        )),
        Register("CP_TX_SEND", 0x02C, 32, Access.WS,
                 "Queue the frame in the slot MAC_CP_TX_STATUS.SLOT names", fields=(
                     Field("LENGTH", 0, 16, "bytes from the destination address, no FCS: "
                                            "14..1518 (shorter frames are padded to 60)"),
                     Field("STAMP", 16, 1, "return the frame's SFD time in MAC_CP_TX_STAMP"),
                     Field("TAG", 24, 8, "any value; comes back in STAMP_TAG"),
                 )),
        _stamp_register("CP_RX_STAMP", 0x030,
                        "SFD time of the oldest received frame, RX_LATENCY_NS applied"),
        _stamp_register("CP_TX_STAMP", 0x040,
                        "SFD time of the last control-plane frame sent with STAMP"),
        *_mac_counter_registers(),
        *(Register(f"MCAST_{i}", MAC_TABLES_OFFSET + 8 * i, 49, Access.RW,
                   f"Multicast address table entry {i}{_TABLE_NOTE}", external=True, fields=(
                       Field("ADDRESS", 0, 48, "a multicast MAC address to accept; first byte "
                                               "on the wire in bits 47:40"),
                       Field("ENABLE", 48, 1, "entry in use"),
                   )) for i in range(MCAST_ENTRIES)),
        *(Register(f"RTP_MATCH_{i}", MAC_TABLES_OFFSET + 0x80 + 8 * i, 49, Access.RW,
                   f"RTP stream match entry {i}: frames to this IPv4 address and UDP port go to "
                   f"the RTP receiver as stream {i}{_TABLE_NOTE}", external=True, fields=(
                       Field("IP", 0, 32, "destination IPv4 address; first byte on the wire in "
                                          "bits 31:24"),
                       Field("PORT", 32, 16, "destination UDP port"),
                       Field("ENABLE", 48, 1, "entry in use"),
                   )) for i in range(RTP_MATCH_ENTRIES)),
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

_PKTBUF = Block(
    "PKTBUF", 0x8000, 0x8000, "Control-plane packet buffers: whole frames as 32-bit words, "
    "byte i of a frame in byte lane i % 4 of word i / 4 (little-endian)",
    windows=(
        Window("RX", PKTBUF_RX_OFFSET, PKTBUF_WINDOW_BYTES, Access.RO,
               "Received frames, one per slot (MAC_CP_RX_STATUS says which slot and how long)"),
        Window("TX", PKTBUF_TX_OFFSET, PKTBUF_WINDOW_BYTES, Access.RW,
               "Frames to send: fill slot MAC_CP_TX_STATUS.SLOT, then write MAC_CP_TX_SEND"),
    ),
)


#: CLOCK_STATUS.LAST_ERROR codes: (code, name, description). Each rejection also counts in
#: CLOCK_REJECTS; the rejected command or setting changes nothing.
CLOCK_ERRORS = (
    (0, "NONE", "no command was rejected since reset"),
    (1, "STEP_RANGE", "STEP with |CLOCK_STEP.NS| >= 1e9 (put whole seconds in CLOCK_STEP.SEC)"),
    (2, "SET_RANGE", "SET with CLOCK_SET_TIME.NS >= 1e9"),
    (3, "SLEW_RATE", "SLEW with CLOCK_SLEW_RATE_PPM outside 1..1000"),
    (4, "RATE", "CLOCK_MEDIA_CONTROL.RATE names a sample rate this build does not have "
                "(IDENT_SAMPLE_RATES); the media clock keeps the previous rate"),
    (5, "AUDIO_CLOCK_FAST", "the selected MCLK is faster than half the system clock: "
                            "the audio clock outputs stay stopped (use EXTERNAL)"),
    (6, "NO_EXTERNAL", "MEDIA_CONTROL.EXTERNAL set in a build without the external clock input; "
                       "the internal audio clocks stay selected"),
    (7, "TDM_NEEDS_512", "TDM8 from the external MCLK needs MCLK_512 (BCLK is MCLK / 2); the "
                         "external BCLK and LRCK stay low"),
)

#: System clock cycles after a CLOCK_COMMAND write is acknowledged by which the wallclock
#: shows its effect (SET, STEP) or has accepted it (SLEW, SLEW_CANCEL).
COMMAND_LATENCY_CYCLES = 6

#: CLOCK_COMMAND bits.
CLOCK_COMMANDS = (
    Field("SET", 0, 1, "load CLOCK_SET_TIME into the wallclock (fraction of a nanosecond zeroed)"),
    Field("STEP", 1, 1, "add CLOCK_STEP (signed seconds and nanoseconds) to the wallclock"),
    Field("SLEW", 2, 1, "start slewing CLOCK_SLEW_NS at CLOCK_SLEW_RATE_PPM (replaces a slew in "
                        "progress)"),
    Field("SLEW_CANCEL", 3, 1, "stop a slew in progress where it is"),
)

#: The fastest slew the wallclock accepts, in ppm of its rate.
SLEW_RATE_MAX_PPM = 1000


def _signed(text):
    return text + " (two's complement)"


_CLOCK = Block(
    "CLOCK", 0x2000, 0x1000,
    "Wallclock (PTP time, disciplined by the PTP servo or the host), PPS output, event capture, "
    "media clock and audio clocks",
    registers=(
        _stamp_register("TIME", 0x000, "The wallclock now: PTP time, ARB or PTP timescale as "
                                       "the grandmaster says"),
        Register("SET_TIME", 0x010, 80, Access.RW,
                 "Time that CLOCK_COMMAND.SET loads (write the SEC word last: the bank commits "
                 "the words together)",
                 fields=(Field("NS", 0, 30, "nanoseconds, below 1e9"),
                         Field("SEC", 32, 48, "seconds"))),
        Register("STEP", 0x020, 64, Access.RW,
                 "Offset that CLOCK_COMMAND.STEP adds to the wallclock", fields=(
                     Field("NS", 0, 32, _signed("signed nanoseconds, |NS| < 1e9")),
                     Field("SEC", 32, 32, _signed("signed seconds")),
                 )),
        Register("COMMAND", 0x028, 4, Access.WS,
                 f"Wallclock operations; CLOCK_TIME shows a SET or STEP at most "
                 f"{COMMAND_LATENCY_CYCLES} system clock cycles after the write's acknowledge",
                 fields=CLOCK_COMMANDS),
        Register("FREQ_ADJ", 0x02C, 32, Access.RW,
                 _signed("Frequency correction in parts per 10^12 (0.001 ppb), signed: +N makes "
                         "the wallclock advance N ps more per second, exactly. Range +-2147 "
                         "ppm; takes effect within 100 system clock cycles of a change")),
        Register("SLEW_NS", 0x030, 32, Access.RW,
                 _signed("Offset in nanoseconds that CLOCK_COMMAND.SLEW spreads over time")),
        Register("SLEW_RATE_PPM", 0x034, 16, Access.RW,
                 f"Rate of a slew in ppm of the wallclock's rate, 1..{SLEW_RATE_MAX_PPM}: the "
                 "wallclock, the media clock and the audio clocks run this much fast or slow "
                 "until the offset is absorbed", reset=100),
        Register("STATUS", 0x038, 32, Access.RO, "Clock state", fields=(
            Field("SLEWING", 0, 1, "a slew is in progress"),
            Field("FREQ_UPDATING", 1, 1, "a new CLOCK_FREQ_ADJ is being applied"),
            Field("MEDIA_VALID", 2, 1, "CLOCK_MEDIA_COUNT follows the wallclock (low for a few "
                                       "microseconds after a SET, STEP or rate change)"),
            Field("AUDIO_RUNNING", 3, 1, "the audio clock outputs are running"),
            Field("LAST_ERROR", 8, 4, "why the last rejected command or setting was rejected: "
                  + ", ".join(f"{code} {name}" for code, name, _ in CLOCK_ERRORS)),
        )),
        Register("DISCONTINUITIES", 0x03C, 32, Access.RO,
                 "Times the wallclock jumped (SET and STEP, from the bus or the PTP servo); the "
                 "media and audio clocks re-align after each; wraps"),
        _counter("REJECTS", 0x040, "Commands and settings rejected (CLOCK_STATUS.LAST_ERROR)"),
        Register("SLEW_REMAINING_NS", 0x044, 32, Access.RO,
                 _signed("Part of the slew offset not yet applied, in nanoseconds")),
        Register("PPS_WIDTH_NS", 0x050, 30, Access.RW,
                 "Width of the PPS output pulse in nanoseconds; 0 keeps the output low. The "
                 "rising edge is the second boundary", reset=100_000_000),
        Register("EVENT_CONTROL", 0x054, 32, Access.RW, "Event-capture input", reset=1,
                 fields=(Field("ENABLE", 0, 1, "stamp edges"),
                         Field("FALLING", 1, 1, "stamp falling edges (0: rising)"))),
        Register("EVENT_COUNT", 0x058, 32, Access.RO,
                 "Edges stamped since reset; wraps (a jump of more than one since the last read "
                 "means stamps were overwritten)"),
        _stamp_register("EVENT_STAMP", 0x060, "Wallclock time of the last stamped edge at the "
                                              "input pin"),
        Register("MEDIA_CONTROL", 0x080, 32, Access.RW,
                 "Media clock and audio clocks (one sample rate for the whole device)",
                 reset=0b10001, fields=(
                     Field("RATE", 0, 2, "sample rate: 0 44.1 kHz, 1 48 kHz, 2 88.2 kHz, "
                                         "3 96 kHz"),
                     Field("MCLK_512", 2, 1, "MCLK is 512 fs (0: 256 fs)"),
                     Field("TDM", 3, 1, "TDM8 framing: BCLK 256 fs and a one-BCLK frame sync "
                                        "(0: I2S, BCLK 64 fs and LRCK with 50 % duty)"),
                     Field("AUDIO_ENABLE", 4, 1, "drive the audio clock outputs"),
                     Field("EXTERNAL", 5, 1, "MCLK comes from an external clock generator; "
                                             "BCLK and LRCK are divided from it"),
                 )),
        Register("MEDIA_COUNT", 0x084, 32, Access.RO,
                 "The media clock: floor(wallclock x fs) modulo 2^32, the RTP timestamp of a "
                 "sample taken now (before a stream's offset)"),
        Register("EXT_GATE_SEC", 0x090, 8, Access.RW,
                 "External MCLK meter: gate length in wallclock seconds (1..255; 0 stops the "
                 "meter)", reset=1),
        Register("EXT_PPB", 0x094, 32, Access.RO,
                 _signed("External MCLK frequency error against the wallclock, in ppb, over the "
                         "last gate (resolution 1e9 / (f x gate))")),
        Register("EXT_CYCLES", 0x098, 32, Access.RO, "External MCLK cycles in the last gate"),
        Register("EXT_PHASE_NS", 0x09C, 32, Access.RO,
                 _signed("Wallclock time of the external LRCK's frame start minus the media "
                         "clock's sample boundary, in nanoseconds")),
        Register("EXT_MEASUREMENTS", 0x0A0, 32, Access.RO,
                 "Gates the meter completed; wraps (firmware sees a new EXT_PPB when it moves)"),
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
        _CLOCK,
        _reserved("PTP", 0x3000, 0x1000, "the PTP port, BMCA and servo"),
        _reserved("RTP_TX", 0x4000, 0x1000, "the RTP transmitter and its stream table"),
        _reserved("RTP_RX", 0x5000, 0x1000, "the RTP receiver and its stream table"),
        _reserved("AUDIO", 0x6000, 0x1000, "the I2S/TDM inputs and outputs"),
        _PKTBUF,
    ),
)
