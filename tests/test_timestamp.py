# amaranth: UnusedElaboratable=no
"""Frame timestamps: `ptp_add_ns` (gateware/ptp_time.py), `FreeRunningWallclock` and
`SfdTimestamper` (gateware/eth/timestamp.py) and `PhyTime` (gateware/eth/time_crossing.py) in
amaranth.sim, against integer arithmetic; then all of them with an `EthernetPort`, `RxCrossing`
and `TxStampCrossing` end to end in cocotb on Verilator against the PHY models (see
cocotb/timestamp_tb.py)."""

import random
from fractions import Fraction
from pathlib import Path

import pytest
from amaranth.hdl import (
    ClockDomain,
    ClockSignal,
    DomainRenamer,
    Module,
    ResetSignal,
    Signal,
    signed,
)
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from stagebox.gateware.eth.interface import RxFrameByte
from stagebox.gateware.eth.port import PHY_TYPES, EthernetPort
from stagebox.gateware.eth.rx_crossing import RxCrossing, TxStampCrossing
from stagebox.gateware.eth.time_crossing import PhyTime
from stagebox.gateware.eth.timestamp import FreeRunningWallclock, SfdTimestamper, latency_ns
from stagebox.gateware.ptp_time import (
    NS_PER_SEC,
    SEC_BITS,
    PtpTime,
    ns_to_ptp_time,
    ptp_add_ns,
    ptp_time_to_ns,
)
from stagebox.testing.amaranth_sim import run_testbench
from stagebox.testing.cocotb_runner import run_cocotb
from stagebox.testing.eth_cocotb import CLOCK_PERIOD_PS

MOD = NS_PER_SEC << SEC_BITS        # PtpTime wraps here (ns)
LAST_SEC = (1 << SEC_BITS) - 1


# --- ptp_add_ns -------------------------------------------------------------------------------

