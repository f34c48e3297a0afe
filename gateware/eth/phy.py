"""Building blocks shared by the narrow PHY adapters (MII: 4-bit, RMII: 2-bit symbols).

`SymbolRx` assembles symbols into `PhyBus` bytes and finds the SFD; `SymbolTx` splits bytes
into symbols and paces the MAC with a byte clock enable. Both take one symbol per cycle of their
domain, least significant symbol of a byte first (IEEE 802.3 bit order). The interface adapters
(`mii`, `rmii`, `gmii`) add the pin registers and the interface's own signalling.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .interface import PREAMBLE, SFD, PhyBusSignature, PhyByte

__all__ = ["SymbolRx", "SymbolTx"]


class SymbolRx(wiring.Component):
    """Symbols to bytes, aligned on the start of a frame and re-aligned on the SFD.

    Inputs, one symbol per cycle of `domain`: ``sym``, ``sym_dv`` (the symbol belongs to a
    frame), ``sym_er``. A rising ``sym_dv`` starts a byte. Until the SFD has been seen, a
    preamble symbol followed by the SFD's last symbol (MII ``5, D``; RMII ``01, 11``) ends a
    byte wherever it falls, so a preamble of odd length (in symbols) still yields aligned data;
    the preamble byte under way when that happens is dropped, so bytes stay at least a byte
    time apart on the bus.

    Outputs (registered): ``bus`` carries a byte every ``8 // width`` cycles, also between
    frames (``dv`` low) so the MAC sees each frame end; the byte grid restarts at each frame's
    start and at the SFD, so the gap before those bytes can be longer (never shorter). A
    byte's ``dv`` is high when all its symbols were in the frame, ``er`` when any symbol had
    ``sym_er``. ``sfd`` is high together with the SFD byte. ``dribble`` is high together with
    the first ``dv``-low byte after a frame that ended with a partial byte (those symbols are
    dropped; 802.3 accepts such a frame if its FCS is good, so the MAC decides).

    Latency: `latency` (``8 // width``) cycles from the cycle a byte's last symbol is on
    ``sym`` to the cycle the byte is on ``bus``.

    Hazard: frames must be at least one byte time apart (``sym_dv`` low for ``8 // width``
    cycles); 802.3's inter-frame gap is many times that.
    """

    def __init__(self, width, *, domain):
        if width not in (2, 4):
            raise ValueError(f"SymbolRx takes 2- or 4-bit symbols, not {width}")
        self._width = width
        self._domain = domain
        #: Cycles from a symbol on ``sym`` to its byte on ``bus``.
        self.latency = 8 // width
        super().__init__({
            "sym": In(width),
            "sym_dv": In(1),
            "sym_er": In(1),
            "bus": Out(PhyBusSignature()),
            "sfd": Out(1),
            "dribble": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        d = m.d[self._domain]
        w, n = self._width, 8 // self._width
        pre_sym = PREAMBLE >> (8 - w)
        sfd_sym = SFD >> (8 - w)

        # The last n - 1 symbols, newest in the top bits (first on the wire = least significant).
        window = Signal(8 - w)
        win_dv = Signal(n - 1)
        win_er = Signal(n - 1)
        byte = Cat(window, self.sym)
        byte_dv = Cat(win_dv, self.sym_dv)
        byte_er = Cat(win_er, self.sym_er)
        d += [window.eq(byte[w:]), win_dv.eq(byte_dv[1:]), win_er.eq(byte_er[1:])]
        prev_sym = window[-w:]
        prev_dv = win_dv[-1]

        count = Signal(range(n))      # position of the next symbol in its byte
        synced = Signal()             # the SFD of the current frame has been seen
        index = Signal(range(n))
        sfd_hit = Signal()
        m.d.comb += [
            index.eq(Mux(self.sym_dv & ~prev_dv, 0, count)),
            sfd_hit.eq(self.sym_dv & prev_dv & ~synced
                       & (self.sym == sfd_sym) & (prev_sym == pre_sym)),
        ]
        complete = index == n - 1
        emit = complete | sfd_hit
        d += [
            count.eq(Mux(emit, 0, index + 1)),
            synced.eq(self.sym_dv & (synced | sfd_hit)),
        ]

        # A byte waits n - 1 cycles before it goes out, so that an SFD found off the byte grid
        # can still take the place of the preamble byte emitted less than a byte time before.
        pending = Signal(PhyByte)
        pending_valid = Signal()
        pending_sfd = Signal()
        pending_dribble = Signal()
        timer = Signal(range(max(n - 1, 1)))
        with m.If(emit):
            d += [
                pending.data.eq(byte),
                pending.dv.eq(byte_dv.all()),
                pending.er.eq(byte_er.any()),
                pending_sfd.eq(sfd_hit),
                pending_dribble.eq(byte_dv[0] & ~self.sym_dv),
                pending_valid.eq(1),
                timer.eq(n - 2),
            ]
        with m.Elif(timer != 0):
            d += timer.eq(timer - 1)
        with m.Else():
            d += pending_valid.eq(0)

        out = pending_valid & (timer == 0) & ~(sfd_hit & ~complete)
        d += [
            self.bus.valid.eq(out),
            self.bus.byte.eq(pending),
            self.sfd.eq(out & pending_sfd),
            self.dribble.eq(out & pending_dribble),
        ]
        return m


class SymbolTx(wiring.Component):
    """Bytes to symbols, least significant first, one symbol per cycle of `domain`.

    ``ce`` is high one cycle in every ``8 // width`` (always, for 8-bit symbols). At the end of
    each such cycle the adapter takes ``bus.byte`` if ``bus.valid`` is high (``valid`` low means
    idle: ``tx_en`` low); bytes offered in other cycles are ignored, so a MAC drives its byte
    stream with ``ce`` as clock enable. The byte's first symbol is on ``txd`` in the cycle
    after (`PIN_LATENCY`), its ``dv`` on ``tx_en`` and ``er`` on ``tx_er`` (if `has_er`) for all
    of its symbols; ``txd`` is zero while ``tx_en`` is low. All outputs are registered.
    """

    PIN_LATENCY = 1

    def __init__(self, width, *, domain, has_er=True):
        if width not in (2, 4, 8):
            raise ValueError(f"SymbolTx takes 2-, 4- or 8-bit symbols, not {width}")
        self._width = width
        self._domain = domain
        self._has_er = has_er
        members = {
            "bus": In(PhyBusSignature()),
            "ce": Out(1),
            "txd": Out(width),
            "tx_en": Out(1),
        }
        if has_er:
            members["tx_er"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        d = m.d[self._domain]
        w, n = self._width, 8 // self._width

        count = Signal(range(n))
        m.d.comb += self.ce.eq(count == 0)
        d += count.eq(Mux(count == n - 1, 0, count + 1))

        rest = Signal(8 - w) if n > 1 else None
        with m.If(self.ce):
            taken = self.bus.valid & self.bus.byte.dv
            data = Mux(taken, self.bus.byte.data, 0)   # RMII wants 00 on TXD when idle
            d += [self.txd.eq(data[:w]), self.tx_en.eq(taken)]
            if rest is not None:
                d += rest.eq(data[w:])
            if self._has_er:
                d += self.tx_er.eq(taken & self.bus.byte.er)
        if rest is not None:
            with m.Else():
                d += [self.txd.eq(rest[:w]), rest.eq(rest >> w)]
        return m
