"""MII adapters (100 or 10 Mbit/s: 4-bit nibbles at 25 or 2.5 MHz, low nibble first).

RX_CLK and TX_CLK both come from the PHY; the receive half runs on RX_CLK (domain ``eth_rx``),
the transmit half on TX_CLK (domain ``eth_tx``), and both sample or update on the rising edge.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .interface import PhyBusSignature
from .phy import SymbolRx, SymbolTx

__all__ = ["MiiRx", "MiiTx"]


class MiiRx(wiring.Component):
    """MII receive pins to the byte bus, in `domain` (default ``eth_rx``).

    Ports: ``rxd``, ``rx_dv``, ``rx_er`` (pins, registered once); ``bus`` (a byte every second
    cycle, between frames too, with ``dv`` low); ``sfd`` (high with the SFD byte); ``dribble``
    (high with the first ``dv``-low byte after a frame that ended with an odd number of nibbles;
    the odd nibble is dropped).

    Bytes start with the first nibble after ``rx_dv`` rises and are re-aligned on the SFD nibble
    pair (5, D), so a PHY that delivers an odd number of preamble nibbles still gives aligned
    data (with one 0x55 byte fewer). Frames must be one byte time (two cycles of ``rx_dv`` low)
    apart. See `SymbolRx`.
    """

    #: ``sfd`` is high in the cycle that starts `SFD_LATENCY` cycles after the rising edge at
    #: which the SFD's last nibble (D) was sampled at the pins.
    SFD_LATENCY = 2

    def __init__(self, *, domain="eth_rx"):
        self._domain = domain
        super().__init__({
            "rxd": In(4),
            "rx_dv": In(1),
            "rx_er": In(1),
            "bus": Out(PhyBusSignature()),
            "sfd": Out(1),
            "dribble": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        d = m.d[self._domain]
        m.submodules.symbols = symbols = SymbolRx(4, domain=self._domain)
        rxd, rx_dv, rx_er = Signal(4), Signal(), Signal()
        d += [rxd.eq(self.rxd), rx_dv.eq(self.rx_dv), rx_er.eq(self.rx_er)]
        m.d.comb += [
            symbols.sym.eq(rxd),
            symbols.sym_dv.eq(rx_dv),
            symbols.sym_er.eq(rx_er),
            self.sfd.eq(symbols.sfd),
            self.dribble.eq(symbols.dribble),
        ]
        wiring.connect(m, wiring.flipped(self.bus), symbols.bus)
        return m


class MiiTx(SymbolTx):
    """Byte bus to MII transmit pins, in `domain` (default ``eth_tx``).

    Ports: ``bus``, ``ce`` (high every second cycle: the MAC's byte clock enable), ``txd``,
    ``tx_en``, ``tx_er``. A byte taken in a ``ce`` cycle goes out as its low nibble in the next
    cycle and its high nibble in the one after. See `SymbolTx`.
    """

    def __init__(self, *, domain="eth_tx"):
        super().__init__(4, domain=domain)
