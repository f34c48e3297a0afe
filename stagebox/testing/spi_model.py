"""Byte-level device-side reference model of the SPI register bridge.

Models `stagebox.gateware.spi_bridge.SpiBridge` as seen from the wire, one byte at a time: the
byte the device shifts out on MISO during a byte slot is the one it chose when the previous
slot ended, exactly as the gateware loads its shift register at each byte boundary. Execution
of a request is instantaneous here, so every response has exactly one WAIT byte (the gateware
may send more while a slow bus access runs). Partial bytes are not modelled: `exchange()` only
moves whole bytes.

The wire format comes from `stagebox.driver.spi_protocol`; nothing is redefined here.
"""

import enum

from stagebox.driver import spi_protocol as proto

__all__ = ["BusError", "SpiBridgeModel"]

_COUNTER_MAX = (1 << 16) - 1    # error counters saturate at all ones
_TRANSACTIONS_MASK = (1 << 32) - 1  # the OK counter wraps


class BusError(Exception):
    """Raised by a `read_word`/`write_word` callback to model a failed bus access."""


class _State(enum.Enum):
    IDLE = enum.auto()
    HEADER = enum.auto()
    WDATA = enum.auto()
    RCRC = enum.auto()
    RESPOND = enum.auto()      # sending the single WAIT byte; STATUS is chosen at its end
    SEND_DATA = enum.auto()
    SEND_CRC_HI = enum.auto()
    SEND_CRC_LO = enum.auto()
    FINAL_BYTE = enum.auto()   # the CRC's low byte is on the wire


