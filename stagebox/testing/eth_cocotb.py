"""cocotb support shared by the Ethernet testbenches (tests/cocotb/phy_tb.py, port_tb.py,
timestamp_tb.py): per-interface facts, reference frames, the PHY model (cocotbext-eth, or
`rmii_model` for RMII) attached to a test top's pins, and a feeder for a ``tx`` stream.

Test tops expose flat ports: ``rxd``, ``rx_dv`` (``crs_dv`` on RMII), ``rx_er``, ``txd``,
``tx_en``, ``tx_er`` (not on RMII), ``clk_n`` (inverted clock, see `tx_sink`), and for the
``tx`` stream ``tx_valid``, ``tx_ready``, ``tx_payload`` (a packed `FrameByte`).
"""

import struct
import zlib

from cocotb.triggers import FallingEdge, ReadOnly
from cocotbext.eth import GmiiSink, GmiiSource, MiiSink, MiiSource

from stagebox.gateware.eth.interface import (
    FCS_BYTES,
    MIN_FRAME,
    PREAMBLE,
    PREAMBLE_BYTES,
    SFD,
)
from stagebox.gateware.eth.port import PHY_TYPES

from .rmii_model import RmiiSink, RmiiSource

__all__ = ["CLOCK_PERIOD_PS", "WIRE_PREAMBLE", "MIN_DATA", "symbol_bits", "wire_bytes",
           "rx_source", "tx_sink", "feed_frame"]

#: Interface clock periods: GMII 125 MHz, MII 25 MHz, RMII 50 MHz (REF_CLK).
CLOCK_PERIOD_PS = {"gmii": 8_000, "mii": 40_000, "rmii": 20_000}
WIRE_PREAMBLE = bytes([PREAMBLE] * PREAMBLE_BYTES + [SFD])
#: Smallest frame without its FCS: shorter ones are padded to this.
MIN_DATA = MIN_FRAME - FCS_BYTES


def symbol_bits(kind):
    return PHY_TYPES[kind][2]


def wire_bytes(payload):
    """Preamble, SFD, payload padded to `MIN_DATA`, and its FCS (least significant byte
    first), computed with zlib as an independent reference."""
    payload = payload.ljust(MIN_DATA, b"\0")
    return WIRE_PREAMBLE + payload + struct.pack("<I", zlib.crc32(payload))


def rx_source(dut, kind):
    """The PHY model that drives the test top's receive pins."""
    if kind == "gmii":
        return GmiiSource(dut.rxd, dut.rx_er, dut.rx_dv, dut.clk)
    if kind == "mii":
        return MiiSource(dut.rxd, dut.rx_er, dut.rx_dv, dut.clk)
    return RmiiSource(dut.rxd, dut.rx_er, dut.crs_dv, dut.clk)


def tx_sink(dut, kind):
    """The PHY model that receives from the transmit pins.

    The sinks sample at the rising edge of ``clk_n``, mid-cycle: read right at a rising edge of
    ``clk``, Verilator shows the registers' new values, and a sink that wakes up on TX_EN rising
    would miss the first symbol. (cocotbext-eth 0.1.28's GmiiSink still drops the first
    preamble byte of each frame.)
    """
    if kind == "gmii":
        return GmiiSink(dut.txd, dut.tx_er, dut.tx_en, dut.clk_n)
    if kind == "mii":
        return MiiSink(dut.txd, dut.tx_er, dut.tx_en, dut.clk_n)
    return RmiiSink(dut.txd, None, dut.tx_en, dut.clk_n)


async def feed_frame(dut, payload):
    """Offer one frame on the ``tx`` stream without gaps: inputs change mid-cycle (at the
    falling edge), a byte is taken at the rising edge that ends a cycle with ``tx_ready`` high.
    ``tx_valid`` stays high until the frame's last byte is taken; the caller decides the gap."""
    words = [byte | (i == 0) << 8 | (i == len(payload) - 1) << 9
             for i, byte in enumerate(payload)]
    position = 0
    while position < len(words):
        await FallingEdge(dut.clk)
        dut.tx_valid.value, dut.tx_payload.value = 1, words[position]
        await ReadOnly()
        if int(dut.tx_ready.value):
            position += 1
