"""The SPI bridge gateware against its byte-level reference model, on the same MOSI stream.

The real `SpiBridge` (standalone, amaranth.sim) masters a Python Wishbone slave backed by a dict;
`SpiBridgeModel` gets the same bytes and the same store through callbacks. The bus is memory
except for one word range that answers ``err`` and one that never answers (the bridge's bus
timeout), each placed so that bursts can run into it from memory. Both sides log every bus access,
and the logs, the MISO bytes, the final memory and the counters must all be identical.

Timing: the model executes a request instantly and so sends exactly one WAIT byte; the gateware
sends more when execution (up to `MAX_WORDS` bus cycles, or a bus timeout) outlasts one byte on
the wire. `test_random_stream_is_byte_exact` paces SCLK so that even the slowest request (a
full burst whose last word times out) is done within one byte time, which makes the two MISO
streams comparable byte for byte, including what the device sends while a request is still
arriving, after an abort and between transactions. `test_slow_bus_fast_sclk_transactions`
runs at the fastest SCLK the bridge supports over a bus with wait states, where the gateware
does send extra WAITs: there the comparison is per transaction (STATUS, DATA and CRC after the
WAITs), and the test checks that extra WAITs really occurred.
"""

import asyncio
import random

from amaranth.sim import Simulator

from stagebox.driver import spi_protocol as proto
from stagebox.gateware.spi_bridge import SpiBridge
from stagebox.testing.spi_model import BusError, SpiBridgeModel

CLK_PERIOD = 10e-9          # 100 MHz
CLK_HZ = round(1 / CLK_PERIOD)
ADDR_WIDTH = 8              # 256 words on the bus
MAX_WORDS = 16
BUS_TIMEOUT = 16            # cycles
ADDR_LIMIT = 4 << ADDR_WIDTH
ERR_WORDS = range(0x60, 0x68)    # answer `err`
HANG_WORDS = range(0xF0, 0x100)  # never answer
GAP_TIMEOUT_US = 2
SHORT_GAP_CYCLES = (2, 40)       # well below one microsecond
LONG_GAP_CYCLES = 4 * GAP_TIMEOUT_US * CLK_HZ // 1_000_000


class Store:
    """The bus both sides see: memory words, an `err` range and a silent range.

    Keys of `words` are byte addresses; `log` records every access as ``(op, address, value)``.
    """

    def __init__(self, seed):
        rng = random.Random(seed)
        self.log = []
        self.words = {4 * a: rng.getrandbits(32) for a in range(1 << ADDR_WIDTH)
                      if self.kind(4 * a) == "mem"}

    def kind(self, address):
        word = address >> 2
        if word in ERR_WORDS:
            return "err"
        if word in HANG_WORDS:
            return "hang"
        return "mem"

    def read(self, address):
        self.log.append(("r", address, None))
        if self.kind(address) != "mem":
            raise BusError(address)
        return self.words[address]

    def write(self, address, value):
        self.log.append(("w", address, value))
        if self.kind(address) != "mem":
            raise BusError(address)
        self.words[address] = value


def new_model(store):
    return SpiBridgeModel(store.read, store.write, max_words=MAX_WORDS, addr_limit=ADDR_LIMIT)


def new_bridge():
    return SpiBridge(sys_clk_hz=CLK_HZ, addr_width=ADDR_WIDTH, max_words=MAX_WORDS,
                     bus_timeout=BUS_TIMEOUT)


class PinHost:
    """Bit-banged SPI master on the bridge's pins, paced by simulated time (not clock ticks).

    It acts half a clock period away from the rising ``sync`` edges, so it never races them.
    `half` is half an SCLK period in ``sync`` cycles.
    """

    def __init__(self, ctx, dut, half):
        self.ctx, self.dut, self.half = ctx, dut, half
        self.mode = 0

    async def cycles(self, n):
        await self.ctx.delay(n * CLK_PERIOD)

    async def transfer(self, data, mode=None):
        """CS low, clock `data` in SPI `mode` (0 or 3; default: the previous one), CS high."""
        ctx, dut = self.ctx, self.dut
        self.mode = self.mode if mode is None else mode
        idle_sclk = 1 if self.mode == 3 else 0
        ctx.set(dut.sclk, idle_sclk)
        await self.cycles(self.half)
        ctx.set(dut.cs_n, 0)
        await self.cycles(self.half)
        received = bytearray()
        for byte in data:
            value = 0
            for bit in range(7, -1, -1):
                ctx.set(dut.sclk, 0)
                ctx.set(dut.mosi, (byte >> bit) & 1)
                await self.cycles(self.half)
                value = (value << 1) | ctx.get(dut.miso)  # sampled at the rising edge
                ctx.set(dut.sclk, 1)
                await self.cycles(self.half)
            received.append(value)
        ctx.set(dut.sclk, idle_sclk)
        await self.cycles(self.half)
        ctx.set(dut.cs_n, 1)
        return bytes(received)

    async def cs_high(self, cycles):
        await self.cycles(cycles)

    async def partial(self, bits):
        """CS low, clock `bits` (< 8) bits of ones, CS high: a byte cut short."""
        ctx, dut = self.ctx, self.dut
        idle_sclk = 1 if self.mode == 3 else 0
        ctx.set(dut.sclk, idle_sclk)
        await self.cycles(self.half)
        ctx.set(dut.cs_n, 0)
        await self.cycles(self.half)
        for _ in range(bits):
            ctx.set(dut.sclk, 0)
            ctx.set(dut.mosi, 1)
            await self.cycles(self.half)
            ctx.set(dut.sclk, 1)
            await self.cycles(self.half)
        ctx.set(dut.sclk, idle_sclk)
        await self.cycles(self.half)
        ctx.set(dut.cs_n, 1)
        await self.cycles(2 * self.half)


