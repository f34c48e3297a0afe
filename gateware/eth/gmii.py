"""GMII adapters (1 Gbit/s, 8 bits per cycle at 125 MHz), also used for RGMII.

RGMII carries the same signals on half the pins at double data rate. The board code turns them
into the GMII-equivalent single-data-rate signals these adapters take, in the same clock domain:

- receive (DDR input registers clocked by RXC, the clock of domain ``eth_rx``): in each cycle,
  ``rxd[0:4]`` = RD[3:0] sampled at the rising edge of RXC, ``rxd[4:8]`` = RD[3:0] sampled at the
  following falling edge (the low nibble travels first); ``rx_dv`` = RX_CTL at the rising edge;
  ``rx_er`` = RX_CTL at the rising edge XOR RX_CTL at the falling edge. Both halves of a byte
  must arrive in the same cycle, so a DDR input primitive that delivers the falling-edge half a
  cycle late must be re-paired by the board code before it reaches ``rxd``.
- transmit (DDR output registers clocked by the clock of domain ``eth_tx``, 125 MHz): at the
  rising edge TD[3:0] = ``txd[0:4]`` and TX_CTL = ``tx_en``; at the falling edge TD[3:0] =
  ``txd[4:8]`` and TX_CTL = ``tx_en`` XOR ``tx_er``. TXC must reach the PHY 1.5-2 ns after the
  data (a 90 degree shifted clock, or the PHY's internal TX delay); RXC likewise for receive.
- 10/100 Mbit/s over RGMII carries one nibble per cycle at 2.5/25 MHz: use the MII adapters
  with ``rxd`` = RD[3:0] at the rising edge. Only 1 Gbit/s uses these adapters.
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
