"""The CLOCK block through its registers: `Timebase` behind a register bank (`ClockBench`).

The laws of each part are tested in test_wallclock, test_media_clock, test_audio_clocks,
test_pps, test_event_capture and test_external_clock; here the registers must reach them and
their status, errors and counters must come back.
"""

from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from stagebox.bench.clock_bench import ClockBench
from stagebox.driver.device import Device
from stagebox.gateware.clock.timebase import ERROR_CODES
from stagebox.gateware.ptp_time import NS_PER_SEC
from stagebox.regmap.map import CLOCK_COMMANDS, COMMAND_LATENCY_CYCLES, SAMPLE_RATES_HZ
from stagebox.testing.amaranth_sim import AmaranthWishboneBus, run_testbench

SYS_CLK_HZ = 125_000_000
PERIOD_NS = NS_PER_SEC // SYS_CLK_HZ
COMMAND_LATENCY = COMMAND_LATENCY_CYCLES


def simulate(testbench, *, ext_mclk_hz=None, **kwargs):
    bench = ClockBench(sys_clk_hz=SYS_CLK_HZ, external_clock=ext_mclk_hz is not None,
                       audio_ext_pin=False, **kwargs)

    async def run(ctx):
        await testbench(ctx, bench, Device(AmaranthWishboneBus(ctx, bench.bus)))

    if ext_mclk_hz is None:
        run_testbench(bench, run, clk_hz=SYS_CLK_HZ)
        return
    top = Module()
    top.submodules.bench = bench
    top.domains.audio_ext = ClockDomain("audio_ext")
    sim = Simulator(top)
    sim.add_clock(1 / SYS_CLK_HZ)
    sim.add_clock(1 / ext_mclk_hz, domain="audio_ext")
    sim.add_testbench(run)
    sim.run()


async def read_time_ns(dev):
    value = await dev.read("CLOCK_TIME")
    return (value >> 32) * NS_PER_SEC + (value & ((1 << 30) - 1))


async def command(ctx, dev, *names):
    """Write CLOCK_COMMAND and wait until it has taken effect (the latency its description
    promises)."""
    bits = {f.name: 1 << f.lsb for f in CLOCK_COMMANDS}
    await dev.write("CLOCK_COMMAND", sum(bits[n] for n in names))
    await ctx.tick().repeat(COMMAND_LATENCY)