def add_wishbone_slave(sim, dut, store, *, wait_states=None):
    """Python Wishbone B4 classic slave over `store`: ``ack`` (after `wait_states()` cycles, if
    given) in memory, ``err`` in the error range, silence in the hang range. It wakes only when
    ``stb`` rises, which the bridge guarantees once per access (``stb`` drops between words).
    """
    bus = dut.bus

    async def slave(ctx):
        while True:
            await ctx.posedge(bus.stb)
            assert ctx.get(bus.cyc) and ctx.get(bus.sel) == 0b1111
            address = ctx.get(bus.adr) << 2
            hang = store.kind(address) == "hang"
            if not hang and wait_states is not None and (cycles := wait_states()):
                await ctx.tick().repeat(cycles)
                assert ctx.get(bus.stb) and ctx.get(bus.adr) << 2 == address, "stb dropped"
            try:
                if ctx.get(bus.we):
                    store.write(address, ctx.get(bus.dat_w))
                else:
                    ctx.set(bus.dat_r, store.read(address))
                ctx.set(bus.ack, 1)
            except BusError:
                if hang:
                    continue  # the bridge must give up on its own
                ctx.set(bus.err, 1)
            await ctx.tick()
            ctx.set(bus.ack, 0)
            ctx.set(bus.err, 0)
            ctx.set(bus.dat_r, 0)

    sim.add_testbench(slave, background=True)


def simulate(dut, store, host_main, *, wait_states=None):
    """Run `host_main(ctx)` against `dut` with the Wishbone slave on `store`; return its result
    and the bridge's counters when it finished."""
    sim = Simulator(dut)
    sim.add_clock(CLK_PERIOD)
    add_wishbone_slave(sim, dut, store, wait_states=wait_states)
    result = {}

    async def host(ctx):
        ctx.set(dut.regs.gap_timeout_us, GAP_TIMEOUT_US)
        result["value"] = await host_main(ctx)
        regs = dut.regs
        result["counters"] = {
            "transactions": ctx.get(regs.transactions), "crc_errors": ctx.get(regs.crc_errors),
            "aborts": ctx.get(regs.aborts), "bus_errors": ctx.get(regs.bus_errors),
            "bad_requests": ctx.get(regs.bad_requests),
            "last_status": ctx.get(regs.last_status),
        }
        result["max_words"] = ctx.get(regs.max_words)

    sim.add_testbench(host)
    sim.run()
    return result


# --- Traffic. ---------------------------------------------------------------------------------

TIMEOUT = "timeout"  # CS high past the gap timeout


def with_crc(body):
    return bytes(body) + proto.crc16(body).to_bytes(2, "big")


ERROR_KINDS = ("unaligned", "out_of_range", "too_long", "bad_crc", "unknown")
BUS_KINDS = ("read_err", "write_err", "read_hang", "write_hang")  # bursts that reach a range


def traffic_mix(rng, good, bad):
    """Request kinds in random order: `good` reads and writes each, `bad` of each of the
    `BUS_KINDS` and `ERROR_KINDS`."""
    kinds = ["read", "write"] * good + [*BUS_KINDS, *ERROR_KINDS] * bad
    rng.shuffle(kinds)
    return kinds


