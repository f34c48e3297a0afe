"""cocotb masters the register driver runs on: a Wishbone master on a design's ``bus__*``
ports, and an SPI transport driving its SPI pins.

Runs inside a cocotb test (the simulator's Python); all timing is in cycles of ``dut.clk``.
"""

from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from stagebox.driver.device import RegisterBus
from stagebox.driver.spi import SpiTransport

__all__ = ["CocotbWishboneBus", "CocotbSpiTransport"]


class CocotbWishboneBus(RegisterBus):
    """Classic Wishbone master on the ports ``{prefix}cyc``, ``stb``, ``we``, ``adr``, ``sel``,
    ``dat_w``, ``dat_r``, ``ack``, ``err`` (Amaranth names a member ``bus.cyc`` ``bus__cyc``).

    One access per word; waits at most `timeout` cycles for ``ack`` or ``err``.
    """

    def __init__(self, dut, prefix="bus__", *, timeout=64):
        self.dut, self.timeout = dut, timeout
        self.port = {name: getattr(dut, prefix + name) for name in (
            "cyc", "stb", "we", "adr", "sel", "dat_w", "dat_r", "ack", "err")}
        self.port["cyc"].value = 0
        self.port["stb"].value = 0

    async def _access(self, address, we, data=0):
        p = self.port
        p["adr"].value = address >> 2
        p["we"].value = we
        p["sel"].value = 0b1111
        p["dat_w"].value = data
        p["cyc"].value = 1
        p["stb"].value = 1
        for _ in range(self.timeout):
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if int(p["ack"].value) or int(p["err"].value):
                break
        else:
            raise TimeoutError(f"no Wishbone ack at {address:#x}")
        error, value = int(p["err"].value), int(p["dat_r"].value)
        await RisingEdge(self.dut.clk)  # leave the read-only phase before driving again
        p["cyc"].value = 0
        p["stb"].value = 0
        if error:
            raise OSError(f"Wishbone error at {address:#x}")
        return value

    async def read(self, address, count):
        return [await self._access(address + 4 * i, 0) for i in range(count)]

    async def write(self, address, words):
        for i, word in enumerate(words):
            await self._access(address + 4 * i, 1, word)


class CocotbSpiTransport(SpiTransport):
    """SPI master on ``dut.sclk``/``mosi``/``cs_n``/``miso``.

    `ratio`: SCLK period in clock cycles (even, >= 4). `mode`: 0 or 3. `corrupt_miso`, if set,
    is called with each received byte and returns the byte the host "sees" (to inject errors
    on the way back); `clk_hz` converts `pause` durations to cycles.
    """

    def __init__(self, dut, *, ratio=4, mode=0, clk_hz=125e6):
        if ratio < 4 or ratio % 2:
            raise ValueError("ratio must be an even number of cycles, at least 4")
        self.dut, self.half, self.mode, self.clk_hz = dut, ratio // 2, mode, clk_hz
        self.corrupt_miso = None
        dut.cs_n.value = 1
        dut.sclk.value = 1 if mode == 3 else 0
        dut.mosi.value = 0

    async def _cycles(self, n):
        await ClockCycles(self.dut.clk, n)

    async def transfer(self, data):
        dut = self.dut
        # Idle clock level first, then CS: a real master's CS-to-clock setup time.
        dut.sclk.value = 1 if self.mode == 3 else 0
        await self._cycles(self.half)
        dut.cs_n.value = 0
        await self._cycles(self.half)
        received = bytearray()
        for byte in data:
            value = 0
            for bit in range(7, -1, -1):
                dut.sclk.value = 0
                dut.mosi.value = (byte >> bit) & 1
                await self._cycles(self.half)
                dut.sclk.value = 1
                value = (value << 1) | int(dut.miso.value)
                await self._cycles(self.half)
            received.append(self.corrupt_miso(value) if self.corrupt_miso else value)
        dut.sclk.value = 1 if self.mode == 3 else 0
        await self._cycles(self.half)
        dut.cs_n.value = 1
        await self._cycles(self.half)
        return bytes(received)

    async def transfer_bits(self, bits):
        """Clock `bits` (a list of 0/1) and raise CS, whatever the byte framing."""
        dut = self.dut
        dut.sclk.value = 1 if self.mode == 3 else 0
        await self._cycles(self.half)
        dut.cs_n.value = 0
        await self._cycles(self.half)
        for bit in bits:
            dut.sclk.value = 0
            dut.mosi.value = bit
            await self._cycles(self.half)
            dut.sclk.value = 1
            await self._cycles(self.half)
        dut.sclk.value = 1 if self.mode == 3 else 0
        await self._cycles(self.half)
        dut.cs_n.value = 1
        await self._cycles(self.half)

    async def pause(self, seconds):
        self.dut.cs_n.value = 1
        await self._cycles(max(1, round(seconds * self.clk_hz)))
