"""RGMII (gateware/eth/rgmii.py): the adapters in amaranth.sim against models written from the
RGMII rules, then `EthernetPort("rgmii")` behind the simulation DDR model
(stagebox/testing/rgmii_ddr.py) in cocotb on Verilator against cocotbext-eth's RGMII source and
sink (see cocotb/rgmii_tb.py)."""

import random
from pathlib import Path

import pytest
from amaranth.hdl import Cat, Const, DomainRenamer, Fragment, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.gateware.eth.interface import PREAMBLE, SFD
from stagebox.gateware.eth.port import RX_STATUS, TX_STATUS, EthernetPort
from stagebox.gateware.eth.rgmii import RgmiiRx, RgmiiTx
from stagebox.testing.amaranth_sim import run_testbench
from stagebox.testing.cocotb_runner import run_cocotb
from stagebox.testing.rgmii_ddr import RgmiiDdr


def random_rx_pins(rng, cycles):
    """(rxd, ctl_rise, ctl_fall) per cycle: idle stretches with in-band status or false carrier
    (ctl 0/1), and bursts of preamble, SFD and random bytes, some with RX_ER (ctl 1/0)."""
    pins = []
    while len(pins) < cycles:
        for _ in range(rng.randint(1, 12)):
            fall = int(rng.random() < 0.2)
            pins.append((rng.getrandbits(8), 0, fall))
        burst = [PREAMBLE] * rng.randint(0, 7) + [SFD] * rng.randint(0, 2)
        burst += [rng.choice([SFD, rng.getrandbits(8)]) for _ in range(rng.randint(0, 20))]
        pins += [(byte, 1, int(rng.random() > 0.1)) for byte in burst]
    return pins


def test_rx_decode():
    """Each cycle the bus shows the previous cycle's pins: data, dv = RX_CTL at the rising edge,
    er = the two halves differing; ``sfd`` with the first 0xD5 of each dv burst; in-band status
    taken from ``rxd[0:4]`` whenever both halves are low, held otherwise."""
    dut = RgmiiRx(domain="sync")
    pins = random_rx_pins(random.Random(7), 3000)

    async def testbench(ctx):
        synced = False
        status = (0, 0, 0)
        for rxd, rise, fall in pins:
            ctx.set(dut.rxd, rxd)
            ctx.set(dut.rx_ctl_rise, rise)
            ctx.set(dut.rx_ctl_fall, fall)
            await ctx.tick()
            sfd = rise and not synced and rxd == SFD
            synced = bool(rise and (synced or sfd))
            if not rise and not fall:
                status = (rxd & 1, rxd >> 1 & 3, rxd >> 3 & 1)
            assert ctx.get(dut.bus.valid) == 1
            assert ctx.get(dut.bus.byte.data) == rxd
            assert ctx.get(dut.bus.byte.dv) == rise
            assert ctx.get(dut.bus.byte.er) == rise ^ fall
            assert ctx.get(dut.sfd) == sfd
            assert (ctx.get(dut.link), ctx.get(dut.speed), ctx.get(dut.full_duplex)) == status

    run_testbench(dut, testbench)


def test_tx_encode():
    """A byte offered in one cycle is on ``txd`` in the next with TX_EN on ``tx_ctl_rise`` and
    TX_EN xor TX_ER on ``tx_ctl_fall``; idle (no ``valid`` or no ``dv``) gives 0 and 0/0."""
    dut = RgmiiTx(domain="sync")
    rng = random.Random(8)

    async def testbench(ctx):
        for _ in range(2000):
            data = rng.getrandbits(8)
            valid, dv, er = rng.random() < 0.9, rng.random() < 0.7, rng.random() < 0.2
            ctx.set(dut.bus.valid, valid)
            ctx.set(dut.bus.byte.data, data)
            ctx.set(dut.bus.byte.dv, dv)
            ctx.set(dut.bus.byte.er, er)
            assert ctx.get(dut.ce) == 1
            await ctx.tick()
            en = valid and dv
            assert ctx.get(dut.txd) == (data if en else 0)
            assert ctx.get(dut.tx_ctl_rise) == en
            assert ctx.get(dut.tx_ctl_fall) == en ^ (en and er)

    run_testbench(dut, testbench)


