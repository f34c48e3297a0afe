"""Frame timestamps (gateware/eth/timestamp.py): `FreeRunningTime` and `SfdTimestamper` in
amaranth.sim, then both behind an `EthernetPort` end to end in cocotb on Verilator against the
PHY models (see cocotb/timestamp_tb.py)."""

import random
from pathlib import Path

import pytest
from amaranth.hdl import ClockSignal, DomainRenamer, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.gateware.eth.port import PHY_TYPES, EthernetPort
from stagebox.gateware.eth.timestamp import FreeRunningTime, SfdTimestamper, latency_ns
from stagebox.testing.amaranth_sim import run_testbench
from stagebox.testing.cocotb_runner import run_cocotb

MASK64 = (1 << 64) - 1
PERIODS = {"gmii": 8_000, "mii": 40_000, "rmii": 20_000}     # ps


# --- FreeRunningTime --------------------------------------------------------------------------

@pytest.mark.parametrize("period_ps", [8_000, 20_000, 40_000, 6_400, 8_138, 999, 1_001])
def test_free_running_time_is_exact(period_ps):
    """In the n-th cycle after reset, time_ns is floor(n * period / 1 ns), every cycle."""
    dut = FreeRunningTime(period_ps=period_ps)
    cycles = 3_000

    async def testbench(ctx):
        assert ctx.get(dut.time_ns) == 0
        for n in range(1, cycles + 1):
            await ctx.tick()
            assert ctx.get(dut.time_ns) == n * period_ps // 1000, n

    run_testbench(dut, testbench)


# --- SfdTimestamper ---------------------------------------------------------------------------

def test_latency_rounding():
    assert latency_ns(6, 8_000) == 48
    assert latency_ns(-1, 40_000) == -40
    assert latency_ns(3, 6_400) == 19            # 19.2
    assert latency_ns(2, 6_400) == 13            # 12.8
    assert latency_ns(5, 6_100) == 31            # 30.5: half away from zero
    assert latency_ns(-5, 6_100) == -31
    assert latency_ns(0, 8_000) == 0


@pytest.mark.parametrize(("latency_cycles", "period_ps"),
                         [(1, 8_000), (3, 40_000), (6, 20_000), (-1, 8_000), (-1, 20_000),
                          (5, 6_100), (-5, 6_100)])
def test_sfd_timestamper(latency_cycles, period_ps):
    """Random times and corrections (negative ones too, and wrapping below zero): the stamp is
    time - latency + correction modulo 2**64, valid for exactly the cycle after sfd, and held
    until the next sfd."""
    dut = SfdTimestamper(latency_cycles=latency_cycles, period_ps=period_ps)
    compensation = latency_ns(latency_cycles, period_ps)
    rng = random.Random(latency_cycles * 100_003 + period_ps)
    cases = [(0, 0), (0, -1), (5, -2**31), (MASK64, 2**31 - 1), (MASK64 - 3, 100)]
    cases += [(rng.getrandbits(64), rng.randint(-2**31, 2**31 - 1)) for _ in range(100)]
    cases += [(rng.randrange(1000), rng.randint(-1000, 1000)) for _ in range(50)]

    async def testbench(ctx):
        expected = 0
        for time, correction in cases:
            ctx.set(dut.time_ns, time)
            ctx.set(dut.correction_ns, correction)
            ctx.set(dut.sfd, 1)
            await ctx.tick()
            # Change the inputs right away: the stamp must be the sfd cycle's values.
            ctx.set(dut.sfd, 0)
            ctx.set(dut.time_ns, rng.getrandbits(64))
            ctx.set(dut.correction_ns, rng.randint(-2**31, 2**31 - 1))
            expected = (time - compensation + correction) & MASK64
            assert ctx.get(dut.stamp_valid) == 1
            assert ctx.get(dut.stamp_ns) == expected, (time, correction)
            for _ in range(rng.randint(1, 3)):
                await ctx.tick()
                assert ctx.get(dut.stamp_valid) == 0
                assert ctx.get(dut.stamp_ns) == expected

    run_testbench(dut, testbench)


