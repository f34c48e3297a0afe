"""The hardware SPI transports (spidev, pyftdi) without hardware.

Fake ``spidev`` and ``pyftdi.spi`` modules are put in `sys.modules`; their transfers go, byte for
byte, into the device reference model (`SpiBridgeModel`) over a dict register store. On top run
the real `SpiRegisterBus`, `Device` and the `stagebox regs` command.
"""

import asyncio
import sys
import types

import pytest

from stagebox.cli import main
from stagebox.driver import spi_protocol as proto
from stagebox.driver.device import Device, IdentityMismatch
from stagebox.driver.regs import REGISTERS, REGMAP_HASH
from stagebox.driver.spi import FtdiTransport, SpidevTransport, SpiRegisterBus
from stagebox.regmap.map import MAGIC
from stagebox.testing.spi_model import SpiBridgeModel

SCRATCH = 0x1234_ABCD


def address(name):
    return REGISTERS[name].address


class FakeBridge:
    """The device behind the fakes: the reference model over a dict of byte address -> word.

    `transfers` records every full-duplex transfer as ``(mosi, miso)``; `corrupt` lists indices
    of transfers whose first MISO byte gets one bit flipped on the way back.
    """

    def __init__(self):
        self.words = {
            address("IDENT_MAGIC"): MAGIC,
            address("IDENT_REGMAP_HASH"): REGMAP_HASH,
            address("IDENT_SCRATCH"): SCRATCH,
        }
        self.model = SpiBridgeModel(lambda a: self.words.get(a, 0), self.words.__setitem__)
        self.transfers = []
        self.corrupt = set()

    def exchange(self, mosi):
        mosi = bytes(mosi)
        miso = bytearray(self.model.exchange(mosi))
        if len(self.transfers) in self.corrupt:
            miso[0] ^= 0x10
        self.transfers.append((mosi, bytes(miso)))
        return bytes(miso)

    def requests(self):
        """``(cmd, address, words)`` of every request the host sent (each one is sent in a
        transfer of its own, starting with the command byte)."""
        return [(mosi[0], int.from_bytes(mosi[2:6], "big"), mosi[1] + 1)
                for mosi, _ in self.transfers if mosi[0] in (proto.CMD_READ, proto.CMD_WRITE)]


@pytest.fixture
def bridge(monkeypatch):
    """A fresh `FakeBridge`, reachable through fake ``spidev`` and ``pyftdi.spi`` modules."""
    device = FakeBridge()

    class SpiDev:
        instances = []

        def __init__(self):
            self.opened = None
            self.max_speed_hz = 0
            self.mode = 0
            SpiDev.instances.append(self)

        def open(self, bus, cs):
            assert self.opened is None
            self.opened = (bus, cs)

        def xfer2(self, data):
            assert self.opened is not None, "transfer on a closed spidev"
            assert isinstance(data, list) and all(0 <= b <= 0xFF for b in data)
            return list(device.exchange(data))

    class SpiPort:
        def __init__(self, cs, freq, mode):
            self.cs, self.freq, self.mode = cs, freq, mode

        def exchange(self, out=b"", readlen=0, start=True, stop=True, duplex=False):
            assert duplex, "half-duplex exchange would not read while writing"
            assert start and stop
            return bytearray(device.exchange(out))

    class SpiController:
        instances = []

        def __init__(self):
            self.url = None
            self.ports = []
            SpiController.instances.append(self)

        def configure(self, url, **kwargs):
            self.url = url

        def get_port(self, cs, freq=None, mode=0):
            assert self.url is not None, "get_port before configure"
            port = SpiPort(cs, freq, mode)
            self.ports.append(port)
            return port

    spidev = types.ModuleType("spidev")
    spidev.SpiDev = SpiDev
    pyftdi = types.ModuleType("pyftdi")
    pyftdi_spi = types.ModuleType("pyftdi.spi")
    pyftdi_spi.SpiController = SpiController
    pyftdi.spi = pyftdi_spi
    monkeypatch.setitem(sys.modules, "spidev", spidev)
    monkeypatch.setitem(sys.modules, "pyftdi", pyftdi)
    monkeypatch.setitem(sys.modules, "pyftdi.spi", pyftdi_spi)
    device.spidevs = SpiDev.instances
    device.controllers = SpiController.instances
    return device


TRANSPORTS = {
    "spidev": lambda: SpidevTransport("/dev/spidev0.0"),
    "ftdi": lambda: FtdiTransport("ftdi://ftdi:232h/1"),
}


@pytest.fixture(params=sorted(TRANSPORTS))
def transport(request, bridge):
    return TRANSPORTS[request.param]()


def test_spidev_opens_the_bus_and_cs_of_its_path(bridge):
    SpidevTransport("/dev/spidev1.2", speed_hz=4_000_000, mode=3)
    SpidevTransport("/dev/spidev10.0")
    first, second = bridge.spidevs
    assert (first.opened, first.max_speed_hz, first.mode) == ((1, 2), 4_000_000, 3)
    assert (second.opened, second.max_speed_hz, second.mode) == ((10, 0), 1_000_000, 0)


