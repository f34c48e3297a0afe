"""Simulation model of a board's RGMII DDR registers (what IDDR/ODDR primitives do), for tests.

Not for synthesis: the transmit pins are multiplexed by the clock itself, which an FPGA does
inside its ODDR primitive. Board code replaces this with vendor primitives that keep the same
pairing and, ideally, the same latencies (`RgmiiDdr.RX_LATENCY`, `RgmiiDdr.TX_LATENCY`).
"""

from amaranth.hdl import Cat, ClockDomain, ClockSignal, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RgmiiDdr"]


class RgmiiDdr(wiring.Component):
    """RGMII pins on one side, the SDR side that `RgmiiRx` / `RgmiiTx` take on the other.

    Clock domains: receive in `rx_domain` (RXC, sampled as it arrives: the source must hold the
    data around both edges, as a PHY with RX delay does), transmit in `tx_domain` (TXC). Each
    also gets a falling-edge domain of its own, on the same clock.

    Pins: ``rd`` (4), ``rx_ctl`` (in); ``td`` (4), ``tx_ctl``, ``txc`` (out: TXC, edge-aligned
    with ``td``/``tx_ctl``, so the PHY must delay it, RGMII-ID style). SDR side: ``rxd`` (8),
    ``rx_ctl_rise``, ``rx_ctl_fall`` (out, `rx_domain`); ``txd`` (8), ``tx_ctl_rise``,
    ``tx_ctl_fall`` (in, `tx_domain`).

    Receive: RD/RX_CTL are sampled at each rising edge and again at the falling edge after it;
    at that falling edge both halves move into the SDR registers together, so the pair whose
    first half was sampled at rising edge R is sampled by the adapter at R + 1 cycle
    (`RX_LATENCY`). Transmit: both halves are taken at a rising edge from the SDR side; the low
    nibble and ``tx_ctl_rise`` drive the pins from that edge, the high nibble and
    ``tx_ctl_fall`` from the falling edge after it. A byte on ``txd`` in the cycle that starts
    at edge E is launched at E + 1 cycle (`TX_LATENCY`).
    """

    #: Cycles from the rising edge that samples a pair's first half at the pins to the rising
    #: edge at which `RgmiiRx` samples the pair.
    RX_LATENCY = 1
    #: Cycles from the rising edge that starts a byte's cycle on ``txd`` to the rising edge
    #: that launches its low nibble at the pins.
    TX_LATENCY = 1

    def __init__(self, *, rx_domain="eth_rx", tx_domain="eth_tx"):
        self._rx_domain = rx_domain
        self._tx_domain = tx_domain
        super().__init__({
            "rd": In(4),
            "rx_ctl": In(1),
            "td": Out(4),
            "tx_ctl": Out(1),
            "txc": Out(1),
            "rxd": Out(8),
            "rx_ctl_rise": Out(1),
            "rx_ctl_fall": Out(1),
            "txd": In(8),
            "tx_ctl_rise": In(1),
            "tx_ctl_fall": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        rx, tx = self._rx_domain, self._tx_domain
        rx_fall, tx_fall = f"{rx}_ddr_fall", f"{tx}_ddr_fall"
        for source in {rx, tx}:          # one falling-edge domain when both are the same
            name = f"{source}_ddr_fall"
            m.domains += ClockDomain(name, clk_edge="neg", reset_less=True, local=True)
            m.d.comb += ClockSignal(name).eq(ClockSignal(source))

        rise_d = Signal(4)
        rise_ctl = Signal()
        m.d[rx] += [rise_d.eq(self.rd), rise_ctl.eq(self.rx_ctl)]
        m.d[rx_fall] += [
            self.rxd.eq(Cat(rise_d, self.rd)),
            self.rx_ctl_rise.eq(rise_ctl),
            self.rx_ctl_fall.eq(self.rx_ctl),
        ]

        # An ODDR's two halves: both taken at the rising edge, the second half passed to a
        # falling-edge register so that it holds until the next rising edge.
        lo = Signal(5)
        hi = Signal(5)
        hi_out = Signal(5)
        m.d[tx] += [
            lo.eq(Cat(self.txd[:4], self.tx_ctl_rise)),
            hi.eq(Cat(self.txd[4:], self.tx_ctl_fall)),
        ]
        m.d[tx_fall] += hi_out.eq(hi)
        out = Mux(ClockSignal(tx), lo, hi_out)
        m.d.comb += [
            self.td.eq(out[:4]),
            self.tx_ctl.eq(out[4]),
            self.txc.eq(ClockSignal(tx)),
        ]
        return m