class SpiBridgeModel:
    """Device side of the SPI bridge over a register store reached through callbacks.

    `read_word(addr) -> int` and `write_word(addr, value)` take byte addresses; either may raise
    `BusError`. `max_words` is the burst buffer depth, `addr_limit` the size of the bus in bytes
    (bursts must end at or below it).
    """

    def __init__(self, read_word, write_word, max_words=proto.MAX_WORDS, addr_limit=1 << 16):
        if not 1 <= max_words <= proto.MAX_WORDS:
            raise ValueError(f"max_words must be in 1..{proto.MAX_WORDS}")
        self.read_word = read_word
        self.write_word = write_word
        self.max_words = max_words
        self.addr_limit = addr_limit
        # Counters, as in the SPI register block.
        self.transactions = 0
        self.crc_errors = 0
        self.aborts = 0
        self.bus_errors = 0
        self.bad_requests = 0
        self.last_status = 0
        self._reset()

    # --- Public interface. -----------------------------------------------------------------

    @property
    def idle(self):
        """True between transactions (the device would start one on a non-filler byte)."""
        return self._state is _State.IDLE

    def exchange(self, mosi):
        """Clock `mosi` through the device in one CS-low period; return the MISO bytes."""
        miso = bytearray()
        for byte in bytes(mosi):
            miso.append(self._tx)
            self._tx = self._byte(byte)
        return bytes(miso)

    def gap_timeout(self):
        """CS stayed high past the gap timeout: abort an open transaction."""
        if self._state is not _State.IDLE:
            self._abort()

    def partial_byte(self):
        """CS rose after part of a byte: the gateware aborts and counts it in any state."""
        self._abort()

    def counters(self):
        """The counters as a dict, named like the SPI registers (lower case)."""
        return {
            "transactions": self.transactions, "crc_errors": self.crc_errors,
            "aborts": self.aborts, "bus_errors": self.bus_errors,
            "bad_requests": self.bad_requests, "last_status": self.last_status,
        }

    # --- Internals. ----------------------------------------------------------------------------

    def _reset(self):
        self._state = _State.IDLE
        self._tx = proto.WAIT
        self._request = bytearray()   # request bytes before the CRC
        self._rx_crc = bytearray()
        self._cmd = 0
        self._count = 0
        self._address = 0
        self._words = []
        self._status = 0
        self._response = bytearray()  # STATUS and DATA still to send, then the CRC
        self._crc = proto.CRC_INIT

    def _abort(self):
        self.aborts = min(self.aborts + 1, _COUNTER_MAX)
        self._reset()

    def _byte(self, rx):
        """Process one received byte; return the MISO byte for the next slot."""
        state = self._state
        if state is _State.IDLE:
            if rx not in proto.IGNORED_IDLE_BYTES:
                self._request = bytearray([rx])
                self._cmd = rx
                self._state = _State.HEADER
            return proto.WAIT

        if state is _State.HEADER:
            self._request.append(rx)
            if len(self._request) == proto.HEADER_BYTES:
                self._count = self._request[1] + 1
                self._address = int.from_bytes(self._request[2:proto.HEADER_BYTES], "big")
                self._state = _State.WDATA if self._cmd == proto.CMD_WRITE else _State.RCRC
                self._rx_crc = bytearray()
            return proto.WAIT

        if state is _State.WDATA:
            self._request.append(rx)
            if len(self._request) == proto.HEADER_BYTES + 4 * self._count:
                self._state = _State.RCRC
            return proto.WAIT

        if state is _State.RCRC:
            self._rx_crc.append(rx)
            if len(self._rx_crc) == 2:
                self._execute()
                self._state = _State.RESPOND
            return proto.WAIT   # the one WAIT byte every request gets

        if state is _State.RESPOND:
            self._crc = proto.crc16(self._response, self._crc)
            self._state = _State.SEND_DATA if len(self._response) > 1 else _State.SEND_CRC_HI
            status, self._response = self._response[0], self._response[1:]
            return status

        if state is _State.SEND_DATA:
            data, self._response = self._response[0], self._response[1:]
            if not self._response:
                self._state = _State.SEND_CRC_HI
            return data

        if state is _State.SEND_CRC_HI:
            self._state = _State.SEND_CRC_LO
            return self._crc >> 8

        if state is _State.SEND_CRC_LO:
            self._state = _State.FINAL_BYTE
            return self._crc & 0xFF

        assert state is _State.FINAL_BYTE
        self._reset()
        return proto.WAIT

    def _finish(self, status, data=b""):
        self._status = status
        self.last_status = status
        if status == proto.Status.OK:
            self.transactions = (self.transactions + 1) & _TRANSACTIONS_MASK
        else:
            name = {
                proto.Status.CRC_ERROR: "crc_errors",
                proto.Status.BAD_REQUEST: "bad_requests",
                proto.Status.BUS_ERROR: "bus_errors",
            }[status]
            setattr(self, name, min(getattr(self, name) + 1, _COUNTER_MAX))
        self._response = bytearray([status]) + data

    def _execute(self):
        body = bytes(self._request)
        self._crc = proto.crc16(body)
        if int.from_bytes(self._rx_crc, "big") != self._crc:
            self._crc = proto.CRC_INIT  # a CRC_ERROR reply is checked on its own
            return self._finish(proto.Status.CRC_ERROR)
        address, count = self._address, self._count
        if (self._cmd not in (proto.CMD_READ, proto.CMD_WRITE) or address % 4
                or address + 4 * count > self.addr_limit or count > self.max_words):
            return self._finish(proto.Status.BAD_REQUEST)
        addresses = [address + 4 * i for i in range(count)]
        if self._cmd == proto.CMD_WRITE:
            data = body[proto.HEADER_BYTES:]
            for i, addr in enumerate(addresses):
                try:
                    self.write_word(addr, int.from_bytes(data[4 * i:4 * i + 4], "big"))
                except BusError:
                    return self._finish(proto.Status.BUS_ERROR)
            return self._finish(proto.Status.OK)
        words = bytearray()
        for addr in addresses:
            try:
                words += (self.read_word(addr) & 0xFFFFFFFF).to_bytes(4, "big")
            except BusError:
                return self._finish(proto.Status.BUS_ERROR)
        return self._finish(proto.Status.OK, bytes(words))