def random_request(rng, kind):
    """A random request of `kind` (read, write, a `BUS_KINDS` or an `ERROR_KINDS`); returns
    ``(request bytes, longest reply)``, the reply counted from the byte after the request (WAIT
    included)."""
    cmd = rng.choice([proto.CMD_READ, proto.CMD_WRITE])
    count = rng.choice([1, MAX_WORDS, rng.randint(1, MAX_WORDS)])
    if kind in BUS_KINDS:
        target = rng.choice(ERR_WORDS if kind.endswith("err") else HANG_WORDS)
        word = min(target - rng.randrange(count), (1 << ADDR_WIDTH) - count)  # covers target
    else:
        word = rng.randrange((1 << ADDR_WIDTH) - count + 1)
    address = 4 * word
    if kind in ("read", "write", *BUS_KINDS):
        cmd = proto.CMD_READ if kind.startswith("read") else proto.CMD_WRITE
    elif kind == "unaligned":
        address += rng.randint(1, 3)
    elif kind == "out_of_range":
        count = rng.randint(2, MAX_WORDS)
        address = rng.choice([
            4 * ((1 << ADDR_WIDTH) - count + 1),                  # one word past the top
            4 * rng.randint((1 << ADDR_WIDTH) - count + 1, 1 << ADDR_WIDTH),  # runs past it
            ADDR_LIMIT + 4 * rng.randrange(1 << 12),              # just above the bus
            rng.getrandbits(32) & ~3 | 0x8000_0000,                # far above it
        ])
        assert address + 4 * count > ADDR_LIMIT
    elif kind == "too_long":
        # Writes carry their data, so keep those short enough to stay cheap to simulate.
        count = rng.randint(MAX_WORDS + 1, MAX_WORDS + 4 if cmd == proto.CMD_WRITE else 256)
        address = 0
    words = [rng.getrandbits(32) for _ in range(count)]
    if kind == "unknown":
        cmd = rng.choice([c for c in range(1, 0xFF) if c not in (proto.CMD_READ, proto.CMD_WRITE)])
        request = with_crc(bytes([cmd, count - 1]) + address.to_bytes(4, "big"))
    else:
        body = bytes([cmd, count - 1]) + address.to_bytes(4, "big")
        if cmd == proto.CMD_WRITE:
            body += b"".join(w.to_bytes(4, "big") for w in words)
        request = with_crc(body)
    if kind == "bad_crc":
        # Corrupt one bit after COUNT (CMD and COUNT decide how long the request is).
        request = bytearray(request)
        bit = rng.randrange(16, 8 * len(request))
        request[bit // 8] ^= 0x80 >> (bit % 8)
        request = bytes(request)
    data = 4 * count if kind.startswith("read") else 0
    return request, 1 + 1 + data + 2


def filler(rng, n):
    return [rng.choice(proto.IGNORED_IDLE_BYTES) for _ in range(n)]


def random_stream(rng, kinds):
    """Events for the byte-exact test, one request per item of `kinds`: ``("spi", bytes, mode)``,
    ``("gap", cycles)`` (CS high, shorter than the gap timeout), ``("partial", bits)`` (a byte
    cut short) and ``(TIMEOUT,)``. Some requests
    are cut short by a timeout, some responses are abandoned by one; CS also rises briefly at
    random byte boundaries, and the SPI mode changes at random while CS is high."""
    flat = []   # bytes (int) and TIMEOUT markers
    for kind in kinds:
        flat += filler(rng, rng.choice([0, 0, 1, 3]))
        request, reply = random_request(rng, kind)
        if rng.random() < 0.05:
            flat += list(request[:rng.randrange(1, len(request))]) + [TIMEOUT]
            continue
        flat += list(request)
        pad = filler(rng, reply + rng.randint(0, 2))
        if rng.random() < 0.05:
            pad.insert(rng.randrange(len(pad) + 1), TIMEOUT)
        flat += pad
    events, chunk = [], bytearray()

    def flush():
        if chunk:
            events.append(("spi", bytes(chunk), rng.choice([0, 3])))
            chunk.clear()

    for item in flat:
        if item == TIMEOUT:
            flush()
            events.append((TIMEOUT,))
            continue
        chunk.append(item)
        if rng.random() < 0.03:
            flush()
            events.append(("gap", rng.randint(*SHORT_GAP_CYCLES)))
        elif rng.random() < 0.005:
            flush()
            events.append(("partial", rng.randint(1, 7)))
    flush()
    return events


def assert_same_bytes(got, expected):
    """Equality of two long byte strings, reporting where they first differ."""
    if got != expected:
        at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                  min(len(got), len(expected)))
        raise AssertionError(f"MISO differs from byte {at} of {len(expected)}: gateware "
                             f"{got[at:at + 8].hex()}, model {expected[at:at + 8].hex()}")


# --- Tests. -----------------------------------------------------------------------------------

