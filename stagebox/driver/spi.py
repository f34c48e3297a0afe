"""`RegisterBus` over the SPI register bridge, and the host-side SPI transports.

A transport moves bytes full duplex with CS held low for one `transfer` call (it may rise
between calls: the bridge allows gaps shorter than SPI_GAP_TIMEOUT_US) and can `pause` with CS
high, which is how a host resynchronises after a failed transaction.
"""

import abc
import asyncio

from . import spi_protocol as proto
from .device import RegisterBus

__all__ = ["SpiTransport", "SpiRegisterBus", "SpidevTransport", "FtdiTransport"]


class SpiTransport(abc.ABC):
    @abc.abstractmethod
    async def transfer(self, data):
        """Clock out `data` on MOSI with CS low; return the bytes read on MISO."""

    @abc.abstractmethod
    async def pause(self, seconds):
        """Hold CS high for at least `seconds`."""


class SpiRegisterBus(RegisterBus):
    """The bridge protocol (`spi_protocol`) as a `RegisterBus`, with bounded retries.

    Reads are retried on any protocol error. Writes are retried only when the device said
    CRC_ERROR (it applied nothing); after a write whose outcome is unknown (no answer, or an
    answer that failed its CRC) a retry could apply it twice, which is harmless for plain
    registers but not for write strobes, so the error is raised instead.
    After every failure the bus holds CS high for `resync_s` (longer than the device's gap
    timeout, default 1 ms) so the next request starts on a clean frame.
    """

    def __init__(self, transport, *, retries=3, max_wait=64, resync_s=2e-3,
                 max_words=proto.MAX_WORDS):
        self.transport = transport
        self.retries = retries
        self.max_wait = max_wait
        self.resync_s = resync_s
        self.max_words = max_words
        #: Failures seen (and retried or raised), for diagnostics and tests.
        self.errors = 0

    async def _transaction(self, request):
        decoder = proto.ResponseDecoder(request, max_wait=self.max_wait)
        await self.transport.transfer(request)  # MISO only idles (0xFF) during a request
        while not decoder.done:
            decoder.feed(await self.transport.transfer(bytes([proto.FILLER]) * decoder.needed()))
        return decoder.result()

    async def _run(self, request, retry_unknown):
        for attempt in range(self.retries + 1):
            try:
                return await self._transaction(request)
            except proto.ProtocolError as error:
                self.errors += 1
                await self.transport.pause(self.resync_s)
                retryable = error.status == proto.Status.CRC_ERROR or (
                    retry_unknown and error.status is None)
                if not retryable or attempt == self.retries:
                    raise

    async def read(self, address, count):
        words = []
        while count:
            n = min(count, self.max_words)
            request = proto.encode_request(proto.CMD_READ, address, n)
            words += await self._run(request, retry_unknown=True)
            address, count = address + 4 * n, count - n
        return words

    async def write(self, address, words):
        words = list(words)
        while words:
            chunk, words = words[:self.max_words], words[self.max_words:]
            request = proto.encode_request(proto.CMD_WRITE, address, len(chunk), chunk)
            await self._run(request, retry_unknown=False)
            address += 4 * len(chunk)


class SpidevTransport(SpiTransport):
    """Linux spidev (a Raspberry Pi's /dev/spidev0.0, for example)."""

    def __init__(self, path, speed_hz=1_000_000, mode=0):
        import spidev  # optional dependency: pip install stagebox[spi]

        bus, _, cs = path.removeprefix("/dev/spidev").partition(".")
        self.spi = spidev.SpiDev()
        self.spi.open(int(bus), int(cs))
        self.spi.max_speed_hz = speed_hz
        self.spi.mode = mode

    async def transfer(self, data):
        return bytes(self.spi.xfer2(list(data)))

    async def pause(self, seconds):
        await asyncio.sleep(seconds)


class FtdiTransport(SpiTransport):
    """An FTDI FT232H (or FT2232H) in MPSSE mode through pyftdi, e.g. ``ftdi://ftdi:232h/1``."""

    def __init__(self, url, speed_hz=1_000_000, mode=0):
        from pyftdi.spi import SpiController  # optional dependency: pip install stagebox[spi]

        self.controller = SpiController()
        self.controller.configure(url)
        self.port = self.controller.get_port(cs=0, freq=speed_hz, mode=mode)

    async def transfer(self, data):
        return bytes(self.port.exchange(data, duplex=True))

    async def pause(self, seconds):
        await asyncio.sleep(seconds)