# --- End to end -------------------------------------------------------------------------------

class TimestampTestTop(wiring.Component):
    """An `EthernetPort`, a `FreeRunningTime` and an `SfdTimestamper` per direction (receive:
    ``SFD_LATENCY + 1``, transmit: ``-PIN_LATENCY``; correction 0), all in ``sync``, on flat
    ports: the PHY pins (the port's names), ``tx_valid`` / ``tx_ready`` / ``tx_payload`` (the
    port's ``tx``: ``data``, ``first``, ``last``, ``error`` from bit 0 up), ``time_ns``,
    ``rx_stamp`` / ``rx_stamp_valid``, ``tx_stamp`` / ``tx_stamp_valid``, ``rx_sfd`` /
    ``tx_sfd`` (the port's pulses) and ``clk_n`` (the inverted clock, for the sinks)."""

    def __init__(self, kind):
        self.kind = kind
        width = PHY_TYPES[kind][2]
        dv_pin = "crs_dv" if kind == "rmii" else "rx_dv"
        members = {
            "rxd": In(width), dv_pin: In(1), "rx_er": In(1),
            "txd": Out(width), "tx_en": Out(1),
            "tx_valid": In(1), "tx_ready": Out(1), "tx_payload": In(11),
            "time_ns": Out(64),
            "rx_stamp": Out(64), "rx_stamp_valid": Out(1),
            "tx_stamp": Out(64), "tx_stamp_valid": Out(1),
            "rx_sfd": Out(1), "tx_sfd": Out(1),
            "clk_n": Out(1),
        }
        if kind != "rmii":
            members["tx_er"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        rx_cls, tx_cls = PHY_TYPES[self.kind][:2]
        period = PERIODS[self.kind]
        port = EthernetPort(self.kind)
        m.submodules.port = DomainRenamer({port.rx_domain: "sync", port.tx_domain: "sync"})(port)
        m.submodules.time = time = FreeRunningTime(period_ps=period)
        m.submodules.rx_stamp = rx = SfdTimestamper(latency_cycles=rx_cls.SFD_LATENCY + 1,
                                                    period_ps=period)
        m.submodules.tx_stamp = tx = SfdTimestamper(latency_cycles=-tx_cls.PIN_LATENCY,
                                                    period_ps=period)
        dv_pin = "crs_dv" if self.kind == "rmii" else "rx_dv"
        m.d.comb += [
            self.clk_n.eq(~ClockSignal()),
            port.rxd.eq(self.rxd), getattr(port, dv_pin).eq(getattr(self, dv_pin)),
            port.rx_er.eq(self.rx_er),
            self.txd.eq(port.txd), self.tx_en.eq(port.tx_en),
            port.tx.valid.eq(self.tx_valid), self.tx_ready.eq(port.tx.ready),
            port.tx.payload.eq(self.tx_payload),
            self.time_ns.eq(time.time_ns),
            rx.sfd.eq(port.status.rx.sfd), rx.time_ns.eq(time.time_ns),
            tx.sfd.eq(port.status.tx.sfd), tx.time_ns.eq(time.time_ns),
            self.rx_stamp.eq(rx.stamp_ns), self.rx_stamp_valid.eq(rx.stamp_valid),
            self.tx_stamp.eq(tx.stamp_ns), self.tx_stamp_valid.eq(tx.stamp_valid),
            self.rx_sfd.eq(port.status.rx.sfd), self.tx_sfd.eq(port.status.tx.sfd),
        ]
        if self.kind != "rmii":
            m.d.comb += self.tx_er.eq(port.tx_er)
        return m


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(PHY_TYPES))
def test_timestamps_end_to_end(kind):
    run_cocotb(TimestampTestTop(kind), toplevel=f"timestamp_{kind}", test_module="timestamp_tb",
               test_dir=Path(__file__).parent / "cocotb", testcase=["stamps"],
               extra_env={"STAGEBOX_PHY_KIND": kind})
