"""MDIO management master: IEEE 802.3 clause 22 read and write frames to the Ethernet PHY."""

import math
from fractions import Fraction

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import cdc, wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import MDIO_OP_READ, MDIO_OP_WRITE, STAGEBOX_MAP

from ..regbank import block_signature

__all__ = ["MdioMaster", "mdc_half_period", "FRAME_BITS", "DRIVEN_READ_BITS"]

#: Bits of a clause 22 frame: preamble 32, ST 2, OP 2, PHYAD 5, REGAD 5, TA 2, data 16.
FRAME_BITS = 64
#: Bits of a read frame the master drives (preamble to REGAD); it releases MDIO for TA and data.
DRIVEN_READ_BITS = 46
#: Fastest MDC IEEE 802.3 (22.2.2.11) allows.
MAX_MDC_HZ = 2_500_000
#: Longest delay from the MDC rising edge to valid read data the PHY may take (22.3.4).
PHY_MAX_DELAY_S = Fraction(300, 10**9)
#: System cycles between MDIO at the pin and the sample of it, synchronizer included (rounded up).
SAMPLE_LATENCY = 3


def mdc_half_period(sys_clk_hz, mdc_hz=MAX_MDC_HZ):
    """System cycles MDC stays high (and low).

    Rounded up, so MDC never exceeds `mdc_hz`; and at slow system clocks made longer still, so
    that one MDC period minus the `SAMPLE_LATENCY` covers the PHY's read data delay.
    """
    if sys_clk_hz <= 0:
        raise ValueError(f"sys_clk_hz {sys_clk_hz} must be positive")
    if not 0 < mdc_hz <= MAX_MDC_HZ:
        raise ValueError(f"mdc_hz {mdc_hz} is outside 0 .. {MAX_MDC_HZ} Hz (IEEE 802.3)")
    half = max(math.ceil(Fraction(sys_clk_hz) / (2 * Fraction(mdc_hz))),
               math.ceil((PHY_MAX_DELAY_S * sys_clk_hz + SAMPLE_LATENCY) / 2))
    if 2 * half >= 1 << 32:
        raise ValueError(f"MDC divider {2 * half} does not fit MAC_MDIO_DIVIDER")
    return half


class MdioMaster(wiring.Component):
    """Runs one clause 22 frame per MAC_MDIO_COMMAND write.

    Clock domain ``sync``. Pins: ``mdc``, ``mdio_o`` / ``mdio_oe`` (the tristate driver; the
    line idles released, pulled high on the board) and ``mdio_i`` (synchronized here).

    MDC is low for `half` cycles then high for `half` cycles per bit, with the rising edge in the
    middle of the bit, where the PHY samples. The master changes MDIO at the falling edge (setup
    and hold are half a period each), and samples read data in the last cycle before the next
    rising edge: through the two-flop synchronizer that is one MDC period minus about three
    system cycles after the PHY saw the rising edge, which must cover its clock-to-output delay
    (at most 300 ns per 802.3; at 2.5 MHz and 125 MHz, 376 ns are available; `mdc_half_period`
    slows MDC below `mdc_hz` where the system clock is too slow for that). In a read the
    master releases MDIO for the turnaround and the data bits. Every frame ends with one more MDC
    clock with MDIO released (as Linux's mdio-bitbang does), so a PHY that holds the last read
    bit until the next rising edge has let go before the master may drive again; BUSY stays high
    through it. Idle: MDC low, MDIO released.

    A command written while busy, or with an OP other than 1 (write) or 2 (read), is ignored and
    counted in MAC_MDIO_ERRORS (saturating). READ_DATA changes only when a read completes.
    """

    def __init__(self, sys_clk_hz, mdc_hz=MAX_MDC_HZ, regmap=STAGEBOX_MAP):
        self.half = mdc_half_period(sys_clk_hz, mdc_hz)
        self.divider = 2 * self.half
        super().__init__({
            "regs": Out(block_signature(regmap.block("MAC"), prefix="MDIO_")),
            "mdc": Out(1),
            "mdio_i": In(1, init=1),
            "mdio_o": Out(1),
            "mdio_oe": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        regs = self.regs
        command = regs.mdio_command

        mdio_i = Signal(init=1)
        m.submodules.mdio_sync = cdc.FFSynchronizer(self.mdio_i, mdio_i, init=1)

        busy = Signal()
        high = Signal()                              # MDC level
        timer = Signal(range(self.half))
        bit = Signal(range(FRAME_BITS + 1))
        tx = Signal(FRAME_BITS)                      # MSB goes out first
        oe = Signal(FRAME_BITS)                      # per bit: the master drives MDIO
        rx = Signal(16)
        read = Signal()
        read_data = Signal(16)
        errors = Signal(16)

        m.d.comb += [
            self.mdc.eq(high),
            self.mdio_o.eq(tx[-1]),
            self.mdio_oe.eq(oe[-1]),
            regs.mdio_status.busy.eq(busy),
            regs.mdio_status.read_data.eq(read_data),
            regs.mdio_divider.eq(self.divider),
            regs.mdio_errors.eq(errors),
        ]

        is_write = command.op == MDIO_OP_WRITE
        is_read = command.op == MDIO_OP_READ
        # Frame fields, least significant first for Cat: data, TA, REGAD, PHYAD, OP, ST, preamble.
        write_frame = Cat(command.data, Const(0b10, 2), command.reg, command.phy,
                          Const(MDIO_OP_WRITE, 2), Const(0b01, 2), Const(-1, 32))
        read_frame = Cat(Const(0, 18), command.reg, command.phy,
                         Const(MDIO_OP_READ, 2), Const(0b01, 2), Const(-1, 32))
        read_oe = Const(((1 << DRIVEN_READ_BITS) - 1) << (FRAME_BITS - DRIVEN_READ_BITS),
                        FRAME_BITS)

        rejected = regs.mdio_command_stb & (busy | ~(is_write | is_read))
        with m.If(rejected & ~errors.all()):
            m.d.sync += errors.eq(errors + 1)

        with m.If(~busy):
            with m.If(regs.mdio_command_stb & (is_write | is_read)):
                m.d.sync += [
                    busy.eq(1), timer.eq(self.half - 1), bit.eq(0), read.eq(is_read),
                ]
                with m.If(is_write):
                    m.d.sync += [tx.eq(write_frame), oe.eq(Const(-1, FRAME_BITS))]
                with m.Else():
                    m.d.sync += [tx.eq(read_frame), oe.eq(read_oe)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [timer.eq(self.half - 1), high.eq(~high)]
            with m.If(~high):                        # rising edge: sample read data
                m.d.sync += rx.eq(Cat(mdio_i, rx[:-1]))
            with m.Elif(bit == FRAME_BITS):          # falling edge after the idle clock
                m.d.sync += busy.eq(0)
            with m.Else():                           # falling edge: next bit (zeros shift in)
                m.d.sync += [bit.eq(bit + 1), tx.eq(tx << 1), oe.eq(oe << 1)]
                with m.If(read & (bit == FRAME_BITS - 1)):
                    m.d.sync += read_data.eq(rx)
        return m
