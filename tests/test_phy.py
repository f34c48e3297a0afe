"""PHY adapters (GMII, MII, RMII) in cocotb on Verilator, against cocotbext-eth's GMII/MII
models and Stagebox's RMII model (see cocotb/phy_tb.py)."""

from pathlib import Path

import pytest
from amaranth.hdl import ClockSignal, Const, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.gateware.eth.gmii import GmiiRx, GmiiTx
from stagebox.gateware.eth.mii import MiiRx, MiiTx
from stagebox.gateware.eth.rmii import RmiiRx, RmiiTx
from stagebox.testing.cocotb_runner import run_cocotb

ADAPTERS = {"gmii": (GmiiRx, GmiiTx, 8), "mii": (MiiRx, MiiTx, 4), "rmii": (RmiiRx, RmiiTx, 2)}


class PhyTestTop(wiring.Component):
    """One interface's receive and transmit adapters in domain ``sync``, on flat ports: the
    receive pins, the receive byte bus (``bus_*``, ``sfd``, ``dribble``), the transmit byte bus
    (``tx_valid``, ``tx_data``, ``tx_dv``, ``tx_err``, ``tx_ce``), the transmit pins, and
    ``clk_n`` (the inverted clock, for the models that sample transmit pins mid-cycle)."""

    def __init__(self, kind):
        self.kind = kind
        rx_cls, tx_cls, width = ADAPTERS[kind]
        self.rx, self.tx = rx_cls(domain="sync"), tx_cls(domain="sync")
        dv_pin = "crs_dv" if kind == "rmii" else "rx_dv"
        members = {
            "rxd": In(width), dv_pin: In(1), "rx_er": In(1),
            "bus_valid": Out(1), "bus_data": Out(8), "bus_dv": Out(1), "bus_er": Out(1),
            "sfd": Out(1), "dribble": Out(1),
            "tx_valid": In(1), "tx_data": In(8), "tx_dv": In(1), "tx_err": In(1), "tx_ce": Out(1),
            "txd": Out(width), "tx_en": Out(1),
            "clk_n": Out(1),
        }
        if kind != "rmii":
            members["tx_er"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx, m.submodules.tx = rx, tx = self.rx, self.tx
        dv_pin = "crs_dv" if self.kind == "rmii" else "rx_dv"
        m.d.comb += [
            self.clk_n.eq(~ClockSignal()),
            rx.rxd.eq(self.rxd), getattr(rx, dv_pin).eq(getattr(self, dv_pin)),
            rx.rx_er.eq(self.rx_er),
            self.bus_valid.eq(rx.bus.valid), self.bus_data.eq(rx.bus.byte.data),
            self.bus_dv.eq(rx.bus.byte.dv), self.bus_er.eq(rx.bus.byte.er),
            self.sfd.eq(rx.sfd),
            self.dribble.eq(rx.dribble if hasattr(rx, "dribble") else Const(0)),
            tx.bus.valid.eq(self.tx_valid), tx.bus.byte.data.eq(self.tx_data),
            tx.bus.byte.dv.eq(self.tx_dv), tx.bus.byte.er.eq(self.tx_err),
            self.tx_ce.eq(tx.ce), self.txd.eq(tx.txd), self.tx_en.eq(tx.tx_en),
        ]
        if self.kind != "rmii":
            m.d.comb += self.tx_er.eq(tx.tx_er)
        return m


TESTS = {
    "gmii": ["rx_frames", "tx_frames"],
    "mii": ["rx_frames", "rx_realignment_dribble_and_errors", "tx_frames"],
    "rmii": ["rx_frames", "rx_realignment_dribble_and_errors", "tx_frames"],
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(TESTS))
def test_phy(kind):
    run_cocotb(PhyTestTop(kind), toplevel=f"phy_{kind}", test_module="phy_tb",
               test_dir=Path(__file__).parent / "cocotb", testcase=TESTS[kind],
               extra_env={"STAGEBOX_PHY_KIND": kind})