def test_set_and_step_reach_the_wallclock_and_count():
    async def testbench(ctx, bench, dev):
        target = 1_700_000_000 * NS_PER_SEC + 123_456_789
        await dev.write("CLOCK_SET_TIME", (target // NS_PER_SEC) << 32 | target % NS_PER_SEC)
        await command(ctx, dev, "SET")
        first = await read_time_ns(dev)
        # A register access takes a handful of cycles: the time read is just after the set.
        assert 0 < first - target < 40 * PERIOD_NS
        second = await read_time_ns(dev)
        assert 0 < second - first < 40 * PERIOD_NS
        assert await dev.read("CLOCK_DISCONTINUITIES") == 1

        # A step of -2.5 s: the seconds and nanoseconds parts together.
        await dev.write("CLOCK_STEP", ((-3) & 0xFFFF_FFFF) << 32 | 500_000_000)
        before = await read_time_ns(dev)
        await command(ctx, dev, "STEP")
        after = await read_time_ns(dev)
        assert -2_500_000_000 < after - before < -2_500_000_000 + 60 * PERIOD_NS
        assert await dev.read("CLOCK_DISCONTINUITIES") == 2
        assert await dev.read("CLOCK_REJECTS") == 0
        assert await dev.read_field("CLOCK_STATUS", "LAST_ERROR") == ERROR_CODES["NONE"]
    simulate(testbench)


def test_bad_commands_are_rejected_and_counted():
    async def testbench(ctx, bench, dev):
        await dev.write("CLOCK_STEP", NS_PER_SEC)                   # |NS| must stay below 1 s
        before = await read_time_ns(dev)
        await command(ctx, dev, "STEP")
        after = await read_time_ns(dev)
        assert 0 < after - before < 60 * PERIOD_NS                 # nothing happened
        assert await dev.read_field("CLOCK_STATUS", "LAST_ERROR") == ERROR_CODES["STEP_RANGE"]
        await dev.write("CLOCK_SLEW_RATE_PPM", 0)
        await dev.write("CLOCK_SLEW_NS", 1000)
        await command(ctx, dev, "SLEW")
        assert await dev.read_field("CLOCK_STATUS", "LAST_ERROR") == ERROR_CODES["SLEW_RATE"]
        assert await dev.read_field("CLOCK_STATUS", "SLEWING") == 0
        # No external clock input in this build.
        await dev.write_field("CLOCK_MEDIA_CONTROL", "EXTERNAL", 1)
        assert await dev.read_field("CLOCK_STATUS", "LAST_ERROR") == ERROR_CODES["NO_EXTERNAL"]
        # A sample rate the build lacks.
        await dev.write_field("CLOCK_MEDIA_CONTROL", "RATE", 0)
        assert await dev.read_field("CLOCK_STATUS", "LAST_ERROR") == ERROR_CODES["RATE"]
        assert await dev.read("CLOCK_REJECTS") == 4
        assert await dev.read("CLOCK_DISCONTINUITIES") == 0
    simulate(testbench, sample_rates_hz=(48_000, 96_000))


def test_pps_pin_and_interrupt_at_the_second_boundary():
    async def testbench(ctx, bench, dev):
        await dev.write("CLOCK_PPS_WIDTH_NS", 1000)
        start = 41 * NS_PER_SEC + NS_PER_SEC - 20_000
        await dev.write("CLOCK_SET_TIME", 41 << 32 | start % NS_PER_SEC)
        await command(ctx, dev, "SET")
        cycles = 0
        while not ctx.get(bench.pps):
            assert not ctx.get(bench.irq) & 2
            await ctx.tick()
            cycles += 1
            assert cycles < 20_000 // PERIOD_NS + 10
        high = 0
        while ctx.get(bench.pps):
            await ctx.tick()
            high += 1
        assert high == 1000 // PERIOD_NS
        seconds = await dev.read_field("CLOCK_TIME", "SEC")
        assert seconds == 42
    simulate(testbench)


def test_media_count_follows_the_wallclock():
    async def testbench(ctx, bench, dev):
        await dev.write("CLOCK_SET_TIME", 7 << 32 | 250_000_000)
        await command(ctx, dev, "SET")
        for _ in range(100):      # re-acquisition takes well under 100 register reads
            if await dev.read_field("CLOCK_STATUS", "MEDIA_VALID"):
                break
        else:
            raise AssertionError("the media clock never became valid")
        fs = SAMPLE_RATES_HZ[await dev.read_field("CLOCK_MEDIA_CONTROL", "RATE")]
        count = await dev.read("CLOCK_MEDIA_COUNT")
        now = await read_time_ns(dev)
        # The two reads are a few cycles apart: at most one sample boundary between them.
        assert now * fs // NS_PER_SEC - count in (0, 1)
        assert await dev.read_field("CLOCK_STATUS", "AUDIO_RUNNING") in (0, 1)
    simulate(testbench)


def test_external_clock_drives_the_pins_and_is_measured():
    fs = 48_000
    mclk_hz = 256 * fs * (1 + 100e-6)

    async def testbench(ctx, bench, dev):
        assert await dev.read_field("CLOCK_STATUS", "AUDIO_RUNNING") in (0, 1)
        # TDM8 needs 512 fs from an external MCLK: refused, counted, pins stay low.
        await dev.write("CLOCK_MEDIA_CONTROL", 0b111001)         # 48 kHz, TDM, enable, external
        assert await dev.read_field("CLOCK_STATUS", "LAST_ERROR") == ERROR_CODES["TDM_NEEDS_512"]
        assert await dev.read("CLOCK_REJECTS") == 1
        await dev.write("CLOCK_MEDIA_CONTROL", 0b110001)         # I2S, 256 fs, external
        # The pins now follow the external divider: 32 BCLK periods per LRCK half period.
        bclk_edges, at_lrck_edges = 0, []
        last = (ctx.get(bench.bclk), ctx.get(bench.lrck))
        assert ctx.get(bench.mclk) == 0
        for _ in range(8 * SYS_CLK_HZ // fs):
            await ctx.tick()
            now = (ctx.get(bench.bclk), ctx.get(bench.lrck))
            bclk_edges += now[0] != last[0]
            if now[1] != last[1]:
                at_lrck_edges.append(bclk_edges)
            last = now
        # Once aligned (after the first frames), every half frame has 64 BCLK edges.
        assert len(at_lrck_edges) >= 8
        halves = [b - a for a, b in zip(at_lrck_edges[-5:-1], at_lrck_edges[-4:], strict=True)]
        assert halves == [64] * 4
        # The divider was aligned to the media clock: its frames start a fixed few hundred
        # nanoseconds after the sample boundary.
        assert await dev.read("CLOCK_EXT_MEASUREMENTS") == 0        # no whole gate yet
        phase = await dev.read("CLOCK_EXT_PHASE_NS")
        assert 0 < phase < 1000
    simulate(testbench, ext_mclk_hz=mclk_hz)
