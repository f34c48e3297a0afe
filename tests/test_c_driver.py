"""The portable C SPI driver (firmware/drivers) against the byte-level bridge model, and the
model itself against the Python protocol encoder/decoder.

The driver is compiled natively into a shared library and driven through ctypes; its transfer
callback feeds `SpiBridgeModel`, optionally corrupting or truncating what goes over the wire.
"""

import ctypes
import random
import subprocess
from pathlib import Path

import pytest

from stagebox.driver import spi_protocol as proto
from stagebox.testing.spi_model import BusError, SpiBridgeModel
from stagebox.testing.tools import require_tool

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"
INCLUDE_DIRS = (FIRMWARE / "include", FIRMWARE / "drivers")
DRIVER_SOURCES = (FIRMWARE / "drivers" / "stagebox_spi.c",)
C_WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
RISCV_GCC = "riscv64-unknown-elf-gcc"

ADDR_LIMIT = 1 << 16


# --- Compile helpers. ---------------------------------------------------------------------------

def _include_flags():
    return [f"-I{d}" for d in INCLUDE_DIRS]


def compile_shared(out_dir, sources=DRIVER_SOURCES, name="libstagebox_spi.so", cc="gcc"):
    """Build `sources` into a shared library in `out_dir`; return its path."""
    out = Path(out_dir) / name
    cmd = [cc, *C_WARNINGS, "-O2", "-shared", "-fPIC", *_include_flags(),
           *map(str, sources), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


def compile_objects(out_dir, cc, flags, sources=DRIVER_SOURCES):
    """Compile each source to an object file in `out_dir` with `cc`; return the objects."""
    objects = []
    for source in sources:
        obj = Path(out_dir) / (Path(source).stem + ".o")
        cmd = [cc, *flags, *C_WARNINGS, *_include_flags(), "-c", str(source), "-o", str(obj)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        objects.append(obj)
    return objects


# --- ctypes binding. ----------------------------------------------------------------------------

TRANSFER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8),
                            ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)


class SbSpi(ctypes.Structure):
    _fields_ = [
        ("transfer", TRANSFER),
        ("ctx", ctypes.c_void_p),
        ("max_wait", ctypes.c_uint),
        ("retries", ctypes.c_uint),
        ("max_words", ctypes.c_uint),
        ("need_resync", ctypes.c_int),
        ("retried", ctypes.c_ulong),
        ("resyncs", ctypes.c_ulong),
    ]


OK, ERR_CRC, ERR_BAD_REQUEST, ERR_BUS, ERR_RESPONSE_CRC, ERR_NO_RESPONSE, ERR_TRANSFER, \
    ERR_ARG = 0, -1, -2, -3, -4, -5, -6, -7


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    require_tool("gcc")
    lib = ctypes.CDLL(str(compile_shared(tmp_path_factory.mktemp("sbspi"))))
    u32p = ctypes.POINTER(ctypes.c_uint32)
    dev = ctypes.POINTER(SbSpi)
    lib.sb_spi_init.argtypes = [dev, TRANSFER, ctypes.c_void_p]
    lib.sb_spi_init.restype = None
    for fn in (lib.sb_spi_read, lib.sb_spi_write):
        fn.argtypes = [dev, ctypes.c_uint32, u32p, ctypes.c_uint]
        fn.restype = ctypes.c_int
    lib.sb_spi_read32.argtypes = [dev, ctypes.c_uint32, u32p]
    lib.sb_spi_write32.argtypes = [dev, ctypes.c_uint32, ctypes.c_uint32]
    lib.sb_spi_resync.argtypes = [dev]
    lib.sb_spi_crc16.argtypes = [ctypes.c_uint16, ctypes.c_char_p, ctypes.c_size_t]
    lib.sb_spi_crc16.restype = ctypes.c_uint16
    lib.sb_spi_strerror.argtypes = [ctypes.c_int]
    lib.sb_spi_strerror.restype = ctypes.c_char_p
    return lib


