"""Export of the Amaranth core to Verilog for a SoC or board build, with its synchronizers marked.

The core is converted with the public ``amaranth.back.verilog.convert`` API. During the
conversion `ExportPlatform` stands in for an Amaranth platform only to build the clock-domain
crossing primitives (``lib.cdc.FFSynchronizer`` and ``AsyncFFSynchronizer``, also those inside
``lib.fifo.AsyncFIFO``): their flip-flops are named ``stagebox_sync_stage<N>`` and carry the
attributes every vendor flow recognises (``ASYNC_REG`` for Vivado and nextpnr, Quartus's
synchronizer identification, ``syn_preserve`` so no synthesis tool merges or retimes them). The
names make a false-path constraint on the first stage a one-line wildcard in any SDC dialect
(`false_path_sdc`), and a test reads both back from the exported Verilog.

The exported module keeps the core's own port names (`CoreExport.ports`); board code instantiates
it, supplies every clock domain's ``<domain>_clk`` / ``<domain>_rst`` pair and never looks inside.
"""

import re
from dataclasses import dataclass

from amaranth.hdl import (
    ClockDomain,
    ClockSignal,
    Elaboratable,
    Fragment,
    Module,
    ResetSignal,
    Signal,
)

__all__ = ["CoreExport", "ExportPlatform", "export_core", "false_path_sdc", "SYNC_PREFIX"]

#: Name prefix of every synchronizer flip-flop in the exported Verilog.
SYNC_PREFIX = "stagebox_sync_stage"

#: Attributes on every synchronizer flip-flop. ``ASYNC_REG``: keep the stages together and out
#: of retiming (Vivado, nextpnr); ``altera_attribute``: Quartus treats the chain as a
#: synchronizer (metastability report, no retiming); ``syn_preserve``: Gowin and Synplify keep it.
SYNC_ATTRS = {
    "ASYNC_REG": "TRUE",
    "altera_attribute": "-name SYNCHRONIZER_IDENTIFICATION FORCED_IF_ASYNCHRONOUS",
    "syn_preserve": 1,
}


class ExportPlatform:
    """The minimum of an Amaranth platform the export needs: synchronizers with attributes.

    Only the two CDC hooks are provided, so every other block elaborates exactly as in
    simulation (the core never asks its platform for anything else).
    """

    def get_ff_sync(self, sync):
        m = Module()
        # The FFSynchronizer's parameters are only reachable through its (documented)
        # constructor arguments, which Amaranth keeps as private attributes for this very hook.
        flops = [Signal(sync.i.shape(), name=f"{SYNC_PREFIX}{index}", init=sync._init,
                        reset_less=sync._reset_less, attrs=SYNC_ATTRS)
                 for index in range(sync._stages)]
        for i, o in zip((sync.i, *flops), flops, strict=False):
            m.d[sync._o_domain] += o.eq(i)
        m.d.comb += sync.o.eq(flops[-1])
        return m

    def get_async_ff_sync(self, sync):
        m = Module()
        # Assert asynchronously, release on the output domain's clock: a local domain whose
        # reset is the input, clocked by the target domain.
        m.domains.stagebox_async_ff = ClockDomain(async_reset=True, local=True)
        flops = [Signal(1, name=f"{SYNC_PREFIX}{index}", init=1, attrs=SYNC_ATTRS)
                 for index in range(sync._stages)]
        for i, o in zip((0, *flops), flops, strict=False):
            m.d.stagebox_async_ff += o.eq(i)
        level = sync.i if sync._edge == "pos" else ~sync.i
        m.d.comb += [
            ResetSignal("stagebox_async_ff").eq(level),
            ClockSignal("stagebox_async_ff").eq(ClockSignal(sync._o_domain)),
            sync.o.eq(flops[-1]),
        ]
        return m


