"""GMII adapters (1 Gbit/s, 8 bits per cycle at 125 MHz), also used for RGMII.

RGMII is these adapters plus its control-signal decode: see `rgmii.py` for what the board's
DDR registers must deliver and for the RX_CTL/TX_CTL XOR (``er = ctl_rise ^ ctl_fall``). 10/100
Mbit/s over RGMII (one nibble per cycle at 2.5/25 MHz) is not supported.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .interface import SFD, PhyBusSignature
from .phy import SymbolTx

__all__ = ["GmiiRx", "GmiiTx"]


class GmiiRx(wiring.Component):
    """GMII receive pins to the byte bus, in `domain` (default ``eth_rx``, RX_CLK).

    Ports: ``rxd``, ``rx_dv``, ``rx_er`` (pins, sampled at each rising edge); ``bus`` (a byte
    every cycle: ``valid`` is always high; ``dv``/``er`` are the pins'); ``sfd`` (high with the
    first 0xD5 byte after ``rx_dv`` rose).

    The pins are registered once and that register is the bus, so a byte is on the bus in the
    cycle after the edge that sampled it. ``sfd`` is combinational from registers.
    """

    #: ``sfd`` is high in the cycle that starts `SFD_LATENCY` cycles after the rising edge at
    #: which the SFD was sampled at the pins: a timestamp counter read in the ``sfd`` cycle
    #: minus this many cycles is the SFD's time at the pins.
    SFD_LATENCY = 0

    def __init__(self, *, domain="eth_rx"):
        self._domain = domain
        super().__init__({
            "rxd": In(8),
            "rx_dv": In(1),
            "rx_er": In(1),
            "bus": Out(PhyBusSignature()),
            "sfd": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        d = m.d[self._domain]
        byte = self.bus.byte
        d += [byte.data.eq(self.rxd), byte.dv.eq(self.rx_dv), byte.er.eq(self.rx_er)]
        synced = Signal()
        m.d.comb += [
            self.bus.valid.eq(1),
            self.sfd.eq(byte.dv & ~synced & (byte.data == SFD)),
        ]
        d += synced.eq(byte.dv & (synced | self.sfd))
        return m


class GmiiTx(SymbolTx):
    """Byte bus to GMII transmit pins, in `domain` (default ``eth_tx``, GTX_CLK).

    Ports: ``bus`` (a byte every cycle; ``ce`` is always high), ``txd``, ``tx_en``, ``tx_er``
    (registered: a byte taken in one cycle is on the pins in the next, `PIN_LATENCY`).
    """

    def __init__(self, *, domain="eth_tx"):
        super().__init__(8, domain=domain)