class Store(dict):
    """Word store at byte addresses, with optional failing addresses."""

    def __init__(self, seed=1):
        rng = random.Random(seed)
        super().__init__((a, rng.getrandbits(32)) for a in range(0, ADDR_LIMIT, 4))
        self.fail = set()

    def read_word(self, addr):
        if addr in self.fail:
            raise BusError(addr)
        return self[addr]

    def write_word(self, addr, value):
        if addr in self.fail:
            raise BusError(addr)
        self[addr] = value


class Harness:
    """One driver instance wired to one model; `wire` may rewrite each transfer."""

    def __init__(self, lib, max_words=proto.MAX_WORDS, seed=1):
        self.lib = lib
        self.store = Store(seed)
        self.model = SpiBridgeModel(self.store.read_word, self.store.write_word,
                                    max_words=max_words, addr_limit=ADDR_LIMIT)
        self.wire = None       # f(harness, mosi) -> (mosi, result, miso_fixup or None)
        self.errors = []       # exceptions raised inside the callback
        self.calls = 0
        self.clocked = 0
        self.dev = SbSpi()
        self._cb = TRANSFER(self._transfer)
        lib.sb_spi_init(ctypes.byref(self.dev), self._cb, None)

    def _transfer(self, _ctx, tx, rx, length):
        try:
            self.calls += 1
            mosi = ctypes.string_at(tx, length)
            result, fix_miso = length, None
            if self.wire is not None:
                mosi, result, fix_miso = self.wire(self, mosi)
            miso = self.model.exchange(mosi)
            self.clocked += len(mosi)
            if fix_miso is not None:
                miso = fix_miso(miso)
            ctypes.memmove(rx, miso, len(miso))
            return result
        except Exception as exc:  # noqa: BLE001 - reported by the test, not swallowed
            self.errors.append(exc)
            return -1

    def read(self, addr, count):
        buf = (ctypes.c_uint32 * count)()
        rc = self.lib.sb_spi_read(ctypes.byref(self.dev), addr, buf, count)
        assert not self.errors
        return rc, list(buf)

    def write(self, addr, words):
        buf = (ctypes.c_uint32 * len(words))(*words)
        rc = self.lib.sb_spi_write(ctypes.byref(self.dev), addr, buf, len(words))
        assert not self.errors
        return rc

    def words(self, addr, count):
        return [self.store[addr + 4 * i] for i in range(count)]


@pytest.fixture
def hw(lib):
    return Harness(lib)


# --- The model against the Python encoder/decoder. ----------------------------------------------

def _model(max_words=proto.MAX_WORDS, seed=3):
    store = Store(seed)
    return store, SpiBridgeModel(store.read_word, store.write_word, max_words=max_words,
                                 addr_limit=ADDR_LIMIT)


def _response_length(request, status=proto.Status.OK):
    data = 4 * (request[1] + 1) if request[0] == proto.CMD_READ and status == 0 else 0
    return 1 + 1 + data + 2   # WAIT, STATUS, DATA, CRC


def _run(model, request, status=proto.Status.OK):
    """Send `request` and clock its response; check the framing; return the decoder."""
    n = _response_length(request, status)
    miso = model.exchange(request + bytes([proto.FILLER]) * n)
    assert miso[:len(request)] == bytes([proto.WAIT]) * len(request)
    assert miso[len(request)] == proto.WAIT               # exactly one WAIT ...
    assert miso[len(request) + 1] == status               # ... then STATUS
    decoder = proto.ResponseDecoder(request)
    decoder.feed(miso[len(request):])
    assert decoder.done and decoder.needed() == 0
    assert model.idle
    return decoder


def test_model_read_response_decodes():
    store, model = _model()
    for addr, count in ((0, 1), (0x100, 7), (ADDR_LIMIT - 4 * 256, 256)):
        request = proto.encode_request(proto.CMD_READ, addr, count)
        assert _run(model, request).result() == [store[addr + 4 * i] for i in range(count)]
    assert model.transactions == 3 and model.last_status == proto.Status.OK


def test_model_write_applied_only_after_crc():
    store, model = _model()
    words = [0x11111111 * (i + 1) for i in range(5)]
    before = {a: store[a] for a in range(0x40, 0x54, 4)}
    request = proto.encode_request(proto.CMD_WRITE, 0x40, 5, words)
    model.exchange(request[:-1])
    assert {a: store[a] for a in before} == before
    miso = model.exchange(request[-1:] + bytes([proto.FILLER]) * 4)
    assert [store[0x40 + 4 * i] for i in range(5)] == words
    decoder = proto.ResponseDecoder(request)
    decoder.feed(miso[1:])
    assert decoder.result() == []


