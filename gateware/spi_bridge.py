"""SPI register bridge: an SPI slave that masters the register bus, for an external MCU or host.

The wire protocol (requests, responses, CRC, CS gaps) is specified in
`stagebox.driver.spi_protocol`; its constants are imported from there.

Clock domain ``sync``. SCLK, MOSI and CS are oversampled through two-stage synchronizers, so the
bridge has no clock domain of its own. MOSI is sampled at each detected SCLK rising edge (modes
0 and 3 both sample on the rising edge; mode 3's idle-high clock starts with a falling edge,
which the bridge ignores). MISO moves to the next bit right after the detected rising edge,
i.e. during the half period in which the host does not sample, so it has a whole SCLK period
minus the synchronizer delay (at most three ``sync`` cycles) to settle: SCLK may run up to
sys_clk/4 (one cycle of margin before the host's next rising edge, less pad delays; use sys/6
or slower on long wires).

Hazards: the host must not clock a byte mid-way and leave (CS rising with a partial byte aborts
the transaction and counts it); a transaction left open longer than SPI_GAP_TIMEOUT_US is
aborted. A complete, CRC-checked request is always executed to its end, even if CS then rises
for good; the host can read SPI_LAST_STATUS to learn its outcome.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import cdc, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from stagebox.driver import spi_protocol as proto
from stagebox.regmap.map import SPI_COUNTERS, STAGEBOX_MAP

from . import wishbone
from .crc import crc_update
from .regbank import block_signature

__all__ = ["SpiBridge"]


class SpiBridge(wiring.Component):
    """SPI slave to Wishbone B4 classic master.

    Parameters: `sys_clk_hz` (a whole number of MHz: the CS-gap timer counts microseconds),
    `addr_width` (Wishbone word-address bits), `max_words` (burst buffer depth, power of two up
    to 256; one block RAM), `bus_timeout` (cycles to wait for ``ack`` or ``err``).

    Ports: ``sclk``, ``mosi``, ``cs_n`` (asynchronous pins), ``miso``, ``miso_oe`` (drive MISO
    while selected), ``bus`` (master), ``regs`` (the SPI register block), ``error`` (one-cycle
    pulse on every rejected, failed or aborted transaction, for the interrupt controller).
    """

    def __init__(self, *, sys_clk_hz, addr_width, max_words=proto.MAX_WORDS, bus_timeout=255,
                 regmap=STAGEBOX_MAP):
        if sys_clk_hz % 1_000_000:
            raise ValueError("the SPI bridge needs a system clock that is a whole number of MHz")
        if not (1 <= max_words <= proto.MAX_WORDS and max_words & (max_words - 1) == 0):
            raise ValueError(f"max_words must be a power of two in 1..{proto.MAX_WORDS}")
        self.cycles_per_us = sys_clk_hz // 1_000_000
        self.addr_width = addr_width
        self.max_words = max_words
        self.bus_timeout = bus_timeout
        super().__init__({
            "sclk": In(1),
            "mosi": In(1),
            "cs_n": In(1, init=1),
            "miso": Out(1),
            "miso_oe": Out(1),
            "bus": Out(wishbone.Signature(addr_width)),
            "regs": Out(block_signature(regmap.block("SPI"))),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        regs, bus = self.regs, self.bus

        # --- Pins: synchronize, detect edges. -------------------------------------------
        sclk, mosi, cs_n = Signal(), Signal(), Signal(init=1)
        m.submodules.sclk_sync = cdc.FFSynchronizer(self.sclk, sclk)
        m.submodules.mosi_sync = cdc.FFSynchronizer(self.mosi, mosi)
        m.submodules.cs_sync = cdc.FFSynchronizer(self.cs_n, cs_n, init=1)
        sclk_prev, cs_n_prev = Signal(), Signal(init=1)
        m.d.sync += [sclk_prev.eq(sclk), cs_n_prev.eq(cs_n)]
        rise = Signal()
        # An SCLK edge in the very cycle CS falls is not a bit: the host's CS-to-clock setup time.
        m.d.comb += rise.eq(~cs_n & ~cs_n_prev & sclk & ~sclk_prev)
        cs_rose = cs_n & ~cs_n_prev

        # --- Bit engine: bytes in on MOSI, bytes out on MISO. ------------------------------
        bit_count = Signal(3)
        rx_shift = Signal(7)
        tx_shift = Signal(8, init=proto.WAIT)
        rx_byte = Signal(8)
        byte_done = Signal()
        tx_next = Signal(8)  # byte to send next, chosen by the transaction logic on byte_done
        m.d.comb += [
            rx_byte.eq(Cat(mosi, rx_shift)),
            byte_done.eq(rise & (bit_count == 7)),
            self.miso.eq(tx_shift[7]),
            self.miso_oe.eq(~cs_n),
            tx_next.eq(proto.WAIT),
        ]
        with m.If(rise):
            m.d.sync += [
                bit_count.eq(bit_count + 1),
                rx_shift.eq(rx_byte[:7]),
                tx_shift.eq(Mux(bit_count == 7, tx_next, Cat(Const(1), tx_shift[:7]))),
            ]

        # --- Transaction state. ------------------------------------------------------------
        cmd = Signal(8)
        last_word = Signal(8)           # COUNT: words - 1
        address = Signal(32)
        word_idx = Signal(9)
        byte_idx = Signal(2)
        assembly = Signal(24)           # first three bytes of a word being received
        rx_crc = Signal(8)              # first byte of the request's CRC
        crc = Signal(16, init=proto.CRC_INIT)
        status = Signal(8)
        is_read = cmd == proto.CMD_READ

        crc_input = Signal(8)
        crc_next = Signal(16)
        m.d.comb += crc_next.eq(crc_update(crc, crc_input, proto.CRC_POLY))

        m.submodules.buffer = buffer = Memory(shape=32, depth=self.max_words, init=[])
        wr = buffer.write_port()
        rd = buffer.read_port()
        m.d.comb += rd.addr.eq(word_idx)

        # --- CS gaps and aborts. -------------------------------------------------------------
        prescaler = Signal(range(self.cycles_per_us))
        gap_us = Signal(16)
        gap_expired = Signal()
        idle = Signal()
        with m.If(~cs_n | idle):
            m.d.sync += [prescaler.eq(0), gap_us.eq(0)]
        with m.Elif(prescaler == self.cycles_per_us - 1):
            m.d.sync += [prescaler.eq(0), gap_us.eq(gap_us + ~gap_us.all())]
        with m.Else():
            m.d.sync += prescaler.eq(prescaler + 1)
        m.d.comb += gap_expired.eq(cs_n & ~idle & (gap_us >= regs.gap_timeout_us))
        partial_byte = cs_rose & (bit_count != 0)
        with m.If(partial_byte):
            m.d.sync += [bit_count.eq(0), tx_shift.eq(proto.WAIT)]
        abort = Signal()           # leave the transaction now
        abort_pending = Signal()   # abort requested while executing: honoured when done
        abort_now = partial_byte | gap_expired

        # --- Counters. ------------------------------------------------------------------------
        count_event = {name: Signal(name=f"count_{name.lower()}") for name, _ in SPI_COUNTERS}
        count_ok = Signal()
        m.d.comb += count_event["ABORTS"].eq(abort)
        for i, (name, _) in enumerate(SPI_COUNTERS):
            counter = getattr(regs, name.lower())
            with m.If(regs.counters_clear_stb & regs.counters_clear.as_value()[i]):
                m.d.sync += counter.eq(0)
            with m.Elif(count_event[name] & ~counter.all()):
                m.d.sync += counter.eq(counter + 1)
        with m.If(count_ok):
            m.d.sync += regs.transactions.eq(regs.transactions + 1)
        m.d.comb += [
            regs.max_words.eq(self.max_words),
            self.error.eq(Cat(*count_event.values()).any()),
        ]

        # --- Bus master. ---------------------------------------------------------------------
        timer = Signal(range(self.bus_timeout + 1))
        # Registered in FETCH: keeps the burst adder out of the register bank's decode path.
        bus_adr = Signal(self.addr_width)
        m.d.comb += [
            bus.adr.eq(bus_adr),
            bus.sel.eq(0b1111),
            bus.we.eq(~is_read),
            bus.dat_w.eq(rd.data),
            wr.data.eq(Mux(is_read, bus.dat_r, Cat(rx_byte, assembly))),
            wr.addr.eq(word_idx),
        ]
        # Bits of the address above the bus, and bursts that run past the top, are refused.
        # Registered: the header is complete at least two bytes (the CRC) before the verdict is
        # used, and the adder and comparators stay off the counters' paths.
        span_end = address[2:] + last_word + 1
        request_bad = Signal()
        m.d.sync += request_bad.eq(
            ((cmd != proto.CMD_READ) & (cmd != proto.CMD_WRITE))
            | (address[:2] != 0) | (span_end > (1 << self.addr_width))
            | (last_word >= self.max_words))

        def finish(code, counter=None):
            m.d.sync += [status.eq(code), regs.last_status.eq(code), word_idx.eq(0)]
            if counter is not None:
                m.d.comb += count_event[counter].eq(1)
            else:
                m.d.comb += count_ok.eq(1)

        with m.FSM(name="state"):
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                m.d.sync += [crc.eq(proto.CRC_INIT), abort_pending.eq(0)]
                with m.If(partial_byte):
                    m.d.comb += abort.eq(1)
                with m.Elif(byte_done & (rx_byte != 0x00) & (rx_byte != 0xFF)):
                    m.d.comb += crc_input.eq(rx_byte)
                    m.d.sync += [cmd.eq(rx_byte), crc.eq(crc_next), byte_idx.eq(0),
                                 word_idx.eq(0)]
                    m.next = "HEADER"

            with m.State("HEADER"):
                m.d.comb += crc_input.eq(rx_byte)
                with m.If(abort_now):
                    m.d.comb += abort.eq(1)
                    m.next = "IDLE"
                with m.Elif(byte_done):
                    m.d.sync += [crc.eq(crc_next), word_idx.eq(word_idx + 1)]
                    with m.If(word_idx == 0):
                        m.d.sync += last_word.eq(rx_byte)
                    with m.Else():
                        m.d.sync += address.eq(Cat(rx_byte, address[:24]))
                    with m.If(word_idx == proto.HEADER_BYTES - 2):
                        m.d.sync += word_idx.eq(0)
                        with m.If(cmd == proto.CMD_WRITE):
                            m.next = "WDATA"
                        with m.Else():
                            m.next = "RCRC"

            with m.State("WDATA"):
                m.d.comb += crc_input.eq(rx_byte)
                with m.If(abort_now):
                    m.d.comb += abort.eq(1)
                    m.next = "IDLE"
                with m.Elif(byte_done):
                    m.d.sync += [crc.eq(crc_next), byte_idx.eq(byte_idx + 1),
                                 assembly.eq(Cat(rx_byte, assembly[:16]))]
                    with m.If(byte_idx == 3):
                        m.d.comb += wr.en.eq(word_idx < self.max_words)
                        m.d.sync += word_idx.eq(word_idx + 1)
                        with m.If(word_idx == last_word):
                            m.next = "RCRC"

            with m.State("RCRC"):
                with m.If(abort_now):
                    m.d.comb += abort.eq(1)
                    m.next = "IDLE"
                with m.Elif(byte_done):
                    m.d.sync += [rx_crc.eq(rx_byte), byte_idx.eq(byte_idx + 1)]
                    with m.If(byte_idx[0]):
                        m.d.sync += [word_idx.eq(0), timer.eq(0)]
                        with m.If(Cat(rx_byte, rx_crc) != crc):
                            # The request is not what the host sent, so the reply's CRC starts
                            # afresh: the host can still verify that nothing was applied.
                            m.d.sync += crc.eq(proto.CRC_INIT)
                            finish(proto.Status.CRC_ERROR, "CRC_ERRORS")
                            m.next = "RESPOND"
                        with m.Elif(request_bad):
                            finish(proto.Status.BAD_REQUEST, "BAD_REQUESTS")
                            m.next = "RESPOND"
                        with m.Else():
                            m.next = "FETCH"

            # Execution: FETCH gives the buffer's read port a cycle, ACCESS runs one bus cycle.
            with m.State("FETCH"):
                m.d.sync += [abort_pending.eq(abort_pending | abort_now), timer.eq(0),
                             bus_adr.eq(address[2:] + word_idx)]
                m.next = "ACCESS"

            with m.State("ACCESS"):
                m.d.sync += [abort_pending.eq(abort_pending | abort_now), timer.eq(timer + 1)]
                m.d.comb += [bus.cyc.eq(1), bus.stb.eq(1)]
                with m.If(bus.ack):
                    m.d.comb += wr.en.eq(is_read)
                    m.d.sync += word_idx.eq(word_idx + 1)
                    with m.If(word_idx == last_word):
                        finish(proto.Status.OK)
                        m.next = "RESPOND"
                    with m.Else():
                        m.next = "FETCH"
                with m.Elif(bus.err | (timer == self.bus_timeout)):
                    finish(proto.Status.BUS_ERROR, "BUS_ERRORS")
                    m.next = "RESPOND"

            with m.State("RESPOND"):
                # Entered with word_idx = 0. STATUS, then DATA (a good read), then the CRC.
                with m.If(abort_now | abort_pending):
                    m.d.comb += abort.eq(1)
                    m.next = "IDLE"
                with m.Elif(byte_done):
                    m.d.comb += [tx_next.eq(status), crc_input.eq(status)]
                    m.d.sync += [crc.eq(crc_next), byte_idx.eq(0)]
                    with m.If(is_read & (status == proto.Status.OK)):
                        m.next = "SEND_DATA"
                    with m.Else():
                        m.next = "SEND_CRC_HI"

            with m.State("SEND_DATA"):
                word_byte = rd.data.word_select(~byte_idx, 8)  # big-endian: MSB first
                with m.If(abort_now):
                    m.d.comb += abort.eq(1)
                    m.next = "IDLE"
                with m.Elif(byte_done):
                    m.d.comb += [tx_next.eq(word_byte), crc_input.eq(word_byte)]
                    m.d.sync += [crc.eq(crc_next), byte_idx.eq(byte_idx + 1)]
                    with m.If(byte_idx == 3):
                        m.d.sync += word_idx.eq(word_idx + 1)
                        with m.If(word_idx == last_word):
                            m.next = "SEND_CRC_HI"

            with m.State("SEND_CRC_HI"):
                with m.If(abort_now):
                    m.d.comb += abort.eq(1)
                    m.next = "IDLE"
                with m.Elif(byte_done):
                    m.d.comb += tx_next.eq(crc[8:])
                    m.next = "SEND_CRC_LO"

            with m.State("SEND_CRC_LO"):
                with m.If(abort_now):
                    m.d.comb += abort.eq(1)
                    m.next = "IDLE"
                with m.Elif(byte_done):
                    m.d.comb += tx_next.eq(crc[:8])
                    m.next = "FINAL_BYTE"

            with m.State("FINAL_BYTE"):
                # The host is clocking out the CRC's low byte; the transaction ends with it.
                with m.If(abort_now):
                    m.d.comb += abort.eq(1)
                    m.next = "IDLE"
                with m.Elif(byte_done):
                    m.next = "IDLE"

        with m.If(abort):
            m.d.sync += tx_shift.eq(proto.WAIT)
        return m

