"""The vocabulary of the register map: access types, fields, registers, blocks, and the map.

Everything the gateware decoder, the C header, the Python driver and the Markdown reference say
about a register comes from these objects. They validate themselves on construction, so an
overlapping field or a register outside its block's window fails at import, not in the lab.

Conventions shared by every consumer:

* Addresses are byte addresses on a 32-bit bus; every register is word aligned.
* A register wider than 32 bits occupies consecutive words, least significant word first.
  Reading its first word latches the whole value (snapshot), so the following words return the
  same instant. Writing it stages every word but the last; writing the last word commits all of
  them at once.
"""

import enum
import hashlib
import re
from dataclasses import dataclass, field

__all__ = ["Access", "Field", "Register", "Window", "Block", "RegisterMap", "WORD_BYTES"]

WORD_BYTES = 4
_IDENTIFIER = re.compile(r"^[A-Z][A-Z0-9_]*$")


class Access(enum.Enum):
    """How the bus and the owning block share a register."""

    #: Read-only: the block drives the value; bus writes are ignored and counted as bus errors.
    RO = "ro"
    #: Read-write: storage in the register bank; the block sees the stored value.
    RW = "rw"
    #: Write-1-to-clear: the block sets flag bits, the bus clears them by writing ones.
    W1C = "w1c"
    #: Write strobe: a bus write hands the data to the block for one cycle; reads return zero.
    WS = "ws"

    @property
    def description(self):
        return {
            Access.RO: "read-only",
            Access.RW: "read-write",
            Access.W1C: "write 1 to clear",
            Access.WS: "write strobe (reads as 0)",
        }[self]


@dataclass(frozen=True)
class Field:
    """A named bit range of a register."""

    name: str
    lsb: int
    width: int
    desc: str

    def __post_init__(self):
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"field name {self.name!r} must be an upper-case identifier")
        if self.lsb < 0 or self.width < 1:
            raise ValueError(f"field {self.name}: lsb must be >= 0 and width >= 1")

    @property
    def msb(self):
        return self.lsb + self.width - 1

    @property
    def mask(self):
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    """One register: a value of `width` bits at `offset` bytes from its block's base."""

    name: str
    offset: int
    width: int
    access: Access
    desc: str
    reset: int = 0
    fields: tuple[Field, ...] = ()
    #: Held in the owning block's memory, not in the register bank: the bus reads and writes
    #: its words one at a time (no snapshot, no staging). Tables use this.
    external: bool = False

    def __post_init__(self):
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"register name {self.name!r} must be an upper-case identifier")
        if self.offset % WORD_BYTES:
            raise ValueError(f"register {self.name}: offset {self.offset:#x} is not word aligned")
        if not 1 <= self.width <= 128:
            raise ValueError(f"register {self.name}: width {self.width} is not in 1..128")
        if not 0 <= self.reset < (1 << self.width):
            raise ValueError(f"register {self.name}: reset value does not fit in {self.width} bits")
        if self.access in (Access.RO, Access.WS) and self.reset:
            raise ValueError(f"register {self.name}: only storage registers have a reset value")
        if self.access in (Access.WS, Access.W1C) and self.width > 32:
            raise ValueError(f"register {self.name}: {self.access.name} is at most one word wide")
        used = 0
        names = set()
        for f in self.fields:
            if f.msb >= self.width:
                raise ValueError(f"register {self.name}: field {f.name} exceeds {self.width} bits")
            if used & f.mask:
                raise ValueError(f"register {self.name}: field {f.name} overlaps another field")
            if f.name in names:
                raise ValueError(f"register {self.name}: field {f.name} is defined twice")
            used |= f.mask
            names.add(f.name)

    @property
    def words(self):
        return (self.width + 31) // 32

    @property
    def size(self):
        return self.words * WORD_BYTES

    @property
    def snapshot(self):
        """Whether the register needs the snapshot / staged access order (wider than a word)."""
        return self.words > 1 and not self.external

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name}")


@dataclass(frozen=True)
class Window:
    """A memory region inside a block (packet buffers): plain words, no register semantics.

    `access` is `Access.RO` or `Access.RW`; the block's logic, not the register bank, answers
    accesses to it.
    """

    name: str
    offset: int
    size: int
    access: Access
    desc: str

    def __post_init__(self):
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"window name {self.name!r} must be an upper-case identifier")
        if self.offset % WORD_BYTES or self.size % WORD_BYTES or self.size <= 0:
            raise ValueError(f"window {self.name}: offset and size must be whole words")
        if self.access not in (Access.RO, Access.RW):
            raise ValueError(f"window {self.name}: access must be RO or RW")