def test_ftdi_configures_the_url_and_port(bridge):
    FtdiTransport("ftdi://ftdi:2232h/2", speed_hz=6_000_000, mode=3)
    (controller,) = bridge.controllers
    assert controller.url == "ftdi://ftdi:2232h/2"
    (port,) = controller.ports
    assert (port.cs, port.freq, port.mode) == (0, 6_000_000, 3)


def test_identity_and_round_trips(bridge, transport):
    device = Device(SpiRegisterBus(transport))

    async def session():
        await device.check_identity()
        assert await device.read("IDENT_SCRATCH") == SCRATCH
        await device.write("IDENT_SCRATCH", 0xFEED_F00D)
        assert bridge.words[address("IDENT_SCRATCH")] == 0xFEED_F00D
        assert await device.read("ident_scratch") == 0xFEED_F00D
        # A 64-bit register moves as one two-word burst, low word first.
        bridge.words[address("IDENT_UPTIME")] = 0x8765_4321
        bridge.words[address("IDENT_UPTIME") + 4] = 0x0000_0012
        assert await device.read("IDENT_UPTIME") == 0x12_8765_4321

    asyncio.run(session())
    assert bridge.model.counters() == {
        "transactions": 6, "crc_errors": 0, "aborts": 0, "bus_errors": 0, "bad_requests": 0,
        "last_status": proto.Status.OK}
    assert bridge.requests()[-1] == (proto.CMD_READ, address("IDENT_UPTIME"), 2)


@pytest.mark.parametrize("register, wrong", [("IDENT_MAGIC", MAGIC ^ 1),
                                             ("IDENT_REGMAP_HASH", REGMAP_HASH + 1)])
def test_identity_needs_magic_and_regmap_hash(bridge, transport, register, wrong):
    device = Device(SpiRegisterBus(transport))
    bridge.words[address(register)] = wrong
    with pytest.raises(IdentityMismatch):
        asyncio.run(device.check_identity())


def test_long_bursts_are_split_into_requests(bridge, transport):
    bus = SpiRegisterBus(transport)
    words = [(0x0101_0101 * i) & 0xFFFF_FFFF for i in range(600)]
    base = 0x4000
    asyncio.run(bus.write(base, words))
    assert [bridge.words[base + 4 * i] for i in range(600)] == words
    assert asyncio.run(bus.read(base, 600)) == words
    spans = [(proto.CMD_WRITE, base, 256), (proto.CMD_WRITE, base + 1024, 256),
             (proto.CMD_WRITE, base + 2048, 88)]
    assert bridge.requests() == spans + [(proto.CMD_READ, a, n) for _, a, n in spans]

    # A bus told the device's SPI_MAX_WORDS uses it.
    small = SpiRegisterBus(transport, max_words=16)
    assert asyncio.run(small.read(base, 40)) == words[:40]
    assert [n for _, _, n in bridge.requests()[6:]] == [16, 16, 8]


def test_a_corrupted_response_is_retried(bridge, transport):
    bus = SpiRegisterBus(transport, resync_s=0)
    # Transfers: the request, one-byte polls for the WAIT and STATUS, then DATA and CRC. A
    # damaged DATA byte is still clocked in full, so the device ends the transaction normally.
    bridge.corrupt = {3}
    assert asyncio.run(bus.read(address("IDENT_SCRATCH"), 1)) == [SCRATCH]
    assert bus.errors == 1
    assert len(bridge.requests()) == 2


def test_a_write_with_an_unverifiable_response_is_not_repeated(bridge, transport):
    bus = SpiRegisterBus(transport, resync_s=0)
    bridge.corrupt = {3}   # the response's CRC
    with pytest.raises(proto.ProtocolError):
        asyncio.run(bus.write(address("IDENT_SCRATCH"), [7]))
    assert bridge.words[address("IDENT_SCRATCH")] == 7   # applied once, then reported
    assert len(bridge.requests()) == 1


@pytest.mark.parametrize("where, opened", [("spidev:/dev/spidev0.1", "spidev"),
                                           ("ftdi:ftdi://ftdi:232h/1", "ftdi")])
def test_cli_reads_a_register(bridge, capsys, where, opened):
    assert main(["regs", "--transport", where, "--speed", "2000000",
                 "read", "IDENT_SCRATCH"]) == 0
    assert capsys.readouterr().out == f"IDENT_SCRATCH = {SCRATCH:#x}\n"
    if opened == "spidev":
        (spi,) = bridge.spidevs
        assert (spi.opened, spi.max_speed_hz) == ((0, 1), 2_000_000)
    else:
        (controller,) = bridge.controllers
        assert controller.url == "ftdi://ftdi:232h/1"
        assert controller.ports[0].freq == 2_000_000
    assert bridge.requests() == [(proto.CMD_READ, address("IDENT_SCRATCH"), 1)]


def test_cli_writes_and_dumps_over_spidev(bridge, capsys):
    assert main(["regs", "--transport", "spidev:/dev/spidev0.1", "write", "IDENT_SCRATCH",
                 "0x55"]) == 0
    assert bridge.words[address("IDENT_SCRATCH")] == 0x55
    assert main(["regs", "--transport", "spidev:/dev/spidev0.1", "dump"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"IDENT_MAGIC = {MAGIC:#x}"
    assert f"IDENT_SCRATCH = {0x55:#x}" in lines
    assert len(lines) == sum(r.readable for r in REGISTERS.values())