def test_port_pins():
    """`EthernetPort("rgmii")` exposes the SDR side of the DDR registers, in 125 MHz domains,
    and no GMII pins or ``dribble``."""
    port = EthernetPort("rgmii")
    members = port.signature.members
    assert (port.rx_domain, port.tx_domain) == ("eth_rx", "eth_tx")
    assert members["rxd"] == In(8) and members["txd"] == Out(8)
    for name in ("rx_ctl_rise", "rx_ctl_fall"):
        assert members[name] == In(1)
    for name in ("tx_ctl_rise", "tx_ctl_fall"):
        assert members[name] == Out(1)
    for name in ("rx_dv", "rx_er", "tx_en", "tx_er"):
        assert name not in members
    assert set(port.status.rx.signature.members) == set(RX_STATUS) - {"dribble"}
    assert set(port.status.tx.signature.members) == set(TX_STATUS)
    Fragment.get(port, None)


# --- End to end -------------------------------------------------------------------------------

class RgmiiTestTop(wiring.Component):
    """`EthernetPort("rgmii")` behind `RgmiiDdr`, all in ``sync``, on flat ports: the RGMII pins
    ``rd``, ``rx_ctl`` (RXC is ``clk``), ``td``, ``tx_ctl``, ``txc``; ``clk90`` (in: ``clk``
    delayed a quarter period by the testbench, the PHY's internal clock delay); ``rx_valid`` /
    ``rx_payload`` and ``tx_valid`` / ``tx_ready`` / ``tx_payload`` (``data``, ``first``,
    ``last``, ``error`` from bit 0 up); ``rx_status`` / ``tx_status`` (the pulses in
    `RX_STATUS` / `TX_STATUS` order, bit 0 first; ``dribble`` is 0)."""

    rd: In(4)
    rx_ctl: In(1)
    td: Out(4)
    tx_ctl: Out(1)
    txc: Out(1)
    clk90: In(1)
    rx_valid: Out(1)
    rx_payload: Out(11)
    tx_valid: In(1)
    tx_ready: Out(1)
    tx_payload: In(11)
    rx_status: Out(len(RX_STATUS))
    tx_status: Out(len(TX_STATUS))

    def elaborate(self, platform):
        m = Module()
        port = EthernetPort("rgmii")
        m.submodules.port = DomainRenamer({port.rx_domain: "sync", port.tx_domain: "sync"})(port)
        m.submodules.ddr = ddr = RgmiiDdr(rx_domain="sync", tx_domain="sync")
        rx_status = [getattr(port.status.rx, name) if name != "dribble" else Const(0)
                     for name in RX_STATUS]
        m.d.comb += [
            ddr.rd.eq(self.rd), ddr.rx_ctl.eq(self.rx_ctl),
            self.td.eq(ddr.td), self.tx_ctl.eq(ddr.tx_ctl), self.txc.eq(ddr.txc),
            port.rxd.eq(ddr.rxd), port.rx_ctl_rise.eq(ddr.rx_ctl_rise),
            port.rx_ctl_fall.eq(ddr.rx_ctl_fall),
            ddr.txd.eq(port.txd), ddr.tx_ctl_rise.eq(port.tx_ctl_rise),
            ddr.tx_ctl_fall.eq(port.tx_ctl_fall),
            self.rx_valid.eq(port.rx.valid), self.rx_payload.eq(port.rx.payload.as_value()),
            port.tx.valid.eq(self.tx_valid), self.tx_ready.eq(port.tx.ready),
            port.tx.payload.eq(self.tx_payload),
            self.rx_status.eq(Cat(*rx_status)),
            self.tx_status.eq(Cat(*(getattr(port.status.tx, name) for name in TX_STATUS))),
        ]
        return m


@pytest.mark.slow
def test_rgmii_port():
    run_cocotb(RgmiiTestTop(), toplevel="rgmii_port", test_module="rgmii_tb",
               test_dir=Path(__file__).parent / "cocotb",
               testcase=["line_rate", "rx_errors", "tx_error"])