@dataclass(frozen=True)
class CoreExport:
    """The exported core: Verilog text and what a SoC or board needs to instantiate it."""

    #: Module name of the top.
    name: str
    verilog: str
    #: ``{port: (direction, width)}``, direction ``"input"`` or ``"output"``.
    ports: dict
    #: Clock inputs, ``clk`` (domain ``sync``) first, then ``<domain>_clk``.
    clocks: tuple
    #: Number of synchronizer flip-flop chains' first stages in the Verilog.
    sync_first_stages: int

    def resets(self):
        return tuple("rst" if c == "clk" else c.removesuffix("_clk") + "_rst"
                     for c in self.clocks)


_PORT = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):0\]\s+)?(\w+)\s*;",
                   re.M)


def _ports(verilog, name):
    body = verilog[verilog.index(f"module {name}("):]
    body = body[:body.index("endmodule")]
    return {m[3]: (m[1], int(m[2]) + 1 if m[2] else 1) for m in _PORT.finditer(body)}


class _WithDomains(Elaboratable):
    """`core`'s own fragment (no extra hierarchy level) with `domains` defined on it."""

    def __init__(self, core, domains):
        self.core = core
        self.domains = domains

    def elaborate(self, platform):
        fragment = Fragment.get(self.core, platform)
        fragment.add_domains(*self.domains)
        return fragment


def _domains(core):
    """The clock domains `core` uses, ``sync`` first (board code must supply each)."""
    domains = ["sync"]
    if core.mac is not None:
        domains += sorted({core.mac.rx_domain, core.mac.tx_domain})
    if core.config.external_audio_clock:
        domains.append("audio_ext")
    return domains


def export_core(config, *, name="stagebox_core", regmap=None):
    """Convert `StageboxCore(config)` to Verilog; returns a `CoreExport`."""
    from amaranth.back import verilog

    from stagebox.gateware.core import StageboxCore

    core = StageboxCore(config) if regmap is None else StageboxCore(config, regmap)
    # The core's clock domains are defined here, in a fixed order, with the core's own ports
    # listed after them: left to Amaranth, missing domains are created from a set, so the port
    # order (and the Verilog text) would change from one Python process to the next.
    domains = [ClockDomain(domain) for domain in _domains(core)]
    ports = [signal for cd in domains for signal in (cd.clk, cd.rst)]
    ports += [value for _, _, value in core.signature.flatten(core)]
    text = verilog.convert(_WithDomains(core, domains), name=name, platform=ExportPlatform(),
                           emit_src=False, ports=ports)
    ports = _ports(text, name)
    clocks = sorted((p for p, (d, w) in ports.items()
                     if d == "input" and w == 1 and (p == "clk" or p.endswith("_clk"))),
                    key=lambda p: (p != "clk", p))
    first = len(re.findall(rf"\breg\s+(?:\[\d+:0\]\s+)?{SYNC_PREFIX}0\b", text))
    return CoreExport(name=name, verilog=text, ports=ports, clocks=tuple(clocks),
                      sync_first_stages=first)


def false_path_sdc(dialect="quartus"):
    """SDC lines cutting the timing paths into every synchronizer's first stage.

    Paths into stage 0 are asynchronous by design (a pin or another clock domain); stage 0 to
    stage 1 stays timed, so the metastability settling time is still checked. ``quartus``
    uses ``get_registers`` (Quartus names a register by its hierarchical path ending in the
    register's name); ``vivado`` uses ``get_cells``.
    """
    if dialect == "quartus":
        target = f"[get_registers -nowarn {{*{SYNC_PREFIX}0*}}]"
    elif dialect == "vivado":
        target = f"[get_cells -hier -filter {{NAME =~ *{SYNC_PREFIX}0*}}]"
    else:
        raise ValueError(f"unknown SDC dialect {dialect!r}")
    return [
        "# Every clock-domain crossing of the core goes through a synchronizer whose first stage",
        f"# is named {SYNC_PREFIX}0 (soc/export.py): the paths into it are asynchronous.",
        f"set_false_path -to {target}",
    ]
