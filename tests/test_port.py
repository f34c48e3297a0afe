"""EthernetPort (PHY adapters + MAC) end to end in cocotb on Verilator, against cocotbext-eth's
GMII/MII models and Stagebox's RMII model (see cocotb/port_tb.py)."""

from pathlib import Path

import pytest
from amaranth.hdl import Cat, ClockSignal, Const, DomainRenamer, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.gateware.eth.port import PHY_TYPES, RX_STATUS, TX_STATUS, EthernetPort
from stagebox.testing.cocotb_runner import run_cocotb


class PortTestTop(wiring.Component):
    """One `EthernetPort` with all its domains renamed to ``sync``, on flat ports: the PHY pins
    (the port's names), ``rx_valid`` / ``rx_payload`` (``data``, ``first``, ``last``, ``error``,
    from bit 0 up), ``tx_valid`` / ``tx_ready`` / ``tx_payload`` (same layout), ``rx_status`` /
    ``tx_status`` (the pulses in `RX_STATUS` / `TX_STATUS` order, bit 0 first; ``dribble`` is
    0 for GMII) and ``clk_n`` (the inverted clock, for the sinks that sample mid-cycle)."""

    def __init__(self, kind):
        self.kind = kind
        width = PHY_TYPES[kind][2]
        dv_pin = "crs_dv" if kind == "rmii" else "rx_dv"
        members = {
            "rxd": In(width), dv_pin: In(1), "rx_er": In(1),
            "txd": Out(width), "tx_en": Out(1),
            "rx_valid": Out(1), "rx_payload": Out(11),
            "tx_valid": In(1), "tx_ready": Out(1), "tx_payload": In(11),
            "rx_status": Out(len(RX_STATUS)), "tx_status": Out(len(TX_STATUS)),
            "clk_n": Out(1),
        }
        if kind != "rmii":
            members["tx_er"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        port = EthernetPort(self.kind)
        m.submodules.port = DomainRenamer({port.rx_domain: "sync", port.tx_domain: "sync"})(port)
        dv_pin = "crs_dv" if self.kind == "rmii" else "rx_dv"
        rx_status = [getattr(port.status.rx, name) if name in port.status.rx.signature.members
                     else Const(0) for name in RX_STATUS]
        m.d.comb += [
            self.clk_n.eq(~ClockSignal()),
            port.rxd.eq(self.rxd), getattr(port, dv_pin).eq(getattr(self, dv_pin)),
            port.rx_er.eq(self.rx_er),
            self.txd.eq(port.txd), self.tx_en.eq(port.tx_en),
            self.rx_valid.eq(port.rx.valid), self.rx_payload.eq(port.rx.payload.as_value()),
            port.tx.valid.eq(self.tx_valid), self.tx_ready.eq(port.tx.ready),
            port.tx.payload.eq(self.tx_payload),
            self.rx_status.eq(Cat(*rx_status)),
            self.tx_status.eq(Cat(*(getattr(port.status.tx, name) for name in TX_STATUS))),
        ]
        if self.kind != "rmii":
            m.d.comb += self.tx_er.eq(port.tx_er)
        return m


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(PHY_TYPES))
def test_port(kind):
    run_cocotb(PortTestTop(kind), toplevel=f"port_{kind}", test_module="port_tb",
               test_dir=Path(__file__).parent / "cocotb", testcase=["rx_frames", "tx_frames"],
               extra_env={"STAGEBOX_PHY_KIND": kind})


@pytest.mark.slow
def test_port_every_frame_size_at_1g():
    """Every frame size from 64 to 1518 bytes with the FCS (60..1514 of data), plus the tagged
    1522, back to back at line rate in both directions (GMII: the byte-wide bus every PHY type
    shares)."""
    run_cocotb(PortTestTop("gmii"), toplevel="port_gmii", test_module="port_tb",
               test_dir=Path(__file__).parent / "cocotb", testcase=["rx_frames", "tx_frames"],
               extra_env={"STAGEBOX_PHY_KIND": "gmii", "STAGEBOX_PORT_SIZES": "every"})
