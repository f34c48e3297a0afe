"""One Ethernet port: a PHY interface's adapters and the MAC, pins on one side, frames on the other.

`EthernetPort` puts the receive adapter and `MacRx` in the receive clock domain and `MacTx` and
the transmit adapter in the transmit clock domain, and wires them together: the receive adapter's
byte bus feeds `MacRx`, `MacTx`'s byte bus feeds the transmit adapter, and the transmit adapter's
byte clock enable (``ce``) paces `MacTx`.

RGMII (`rgmii`) is the one interface whose pins the port does not take directly: the board's
DDR registers turn them into the single-data-rate signals the port takes (`DDR_PHY_TYPES`).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .gmii import GmiiRx, GmiiTx
from .interface import frame_stream
from .mac_rx import MacRx
from .mac_tx import MacTx
from .mii import MiiRx, MiiTx
from .rgmii import RgmiiRx, RgmiiTx
from .rmii import RmiiRx, RmiiTx

__all__ = ["EthernetPort", "PHY_TYPES", "DDR_PHY_TYPES", "ALL_PHY_TYPES", "RX_STATUS", "TX_STATUS"]

#: phy -> (receive adapter, transmit adapter, symbol width, receive domain, transmit domain).
PHY_TYPES = {
    "gmii": (GmiiRx, GmiiTx, 8, "eth_rx", "eth_tx"),
    "mii": (MiiRx, MiiTx, 4, "eth_rx", "eth_tx"),
    "rmii": (RmiiRx, RmiiTx, 2, "eth", "eth"),
}
#: The same, for interfaces behind the board's DDR registers (the width is the SDR side's).
DDR_PHY_TYPES = {
    "rgmii": (RgmiiRx, RgmiiTx, 8, "eth_rx", "eth_tx"),
}
ALL_PHY_TYPES = PHY_TYPES | DDR_PHY_TYPES

#: The receive status pulses, in this order (``dribble`` only for MII and RMII).
RX_STATUS = ("sfd", "frame_ok", "crc_error", "runt", "giant", "phy_error", "preamble_error",
             "dribble")
#: The transmit status pulses, in this order.
TX_STATUS = ("sfd", "underrun", "oversize")


def _pin_names(phy):
    """The pins of `phy`'s adapters (receive, transmit), which the port exposes as they are."""
    if phy == "rgmii":
        return ("rxd", "rx_ctl_rise", "rx_ctl_fall"), ("txd", "tx_ctl_rise", "tx_ctl_fall")
    dv_pin = "crs_dv" if phy == "rmii" else "rx_dv"
    tx_pins = ("txd", "tx_en") if phy == "rmii" else ("txd", "tx_en", "tx_er")
    return ("rxd", dv_pin, "rx_er"), tx_pins


