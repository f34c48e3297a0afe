"""cocotb testbench: the CPU-less core (SPI bridge + register bank) driven over its SPI pins.

Run by tests/test_spi_bridge.py. Expected register values come from the core's own CoreConfig
and register map; the random traffic is checked against a small model of the registers it
touches (constants, SCRATCH, IRQ_ENABLE, unmapped space).
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from stagebox.driver import spi_protocol as proto
from stagebox.driver.device import Device
from stagebox.driver.regs import REGISTERS, REGMAP_HASH, UNMAPPED_READ_VALUE
from stagebox.driver.spi import SpiRegisterBus, SpiTransport
from stagebox.gateware.config import CoreConfig
from stagebox.regmap.map import MAGIC
from stagebox.testing.cocotb_bus import CocotbSpiTransport

CONFIG = CoreConfig(**json.loads(os.environ["STAGEBOX_TEST_CONFIG"]))
CLK_HZ = CONFIG.sys_clk_hz
GAP_US = 10   # shortened gap timeout, so resynchronising pauses stay short


def pack(name, **fields):
    reg = REGISTERS[name]
    return sum(value << reg.field(field).lsb for field, value in fields.items())


def constants():
    """What the IDENT registers must read, derived from the configuration."""
    major, minor, patch = CONFIG.version
    return {
        "IDENT_MAGIC": MAGIC,
        "IDENT_VERSION": pack("IDENT_VERSION", major=major, minor=minor, patch=patch),
        "IDENT_SOURCE_REV": CONFIG.source_rev,
        "IDENT_BUILD_FLAGS": pack("IDENT_BUILD_FLAGS", dirty=CONFIG.source_dirty, cpu=CONFIG.cpu),
        "IDENT_REGMAP_HASH": REGMAP_HASH,
        "IDENT_SYS_CLK_HZ": CONFIG.sys_clk_hz,
        "IDENT_PHY": pack("IDENT_PHY", type=CONFIG.phy_type),
        "IDENT_STREAMS": pack("IDENT_STREAMS", tx_streams=CONFIG.tx_streams,
                              rx_streams=CONFIG.rx_streams, tx_channels=CONFIG.tx_channels,
                              rx_channels=CONFIG.rx_channels),
        "IDENT_SAMPLE_RATES": CONFIG.sample_rate_mask,
    }


class RegisterModel:
    """Expected contents of the addresses the random traffic uses."""

    def __init__(self):
        self.words = {REGISTERS[n].address: v for n, v in constants().items()}
        self.storage = {REGISTERS[n].address: REGISTERS[n].reset
                        for n in ("IDENT_SCRATCH", "IRQ_ENABLE")}
        # Regions of whole words: (first byte address, words).
        ident_end = REGISTERS["IDENT_SCRATCH"].address + 4
        self.regions = [(0x0000, ident_end // 4), (0x0040, 48), (0x1400, 256),
                        (REGISTERS["IRQ_ENABLE"].address, 1)]

    def read(self, address):
        if address in self.storage:
            return self.storage[address]
        return self.words.get(address, UNMAPPED_READ_VALUE)

    def write(self, address, value):
        if address in self.storage:
            self.storage[address] = value

    def random_span(self, rng):
        base, words = rng.choice(self.regions)
        first = rng.randrange(words)
        count = rng.randint(1, min(words - first, 64))
        return base + 4 * first, count


class SplittingTransport(SpiTransport):
    """Cuts every transfer into random pieces with CS high in between (ESP32-style DMA)."""

    def __init__(self, inner, rng):
        self.inner, self.rng = inner, rng

    async def transfer(self, data):
        received = b""
        while data:
            n = self.rng.randint(1, len(data))
            received += await self.inner.transfer(data[:n])
            data = data[n:]
            await self.inner._cycles(self.rng.randint(1, 40))
        return received

    async def pause(self, seconds):
        await self.inner.pause(seconds)


async def start(dut):
    Clock(dut.clk, 1e9 / CLK_HZ, unit="ns").start()
    dut.rst.value = 1
    dut.cs_n.value = 1
    dut.sclk.value = 0
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)


async def device(dut, mode=0, rng=None, **bus_args):
    transport = CocotbSpiTransport(dut, ratio=4, mode=mode, clk_hz=CLK_HZ)
    if rng is not None:
        transport = SplittingTransport(transport, rng)
    bus = SpiRegisterBus(transport, resync_s=3 * GAP_US * 1e-6, **bus_args)
    dev = Device(bus)
    await dev.write("SPI_GAP_TIMEOUT_US", GAP_US)
    return dev


@cocotb.test()
async def identity_and_driver_round_trip(dut):
    """The Python driver over SPI reads the build configuration back and round-trips SCRATCH."""
    await start(dut)
    dev = await device(dut)
    await dev.check_identity()
    for name, value in constants().items():
        assert await dev.read(name) == value, name
    for value in (0, 0xFFFF_FFFF, 0x1234_5678):
        await dev.write("IDENT_SCRATCH", value)
        assert await dev.read("IDENT_SCRATCH") == value
    first = await dev.read("IDENT_UPTIME")
    assert await dev.read("IDENT_UPTIME") > first
    assert await dev.read("SPI_MAX_WORDS") == proto.MAX_WORDS
    assert dev.bus.errors == 0


@cocotb.test()
async def random_transactions_match_the_model(dut):
    """2000 random single and burst transactions at SCLK = clk/4, modes 0 and 3, with CS
    raised at random points inside each transaction."""
    await start(dut)
    rng = random.Random(67)
    model = RegisterModel()
    done = 0
    for mode in (0, 3):
        dev = await device(dut, mode=mode, rng=rng)
        for _ in range(1000):
            address, count = model.random_span(rng)
            if rng.random() < 0.5:
                words = [rng.getrandbits(32) for _ in range(count)]
                await dev.bus.write(address, words)
                for i, word in enumerate(words):
                    model.write(address + 4 * i, word)
            else:
                got = await dev.bus.read(address, count)
                assert got == [model.read(address + 4 * i) for i in range(count)], hex(address)
            done += 1
        assert dev.bus.errors == 0
    counters = [await dev.read(f"SPI_{n}") for n in ("CRC_ERRORS", "ABORTS", "BAD_REQUESTS")]
    assert counters == [0, 0, 0]
    assert done == 2000


@cocotb.test()
async def corrupted_and_truncated_requests_change_nothing(dut):
    """Single-bit errors anywhere in a write request, and writes cut short at any bit, never
    reach the register, and every one is counted."""
    await start(dut)
    rng = random.Random(68)
    dev = await device(dut)
    raw = dev.bus.transport
    await dev.write("IDENT_SCRATCH", 0x0BAD_F00D)

    async def errors():
        return sum([await dev.read(f"SPI_{n}") for n in ("CRC_ERRORS", "ABORTS", "BAD_REQUESTS")])

    address = REGISTERS["IDENT_SCRATCH"].address
    for trial in range(150):
        request = bytearray(proto.encode_request(proto.CMD_WRITE, address, 1, [trial]))
        bit = rng.randrange(8 * len(request))
        request[bit // 8] ^= 0x80 >> (bit % 8)
        before = await errors()
        await raw.transfer(bytes(request))
        response = await raw.transfer(bytes([proto.FILLER]) * 8)
        await raw.pause(3 * GAP_US * 1e-6)
        # Whatever came back, it is not a successful response to this request.
        decoder = proto.ResponseDecoder(bytes(request), max_wait=8)
        try:
            decoder.feed(response)
            status = decoder.status
        except proto.ProtocolError:
            status = None
        assert status != proto.Status.OK
        assert await dev.read("IDENT_SCRATCH") == 0x0BAD_F00D, f"bit {bit} applied a write"
        assert await errors() > before

    aborts = await dev.read("SPI_ABORTS")
    for trial in range(60):
        request = proto.encode_request(proto.CMD_WRITE, address, 1, [trial])
        bits = [(byte >> (7 - i)) & 1 for byte in request for i in range(8)]
        cut = rng.randrange(1, len(bits))
        await raw.transfer_bits(bits[:cut])
        await raw.pause(3 * GAP_US * 1e-6)
        assert await dev.read("IDENT_SCRATCH") == 0x0BAD_F00D
        aborts += 1
        assert await dev.read("SPI_ABORTS") == aborts, f"cut at bit {cut}"
    assert await dev.read("SPI_TRANSACTIONS") > 0


@cocotb.test()
async def corrupted_responses_are_detected_and_retried(dut):
    """Bit errors on MISO are caught by the response CRC; reads are retried to the right value."""
    await start(dut)
    rng = random.Random(69)
    transport = CocotbSpiTransport(dut, ratio=4, clk_hz=CLK_HZ)
    dev = Device(SpiRegisterBus(transport, resync_s=3 * GAP_US * 1e-6, retries=8))
    await dev.write("SPI_GAP_TIMEOUT_US", GAP_US)
    await dev.write("IDENT_SCRATCH", 0x600D_CAFE)

    def corrupt(byte):
        return byte ^ (1 << rng.randrange(8)) if rng.random() < 0.05 else byte

    transport.corrupt_miso = corrupt
    for _ in range(100):
        assert await dev.read("IDENT_SCRATCH") == 0x600D_CAFE
        assert await dev.read("IDENT_MAGIC") == MAGIC
    transport.corrupt_miso = None
    assert dev.bus.errors > 0


@cocotb.test()
async def bad_requests_get_a_status(dut):
    """Unaligned and out-of-range addresses and unknown commands are refused, and counted."""
    await start(dut)
    dev = await device(dut)
    raw = dev.bus.transport
    before = await dev.read("SPI_BAD_REQUESTS")
    requests = [
        proto.encode_request(proto.CMD_READ, 0x0002, 1),              # unaligned
        proto.encode_request(proto.CMD_READ, 0x0001_0000, 1),         # above the map
        proto.encode_request(proto.CMD_READ, 0xFFFC, 2),              # runs off the top
    ]
    body = bytes([0x11, 0, 0, 0, 0, 0])                                # unknown command
    requests.append(body + proto.crc16(body).to_bytes(2, "big"))
    for request in requests:
        await raw.transfer(request)
        decoder = proto.ResponseDecoder(request)
        while not decoder.done:
            decoder.feed(await raw.transfer(bytes([proto.FILLER]) * decoder.needed()))
        try:
            decoder.result()
            raise AssertionError("a bad request succeeded")
        except proto.ProtocolError as error:
            assert error.status == proto.Status.BAD_REQUEST
    assert await dev.read("SPI_BAD_REQUESTS") == before + len(requests)
    assert await dev.read("SPI_LAST_STATUS") == proto.Status.OK  # the read above succeeded
