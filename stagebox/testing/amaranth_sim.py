"""Async `amaranth.sim` helpers: Wishbone and SPI masters that the register driver runs on.

Each helper takes the testbench context (`ctx`) of an ``add_testbench`` coroutine; all of them
act on the ``sync`` clock.
"""

from amaranth.sim import Simulator

from stagebox.driver.device import RegisterBus
from stagebox.driver.spi import SpiTransport

__all__ = ["AmaranthWishboneBus", "AmaranthSpiTransport", "run_testbench"]


def run_testbench(dut, testbench, *, clk_hz=125e6, vcd=None):
    """Simulate `dut` with one ``sync`` clock and run ``await testbench(ctx)`` to completion."""
    sim = Simulator(dut)
    sim.add_clock(1 / clk_hz)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


class AmaranthWishboneBus(RegisterBus):
    """Classic Wishbone master: one access per word, waits for ``ack`` or ``err``.

    `sel` applies to every access (byte-lane tests); `timeout` bounds the wait (cycles).
    """

    def __init__(self, ctx, bus, *, timeout=64):
        self.ctx, self.bus, self.timeout = ctx, bus, timeout
        self.sel = 0b1111

    async def _access(self, address, we, data=0):
        ctx, bus = self.ctx, self.bus
        ctx.set(bus.adr, address >> 2)
        ctx.set(bus.we, we)
        ctx.set(bus.dat_w, data)
        ctx.set(bus.sel, self.sel)
        ctx.set(bus.cyc, 1)
        ctx.set(bus.stb, 1)
        for _ in range(self.timeout):
            _, _, ack, err, dat_r = await ctx.tick().sample(bus.ack, bus.err, bus.dat_r)
            if ack or err:
                break
        else:
            raise TimeoutError(f"no Wishbone ack at {address:#x}")
        ctx.set(bus.cyc, 0)
        ctx.set(bus.stb, 0)
        if err:
            raise OSError(f"Wishbone error at {address:#x}")
        return dat_r

    async def read(self, address, count):
        return [await self._access(address + 4 * i, 0) for i in range(count)]

    async def write(self, address, words):
        for i, word in enumerate(words):
            await self._access(address + 4 * i, 1, word)


class AmaranthSpiTransport(SpiTransport):
    """SPI master on a component's ``sclk``/``mosi``/``cs_n``/``miso`` ports.

    `ratio` is the SCLK period in ``sync`` cycles (even, >= 4). `mode` is 0 or 3. MISO is
    sampled at the rising edge, as a real master does.
    """

    def __init__(self, ctx, pins, *, ratio=4, mode=0, clk_hz=125e6):
        if ratio < 2 or ratio % 2:
            raise ValueError("ratio must be an even number of cycles")
        self.ctx, self.pins, self.half, self.mode = ctx, pins, ratio // 2, mode
        self.clk_hz = clk_hz
        ctx.set(pins.cs_n, 1)
        ctx.set(pins.sclk, 1 if mode == 3 else 0)

    async def transfer(self, data):
        ctx, pins = self.ctx, self.pins
        # Idle clock level first, then CS: a real master's CS-to-clock setup time.
        ctx.set(pins.sclk, 1 if self.mode == 3 else 0)
        await ctx.tick().repeat(self.half)
        ctx.set(pins.cs_n, 0)
        await ctx.tick().repeat(self.half)
        received = bytearray()
        for byte in data:
            value = 0
            for bit in range(7, -1, -1):
                ctx.set(pins.sclk, 0)
                ctx.set(pins.mosi, (byte >> bit) & 1)
                await ctx.tick().repeat(self.half)
                ctx.set(pins.sclk, 1)
                value = (value << 1) | ctx.get(pins.miso)
                await ctx.tick().repeat(self.half)
            received.append(value)
        if self.mode == 0:
            ctx.set(pins.sclk, 0)
        await ctx.tick().repeat(self.half)
        ctx.set(pins.cs_n, 1)
        await ctx.tick().repeat(self.half)
        return bytes(received)

    async def pause(self, seconds):
        self.ctx.set(self.pins.cs_n, 1)
        await self.ctx.tick().repeat(max(1, round(seconds * self.clk_hz)))

    async def partial(self, bits):
        """Clock only `bits` bits (of ones) and raise CS: a truncated byte."""
        ctx, pins = self.ctx, self.pins
        ctx.set(pins.sclk, 1 if self.mode == 3 else 0)
        await ctx.tick().repeat(self.half)
        ctx.set(pins.cs_n, 0)
        await ctx.tick().repeat(self.half)
        for _ in range(bits):
            ctx.set(pins.sclk, 0)
            ctx.set(pins.mosi, 1)
            await ctx.tick().repeat(self.half)
            ctx.set(pins.sclk, 1)
            await ctx.tick().repeat(self.half)
        ctx.set(pins.sclk, 1 if self.mode == 3 else 0)
        await ctx.tick().repeat(self.half)
        ctx.set(pins.cs_n, 1)
        await ctx.tick().repeat(self.half)
