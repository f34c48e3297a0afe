"""The Ethernet MAC subsystem: one PHY port, timestamps, classifier, buffers and TX arbiter.

Everything the data plane needs from the wire, behind the clock-domain crossings::

    pins -> EthernetPort.rx -> RxCrossing -> RxClassifier -+-> PTP buffer -> ptp_rx
       (PHY receive domain)  (-> sync, with SFD stamp)      +-> RTP buffer -> rtp_rx
                                                            +-> control-plane RX slots (PKTBUF)
    ptp_event_tx, ptp_general_tx, rtp_tx, control-plane TX slots
       -> TxArbiter -> TxCrossing (-> PHY transmit domain) -> EthernetPort.tx -> pins
    EthernetPort SFD pulses -> SfdTimestamper (PHY domain, on PhyTime: the wallclock's replica)
       -> RX: with the frame; TX: TxStampCrossing -> TxArbiter -> the source that asked

Registers: the MAC block of the register map except its MDIO registers (``regs``); the
control-plane packet buffers answer the PKTBUF window (``pktbuf``).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.cdc import FFSynchronizer, PulseSynchronizer
from amaranth.lib.wiring import In, Out

from stagebox.regmap.map import STAGEBOX_MAP

from .. import wishbone
from ..ptp_time import PtpTime
from ..regbank import block_signature
from .classifier import RxClassifier
from .cp_port import ControlPlanePort
from .frame_buffer import FrameBuffer
from .interface import (
    RTP_STREAM_BITS,
    DropReason,
    RxRoute,
    TxStampSignature,
    rx_port_stream,
    tx_frame_stream,
)
from .mac_counters import MacCounters
from .port import ALL_PHY_TYPES, EthernetPort
from .rx_crossing import RxCrossing, TxStampCrossing
from .time_crossing import PhyTime
from .timestamp import SfdTimestamper, latency_ns
from .tx_arbiter import SOURCES, TxArbiter
from .tx_crossing import TxCrossing

__all__ = ["EthernetMac", "PHY_PERIOD_PS", "IRQ_OUTPUTS", "TABLES_ADDR_BITS", "PKTBUF_ADDR_BITS"]

#: Nominal PHY interface clock periods: GMII/RGMII 125 MHz, MII 25 MHz, RMII 50 MHz.
PHY_PERIOD_PS = {"gmii": 8_000, "rgmii": 8_000, "mii": 40_000, "rmii": 20_000}

#: The interrupt lines the MAC raises (IRQ sources of the same names, upper case).
IRQ_OUTPUTS = ("cp_rx", "cp_tx_done", "cp_tx_stamp", "mac_rx_drop")

#: Word-address bits of the classifier's table window and of the PKTBUF window.
TABLES_ADDR_BITS = 6
PKTBUF_ADDR_BITS = 13

#: What the RTP and PTP buffers keep with each frame.
_PortMeta = data.StructLayout({"stamp": PtpTime, "rtp_stream": RTP_STREAM_BITS})


class EthernetMac(wiring.Component):
    """The MAC subsystem of one Ethernet port (see the module docstring for the data flow).

    Clock domains: ``sync`` (the system clock: registers, classifier, buffers, arbiter), and
    the PHY's: ``eth_rx`` and ``eth_tx`` for GMII, RGMII and MII, ``eth`` for RMII (see
    `EthernetPort`). ``sync`` must be at least as fast as the line's byte rate (125 MHz for
    1 Gbit/s, less 0.07 %; 12.5 MHz for 100 Mbit/s); `TxCrossing` documents the exact bound.

    Ports:

    - PHY pins: those of ``EthernetPort(phy)``.
    - ``time`` (in, `PtpTime`, ``sync``): the wallclock. Frames are stamped with it through a
      replica in each PHY domain (`PhyTime`), at the SFD, compensated to the pins; then the
      MAC_RX_LATENCY_NS / MAC_TX_LATENCY_NS calibration is added.
    - ``regs``: the MAC block's registers but MDIO's (connect with `connect_registers`).
    - ``tables`` (Wishbone slave, `TABLES_ADDR_BITS`): the multicast and RTP match tables
      (MAC_MCAST_*, MAC_RTP_MATCH_*), held in the classifier's memory.
    - ``pktbuf`` (Wishbone slave, `PKTBUF_ADDR_BITS`): the PKTBUF window; ``pktbuf_error``
      pulses for an access the window refuses (a write into RX slots, an unused address).
    - ``ptp_rx``, ``rtp_rx`` (out, `rx_port_stream`): whole good frames for the PTP engine and
      the RTP receiver, with their stamps (and the matched RTP stream).
    - ``ptp_event_tx``, ``ptp_general_tx``, ``rtp_tx`` (in, `tx_frame_stream`) and
      ``ptp_event_stamp``, ``ptp_general_stamp``, ``rtp_stamp`` (out, `TxStampSignature`):
      the transmit sources in priority order, after which comes the control plane, and the SFD
      times of their frames that asked for one.
    - ``irq`` (out): the levels/pulses in `IRQ_OUTPUTS`.

    Latency: a received frame reaches its buffer (and the reader) a few cycles after its last
    byte (store and forward: the FCS and the classifier's verdict come at the end); a TX frame
    starts on the wire when `TxCrossing`'s prefill is in, a few tens of cycles after its first
    byte is offered.
    """

    def __init__(self, phy, *, sys_clk_hz=125_000_000, regmap=STAGEBOX_MAP, cp_rx_slots=4,
                 cp_tx_slots=2, cp_slot_bytes=2048, ptp_slots=4, ptp_slot_bytes=256,
                 rtp_slots=4, rtp_slot_bytes=2048):
        if phy not in PHY_PERIOD_PS:
            raise ValueError(f"phy must be one of {sorted(PHY_PERIOD_PS)}, not {phy!r}")
        self.phy = phy
        self.sys_period_ps = round(1e12 / sys_clk_hz)
        self.regmap = regmap
        self._cp = (cp_rx_slots, cp_tx_slots, cp_slot_bytes)
        self._ptp = (ptp_slots, ptp_slot_bytes)
        self._rtp = (rtp_slots, rtp_slot_bytes)
        self.port = EthernetPort(phy)
        self.rx_domain, self.tx_domain = self.port.rx_domain, self.port.tx_domain
        #: The PHY pins, named as on `EthernetPort`.
        self.pin_names = tuple(name for name in self.port.signature.members
                               if name not in ("rx", "tx", "status"))
        members = {name: self.port.signature.members[name] for name in self.pin_names}
        members.update({
            "time": In(PtpTime),
            "regs": Out(block_signature(regmap.block("MAC"), exclude="MDIO_")),
            "tables": In(wishbone.Signature(TABLES_ADDR_BITS)),
            "pktbuf": In(wishbone.Signature(PKTBUF_ADDR_BITS)),
            "pktbuf_error": Out(1),
            "ptp_rx": Out(rx_port_stream()),
            "rtp_rx": Out(rx_port_stream()),
            "irq": Out(wiring.Signature({name: Out(1) for name in IRQ_OUTPUTS})),
        })
        for name in SOURCES[:-1]:
            members[f"{name}_tx"] = In(tx_frame_stream())
            members[f"{name}_stamp"] = Out(TxStampSignature())
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        regs = self.regs
        rx_dom, tx_dom = self.rx_domain, self.tx_domain
        period_ps = PHY_PERIOD_PS[self.phy]
        rx_adapter, tx_adapter = ALL_PHY_TYPES[self.phy][:2]

        m.submodules.port = port = self.port
        for name in self.pin_names:
            ours, theirs = getattr(self, name), getattr(port, name)
            if self.signature.members[name].flow == In:
                m.d.comb += theirs.eq(ours)
            else:
                m.d.comb += ours.eq(theirs)

        # --- time: a wallclock replica in each PHY domain, SFD stamps taken there ---------
        m.submodules.rx_time = rx_time = PhyTime(domain=rx_dom, period_ps=period_ps,
                                                 sync_period_ps=self.sys_period_ps)
        m.d.comb += rx_time.sync_time.eq(self.time)
        if tx_dom == rx_dom:
            tx_time = rx_time
        else:
            m.submodules.tx_time = tx_time = PhyTime(domain=tx_dom, period_ps=period_ps,
                                                     sync_period_ps=self.sys_period_ps)
            m.d.comb += tx_time.sync_time.eq(self.time)
        # The stamps are plain captures in the PHY domains; the adapters' latencies to the
        # pins are constants, folded into the calibration added on the sync side.
        m.submodules.rx_stamp = rx_stamp = SfdTimestamper(
            domain=rx_dom, latency_cycles=0, period_ps=period_ps)
        m.submodules.tx_stamp = tx_stamp = SfdTimestamper(
            domain=tx_dom, latency_cycles=0, period_ps=period_ps)
        rx_pin_ns = latency_ns(rx_adapter.SFD_LATENCY + 1, period_ps)
        tx_pin_ns = latency_ns(-tx_adapter.PIN_LATENCY, period_ps)
        m.d.comb += [
            rx_stamp.sfd.eq(port.status.rx.sfd), rx_stamp.time.eq(rx_time.time),
            tx_stamp.sfd.eq(port.status.tx.sfd), tx_stamp.time.eq(tx_time.time),
        ]

        # --- receive: crossing, classifier, buffers ---------------------------------------
        m.submodules.rx_crossing = rx_x = RxCrossing(domain=rx_dom)
        wiring.connect(m, port.rx, rx_x.rx)
        m.d.comb += [
            rx_x.stamp.eq(rx_stamp.stamp), rx_x.stamp_valid.eq(rx_stamp.stamp_valid),
            rx_x.correction_ns.eq(regs.rx_latency_ns.as_signed() - rx_pin_ns),
        ]
        m.submodules.classifier = cls = RxClassifier()
        wiring.connect(m, rx_x.source, cls.sink)
        wiring.connect(m, wiring.flipped(self.tables), cls.table)
        control = regs.control
        m.d.comb += [
            cls.mac_address.eq(regs.address),
            cls.promiscuous.eq(control.promiscuous),
            cls.all_multicast.eq(control.all_multicast),
            cls.ptp_l2.eq(control.ptp_l2),
        ]

        out = cls.source
        verdict = out.payload.verdict
        at_end = out.valid & out.payload.last
        accept = control.rx_enable

        m.submodules.ptp_buf = ptp_buf = FrameBuffer(*self._ptp, _PortMeta)
        m.submodules.rtp_buf = rtp_buf = FrameBuffer(*self._rtp, _PortMeta)
        cp_rx_slots, cp_tx_slots, cp_slot_bytes = self._cp
        m.submodules.cp = cp = ControlPlanePort(cp_rx_slots, cp_tx_slots, cp_slot_bytes)
        for sink, route in ((ptp_buf.sink, RxRoute.PTP), (rtp_buf.sink, RxRoute.RTP),
                            (cp.rx, RxRoute.CP)):
            m.d.comb += [
                sink.valid.eq(out.valid),
                sink.payload.data.eq(out.payload.data),
                sink.payload.first.eq(out.payload.first),
                sink.payload.last.eq(out.payload.last),
                sink.payload.commit.eq(accept & (verdict.route == route)),
            ]
        for buf in (ptp_buf, rtp_buf):
            m.d.comb += [buf.sink.payload.meta.stamp.eq(out.payload.stamp),
                         buf.sink.payload.meta.rtp_stream.eq(verdict.rtp_stream)]
        m.d.comb += cp.rx.payload.meta.eq(out.payload.stamp)
        for port_out, buf in ((self.ptp_rx, ptp_buf), (self.rtp_rx, rtp_buf)):
            src = buf.source
            m.d.comb += [
                port_out.valid.eq(src.valid), src.ready.eq(port_out.ready),
                port_out.payload.data.eq(src.payload.data),
                port_out.payload.first.eq(src.payload.first),
                port_out.payload.last.eq(src.payload.last),
                port_out.payload.stamp.eq(src.payload.meta.stamp),
                port_out.payload.rtp_stream.eq(src.payload.meta.rtp_stream),
            ]

        # --- control-plane packet port: window and registers --------------------------------
        wiring.connect(m, wiring.flipped(self.pktbuf), cp.bus)
        m.d.comb += [
            self.pktbuf_error.eq(cp.bus_error),
            regs.cp_geometry.rx_slots.eq(cp_rx_slots),
            regs.cp_geometry.tx_slots.eq(cp_tx_slots),
            regs.cp_geometry.slot_shift.eq(cp_slot_bytes.bit_length() - 1),
            regs.cp_rx_status.count.eq(cp.rx_count),
            regs.cp_rx_status.slot.eq(cp.rx_head_slot),
            regs.cp_rx_status.length.eq(cp.rx_length),
            regs.cp_rx_stamp.ns.eq(cp.rx_stamp.ns),
            regs.cp_rx_stamp.sec.eq(cp.rx_stamp.sec),
            cp.rx_pop.eq(regs.cp_rx_pop_stb & regs.cp_rx_pop[0]),
            regs.cp_tx_status.free.eq(cp.tx_free),
            regs.cp_tx_status.slot.eq(cp.tx_next_slot),
            regs.cp_tx_status.stamp_count.eq(cp.tx_stamp_count),
            regs.cp_tx_status.stamp_tag.eq(cp.tx_stamp_tag),
            regs.cp_tx_stamp.ns.eq(cp.tx_stamp_time.ns),
            regs.cp_tx_stamp.sec.eq(cp.tx_stamp_time.sec),
            cp.tx_send.eq(regs.cp_tx_send_stb),
            cp.tx_send_length.eq(regs.cp_tx_send.length),
            cp.tx_send_stamp.eq(regs.cp_tx_send.stamp),
            cp.tx_send_tag.eq(regs.cp_tx_send.tag),
        ]

        # --- transmit: arbiter, crossing, TX stamps back ------------------------------------
        m.submodules.arbiter = arb = TxArbiter(SOURCES)
        for name in SOURCES[:-1]:
            wiring.connect(m, wiring.flipped(getattr(self, f"{name}_tx")), getattr(arb, name))
            wiring.connect(m, getattr(arb, f"{name}_stamp"),
                           wiring.flipped(getattr(self, f"{name}_stamp")))
        wiring.connect(m, cp.tx, arb.cp)
        wiring.connect(m, arb.cp_stamp, cp.tx_stamp)
        m.d.comb += arb.enable.eq(control.tx_enable)
        m.submodules.tx_crossing = tx_x = TxCrossing(tx_dom)
        wiring.connect(m, arb.source, tx_x.sink)
        wiring.connect(m, tx_x.source, port.tx)
        m.submodules.tx_stamp_crossing = tx_sx = TxStampCrossing(domain=tx_dom)
        m.d.comb += [
            tx_sx.stamp.eq(tx_stamp.stamp), tx_sx.stamp_valid.eq(tx_stamp.stamp_valid),
            tx_sx.correction_ns.eq(regs.tx_latency_ns.as_signed() - tx_pin_ns),
            arb.sfd_stamp.valid.eq(tx_sx.valid), arb.sfd_stamp.time.eq(tx_sx.time),
        ]

        # --- statistics -----------------------------------------------------------------------
        m.submodules.counters = counters = MacCounters()
        ev = counters.events
        clear = regs.counters_clear_stb & regs.counters_clear[0]
        m.d.comb += counters.clear.eq(clear)

        def from_phy(pulse, domain, name):
            if domain == "sync":
                return pulse
            sync = PulseSynchronizer(i_domain=domain, o_domain="sync")
            m.submodules[f"{name}_cdc"] = sync
            m.d.comb += sync.i.eq(pulse)
            return sync.o

        status_rx, status_tx = port.status.rx, port.status.tx
        rx_events = {
            "rx_frames": "frame_ok", "rx_crc_errors": "crc_error", "rx_runts": "runt",
            "rx_giants": "giant", "rx_phy_errors": "phy_error",
            "rx_preamble_errors": "preamble_error", "rx_dribble": "dribble",
        }
        mac_drop = []
        for counter, pulse in rx_events.items():
            if not hasattr(status_rx, pulse):
                continue        # no dribble on byte-wide interfaces
            event = from_phy(getattr(status_rx, pulse), rx_dom, counter)
            m.d.comb += getattr(ev, counter).eq(event)
            if counter != "rx_frames":
                mac_drop.append(event)
        for counter, pulse in (("tx_underruns", "underrun"), ("tx_oversize", "oversize")):
            m.d.comb += getattr(ev, counter).eq(from_phy(getattr(status_tx, pulse), tx_dom,
                                                         counter))
        judged = Signal(DropReason)
        m.d.comb += judged.eq(Mux(at_end, verdict.reason, DropReason.NONE))
        routed = at_end & (verdict.route != RxRoute.DROP)
        m.d.comb += [
            ev.rx_fifo_overflows.eq(rx_x.overflow),
            ev.rx_ip_checksum_errors.eq(judged == DropReason.IP_CHECKSUM),
            ev.rx_filtered.eq((judged == DropReason.ADDRESS) | (routed & ~accept)),
            ev.rx_ptp_frames.eq(ptp_buf.committed),
            ev.rx_rtp_frames.eq(rtp_buf.committed),
            ev.rx_cp_frames.eq(cp.rx_committed),
            ev.rx_ptp_overflows.eq(ptp_buf.overflow),
            ev.rx_rtp_overflows.eq(rtp_buf.overflow),
            ev.rx_cp_overflows.eq(cp.rx_overflow),
            ev.tx_ptp_event_frames.eq(arb.sent.ptp_event),
            ev.tx_ptp_general_frames.eq(arb.sent.ptp_general),
            ev.tx_rtp_frames.eq(arb.sent.rtp),
            ev.tx_cp_frames.eq(arb.sent.cp),
            ev.tx_framing_errors.eq(Cat(getattr(arb.framing_error, n) for n in SOURCES).any()),
            ev.cp_tx_rejects.eq(cp.tx_error),
        ]
        values = counters.values
        for name in values.signature.members:
            m.d.comb += getattr(regs, name).eq(getattr(values, name))

        stamp_error = Signal()
        with m.If(clear):
            m.d.sync += stamp_error.eq(0)
        with m.Elif(arb.stamp_error):
            m.d.sync += stamp_error.eq(1)
        m.d.comb += regs.status.tx_stamp_error.eq(stamp_error)
        if port.inband:
            # Levels that change with the link, not per cycle: two flops each are enough
            # (a field may be a cycle older than another; they are read by software).
            inband = port.status.inband
            m.d.comb += regs.status.inband.eq(1)
            for name in ("link", "speed", "full_duplex"):
                m.submodules[f"inband_{name}_cdc"] = FFSynchronizer(
                    getattr(inband, name), getattr(regs.status, name), o_domain="sync")

        # --- interrupts -------------------------------------------------------------------------
        drop_events = [*mac_drop, rx_x.overflow, judged == DropReason.IP_CHECKSUM,
                       ptp_buf.overflow, rtp_buf.overflow, cp.rx_overflow]
        m.d.comb += [
            self.irq.cp_rx.eq(cp.rx_ready),
            self.irq.cp_tx_done.eq(cp.tx_done),
            self.irq.cp_tx_stamp.eq(arb.cp_stamp.valid),
            self.irq.mac_rx_drop.eq(Cat(*drop_events).any()),
        ]
        return m
