"""The time format every Stagebox block exchanges: a PTP timestamp (IEEE 1588 seconds and
nanoseconds).

`PtpTime` is what the wallclock publishes in the ``sync`` domain, what the MAC stamps frames
with and what the PTP engine puts into messages. Seconds are the full 48 bits of a PTP
``Timestamp``; nanoseconds are always below `NS_PER_SEC`.

Until the wallclock exists, `stagebox.gateware.eth.timestamp` provides a stand-in that
publishes the same layout.
"""

from amaranth.lib import data

__all__ = ["PtpTime", "NS_PER_SEC", "SEC_BITS", "NS_BITS", "ptp_time_to_ns", "ns_to_ptp_time"]

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