def test_model_byte_by_byte_with_idle_filler():
    store, model = _model()
    request = proto.encode_request(proto.CMD_READ, 0x20, 3)
    miso = b"".join(model.exchange(bytes([b])) for b in b"\x00\xff\x00" + request)
    assert set(miso) == {proto.WAIT}
    decoder = proto.ResponseDecoder(request)
    while not decoder.done:
        decoder.feed(model.exchange(bytes([proto.FILLER])))
    assert decoder.waits == 1
    assert decoder.result() == [store[0x20], store[0x24], store[0x28]]
    # Filler after the response is ignored.
    assert model.exchange(b"\xff\x00" * 4) == bytes([proto.WAIT]) * 8 and model.idle


def test_model_request_crc_error():
    store, model = _model()
    before = dict(store)
    request = bytearray(proto.encode_request(proto.CMD_WRITE, 0, 2, [1, 2]))
    request[-1] ^= 0x01   # the CRC itself: the response still verifies, with CRC_ERROR
    decoder = _run(model, bytes(request), proto.Status.CRC_ERROR)
    with pytest.raises(proto.ProtocolError) as info:
        decoder.result()
    assert info.value.status == proto.Status.CRC_ERROR
    assert store == before and model.crc_errors == 1 and model.transactions == 0
    assert model.last_status == proto.Status.CRC_ERROR


def test_model_corrupted_body_is_a_verifiable_crc_error():
    store, model = _model()
    before = dict(store)
    request = proto.encode_request(proto.CMD_WRITE, 8, 1, [0xDEADBEEF])
    corrupted = bytearray(request)
    corrupted[7] ^= 0x10
    miso = model.exchange(bytes(corrupted) + b"\xff" * 4)
    decoder = proto.ResponseDecoder(request)   # the host knows what it meant to send
    decoder.feed(miso[len(request):])
    with pytest.raises(proto.ProtocolError) as info:
        decoder.result()
    # The reply's CRC covers STATUS alone, so the host knows for sure nothing was applied.
    assert info.value.status == proto.Status.CRC_ERROR
    assert store == before and model.crc_errors == 1


def test_model_corrupted_miso_detected():
    _, model = _model()
    request = proto.encode_request(proto.CMD_READ, 0x80, 2)
    miso = bytearray(model.exchange(request + b"\xff" * _response_length(request)))
    miso[len(request) + 3] ^= 0x04
    decoder = proto.ResponseDecoder(request)
    decoder.feed(miso[len(request):])
    with pytest.raises(proto.ProtocolError, match="CRC"):
        decoder.result()


@pytest.mark.parametrize("request_bytes", [
    pytest.param(proto.encode_request(proto.CMD_READ, 0x102, 1), id="unaligned"),
    pytest.param(proto.encode_request(proto.CMD_WRITE, 0x7, 1, [5]), id="unaligned-write"),
    pytest.param(proto.encode_request(proto.CMD_READ, ADDR_LIMIT - 8, 3), id="past-end"),
    pytest.param(proto.encode_request(proto.CMD_READ, ADDR_LIMIT, 1), id="above-bus"),
    pytest.param(proto.encode_request(proto.CMD_READ, 0, 17), id="too-long"),
    pytest.param(proto.encode_request(proto.CMD_WRITE, 0, 17, list(range(17))), id="too-long-w"),
    pytest.param(b"\x41\x00\x00\x00\x00\x10" + proto.crc16(b"\x41\x00\x00\x00\x00\x10")
                 .to_bytes(2, "big"), id="unknown-command"),
])
def test_model_bad_request(request_bytes):
    store, model = _model(max_words=16)
    before = dict(store)
    decoder = _run(model, request_bytes, proto.Status.BAD_REQUEST)
    with pytest.raises(proto.ProtocolError) as info:
        decoder.result()
    assert info.value.status == proto.Status.BAD_REQUEST
    assert store == before and model.bad_requests == 1


