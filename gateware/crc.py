"""Parallel CRC update networks: the n-bit-at-a-time form of a bit-serial CRC, as XOR trees.

A CRC register advanced by several input bits in one cycle is a linear function over GF(2) of the
old register and the input bits. `crc_update` works that function out in Python, bit by bit,
then emits one XOR tree per register bit. (Unrolling the serial loop as Amaranth expressions
instead would reuse sub-expressions and make the emitted Verilog grow exponentially.)
"""

from amaranth.hdl import Cat, Const

__all__ = ["crc_update", "crc_reference"]


def _serial_terms(width, poly, data_width, msb_first):
    # Each register bit is a set of ("c", i) / ("d", j) terms whose XOR it equals.
    reg = [{("c", i)} for i in range(width)]
    order = range(data_width - 1, -1, -1) if msb_first else range(data_width)
    for j in order:
        feedback = reg[width - 1] ^ {("d", j)}
        shifted = [set()] + reg[:-1]
        reg = [shifted[i] ^ feedback if (poly >> i) & 1 else shifted[i] for i in range(width)]
    return reg


def crc_update(crc, data, poly, msb_first=True):
    """Expression for `crc` after shifting in all bits of `data` (non-reflected CRC).

    With ``msb_first`` the most significant bit of `data` enters first (SPI byte order).
    """
    width, data_width = len(crc), len(data)
    outputs = []
    for terms in _serial_terms(width, poly, data_width, msb_first):
        bits = [crc[i] if kind == "c" else data[i] for kind, i in sorted(terms)]
        if not bits:
            outputs.append(Const(0, 1))
        else:
            outputs.append(Cat(*bits).xor())
    return Cat(*outputs)


def crc_reference(value, data, data_width, width, poly, msb_first=True):
    """Integer model of `crc_update` (for tests of the network itself)."""
    order = range(data_width - 1, -1, -1) if msb_first else range(data_width)
    top = 1 << (width - 1)
    for j in order:
        feedback = bool(value & top) ^ bool((data >> j) & 1)
        value = (value << 1) & ((1 << width) - 1)
        if feedback:
            value ^= poly
    return value
