"""Register bank: the Wishbone slave built from the register map.

Every register of `stagebox.regmap` becomes a port of the bank, grouped per block, so a block
connects to its registers with one ``connect(m, bank.<block>, block.regs)``. The port a block
sees (`block_signature`) depends on the access type:

=======  =====================================================================================
RO       ``<reg>``: Out — the block drives the value the bus reads.
RW       ``<reg>``: In — the stored value (reset value from the map).
W1C      ``<reg>_set``: Out — bits the block raises (one cycle is enough, set wins over clear);
         ``<reg>``: In — the flags.
WS       ``<reg>``: In — the written data, unselected bytes zero; ``<reg>_stb``: In — one-cycle
         pulse per bus write.
=======  =====================================================================================

Registers with fields have a `data.FlexibleLayout` shape, so ``regs.version.major`` works.

Clock domain: ``sync``. Latency: every access is acknowledged on the third cycle of the
classic cycle (the request is registered, then decoded; ``ack`` registered), reads and writes
alike; the bank never stalls and never signals ``err``.

Hazards and guarantees:

* Values wider than 32 bits are read through a snapshot: the read of the first (lowest) word
  latches the whole value, later words return the latched parts, so a counter that carries
  between words is never torn. Wide RW registers are written low word first; each word except
  the last goes to a staging register and the write of the last word commits all of them in one
  cycle.
* A read of an address no register occupies returns the map's ``unmapped_read_value``; such
  an access, and a write to a read-only register, leaves all state alone and pulses
  ``bus_error`` with the byte address in ``bus_error_addr`` (counted by the identity block).
"""

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from stagebox.regmap.model import WORD_BYTES, Access

from . import wishbone

__all__ = ["RegisterBank", "block_signature", "register_shape", "connect_registers"]


def register_shape(reg):
    """Shape of a register's port: its fields as a layout, or a plain unsigned value."""
    if not reg.fields:
        return unsigned(reg.width)
    return data.FlexibleLayout(reg.width, {
        f.name.lower(): data.Field(unsigned(f.width), f.lsb) for f in reg.fields
    })


def block_signature(block, prefix="", exclude=None):
    """The register ports of `block` as the block's own logic sees them; with `prefix`, only the
    registers whose names start with it, and without those starting with `exclude` (for
    sub-blocks that share one window)."""
    members = {}
    for reg in block.registers:
        if reg.external:
            continue     # answered by the block's own memory, not the bank
        if not reg.name.startswith(prefix) or (exclude and reg.name.startswith(exclude)):
            continue
        name, shape = reg.name.lower(), register_shape(reg)
        if reg.access is Access.RO:
            members[name] = Out(shape)
        elif reg.access is Access.RW:
            members[name] = In(shape)
        elif reg.access is Access.W1C:
            members[name] = In(shape)
            members[f"{name}_set"] = Out(shape)
        elif reg.access is Access.WS:
            members[name] = In(shape)
            members[f"{name}_stb"] = In(1)
    return wiring.Signature(members)


def connect_registers(m, group, regs):
    """Connect the register ports `regs` of a sub-block (a `block_signature` with a prefix) to
    the matching members of the bank's `group` for the whole block. Several sub-blocks can
    share one block's group this way; `wiring.connect` would insist on all members."""
    for name, member in regs.signature.members.items():
        theirs, ours = getattr(group, name), getattr(regs, name)
        if member.flow == Out:
            m.d.comb += _value(theirs).eq(_value(ours))
        else:
            m.d.comb += _value(ours).eq(_value(theirs))


def _value(port):
    """The raw bits of a register port, whatever its shape."""
    return port.as_value() if isinstance(port, data.View) else port