def test_model_bus_error_and_gap_timeout():
    store, model = _model()
    store.fail.add(0x108)
    request = proto.encode_request(proto.CMD_WRITE, 0x100, 4, [1, 2, 3, 4])
    decoder = _run(model, request, proto.Status.BUS_ERROR)
    with pytest.raises(proto.ProtocolError):
        decoder.result()
    assert (store[0x100], store[0x104]) == (1, 2) and store[0x10C] != 4   # applied up to it
    assert model.bus_errors == 1
    # CS high too long mid-request: aborted, counted, nothing applied; the next one works.
    request = proto.encode_request(proto.CMD_WRITE, 0x200, 1, [0xABCD])
    model.exchange(request[:5])
    model.gap_timeout()
    assert model.aborts == 1 and model.idle and store[0x200] != 0xABCD
    model.gap_timeout()                      # idle: nothing to abort
    assert model.aborts == 1
    assert _run(model, request).result() == [] and store[0x200] == 0xABCD
    # Mid-response too.
    request = proto.encode_request(proto.CMD_READ, 0, 4)
    model.exchange(request + b"\xff" * 5)
    model.gap_timeout()
    assert model.aborts == 2 and model.idle
    assert model.counters()["transactions"] == 2


# --- The C driver. ------------------------------------------------------------------------------

def test_crc16_matches_python(lib):
    rng = random.Random(5)
    for length in (0, 1, 2, 9, 100):
        data = rng.randbytes(length)
        assert lib.sb_spi_crc16(proto.CRC_INIT, data, length) == proto.crc16(data)
    assert lib.sb_spi_crc16(proto.CRC_INIT, b"123456789", 9) == 0x29B1   # the check value


def test_single_read_write(hw):
    value = ctypes.c_uint32()
    assert hw.lib.sb_spi_read32(ctypes.byref(hw.dev), 0x10, ctypes.byref(value)) == OK
    assert value.value == hw.store[0x10]
    assert hw.dev.resyncs == 1 and hw.dev.need_resync == 0   # the resync after init
    assert hw.lib.sb_spi_write32(ctypes.byref(hw.dev), 0x10, 0xCAFEF00D) == OK
    assert hw.store[0x10] == 0xCAFEF00D
    assert hw.read(0x10, 1) == (OK, [0xCAFEF00D])
    assert hw.model.transactions == 3 and hw.model.crc_errors == 0
    assert hw.dev.retried == 0 and hw.dev.resyncs == 1


@pytest.mark.parametrize("count", [2, 17, 255, 256])
def test_burst_round_trip(hw, count):
    addr = 0x1000
    words = [random.Random(count).getrandbits(32) for _ in range(count)]
    assert hw.write(addr, words) == OK
    assert hw.words(addr, count) == words
    assert hw.read(addr, count) == (OK, words)
    assert hw.model.transactions == 2


def test_long_transfers_are_split(hw):
    hw.dev.max_words = 16
    words = list(range(100, 140))
    assert hw.write(0x400, words) == OK and hw.words(0x400, 40) == words
    assert hw.read(0x400, 40) == (OK, words)
    assert hw.model.transactions == 6   # 16 + 16 + 8, twice


