"""Types of the generated register table (`stagebox.driver.regs`)."""

from typing import NamedTuple

__all__ = ["FieldInfo", "RegisterInfo"]


class FieldInfo(NamedTuple):
    name: str
    lsb: int
    width: int

    @property
    def mask(self):
        return ((1 << self.width) - 1) << self.lsb


class RegisterInfo(NamedTuple):
    name: str
    address: int
    width: int
    access: str
    reset: int
    fields: tuple[FieldInfo, ...]

    @property
    def words(self):
        return (self.width + 31) // 32

    @property
    def readable(self):
        return self.access != "ws"

    @property
    def writable(self):
        return self.access != "ro"

    def field(self, name):
        for f in self.fields:
            if f.name == name.upper():
                return f
        raise KeyError(f"{self.name} has no field {name}")