class RegisterBank(wiring.Component):
    """Wishbone B4 classic slave decoding every register of `regmap` (see module docstring).

    Ports: ``bus`` (slave), one member per block that has registers (named after the block,
    lower case), ``bus_error`` (one-cycle pulse) and ``bus_error_addr`` (byte address).
    """

    def __init__(self, regmap):
        self.regmap = regmap
        self.blocks = [b for b in regmap.blocks if b.registers]
        members = {
            "bus": In(wishbone.Signature(regmap.address_bits - 2)),
            "bus_error": Out(1),
            "bus_error_addr": Out(regmap.address_bits),
        }
        for block in self.blocks:
            members[block.name.lower()] = In(block_signature(block))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        # Two stages: a new request is captured into local registers, and decoded in the
        # next cycle, so the wide address decode starts at flip-flops next to it instead of
        # behind the bus master's logic and the window decoder (the critical path of the core).
        start = Signal()
        access = Signal()            # the captured request is decoded in this cycle
        m.d.comb += start.eq(bus.cyc & bus.stb & ~access & ~bus.ack)
        m.d.sync += [access.eq(start), bus.ack.eq(access)]
        adr = Signal.like(bus.adr, name="adr_q")
        we = Signal(name="we_q")
        sel = Signal.like(bus.sel, name="sel_q")
        self._dat_w = dat_w = Signal.like(bus.dat_w, name="dat_w_q")
        with m.If(start):
            m.d.sync += [adr.eq(bus.adr), we.eq(bus.we), sel.eq(bus.sel), dat_w.eq(bus.dat_w)]
        write = we & access
        read = ~we & access

        # Byte-lane write mask from `sel`.
        lane_mask = Signal(wishbone.DATA_WIDTH)
        m.d.comb += lane_mask.eq(Cat(*(bit.replicate(8) for bit in sel)))

        bad_access = Signal()
        m.d.sync += self.bus_error.eq(bad_access)
        with m.If(bad_access):
            m.d.sync += self.bus_error_addr.eq(adr << 2)

        decoders = [
            self._storage(m, getattr(self, block.name.lower()), reg, block.base + reg.offset)
            for block in self.blocks for reg in block.registers if not reg.external
        ]
        with m.If(access):
            with m.Switch(adr):
                for decode in decoders:
                    decode(read, write, lane_mask, bad_access)
                with m.Default():
                    m.d.comb += bad_access.eq(1)
                    m.d.sync += bus.dat_r.eq(self.regmap.unmapped_read_value)
        return m

    def _storage(self, m, group, reg, address):
        """Emit the storage of `reg`; return a function that emits its address-switch cases."""
        bus = self.bus
        name = reg.name.lower()
        port = _value(getattr(group, name))
        word0 = address // WORD_BYTES
        words = reg.words

        if reg.access is Access.RW:
            storage = Signal(reg.width, init=reg.reset, name=f"{name}_storage")
            m.d.comb += port.eq(storage)
            value = storage
        elif reg.access is Access.W1C:
            flags = Signal(reg.width, init=reg.reset, name=f"{name}_flags")
            clear = Signal(reg.width, name=f"{name}_clear")
            m.d.comb += port.eq(flags)
            # Set wins over a simultaneous clear: an event is never lost to a racing clear.
            m.d.sync += flags.eq((flags & ~clear) | _value(getattr(group, f"{name}_set")))
            value = flags
        elif reg.access is Access.WS:
            stb = getattr(group, f"{name}_stb")
            m.d.sync += stb.eq(0)
            value = Const(0, reg.width)
        else:
            value = port

        if words > 1:
            snapshot = Signal((words - 1) * 32, name=f"{name}_snapshot")
            if reg.access is Access.RW:
                staging = Signal((words - 1) * 32, name=f"{name}_staging")

        def decode(read, write, lane_mask, bad_access):
            def merged(old):
                """`old` with the selected byte lanes replaced by the written data."""
                return (old & ~lane_mask[:len(old)]) | (self._dat_w & lane_mask)[:len(old)]

            for k in range(words):
                with m.Case(word0 + k):
                    lo, hi = 32 * k, min(32 * (k + 1), reg.width)
                    with m.If(read):
                        if k == 0:
                            m.d.sync += bus.dat_r.eq(value[lo:hi])
                            if words > 1:
                                m.d.sync += snapshot.eq(value[32:])
                        else:
                            m.d.sync += bus.dat_r.eq(snapshot[lo - 32:hi - 32])
                    with m.If(write):
                        if reg.access is Access.RO:
                            m.d.comb += bad_access.eq(1)
                        elif reg.access is Access.RW and words == 1:
                            m.d.sync += storage.eq(merged(storage))
                        elif reg.access is Access.RW and k < words - 1:
                            part = staging[lo:hi]
                            m.d.sync += part.eq(merged(part))
                        elif reg.access is Access.RW:
                            m.d.sync += storage.eq(Cat(staging, merged(storage[lo:hi])))
                        elif reg.access is Access.W1C:
                            m.d.comb += clear.eq(self._dat_w & lane_mask)
                        elif reg.access is Access.WS:
                            m.d.sync += [port.eq(self._dat_w & lane_mask), stb.eq(1)]

        return decode
