"""RGMII adapters (1 Gbit/s only): the single-data-rate side of the board's DDR registers.

RGMII carries GMII's byte per cycle on four data pins and one control pin per direction, at
both edges of a 125 MHz clock. The core is board-agnostic: the DDR input and output registers
(vendor IDDR/ODDR primitives) and the clock delays live in board code, which hands the core one
byte per cycle, in the clock domains ``eth_rx`` (RXC) and ``eth_tx`` (the 125 MHz TXC source).
`stagebox.testing.rgmii_ddr` is a simulation model of such board code.

Contract with the board, receive (``eth_rx``, clocked by RXC; RXC must be delayed 1.5-2 ns
against the data, by the PHY's RX delay or the board, so that both edges fall mid-bit):

- the pair delivered together is the RD[3:0]/RX_CTL sample at a rising edge of RXC and the
  sample at the falling edge that follows it: ``rxd[0:4]`` = RD at the rising edge (the low
  nibble travels first), ``rxd[4:8]`` = RD at the falling edge, ``rx_ctl_rise`` = RX_CTL at the
  rising edge (RX_DV), ``rx_ctl_fall`` = RX_CTL at the falling edge (RX_DV xor RX_ER). A DDR
  primitive that pairs the falling-edge sample with the *next* rising-edge sample must be
  re-paired by the board (hold the rising-edge half half a cycle longer).
- the adapter samples the pair at a rising edge of RXC; the board's RX latency is the number
  of RXC cycles from the rising edge that sampled the pair's first half at the pins to the
  rising edge at which the adapter samples the pair (at least 1: the second half is sampled
  half a cycle after the first). It adds to the timestamp compensation (see `RgmiiRx`).

Transmit (``eth_tx``; TXC must reach the PHY 1.5-2 ns after the data: a 90 degree shifted TXC
or the PHY's TX delay):

- the adapter drives ``txd``, ``tx_ctl_rise`` and ``tx_ctl_fall`` from registers (the latter
  through one XOR); the board's DDR output register takes the byte at a rising edge and drives
  TD[3:0] = ``txd[0:4]``, TX_CTL = ``tx_ctl_rise`` (TX_EN) from that edge, then TD[3:0] =
  ``txd[4:8]``, TX_CTL = ``tx_ctl_fall`` (TX_EN xor TX_ER) from the following falling edge.
- the board's TX latency is the number of cycles from the rising edge that starts the cycle in
  which the byte is on ``txd`` to the rising edge at which its low nibble is launched at the
  pins (a same-edge ODDR that samples both halves at one rising edge: 1).

10 and 100 Mbit/s over RGMII (one nibble per 2.5/25 MHz cycle, the same nibble on both edges)
are not handled here; the in-band status that the PHY may send between frames (link, clock
speed, duplex) is decoded by `RgmiiRx`.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .gmii import GmiiRx, GmiiTx
from .interface import PhyBusSignature

__all__ = ["RgmiiRx", "RgmiiTx", "INBAND_SPEED"]

#: In-band status ``speed`` code -> RXC frequency in Hz (RGMII 2.0; code 3 is reserved).
INBAND_SPEED = {0: 2_500_000, 1: 25_000_000, 2: 125_000_000}


class RgmiiRx(wiring.Component):
    """SDR side of the RGMII receive pins to the byte bus, in `domain` (default ``eth_rx``).

    Ports (inputs sampled at each rising edge, see the module docstring for what the board
    delivers): ``rxd`` (8), ``rx_ctl_rise``, ``rx_ctl_fall``; ``bus`` (a byte every cycle,
    ``valid`` always high, ``dv`` = ``rx_ctl_rise``, ``er`` = ``rx_ctl_rise`` xor
    ``rx_ctl_fall``, as `GmiiRx` gives them); ``sfd`` (high with the first 0xD5 byte after dv
    rose); in-band status, registered: ``link``, ``speed`` (see `INBAND_SPEED`),
    ``full_duplex``.

    The decoded byte goes through `GmiiRx`, so a byte is on the bus in the cycle after the edge
    that sampled it. The in-band status follows ``rxd[0:4]`` (bit 0 link, bits 1-2 speed, bit 3
    duplex) in every cycle with both ctl halves low, a cycle later; it holds in other cycles.

    Hazard: in-band status is optional in RGMII (many PHYs send it only when enabled through
    MDIO); without it ``rxd`` is arbitrary between frames, so these outputs mean nothing.
    """

    #: ``sfd`` is high in the cycle that starts `SFD_LATENCY` cycles after the rising edge at
    #: which the adapter sampled the SFD's pair; the SFD at the pins (the rising edge that
    #: sampled its low nibble) is the board's RX latency earlier still.
    SFD_LATENCY = GmiiRx.SFD_LATENCY

    def __init__(self, *, domain="eth_rx"):
        self._domain = domain
        super().__init__({
            "rxd": In(8),
            "rx_ctl_rise": In(1),
            "rx_ctl_fall": In(1),
            "bus": Out(PhyBusSignature()),
            "sfd": Out(1),
            "link": Out(1),
            "speed": Out(2),
            "full_duplex": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.gmii = gmii = GmiiRx(domain=self._domain)
        m.d.comb += [
            gmii.rxd.eq(self.rxd),
            gmii.rx_dv.eq(self.rx_ctl_rise),
            gmii.rx_er.eq(self.rx_ctl_rise ^ self.rx_ctl_fall),
            self.sfd.eq(gmii.sfd),
        ]
        wiring.connect(m, gmii.bus, wiring.flipped(self.bus))
        # ctl 0/1 (false carrier, carrier extension, LPI) also uses rxd: only 0/0 is status.
        with m.If(~self.rx_ctl_rise & ~self.rx_ctl_fall):
            m.d[self._domain] += [
                self.link.eq(self.rxd[0]),
                self.speed.eq(self.rxd[1:3]),
                self.full_duplex.eq(self.rxd[3]),
            ]
        return m


class RgmiiTx(wiring.Component):
    """Byte bus to the SDR side of the RGMII transmit pins, in `domain` (default ``eth_tx``).

    Ports: ``bus`` (a byte every cycle), ``ce`` (always high: the MAC's byte clock enable),
    ``txd`` (8), ``tx_ctl_rise`` (TX_EN), ``tx_ctl_fall`` (TX_EN xor TX_ER). A byte taken in
    one cycle is on ``txd`` in the next (`PIN_LATENCY`), as with `GmiiTx`; ``txd`` is zero and
    both ctl halves are low between frames. The board's TX latency comes on top.
    """

    PIN_LATENCY = GmiiTx.PIN_LATENCY

    def __init__(self, *, domain="eth_tx"):
        self._domain = domain
        super().__init__({
            "bus": In(PhyBusSignature()),
            "ce": Out(1),
            "txd": Out(8),
            "tx_ctl_rise": Out(1),
            "tx_ctl_fall": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.gmii = gmii = GmiiTx(domain=self._domain)
        wiring.connect(m, wiring.flipped(self.bus), gmii.bus)
        m.d.comb += [
            self.ce.eq(gmii.ce),
            self.txd.eq(gmii.txd),
            self.tx_ctl_rise.eq(gmii.tx_en),
            self.tx_ctl_fall.eq(gmii.tx_en ^ gmii.tx_er),
        ]
        return m
