"""Ethernet's CRC-32 (IEEE 802.3 clause 3.2.9), one byte per update, built on `gateware.crc`.

Ethernet sends every byte least significant bit first and defines the FCS on the bit stream, so
its CRC-32 is the "reflected" form: the register shifts right and bit 0 is nearest the wire.
`gateware.crc.crc_update` models the textbook left-shifting register, so the reflected register
here is that register with its bits in reverse order, fed with the byte's bits LSB first. The
reversal is wiring only: it costs no logic.

Conventions (the same as `zlib.crc32`): the register starts at all ones (`CRC32_INIT`); the FCS
is the inverted register, sent least significant byte first; a receiver that runs the register
over a frame *and* its FCS ends with the constant `CRC32_RESIDUE` exactly when the FCS matches.
"""

from amaranth.hdl import Signal

from ..crc import crc_reference, crc_update

__all__ = ["CRC32_POLY", "CRC32_INIT", "CRC32_RESIDUE", "crc32_next", "crc32_reference"]

#: The generator polynomial in the textbook (non-reflected) notation that `gateware.crc` uses.
CRC32_POLY = 0x04C1_1DB7
CRC32_INIT = 0xFFFF_FFFF


def _reverse(value, width):
    return int(f"{value:0{width}b}"[::-1], 2)


def crc32_reference(data, crc=CRC32_INIT):
    """Integer model: the reflected register after `data` (bytes), from `crc`.

    ``crc32_reference(frame) ^ 0xFFFF_FFFF == zlib.crc32(frame)``.
    """
    value = _reverse(crc, 32)
    for byte in data:
        value = crc_reference(value, byte, 8, 32, CRC32_POLY, msb_first=False)
    return _reverse(value, 32)


#: Register value after a frame followed by its correct FCS (0xDEBB20E3).
CRC32_RESIDUE = crc32_reference(
    (crc32_reference(b"") ^ CRC32_INIT).to_bytes(4, "little"))


def crc32_next(m, crc, byte, *, name="crc32"):
    """Signal that is the reflected 32-bit register `crc` after one byte `byte` (8 bits).

    Adds a combinational XOR network (at most 15 inputs per bit) to module `m` and returns its
    output Signal. The bit reversals go through Signals of their own: slicing a reversed `Cat`
    bit by bit would make Amaranth re-emit the whole `Cat` for every bit (slow to simulate and to
    convert; see the toolchain notes on repeated expressions).
    """
    if len(crc) != 32 or len(byte) != 8:
        raise ValueError("crc32_next takes a 32-bit register and an 8-bit byte")
    reflected = Signal(32, name=f"{name}_reflected")
    shifted = Signal(32, name=f"{name}_shifted")
    nxt = Signal(32, name=f"{name}_next")
    m.d.comb += [
        reflected.eq(crc[::-1]),
        shifted.eq(crc_update(reflected, byte, CRC32_POLY, msb_first=False)),
        nxt.eq(shifted[::-1]),
    ]
    return nxt
