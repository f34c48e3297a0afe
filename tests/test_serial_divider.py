"""SerialDivider against Python's divmod, including the edge cases of long division."""

import random

import pytest
from amaranth.sim import Simulator

from stagebox.gateware.clock.serial_divider import SerialDivider


def _run(dut, cases):
    results = []

    async def bench(ctx):
        for dividend, divisor in cases:
            ctx.set(dut.dividend, dividend)
            ctx.set(dut.divisor, divisor)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles = 1
            while not ctx.get(dut.done):
                await ctx.tick()
                cycles += 1
                assert cycles <= dut.dividend_width + 1, "done is late"
            assert cycles == dut.dividend_width + 1
            results.append((ctx.get(dut.quotient), ctx.get(dut.remainder),
                            ctx.get(dut.div_by_zero)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return results


@pytest.mark.parametrize("widths", [(8, 4), (73, 37), (47, 30)])
def test_divmod(widths):
    dividend_width, divisor_width = widths
    rng = random.Random(dividend_width)
    top_n, top_d = (1 << dividend_width) - 1, (1 << divisor_width) - 1
    cases = [(top_n, 1), (top_n, top_d), (0, 7), (top_d, top_d), (top_d - 1, top_d)]
    cases += [(rng.randrange(top_n + 1), rng.randrange(1, top_d + 1)) for _ in range(40)]
    dut = SerialDivider(dividend_width, divisor_width)
    for (n, d), (q, r, zero) in zip(cases, _run(dut, cases), strict=True):
        assert (q, r, zero) == (*divmod(n, d), 0), (n, d)


def test_division_by_zero_is_flagged():
    dut = SerialDivider(16, 8)
    [(_, _, zero)] = _run(dut, [(1234, 0)])
    assert zero == 1


def test_restart_while_busy_gives_the_new_result():
    dut = SerialDivider(32, 16)

    async def bench(ctx):
        ctx.set(dut.dividend, 1000)
        ctx.set(dut.divisor, 3)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(5):
            await ctx.tick()
        ctx.set(dut.dividend, 99_999)
        ctx.set(dut.divisor, 7)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ticks = 1
        while not ctx.get(dut.done):
            await ctx.tick()
            ticks += 1
        assert ticks == 33
        assert (ctx.get(dut.quotient), ctx.get(dut.remainder)) == divmod(99_999, 7)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