class EthernetPort(wiring.Component):
    """A MAC with the PHY adapters of one interface type, `phy` in ``"gmii"``, ``"mii"``,
    ``"rmii"``, ``"rgmii"`` (1 Gbit/s; the SDR side of the board's DDR registers, see `rgmii`).

    Clock domains: GMII and MII receive in ``eth_rx`` (the PHY's RX_CLK: 125 MHz for GMII,
    25 MHz for MII at 100 Mbit/s) and transmit in ``eth_tx`` (GMII: GTX_CLK, 125 MHz, from the
    FPGA; MII: the PHY's TX_CLK, 25 MHz). RMII runs both halves in ``eth``, the 50 MHz
    REF_CLK shared by the PHY and the FPGA. RGMII: ``eth_rx`` (RXC) and ``eth_tx`` (TXC's
    source), 125 MHz. Rename them with `DomainRenamer`.

    Ports:

    - PHY pins, with the adapters' names: ``rxd``, ``rx_dv`` (RMII: ``crs_dv``), ``rx_er``
      (in, receive domain); ``txd``, ``tx_en``, ``tx_er`` (out, transmit domain; RMII has no
      ``tx_er``). Widths: 8 (GMII), 4 (MII), 2 (RMII) data bits. RGMII: ``rxd`` (8),
      ``rx_ctl_rise``, ``rx_ctl_fall`` (in); ``txd`` (8), ``tx_ctl_rise``, ``tx_ctl_fall``
      (out): `RgmiiRx` / `RgmiiTx`'s, which say what the board's DDR registers must deliver.
    - ``rx`` (out, `frame_stream` with ``always_ready``, receive domain): received frames from
      the destination address on, FCS stripped; ``error`` on the ``last`` byte marks a frame
      that must be dropped whole (see `MacRx`).
    - ``tx`` (in, `frame_stream`, transmit domain): frames to send, from the destination address
      on, without FCS; shorter than 60 bytes are padded (see `MacTx`).
    - ``status`` (out): one-cycle pulses for timestamps and statistics.
      ``status.rx`` (receive domain): ``sfd``, ``frame_ok``, ``crc_error``, ``runt``, ``giant``,
      ``phy_error`` (RGMII: RX_CTL's two halves differ while RX_DV is high),
      ``preamble_error`` (`MacRx`'s: exactly one of the last six per frame),
      and for MII/RMII ``dribble`` (the frame ended with a partial byte, which was dropped; high
      in the same cycle as that frame's judgement pulse). RGMII adds ``status.inband``
      (``link``, ``speed``, ``full_duplex``: the PHY's in-band status, receive domain, levels;
      see `RgmiiRx`). ``status.tx`` (transmit domain):
      ``sfd``, ``underrun``, ``oversize`` (`MacTx`'s).

    Latencies, in cycles of the domain concerned:

    - RX SFD: ``status.rx.sfd`` is high in the cycle that starts ``SFD_LATENCY + 1`` cycles after
      the clock edge at which the SFD's last symbol was sampled at the pins (the receive
      adapter's `SFD_LATENCY`: GMII 0, MII 2, RMII 5; plus one for `MacRx`), so
      ``timestamp - (SFD_LATENCY + 1)`` cycles is the SFD's time at the pins. RGMII: the same
      (0 + 1) from the SDR side; subtract the board's RX latency too (see `rgmii`).
    - RX data: a frame's ``last`` byte leaves on ``rx``, with its judgement pulse, one cycle
      after the adapter's bus shows the frame's end (dv low).
    - TX SFD: the SFD's first symbol is on ``txd`` in the cycle that starts ``PIN_LATENCY``
      (1) cycles after the cycle in which ``status.tx.sfd`` is high. RGMII: on the SDR side;
      the board's TX latency comes on top.

    Hazards:

    - ``rx`` has no backpressure (the wire does not wait): a consumer must take a byte in every
      cycle ``valid`` is high; put a FIFO or a frame buffer right behind the port.
    - ``tx`` frames must be delivered without gaps: once ``valid`` rises for a frame it must stay
      high in every cycle ``ready`` is high up to ``last``, or the frame is cut (``underrun``)
      and sent with a TX_ER byte (RMII: cut short, so its FCS fails). Feed ``tx`` from a buffer
      that holds whole frames.
    - MII/RMII receive needs at least one byte time between frames (802.3 gives twelve).
    """

    def __init__(self, phy):
        if phy not in ALL_PHY_TYPES:
            raise ValueError(f"phy must be one of {sorted(ALL_PHY_TYPES)}, not {phy!r}")
        self.phy = phy
        _, _, width, self.rx_domain, self.tx_domain = ALL_PHY_TYPES[phy]
        self._rx_pins, self._tx_pins = _pin_names(phy)
        self._dribble = phy in ("mii", "rmii")
        rx_status = [name for name in RX_STATUS if name != "dribble" or self._dribble]
        members = {name: In(width if name == "rxd" else 1) for name in self._rx_pins}
        members.update({name: Out(width if name == "txd" else 1) for name in self._tx_pins})
        status = {
            "rx": Out(wiring.Signature({name: Out(1) for name in rx_status})),
            "tx": Out(wiring.Signature({name: Out(1) for name in TX_STATUS})),
        }
        #: Whether the interface carries the PHY's link status in band (RGMII).
        self.inband = phy == "rgmii"
        if self.inband:
            status["inband"] = Out(wiring.Signature({
                "link": Out(1), "speed": Out(2), "full_duplex": Out(1)}))
        members.update({
            "rx": Out(frame_stream(always_ready=True)),
            "tx": In(frame_stream()),
            "status": Out(wiring.Signature(status)),
        })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        rx_cls, tx_cls, _, rx_dom, tx_dom = ALL_PHY_TYPES[self.phy]
        m.submodules.rx_phy = rx_phy = rx_cls(domain=rx_dom)
        m.submodules.mac_rx = mac_rx = MacRx(domain=rx_dom)
        m.submodules.mac_tx = mac_tx = MacTx(domain=tx_dom)
        m.submodules.tx_phy = tx_phy = tx_cls(domain=tx_dom)

        # Receive: pins -> adapter -> MAC -> rx.
        m.d.comb += [getattr(rx_phy, name).eq(getattr(self, name)) for name in self._rx_pins]
        wiring.connect(m, rx_phy.bus, mac_rx.phy)
        wiring.connect(m, mac_rx.source, wiring.flipped(self.rx))
        if self.inband:
            inband = self.status.inband
            m.d.comb += [inband.link.eq(rx_phy.link), inband.speed.eq(rx_phy.speed),
                         inband.full_duplex.eq(rx_phy.full_duplex)]
        status_rx = self.status.rx
        m.d.comb += [getattr(status_rx, name).eq(getattr(mac_rx, name))
                     for name in RX_STATUS if name != "dribble"]
        if self._dribble:
            # The adapter flags the partial byte with the dv-low byte that ends the frame; the
            # MAC judges the frame a cycle later. Delay it to that cycle.
            dribble = Signal()
            m.d[rx_dom] += dribble.eq(rx_phy.dribble)
            m.d.comb += status_rx.dribble.eq(dribble)

        # Transmit: tx -> MAC -> adapter -> pins; the adapter's ce paces the MAC.
        wiring.connect(m, wiring.flipped(self.tx), mac_tx.sink)
        wiring.connect(m, mac_tx.phy, tx_phy.bus)
        m.d.comb += mac_tx.ce.eq(tx_phy.ce)
        m.d.comb += [getattr(self, name).eq(getattr(tx_phy, name)) for name in self._tx_pins]
        m.d.comb += [getattr(self.status.tx, name).eq(getattr(mac_tx, name))
                     for name in TX_STATUS]
        return m
