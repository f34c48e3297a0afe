"""The time format every Stagebox block exchanges: a PTP timestamp (IEEE 1588 seconds and
nanoseconds).

`PtpTime` is what the wallclock publishes in the ``sync`` domain, what the MAC stamps frames
with and what the PTP engine puts into messages. Seconds are the full 48 bits of a PTP
``Timestamp``; nanoseconds are always below `NS_PER_SEC`.

Until the wallclock exists, `stagebox.gateware.eth.timestamp` provides a stand-in that
publishes the same layout.
"""

from amaranth.hdl import Const, Mux, Signal, Value, signed
from amaranth.lib import data

__all__ = ["PtpTime", "NS_PER_SEC", "SEC_BITS", "NS_BITS", "ptp_time_to_ns", "ns_to_ptp_time",
           "ptp_add_ns"]

NS_PER_SEC = 1_000_000_000
SEC_BITS = 48
NS_BITS = 30

#: A point in time: ``sec`` seconds plus ``ns`` nanoseconds (``ns < NS_PER_SEC``).
PtpTime = data.StructLayout({"ns": NS_BITS, "sec": SEC_BITS})


def ptp_time_to_ns(value):
    """A `PtpTime` as an integer (``ctx.get`` of a view, or a dict with ``sec`` and ``ns``)
    -> nanoseconds since the epoch, for reference models."""
    if isinstance(value, dict):
        return value["sec"] * NS_PER_SEC + value["ns"]
    return value.sec * NS_PER_SEC + value.ns


def ns_to_ptp_time(ns):
    """Nanoseconds since the epoch (modulo 2**48 seconds) -> ``{"sec": ..., "ns": ...}``, the
    form ``ctx.set`` accepts for a `PtpTime` signal."""
    sec, ns = divmod(ns, NS_PER_SEC)
    return {"sec": sec % (1 << SEC_BITS), "ns": ns}


def ptp_add_ns(m, time, offset, *, domain="comb", name="ptp_sum"):
    """Gateware: ``time + offset`` nanoseconds as a new `PtpTime` signal, with the carry or borrow
    into seconds (seconds wrap modulo 2**`SEC_BITS`).

    `time` is a `PtpTime` value (``ns < NS_PER_SEC``); `offset` an integer or a `Value`, signed
    or unsigned, with ``|offset| < NS_PER_SEC`` (a signed 32-bit register qualifies; an unsigned
    offset must stay below `NS_PER_SEC`). The result is driven in `domain`: ``"comb"`` gives the
    sum in the same cycle, any other domain registers it (one cycle of latency, a pipeline
    stage); statements land in `m`'s current control block, so a registered sum can sit inside
    ``with m.If(enable):``. Logic: three adders over the nanoseconds in parallel (the sum, the
    sum minus one second, and for a signed offset the sum plus one second), and one 48-bit adder
    of -1, 0 or +1 for the seconds; an unsigned offset omits the borrow path.
    """
    time = PtpTime(time)
    if isinstance(offset, int):
        if not -NS_PER_SEC < offset < NS_PER_SEC:
            raise ValueError(f"offset must be within +-{NS_PER_SEC - 1} ns, not {offset}")
        offset = Const(offset, signed(32) if offset < 0 else 30)
    offset = Value.cast(offset)
    may_borrow = offset.shape().signed
    result = Signal(PtpTime, name=name)
    # The three candidates, computed side by side so that the selection is the only logic after
    # the adders: the sum is below 2 s and above -1 s.
    plain = Signal(signed(NS_BITS + 3), name=f"{name}_plain")
    over = Signal(signed(NS_BITS + 3), name=f"{name}_over")
    m.d.comb += [plain.eq(time.ns + offset), over.eq(time.ns + offset - NS_PER_SEC)]
    carry = over >= 0
    if may_borrow:
        under = Signal(signed(NS_BITS + 3), name=f"{name}_under")
        m.d.comb += under.eq(time.ns + offset + NS_PER_SEC)
        borrow = plain < 0
        ns = Mux(borrow, under, Mux(carry, over, plain))
        step = Mux(borrow, -1, Mux(carry, 1, 0))
    else:
        ns = Mux(carry, over, plain)
        step = carry
    m.d[domain] += [result.ns.eq(ns), result.sec.eq(time.sec + step)]
    return result
