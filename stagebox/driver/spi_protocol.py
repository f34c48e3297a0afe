"""The SPI register bridge wire protocol: constants, request encoding and response decoding.

One definition, used by the gateware (`stagebox.gateware.spi_bridge`), the host drivers, the
reference model and the generated documentation.

SPI mode 0 or 3, MSB first, big-endian multi-byte fields. A transaction is a request followed by
its response; CS may rise between any two bytes of a transaction as long as it does not stay
high for longer than SPI_GAP_TIMEOUT_US (0: CS must stay low for the whole transaction).

Request (host to device, on MOSI)::

    CMD  COUNT  ADDR[4]  [DATA[4 * (COUNT + 1)] if CMD is WRITE]  CRC[2]

* CMD: `CMD_READ` or `CMD_WRITE`. Between transactions the device ignores the filler bytes
  0x00 and 0xFF, so a host may clock extra filler at any time without starting anything.
* COUNT: number of 32-bit words minus one (1 to 256 words; SPI_MAX_WORDS may be lower).
* ADDR: byte address of the first word, 4-byte aligned; later words follow at +4.
* CRC: CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final
  XOR) of all request bytes before it.

Response (device to host, on MISO, while the host clocks filler)::

    WAIT*  STATUS  [DATA[4 * (COUNT + 1)] if READ and STATUS is OK]  CRC[2]

* WAIT (0xFF) bytes while the device is busy: at least one after every request. The host polls
  until it sees a byte that is not 0xFF: that is STATUS.
* The response CRC continues the request's CRC over STATUS and DATA: it equals the CRC of the
  request bytes (without their CRC) followed by STATUS and DATA, so a response can only verify
  against the request that caused it. Exception: a CRC_ERROR response carries the CRC of its
  STATUS byte alone (the device cannot know what the host meant to send), so the host can
  still tell "refused, nothing applied" from a response damaged on the way back.

A write is applied only after its whole request arrived with a good CRC, so a corrupted or
truncated write never changes a register. Reads are performed in one back-to-back burst before
STATUS is sent. Outside a transaction MISO reads 0xFF.
"""

import binascii
import enum

__all__ = [
    "CMD_READ", "CMD_WRITE", "WAIT", "FILLER", "CRC_POLY", "CRC_INIT", "MAX_WORDS", "Status",
    "crc16", "encode_request", "ProtocolError", "ResponseDecoder",
]

CMD_READ = 0x52   # "R"
CMD_WRITE = 0x57  # "W"
WAIT = 0xFF
FILLER = 0xFF
IGNORED_IDLE_BYTES = (0x00, 0xFF)
CRC_POLY = 0x1021
CRC_INIT = 0xFFFF
HEADER_BYTES = 6
MAX_WORDS = 256


class Status(enum.IntEnum):
    OK = 0x00
    CRC_ERROR = 0x01     # the request's CRC did not match: nothing was done
    BAD_REQUEST = 0x02   # unknown command, unaligned or out-of-range address, burst too long
    BUS_ERROR = 0x03     # a bus access failed or timed out (writes before it were applied)


def crc16(data, crc=CRC_INIT):
    """CRC-16/CCITT-FALSE of `data`, continuing from `crc`."""
    return binascii.crc_hqx(bytes(data), crc)


def encode_request(cmd, address, count, words=()):
    """Request bytes for `count` words at byte `address` (`words` to write, for CMD_WRITE)."""
    if not 1 <= count <= MAX_WORDS:
        raise ValueError(f"a burst is 1..{MAX_WORDS} words, not {count}")
    if cmd == CMD_WRITE and len(words) != count:
        raise ValueError("a write carries exactly `count` words")
    body = bytes([cmd, count - 1]) + address.to_bytes(4, "big")
    if cmd == CMD_WRITE:
        body += b"".join(w.to_bytes(4, "big") for w in words)
    return body + crc16(body).to_bytes(2, "big")


class ProtocolError(Exception):
    """The device answered, but not correctly (bad CRC, no answer): the transaction may be
    retried. `status` is set when the device reported a `Status` other than OK."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class ResponseDecoder:
    """Incremental parser of one response: feed it the bytes read after the request.

    `needed()` tells how many more bytes must be clocked (at least one while the status is
    unknown); `feed()` returns once `done`. `result()` checks the CRC and returns the words read
    (an empty list for a write) or raises `ProtocolError`.
    """

    def __init__(self, request, max_wait=256):
        self.request = request
        self.cmd, self.count = request[0], request[1] + 1
        self.max_wait = max_wait
        self.waits = 0
        self.status = None
        self.body = bytearray()

    def _length(self):
        data = 4 * self.count if self.cmd == CMD_READ and self.status == Status.OK else 0
        return 1 + data + 2

    def needed(self):
        if self.status is None:
            return 1
        return self._length() - len(self.body)

    @property
    def done(self):
        return self.status is not None and self.needed() == 0

    def feed(self, data):
        for byte in data:
            if self.done:
                break  # the device ignores filler after the response; so do we
            if self.status is None:
                if byte == WAIT:
                    self.waits += 1
                    if self.waits > self.max_wait:
                        raise ProtocolError("no response: MISO stayed 0xFF")
                    continue
                self.status = byte
            self.body.append(byte)

    def result(self):
        if not self.done:
            raise ProtocolError("response incomplete")
        payload, crc = bytes(self.body[:-2]), int.from_bytes(self.body[-2:], "big")
        seed = CRC_INIT if self.status == Status.CRC_ERROR else crc16(self.request[:-2])
        if crc16(payload, seed) != crc:
            raise ProtocolError("response CRC mismatch")
        try:
            status = Status(self.status)
        except ValueError:
            raise ProtocolError(f"unknown status {self.status:#04x}") from None
        if status is not Status.OK:
            raise ProtocolError(f"device reported {status.name}", status)
        data = payload[1:]
        return [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]
