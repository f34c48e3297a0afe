"""RMII adapters (RMII 1.2, 100 Mbit/s: 2-bit dibits, least significant first, on the 50 MHz
REF_CLK). Both halves run in the REF_CLK domain (default ``eth``). 10 Mbit/s is not supported.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .interface import PhyBusSignature
from .phy import SymbolRx, SymbolTx

__all__ = ["RmiiRx", "RmiiTx"]


class RmiiRx(wiring.Component):
    """RMII receive pins to the byte bus, in `domain` (default ``eth``).

    Ports: ``rxd``, ``crs_dv``, ``rx_er`` (pins, registered once); ``bus`` (a byte every fourth
    cycle, between frames too, with ``dv`` low); ``sfd`` (high with the SFD byte); ``dribble``
    (high with the first ``dv``-low byte after a frame that did not end on a byte boundary; the
    partial byte is dropped).

    CRS_DV multiplexes carrier sense and data valid. A frame starts at the first non-zero dibit
    while CRS_DV is high (the PHY sends 00 from carrier detection until the preamble). When the
    carrier drops before the PHY has sent all data, CRS_DV toggles (low on the first, high on
    the second dibit of each nibble) while data continues; so a dibit belongs to the frame while
    CRS_DV is high at it or at the next dibit, and the frame ends at the first dibit after which
    CRS_DV has been low for two cycles. This costs one cycle of look-ahead. Bytes start at the
    first preamble dibit and are re-aligned on the SFD's ``01 11`` dibits; frames must be one
    byte time (four cycles of CRS_DV low) apart. See `SymbolRx`.
    """

    #: ``sfd`` is high in the cycle that starts `SFD_LATENCY` cycles after the rising edge of
    #: REF_CLK at which the SFD's last dibit (11) was sampled at the pins.
    SFD_LATENCY = 5

    def __init__(self, *, domain="eth"):
        self._domain = domain
        super().__init__({
            "rxd": In(2),
            "crs_dv": In(1),
            "rx_er": In(1),
            "bus": Out(PhyBusSignature()),
            "sfd": Out(1),
            "dribble": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        d = m.d[self._domain]
        m.submodules.symbols = symbols = SymbolRx(2, domain=self._domain)

        # Stage 1: the pins; stage 2: the dibit being decided, with stage 1 as look-ahead.
        rxd1, crs1, er1 = Signal(2), Signal(), Signal()
        rxd2, crs2, er2 = Signal(2), Signal(), Signal()
        d += [rxd1.eq(self.rxd), crs1.eq(self.crs_dv), er1.eq(self.rx_er),
              rxd2.eq(rxd1), crs2.eq(crs1), er2.eq(er1)]

        in_frame = Signal()
        dv = Signal()
        with m.If(in_frame):
            m.d.comb += dv.eq(crs2 | crs1)
        with m.Else():
            m.d.comb += dv.eq(crs2 & (rxd2 != 0))
        d += in_frame.eq(dv)

        m.d.comb += [
            symbols.sym.eq(rxd2),
            symbols.sym_dv.eq(dv),
            symbols.sym_er.eq(er2 & dv),
            self.sfd.eq(symbols.sfd),
            self.dribble.eq(symbols.dribble),
        ]
        wiring.connect(m, wiring.flipped(self.bus), symbols.bus)
        return m


class RmiiTx(SymbolTx):
    """Byte bus to RMII transmit pins, in `domain` (default ``eth``).

    Ports: ``bus``, ``ce`` (high every fourth cycle: the MAC's byte clock enable), ``txd``,
    ``tx_en``. RMII has no TX_ER: a byte's ``er`` is ignored (a MAC that must abort a frame
    corrupts its FCS instead). A byte taken in a ``ce`` cycle goes out over the next four
    cycles, bits 1:0 first. See `SymbolTx`.
    """

    def __init__(self, *, domain="eth"):
        super().__init__(2, domain=domain, has_er=False)