def test_random_stream_is_byte_exact():
    half = 4   # SCLK = sys_clk / 8: one byte is 64 cycles
    # Slowest execution: a full burst (FETCH + ACCESS per word) whose last word times out, plus
    # the cycle into RESPOND. It must end within the byte after the request for one WAIT.
    assert 2 * MAX_WORDS + BUS_TIMEOUT + 2 < 8 * 2 * half - 4  # 4: synchronizer and edge
    rng = random.Random(0x5B0C)
    events = random_stream(rng, traffic_mix(rng, good=20, bad=3))

    model_store = Store(seed=1)
    model = new_model(model_store)
    model_miso = bytearray()
    for event in events:
        if event[0] == "spi":
            model_miso += model.exchange(event[1])
        elif event[0] == TIMEOUT:
            model.gap_timeout()
        elif event[0] == "partial":
            model.partial_byte()

    dut = new_bridge()
    store = Store(seed=1)

    async def host_main(ctx):
        host = PinHost(ctx, dut, half)
        miso = bytearray()
        for event in events:
            if event[0] == "spi":
                miso += await host.transfer(event[1], mode=event[2])
            elif event[0] == "gap":
                await host.cs_high(event[1])
            elif event[0] == "partial":
                await host.partial(event[1])
            else:
                await host.cs_high(LONG_GAP_CYCLES)
        await host.cs_high(4 * half)
        return bytes(miso)

    result = simulate(dut, store, host_main)

    assert_same_bytes(result["value"], bytes(model_miso))
    assert store.log == model_store.log
    assert store.words == model_store.words
    assert result["counters"] == model.counters()
    assert result["max_words"] == MAX_WORDS
    assert any(event[0] == "partial" for event in events)
    # The traffic reached every outcome, so the comparison above covered all of them.
    assert all(model.counters()[name] for name in
               ("transactions", "crc_errors", "aborts", "bus_errors", "bad_requests"))
    reached = {(op, model_store.kind(address)) for op, address, _ in model_store.log}
    assert reached == {(op, kind) for op in "rw" for kind in ("mem", "err", "hang")}


async def exchange_transaction(transfer, request, max_wait=64):
    """Send `request` the way a host does: clock it, poll single filler bytes until STATUS,
    then clock the rest. Returns ``(MISO during the request, WAIT count, response bytes)``."""
    during = await transfer(request)
    waits = 0
    while (status := (await transfer(bytes([proto.FILLER])))[0]) == proto.WAIT:
        waits += 1
        assert waits <= max_wait, "no response"
    read_ok = request[0] == proto.CMD_READ and status == proto.Status.OK
    rest = await transfer(bytes([proto.FILLER]) * ((4 * (request[1] + 1) if read_ok else 0) + 2))
    return during, waits, bytes([status]) + rest


def test_slow_bus_fast_sclk_transactions():
    half = 2   # SCLK = sys_clk / 4, the fastest the bridge supports
    rng = random.Random(0xB0B)
    requests = [random_request(rng, kind)[0] for kind in traffic_mix(rng, good=8, bad=2)]
    # Long bursts over a bus with wait states are what make the gateware send extra WAITs.
    requests += [proto.encode_request(proto.CMD_READ, 0, MAX_WORDS),
                 proto.encode_request(proto.CMD_WRITE, 0x40, MAX_WORDS, list(range(MAX_WORDS)))]

    model_store = Store(seed=2)
    model = new_model(model_store)

    async def model_transfer(data):
        return model.exchange(data)

    async def run_model():
        return [await exchange_transaction(model_transfer, r) for r in requests]

    expected = asyncio.run(run_model())

    dut = new_bridge()
    store = Store(seed=2)
    slave_rng = random.Random(3)

    async def host_main(ctx):
        host = PinHost(ctx, dut, half)
        return [await exchange_transaction(host.transfer, r) for r in requests]

    result = simulate(dut, store, host_main, wait_states=lambda: slave_rng.randint(0, 3))
    got = result["value"]

    for request, (during, waits, response), (m_during, m_waits, m_response) in zip(
            requests, got, expected, strict=True):
        assert during == m_during == bytes([proto.WAIT]) * len(request)
        assert m_waits == 1 <= waits
        assert response == m_response, request.hex()
        # The host's decoder accepts the gateware's response (or its error status).
        decoder = proto.ResponseDecoder(request)
        decoder.feed(bytes([proto.WAIT]) * waits + response)
        try:
            decoder.result()
        except proto.ProtocolError as error:
            assert error.status == response[0] != proto.Status.OK
    assert max(waits for _, waits, _ in got) > 1, "no extra WAITs: the pacing test is moot"
    assert store.log == model_store.log
    assert store.words == model_store.words
    assert result["counters"] == model.counters()