class Adder(wiring.Component):
    """`ptp_add_ns` on ports: ``time`` + ``offset`` -> ``comb`` (same cycle) and ``reg`` (the
    registered form, one cycle later)."""

    def __init__(self, offset_shape):
        super().__init__({"time": In(PtpTime), "offset": In(offset_shape),
                          "comb": Out(PtpTime), "reg": Out(PtpTime)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.comb.eq(ptp_add_ns(m, self.time, self.offset, name="c"))
        m.d.comb += self.reg.eq(ptp_add_ns(m, self.time, self.offset, domain="sync", name="r"))
        return m


def adder_cases(rng, *, signed_offsets):
    low = -(NS_PER_SEC - 1) if signed_offsets else 0
    high = NS_PER_SEC - 1
    seconds = [0, 1, 2, LAST_SEC - 1, LAST_SEC]
    nss = [0, 1, 2, NS_PER_SEC // 2, NS_PER_SEC - 2, NS_PER_SEC - 1]
    offsets = sorted({max(low, o) for o in (0, 1, 2, -1, -2, high, high - 1, -high, 1 - high)})
    cases = [(sec, ns, off) for sec in seconds for ns in nss for off in offsets]
    for _ in range(600):
        sec = rng.choice([rng.getrandbits(SEC_BITS), rng.choice(seconds)])
        ns = rng.choice([rng.randrange(NS_PER_SEC), rng.choice(nss)])
        cases.append((sec, ns, rng.randint(low, high)))
    # Sums exactly at the boundaries: 0, -1, 1 s - 1, 1 s.
    for _ in range(100):
        ns = rng.randrange(NS_PER_SEC)
        for target in (0, -1, NS_PER_SEC - 1, NS_PER_SEC):
            off = target - ns
            if low <= off <= high:
                cases.append((rng.choice(seconds), ns, off))
    return cases


@pytest.mark.parametrize("offset_shape", [signed(32), 30], ids=["signed32", "unsigned30"])
def test_ptp_add_ns(offset_shape):
    """Against integers: (sec * 1e9 + ns + offset) modulo 2**48 s, for random and edge cases
    (ns near 0 and 999_999_999, negative offsets, the seconds wrap both ways)."""
    signed_offsets = offset_shape != 30
    dut = Adder(offset_shape)
    cases = adder_cases(random.Random(str(offset_shape)), signed_offsets=signed_offsets)

    async def testbench(ctx):
        previous = None
        for sec, ns, off in cases:
            ctx.set(dut.time, {"sec": sec, "ns": ns})
            ctx.set(dut.offset, off)
            expected = (sec * NS_PER_SEC + ns + off) % MOD
            assert ptp_time_to_ns(ctx.get(dut.comb)) == expected, (sec, ns, off)
            assert ctx.get(dut.comb.ns) < NS_PER_SEC
            await ctx.tick()
            if previous is not None:
                assert ptp_time_to_ns(ctx.get(dut.reg)) == expected
            previous = expected

    run_testbench(dut, testbench)


def test_ptp_add_ns_constant_offsets():
    """Integer offsets become constants of the right signedness; out-of-range ones fail."""
    m = Module()
    time = Signal(PtpTime)
    for off in (0, 5, -5, NS_PER_SEC - 1, 1 - NS_PER_SEC):
        ptp_add_ns(m, time, off)
    for off in (NS_PER_SEC, -NS_PER_SEC):
        with pytest.raises(ValueError):
            ptp_add_ns(m, time, off)


# --- FreeRunningWallclock ---------------------------------------------------------------------

@pytest.mark.parametrize("period_ps", [8_000, 20_000, 40_000, 6_400, 8_138, 999, 1_001])
def test_wallclock_is_exact(period_ps):
    """In the n-th cycle after reset, time is init + floor(n * period / 1 ns), every cycle; the
    start lies just before the end of the 48-bit seconds, so both carries happen."""
    init = LAST_SEC * NS_PER_SEC + NS_PER_SEC - 3 * period_ps // 1000 - 5
    dut = FreeRunningWallclock(period_ps=period_ps, init_ns=init)
    cycles = 2_000

    async def testbench(ctx):
        assert ptp_time_to_ns(ctx.get(dut.time)) == init
        for n in range(1, cycles + 1):
            await ctx.tick()
            value = ctx.get(dut.time)
            assert value.ns < NS_PER_SEC
            assert ptp_time_to_ns(value) == (init + n * period_ps // 1000) % MOD, n

    run_testbench(dut, testbench)


def test_period_checks():
    for bad in (0, -8_000, 8_000.0, 10**12):
        with pytest.raises(ValueError):
            FreeRunningWallclock(period_ps=bad)
        with pytest.raises(ValueError):
            SfdTimestamper(latency_cycles=1, period_ps=bad)
    with pytest.raises(ValueError):
        PhyTime(domain="eth", period_ps=0, sync_period_ps=8_000)
    with pytest.raises(ValueError):
        PhyTime(domain="sync", period_ps=8_000, sync_period_ps=8_000)


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
    """Random times (around second boundaries and the seconds wrap too): the stamp is time -
    latency modulo 2**48 s, valid for exactly the cycle after sfd, and held until the next."""
    dut = SfdTimestamper(latency_cycles=latency_cycles, period_ps=period_ps)
    compensation = latency_ns(latency_cycles, period_ps)
    rng = random.Random(latency_cycles * 100_003 + period_ps)
    cases = [0, 1, 50, NS_PER_SEC, NS_PER_SEC + 3, MOD - 1, MOD - 100]
    cases += [rng.randrange(MOD) for _ in range(100)]
    cases += [rng.randrange(1, 1 << SEC_BITS) * NS_PER_SEC + rng.randint(-300, 300)
              for _ in range(50)]

    async def testbench(ctx):
        for time in cases:
            ctx.set(dut.time, ns_to_ptp_time(time))
            ctx.set(dut.sfd, 1)
            await ctx.tick()
            # Change the input right away: the stamp must be the sfd cycle's time.
            ctx.set(dut.sfd, 0)
            ctx.set(dut.time, ns_to_ptp_time(rng.randrange(MOD)))
            expected = (time - compensation) % MOD
            assert ctx.get(dut.stamp_valid) == 1
            assert ptp_time_to_ns(ctx.get(dut.stamp)) == expected, time
            for _ in range(rng.randint(1, 3)):
                await ctx.tick()
                assert ctx.get(dut.stamp_valid) == 0
                assert ptp_time_to_ns(ctx.get(dut.stamp)) == expected

    run_testbench(dut, testbench)


# --- PhyTime ----------------------------------------------------------------------------------

def femtos(seconds):
    """The clock period amaranth.sim uses for `seconds` (it converts to whole femtoseconds and
    toggles every half period)."""
    return 2 * (int(seconds * 1e15) // 2)


@pytest.mark.parametrize(("phy_ps", "sync_s", "wall_ps", "sweeps"), [
    (8_000, 8.0003e-9, 8_000, False),    # nearly the same clock: a slow beat, 37.5 ppm drift
    (8_000, 7.3e-9, 7_300, True),        # PHY slower (a fractional-ns wallclock step)
    (8_000, 7e-9, 7_000, True),
    (8_000, 8e-9, 8_000, False),         # the same clock
    (20_000, 8e-9, 8_000, True),         # RMII against a 125 MHz sync
    (20_000, 8.0013e-9, 8_000, True),
    (40_000, 10e-9, 10_000, False),      # MII against 100 MHz: a fixed phase
    (40_000, 9.9991e-9, 10_000, True),
    (8_000, 30.7e-9, 30_700, True),      # PHY faster (and a fractional-ns wallclock step)
])
def test_phy_time_accuracy(phy_ps, sync_s, wall_ps, sweeps):
    """The replica against the wallclock's exact law, at every PHY edge over some 500
    re-alignments: replica - truth (integer femtoseconds, exact fractions) stays within one
    PHY period, plus the drift between two loads, of a constant, and within the documented
    window [-P/2, P/2) plus that drift."""
    m = Module()
    m.domains.phy = ClockDomain()
    m.submodules.wall = wall = FreeRunningWallclock(period_ps=wall_ps)
    m.submodules.replica = replica = PhyTime(domain="phy", period_ps=phy_ps,
                                             sync_period_ps=wall_ps)
    m.d.comb += replica.sync_time.eq(wall.time)
    sync_fs, phy_fs = femtos(sync_s), femtos(phy_ps * 1e-12)
    # Phases: the sync clock rises at sync_fs / 2, the PHY clock at a third of its period.
    sync_phase, phy_phase = sync_fs // 2, phy_fs // 3
    sim = Simulator(m)
    sim.add_clock(sync_fs * 1e-15, phase=sync_phase * 1e-15)
    sim.add_clock(phy_fs * 1e-15, phase=phy_phase * 1e-15, domain="phy")
    assert femtos(sync_phase * 1e-15 * 2) == sync_phase * 2
    cycles = 4_000
    errors = []

    async def testbench(ctx):
        for j in range(cycles):
            await ctx.tick("phy")
            edge_fs = phy_phase + j * phy_fs
            if not ctx.get(replica.aligned):
                continue
            value = ptp_time_to_ns(ctx.get(replica.time))
            # The wallclock reads k * wall_ps in the cycle after its k-th rising edge, edge 0
            # at sync_phase: it is 0 at sync_phase - sync_fs, and advances linearly.
            truth_ps = Fraction((edge_fs - sync_phase + sync_fs) * wall_ps, sync_fs)
            errors.append(value * 1000 - truth_ps)

    sim.add_testbench(testbench)
    sim.run()
    # Drift between two loads: the replica's rate against the wallclock's, over one interval
    # of the handshake (at most 4 * (P + S), see PhyTime).
    rate_error = abs(Fraction(phy_ps * 1000, phy_fs) - Fraction(wall_ps * 1000, sync_fs))
    drift = rate_error * 4 * (phy_fs + sync_fs) / 1000
    # Quantisation: a wallclock step of a fraction of a ns floors the sample by up to 1 ns; the
    # replica's output floors its picoseconds (by a constant, for a whole-ns PHY period).
    quantum = 1000 if wall_ps % 1000 else 0
    floor = replica.compensation_ps % 1000 if phy_ps % 1000 == 0 else 999
    spread = max(errors) - min(errors)
    assert spread <= phy_ps + drift + quantum, float(spread)
    assert -phy_ps / 2 - drift - quantum - floor <= min(errors), float(min(errors))
    assert max(errors) < phy_ps / 2 + drift, float(max(errors))
    if sweeps:
        # The clocks beat, so the load instant moves through the PHY period (which also shows
        # that the replica is re-aligned): the test sees the window, not one point of it.
        assert spread >= min(phy_ps, wall_ps) // 2


# --- End to end -------------------------------------------------------------------------------

#: The system clock per interface in the end-to-end tests (ps): unrelated to the PHY clock, so
#: the crossing's phase sweeps (GMII: sync faster than the PHY; MII and RMII: far slower, which
#: also keeps the run short; all above the byte rate). The stand-in wallclock steps by exactly
#: this period, so the wallclock is the simulator's time.
SYS_PERIODS = {"gmii": 7_000, "mii": 23_000, "rmii": 13_000}


class TimestampTestTop(wiring.Component):
    """The timestamp path of one interface: an `EthernetPort` (both halves in the top's
    ``sync`` domain, the PHY clock ``clk``), a `FreeRunningWallclock` in ``sys`` (``sys_clk``,
    the system side's ``sync``), a `PhyTime` carrying it to the PHY clock, an `SfdTimestamper`
    per direction (receive: ``SFD_LATENCY + 1``, transmit: ``-PIN_LATENCY``), `RxCrossing` and
    `TxStampCrossing`, on flat ports: the PHY pins (the port's names), ``tx_valid`` /
    ``tx_ready`` / ``tx_payload`` (the port's ``tx``), ``clk_n`` (the inverted PHY clock, for
    the sinks), ``rx_sfd`` / ``tx_sfd`` (the port's pulses), ``aligned`` (`PhyTime`'s);
    in ``sys``: ``wallclock``, ``rx_valid`` / ``rx_payload`` (`RxCrossing`'s ``source``, a
    packed `RxFrameByte`), ``rx_correction``, ``overflow``, ``tx_stamp_valid`` /
    ``tx_stamp_time`` / ``tx_correction`` (`TxStampCrossing`'s); ``sys_clk`` and ``sys_rst``
    drive ``sys``."""

    def __init__(self, kind):
        self.kind = kind
        width = PHY_TYPES[kind][2]
        dv_pin = "crs_dv" if kind == "rmii" else "rx_dv"
        members = {
            "rxd": In(width), dv_pin: In(1), "rx_er": In(1),
            "txd": Out(width), "tx_en": Out(1),
            "tx_valid": In(1), "tx_ready": Out(1), "tx_payload": In(11),
            "clk_n": Out(1), "rx_sfd": Out(1), "tx_sfd": Out(1), "aligned": Out(1),
            "wallclock": Out(PtpTime),
            "rx_valid": Out(1), "rx_payload": Out(RxFrameByte), "rx_correction": In(signed(32)),
            "overflow": Out(1),
            "tx_stamp_valid": Out(1), "tx_stamp_time": Out(PtpTime),
            "tx_correction": In(signed(32)),
            "sys_clk": In(1), "sys_rst": In(1),
        }
        if kind != "rmii":
            members["tx_er"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.domains.sys = ClockDomain()
        m.d.comb += [ClockSignal("sys").eq(self.sys_clk), ResetSignal("sys").eq(self.sys_rst)]
        rx_cls, tx_cls = PHY_TYPES[self.kind][:2]
        period = CLOCK_PERIOD_PS[self.kind]
        # The blocks are written for a PHY domain and sync; here the PHY clock is the top's
        # sync (the PHY models use clk) and the system side is sys.
        def place(block):
            return DomainRenamer({"sync": "sys", "phy": "sync"})(block)

        port = EthernetPort(self.kind)
        m.submodules.port = DomainRenamer({port.rx_domain: "sync", port.tx_domain: "sync"})(port)
        wall = FreeRunningWallclock(period_ps=SYS_PERIODS[self.kind])
        replica = PhyTime(domain="phy", period_ps=period, sync_period_ps=SYS_PERIODS[self.kind])
        rx = SfdTimestamper(domain="phy", latency_cycles=rx_cls.SFD_LATENCY + 1,
                            period_ps=period)
        tx = SfdTimestamper(domain="phy", latency_cycles=-tx_cls.PIN_LATENCY, period_ps=period)
        rx_cross = RxCrossing(domain="phy")
        tx_cross = TxStampCrossing(domain="phy")
        for name, block in [("wall", wall), ("replica", replica), ("rx_stamp", rx),
                            ("tx_stamp", tx), ("rx_cross", rx_cross), ("tx_cross", tx_cross)]:
            m.submodules[name] = place(block)

        dv_pin = "crs_dv" if self.kind == "rmii" else "rx_dv"
        m.d.comb += [
            self.clk_n.eq(~ClockSignal()),
            port.rxd.eq(self.rxd), getattr(port, dv_pin).eq(getattr(self, dv_pin)),
            port.rx_er.eq(self.rx_er),
            self.txd.eq(port.txd), self.tx_en.eq(port.tx_en),
            port.tx.valid.eq(self.tx_valid), self.tx_ready.eq(port.tx.ready),
            port.tx.payload.eq(self.tx_payload),
            self.rx_sfd.eq(port.status.rx.sfd), self.tx_sfd.eq(port.status.tx.sfd),
            replica.sync_time.eq(wall.time), self.wallclock.eq(wall.time),
            self.aligned.eq(replica.aligned),
            rx.sfd.eq(port.status.rx.sfd), rx.time.eq(replica.time),
            tx.sfd.eq(port.status.tx.sfd), tx.time.eq(replica.time),
            rx_cross.rx.valid.eq(port.rx.valid), rx_cross.rx.payload.eq(port.rx.payload),
            rx_cross.stamp.eq(rx.stamp), rx_cross.stamp_valid.eq(rx.stamp_valid),
            rx_cross.correction_ns.eq(self.rx_correction),
            self.rx_valid.eq(rx_cross.source.valid), self.rx_payload.eq(rx_cross.source.payload),
            self.overflow.eq(rx_cross.overflow),
            tx_cross.stamp.eq(tx.stamp), tx_cross.stamp_valid.eq(tx.stamp_valid),
            tx_cross.correction_ns.eq(self.tx_correction),
            self.tx_stamp_valid.eq(tx_cross.valid), self.tx_stamp_time.eq(tx_cross.time),
        ]
        if self.kind != "rmii":
            m.d.comb += self.tx_er.eq(port.tx_er)
        return m


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(PHY_TYPES))
def test_timestamps_end_to_end(kind):
    run_cocotb(TimestampTestTop(kind), toplevel=f"timestamp_{kind}", test_module="timestamp_tb",
               test_dir=Path(__file__).parent / "cocotb", testcase=["stamps"],
               extra_env={"STAGEBOX_PHY_KIND": kind,
                          "STAGEBOX_SYS_PERIOD_PS": str(SYS_PERIODS[kind])})