@dataclass(frozen=True)
class Block:
    """A window of the address space owned by one block; its registers may grow, never move."""

    name: str
    base: int
    size: int
    desc: str
    registers: tuple[Register, ...] = ()
    windows: tuple[Window, ...] = ()

    def __post_init__(self):
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"block name {self.name!r} must be an upper-case identifier")
        if self.size & (self.size - 1) or self.base % self.size:
            raise ValueError(f"block {self.name}: size must be a power of two dividing the base")
        end = 0
        names = set()
        spans = [(r.offset, r.size, "register", r.name) for r in self.registers]
        spans += [(w.offset, w.size, "window", w.name) for w in self.windows]
        for offset, size, kind, name in sorted(spans):
            if offset < end:
                raise ValueError(f"block {self.name}: {kind} {name} overlaps its neighbour")
            if name in names:
                raise ValueError(f"block {self.name}: {kind} {name} is defined twice")
            end = offset + size
            names.add(name)
        if end > self.size:
            raise ValueError(f"block {self.name}: registers exceed its {self.size}-byte window")

    def register(self, name):
        for reg in self.registers:
            if reg.name == name:
                return reg
        raise KeyError(f"block {self.name} has no register {name}")

    def window(self, name):
        for win in self.windows:
            if win.name == name:
                return win
        raise KeyError(f"block {self.name} has no window {name}")


@dataclass(frozen=True)
class RegisterMap:
    """The whole map: blocks at fixed bases inside a `2**address_bits`-byte space."""

    name: str
    address_bits: int
    blocks: tuple[Block, ...]
    #: Value returned by a read of an address no register occupies.
    unmapped_read_value: int = 0xDEADC0DE
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        end = 0
        for block in sorted(self.blocks, key=lambda b: b.base):
            if block.base < end:
                raise ValueError(f"block {block.name} overlaps the block before it")
            end = block.base + block.size
        if end > (1 << self.address_bits):
            raise ValueError(f"blocks exceed the {self.address_bits}-bit address space")
        by_name = {}
        for block, reg in self.registers():
            full = f"{block.name}_{reg.name}"
            if full in by_name:
                raise ValueError(f"register name {full} is ambiguous")
            by_name[full] = (block, reg)
        object.__setattr__(self, "_by_name", by_name)

    def registers(self):
        """Every (block, register) pair in address order."""
        for block in sorted(self.blocks, key=lambda b: b.base):
            for reg in sorted(block.registers, key=lambda r: r.offset):
                yield block, reg

    def block(self, name):
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(f"no block named {name}")

    def lookup(self, full_name):
        """`(block, register)` for a name like ``IDENT_SCRATCH`` (case-insensitive)."""
        try:
            return self._by_name[full_name.upper()]
        except KeyError:
            raise KeyError(f"no register named {full_name}") from None

    def address(self, full_name):
        block, reg = self.lookup(full_name)
        return block.base + reg.offset

    def canonical_text(self):
        """A stable textual form of everything a bus master relies on: addresses, widths, access."""
        lines = [f"{self.name} {self.address_bits} {self.unmapped_read_value:#x}"]
        for block, reg in self.registers():
            lines.append(
                f"{block.name}_{reg.name} {block.base + reg.offset:#x} {reg.width} "
                f"{reg.access.value}{' ext' if reg.external else ''} {reg.reset:#x} "
                + " ".join(f"{f.name}:{f.lsb}:{f.width}" for f in reg.fields)
            )
        for block in sorted(self.blocks, key=lambda b: b.base):
            for win in sorted(block.windows, key=lambda w: w.offset):
                lines.append(f"{block.name}_{win.name} window {block.base + win.offset:#x} "
                             f"{win.size:#x} {win.access.value}")
        return "\n".join(lines) + "\n"

    @property
    def digest(self):
        """32-bit hash of `canonical_text`, readable from the hardware to detect a stale driver."""
        return int.from_bytes(hashlib.sha256(self.canonical_text().encode()).digest()[:4], "big")
