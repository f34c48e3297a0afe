"""Register-level driver: registers by name over any bus that moves 32-bit words.

The same driver code runs against the Amaranth simulator, cocotb, the simulated SPI bridge and
real hardware over spidev or an FTDI adapter; only the `RegisterBus` underneath changes. It is
asynchronous because the simulators are; `stagebox regs` drives it with ``asyncio.run``.
"""

import abc

from stagebox.regmap.map import MAGIC

from .regs import REGISTERS, REGMAP_HASH

__all__ = ["RegisterBus", "Device", "IdentityMismatch"]

_MAGIC_REGISTER = "IDENT_MAGIC"


class IdentityMismatch(Exception):
    """The device is not a Stagebox, or its register map differs from this driver's."""


class RegisterBus(abc.ABC):
    """Moves bursts of 32-bit words at byte addresses (word aligned, ascending)."""

    @abc.abstractmethod
    async def read(self, address, count):
        """Return `count` words starting at byte `address`."""

    @abc.abstractmethod
    async def write(self, address, words):
        """Write `words` starting at byte `address`."""


class Device:
    """A Stagebox register map behind a `RegisterBus`.

    Register names are the generated ones (``IDENT_SCRATCH``), case-insensitive. Wide registers
    are moved in one burst from their first word up, which is the snapshot order the hardware
    needs for reads and the commit order it needs for writes.
    """

    def __init__(self, bus, registers=REGISTERS):
        self.bus = bus
        self.registers = registers

    def info(self, name):
        try:
            return self.registers[name.upper()]
        except KeyError:
            raise KeyError(f"no register named {name}") from None

    async def read(self, name):
        reg = self.info(name)
        if not reg.readable:
            raise ValueError(f"{reg.name} is a write strobe and cannot be read")
        words = await self.bus.read(reg.address, reg.words)
        value = sum(w << (32 * i) for i, w in enumerate(words))
        return value & ((1 << reg.width) - 1)

    async def write(self, name, value):
        reg = self.info(name)
        if not reg.writable:
            raise ValueError(f"{reg.name} is read-only")
        if not 0 <= value < (1 << reg.width):
            raise ValueError(f"{value:#x} does not fit {reg.name} ({reg.width} bits)")
        words = [(value >> (32 * i)) & 0xFFFF_FFFF for i in range(reg.words)]
        await self.bus.write(reg.address, words)

    async def read_field(self, name, field):
        reg = self.info(name)
        f = reg.field(field)
        return (await self.read(name) & f.mask) >> f.lsb

    async def write_field(self, name, field, value):
        """Read-modify-write of one field of a read-write register."""
        reg = self.info(name)
        if reg.access != "rw":
            raise ValueError(f"{reg.name} is not read-write: write it whole")
        f = reg.field(field)
        if not 0 <= value < (1 << f.width):
            raise ValueError(f"{value:#x} does not fit {reg.name}.{f.name} ({f.width} bits)")
        old = await self.read(name)
        await self.write(name, (old & ~f.mask) | (value << f.lsb))

    async def check_identity(self):
        """Raise `IdentityMismatch` unless the device is a Stagebox with this register map."""
        magic = await self.read(_MAGIC_REGISTER)
        if magic != MAGIC:
            raise IdentityMismatch(f"IDENT_MAGIC reads {magic:#010x}, not {MAGIC:#010x}")
        digest = await self.read("IDENT_REGMAP_HASH")
        if digest != REGMAP_HASH:
            raise IdentityMismatch(
                f"the gateware's register map ({digest:#010x}) differs from this driver's "
                f"({REGMAP_HASH:#010x}): regenerate or rebuild")

    async def dump(self):
        """``[(name, value)]`` for every readable register, in address order."""
        result = []
        for reg in sorted(self.registers.values(), key=lambda r: r.address):
            if reg.readable:
                result.append((reg.name, await self.read(reg.name)))
        return result