def test_random_transactions(hw):
    rng = random.Random(1234)
    shadow = dict(hw.store)
    for _ in range(300):
        count = rng.choice((1, 1, 2, 3, 8, rng.randint(1, 64)))
        addr = 4 * rng.randrange(ADDR_LIMIT // 4 - count + 1)
        if rng.random() < 0.5:
            words = [rng.getrandbits(32) for _ in range(count)]
            assert hw.write(addr, words) == OK
            shadow.update((addr + 4 * i, w) for i, w in enumerate(words))
        else:
            assert hw.read(addr, count) == (OK, [shadow[addr + 4 * i] for i in range(count)])
    assert dict(hw.store) == shadow
    assert hw.model.transactions == 300 and hw.dev.retried == 0


def test_bad_request(hw):
    before = dict(hw.store)
    assert hw.read(0x102, 1)[0] == ERR_BAD_REQUEST
    assert hw.write(0x101, [1, 2]) == ERR_BAD_REQUEST
    assert hw.read(ADDR_LIMIT - 4, 2)[0] == ERR_BAD_REQUEST
    assert hw.store == before
    assert hw.model.bad_requests == 3 and hw.dev.retried == 0
    assert hw.read(0x100, 1) == (OK, [before[0x100]])   # still in step


def test_device_max_words_below_driver_burst(lib):
    hw = Harness(lib, max_words=8)
    assert hw.read(0, 9)[0] == ERR_BAD_REQUEST
    hw.dev.max_words = 8
    assert hw.read(0, 9)[0] == OK


def test_bus_error_not_retried(hw):
    hw.store.fail.add(0x20C)
    assert hw.write(0x200, [7, 8, 9, 10]) == ERR_BUS
    assert hw.words(0x200, 3) == [7, 8, 9]
    assert hw.read(0x208, 2)[0] == ERR_BUS
    assert hw.model.bus_errors == 2 and hw.dev.retried == 0


def test_invalid_arguments(hw):
    dev = ctypes.byref(hw.dev)
    assert hw.lib.sb_spi_read(dev, 0, None, 1) == ERR_ARG
    assert hw.lib.sb_spi_write(dev, 0, (ctypes.c_uint32 * 1)(), 0) == ERR_ARG
    hw.dev.max_words = proto.MAX_WORDS + 1
    assert hw.read(0, 1)[0] == ERR_ARG
    assert hw.calls == 0
    assert hw.lib.sb_spi_strerror(ERR_NO_RESPONSE) == b"SB_SPI_ERR_NO_RESPONSE"


def test_no_response(hw):
    hw.wire = lambda h, mosi: (mosi, len(mosi), lambda miso: b"\xff" * len(miso))
    hw.dev.retries = 3
    hw.dev.max_wait = 10
    assert hw.read(0, 1)[0] == ERR_NO_RESPONSE
    assert hw.dev.retried == 3
    hw.dev.retried = 0
    assert hw.write(0, [1]) == ERR_NO_RESPONSE
    assert hw.dev.retried == 0   # a write that may have been applied is not repeated
    hw.wire = None
    assert hw.read(0, 1)[0] == OK


@pytest.mark.parametrize("mode", ["short", "error"])
def test_truncated_transfer(hw, mode):
    assert hw.read(0, 1)[0] == OK   # past the initial resync
    before = dict(hw.store)
    state = {"n": 0}

    def wire(h, mosi):
        state["n"] += 1
        if state["n"] == 1:   # the request's only chunk: cut it short
            if mode == "short":
                return mosi[:3], 3, None
            return b"", -5, None
        return mosi, len(mosi), None

    hw.wire = wire
    assert hw.write(0x300, [0x12345678, 0x9ABCDEF0]) == ERR_TRANSFER
    assert hw.store == before and hw.dev.need_resync
    hw.wire = None
    assert hw.read(0x300, 2) == (OK, [before[0x300], before[0x304]])
    assert hw.write(0x300, [1, 2]) == OK and hw.words(0x300, 2) == [1, 2]


def test_write_retried_after_request_crc_error(hw):
    assert hw.read(0, 1)[0] == OK
    state = {"first": True}

    def wire(h, mosi):
        if state["first"] and len(mosi) > 6:   # the request: hit its CRC's last byte
            state["first"] = False
            mosi = mosi[:-1] + bytes([mosi[-1] ^ 0x80])
        return mosi, len(mosi), None

    hw.wire = wire
    assert hw.write(0x500, [0xA5A5A5A5, 0x5A5A5A5A]) == OK
    assert hw.words(0x500, 2) == [0xA5A5A5A5, 0x5A5A5A5A]
    assert hw.dev.retried == 1 and hw.model.crc_errors == 1 and hw.model.transactions == 2


def test_write_with_corrupted_data_is_refused_and_retried(hw):
    assert hw.read(0, 1)[0] == OK
    before = dict(hw.store)
    state = {"first": True}

    def wire(h, mosi):
        if state["first"] and len(mosi) > 6:
            state["first"] = False
            mosi = mosi[:8] + bytes([mosi[8] ^ 0x01]) + mosi[9:]
        return mosi, len(mosi), None

    hw.wire = wire
    # The device answers CRC_ERROR with a CRC over STATUS alone: the driver can trust that
    # nothing was applied, so it sends the write again.
    assert hw.write(0x600, [0x01020304, 0x05060708]) == OK
    assert hw.model.crc_errors == 1 and hw.dev.retried == 1
    assert hw.words(0x600, 2) == [0x01020304, 0x05060708]
    assert {k: v for k, v in hw.store.items() if k not in (0x600, 0x604)} == {
        k: v for k, v in before.items() if k not in (0x600, 0x604)}


@pytest.mark.parametrize("direction", ["mosi", "miso"])
def test_single_bit_errors(lib, direction):
    """One flipped bit per operation: an error or a retry, never a wrong value or write."""
    rng = random.Random(f"bit-errors-{direction}")
    hw = Harness(lib, seed=9)
    assert hw.read(0, 1)[0] == OK   # the initial resync is not a target
    shadow = dict(hw.store)
    outcomes = {}
    for _ in range(400):
        count = rng.choice((1, 2, 5, rng.randint(1, 40)))
        addr = 4 * rng.randrange(ADDR_LIMIT // 4 - count + 1)
        is_write = rng.random() < 0.5
        length = 6 + 2 + 4 + (4 * count) * (2 if is_write else 1)
        target = rng.randrange(8 * length)
        state = {"pos": 0}

        def flip(data, state=state, target=target):
            start, state["pos"] = state["pos"], state["pos"] + 8 * len(data)
            if not start <= target < state["pos"]:
                return data
            bit = target - start
            data = bytearray(data)
            data[bit // 8] ^= 0x80 >> (bit % 8)
            return bytes(data)

        if direction == "mosi":
            hw.wire = lambda h, mosi: (flip(mosi), len(mosi), None)
        else:
            hw.wire = lambda h, mosi: (mosi, len(mosi), flip)
        retried = hw.dev.retried
        if is_write:
            words = [rng.getrandbits(32) for _ in range(count)]
            rc = hw.write(addr, words)
            for i, w in enumerate(words):
                assert hw.store[addr + 4 * i] in ((w,) if rc == OK else (w, shadow[addr + 4 * i]))
            shadow.update((addr + 4 * i, hw.store[addr + 4 * i]) for i in range(count))
        else:
            rc, got = hw.read(addr, count)
            if rc == OK:
                assert got == [shadow[addr + 4 * i] for i in range(count)]
        assert rc in (OK, ERR_CRC, ERR_RESPONSE_CRC, ERR_NO_RESPONSE)
        key = ("write" if is_write else "read", rc, hw.dev.retried > retried)
        outcomes[key] = outcomes.get(key, 0) + 1
        assert dict(hw.store) == shadow   # nothing else was touched
    hw.wire = None
    assert hw.read(0x40, 4) == (OK, [shadow[0x40 + 4 * i] for i in range(4)])
    # The faults really were hit: reads recovered by retrying, writes reported errors.
    assert outcomes.get(("read", OK, True), 0) > 20
    assert not [k for k in outcomes if k[0] == "read" and k[1] != OK]   # one fault, retried
    if direction == "mosi":
        # A damaged request is refused verifiably (CRC_ERROR) and retried.
        assert outcomes.get(("write", OK, True), 0) > 20
    else:
        # A damaged reply leaves the write's outcome unknown: reported, not retried.
        assert sum(n for (kind, rc, _), n in outcomes.items()
                   if kind == "write" and rc != OK) > 20


# --- Cross compilation. ---------------------------------------------------------------------

@pytest.mark.parametrize("libc", ["picolibc", "freestanding"])
def test_riscv_cross_compile(tmp_path, libc):
    require_tool(RISCV_GCC)
    flags = ["-march=rv32imac", "-mabi=ilp32", "-Os"]
    if libc == "picolibc":
        specs = subprocess.run([RISCV_GCC, "-print-file-name=picolibc.specs"],
                               capture_output=True, text=True).stdout.strip()
        assert Path(specs).is_file(), "picolibc-riscv64-unknown-elf is missing (./bootstrap)"
        flags.append("--specs=picolibc.specs")
    else:
        flags.append("-ffreestanding")
    (obj,) = compile_objects(tmp_path, RISCV_GCC, flags)
    assert obj.stat().st_size > 0
