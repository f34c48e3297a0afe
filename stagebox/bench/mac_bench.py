"""The MAC subsystem as a synthesis benchmark: `EthernetMac` with its own registers, on one clock.

What the issue's area and Fmax targets count is the MAC (PHY adapters, MAC, timestamps,
crossings, classifier, buffers, arbiter, counters): that is the ``mac`` block of the report.
Around it, so that nothing is optimised away and the pins fit the package:

- the register bank of the MAC block alone and the bus decoder (blocks ``bank`` and
  ``decoder``), behind a Wishbone port;
- the stand-in wallclock (``wallclock``);
- the PTP and RTP receive ports looped back into the PTP event and RTP transmit sources (the
  general source stays idle), and each TX stamp port folded into one registered parity pin.

All PHY domains are renamed to ``sync``: one constrained clock, at the system frequency.
"""

from amaranth.hdl import Cat, DomainRenamer, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from stagebox.gateware import wishbone
from stagebox.gateware.bus_decoder import BusDecoder
from stagebox.gateware.eth.mac import EthernetMac
from stagebox.gateware.eth.timestamp import FreeRunningWallclock
from stagebox.gateware.regbank import RegisterBank, connect_registers
from stagebox.regmap.map import MAC_TABLES_BYTES, MAC_TABLES_OFFSET, STAGEBOX_MAP
from stagebox.regmap.model import RegisterMap

__all__ = ["MacBench"]

_STAMPS = ("ptp_event", "ptp_general", "rtp")


class MacBench(wiring.Component):
    """`EthernetMac(phy)` with its registers, on one clock (``sync``); see the module
    docstring. Ports: ``bus`` (Wishbone slave, the full 16-bit map's word addresses), the
    PHY pins, ``irq`` (the MAC's interrupt lines) and ``stamp_parity`` (one bit per TX stamp
    port)."""

    def __init__(self, phy, *, sys_clk_hz=125_000_000):
        self.sys_clk_hz = sys_clk_hz
        self.regmap = RegisterMap(name="mac_bench", address_bits=STAGEBOX_MAP.address_bits,
                                  blocks=(STAGEBOX_MAP.block("MAC"),))
        self.mac = EthernetMac(phy, sys_clk_hz=sys_clk_hz, regmap=self.regmap)
        members = {"bus": In(wishbone.Signature(self.regmap.address_bits - 2))}
        members.update({n: self.mac.signature.members[n] for n in self.mac.pin_names})
        members["irq"] = Out(len(self.mac.irq.signature.members))
        members["stamp_parity"] = Out(len(_STAMPS))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        mac = self.mac
        renames = {mac.rx_domain: "sync", mac.tx_domain: "sync"}
        m.submodules.mac = DomainRenamer(renames)(mac)
        m.submodules.bank = bank = RegisterBank(self.regmap)
        m.submodules.wallclock = clock = FreeRunningWallclock(
            period_ps=round(1e12 / self.sys_clk_hz))
        mac_base = self.regmap.block("MAC").base
        pktbuf = STAGEBOX_MAP.block("PKTBUF")
        m.submodules.decoder = decoder = BusDecoder(
            self.regmap.address_bits - 2,
            [("tables", mac_base + MAC_TABLES_OFFSET, MAC_TABLES_BYTES),
             ("pktbuf", pktbuf.base, pktbuf.size)])
        wiring.connect(m, wiring.flipped(self.bus), decoder.bus)
        wiring.connect(m, decoder.bank, bank.bus)
        wiring.connect(m, decoder.tables, mac.tables)
        wiring.connect(m, decoder.pktbuf, mac.pktbuf)
        connect_registers(m, bank.mac, mac.regs)
        m.d.comb += mac.time.eq(clock.time)
        for name in mac.pin_names:
            if mac.signature.members[name].flow == In:
                m.d.comb += getattr(mac, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(mac, name))
        m.d.comb += self.irq.eq(Cat(getattr(mac.irq, n) for n in mac.irq.signature.members))

        # Loop the receive ports into transmit sources so both sides stay in the netlist.
        for rx, tx in ((mac.ptp_rx, mac.ptp_event_tx), (mac.rtp_rx, mac.rtp_tx)):
            m.d.comb += [
                tx.valid.eq(rx.valid), rx.ready.eq(tx.ready),
                tx.payload.data.eq(rx.payload.data ^ rx.payload.rtp_stream),
                tx.payload.first.eq(rx.payload.first), tx.payload.last.eq(rx.payload.last),
                tx.payload.stamp.eq(rx.payload.stamp.ns[0]),
                tx.payload.tag.eq(rx.payload.stamp.sec[:8]),
            ]
        parity = Signal(len(_STAMPS))
        for i, name in enumerate(_STAMPS):
            stamp = getattr(mac, f"{name}_stamp")
            m.d.sync += parity[i].eq(Cat(stamp.valid, stamp.tag, stamp.time.as_value()).xor())
        m.d.comb += self.stamp_parity.eq(parity)
        return m
