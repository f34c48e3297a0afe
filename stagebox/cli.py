"""The `stagebox` command.

    stagebox build [BOARD] [--variant soc|spi] [--no-bitstream]
                                    the main job: a board's bitstream (or Quartus project) and
                                    its report (default: Tang Primer 20K, single-chip)
    stagebox boards [--pins]        the supported boards (and where every signal is)
    stagebox program BOARD          load the bitstream with openFPGALoader
    stagebox sim soc                the single-chip SoC simulated (BIOS + identity program)
    stagebox sim replay --pcap P [--record OUT.pcap]
                                    a capture played into a simulated Stagebox (system simulator)
    stagebox sim speed              the system simulator's speed on the default core
    stagebox test [PYTEST ARGS]     the whole test suite (from a checkout; -m "not slow" for
                                    the quick part)
    stagebox regs generate|check    write / verify the generated register files
    stagebox regs [--transport T] dump | read NAME | write NAME VALUE
    stagebox synth-report [--json FILE]
    stagebox bench [--append]
"""

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

from stagebox.regmap.generate import REPO_ROOT

__all__ = ["main"]


# --- regs -----------------------------------------------------------------------------------

def _parse_int(text):
    return int(text, 0)


async def _regs_command(device, args):
    if args.action == "dump":
        await device.check_identity()
        for name, value in await device.dump():
            print(f"{name} = {value:#x}")
    elif args.action == "read":
        print(f"{args.name.upper()} = {await device.read(args.name):#x}")
    elif args.action == "write":
        await device.write(args.name, args.value)


def _run_regs_on_transport(args):
    from stagebox.driver.device import Device
    from stagebox.driver.spi import FtdiTransport, SpidevTransport, SpiRegisterBus

    kind, _, where = args.transport.partition(":")
    if kind == "sim":
        return _run_regs_in_simulation(args)
    if kind == "spidev":
        transport = SpidevTransport(where or "/dev/spidev0.0", speed_hz=args.speed)
    elif kind == "ftdi":
        transport = FtdiTransport(where or "ftdi:///1", speed_hz=args.speed)
    else:
        raise ValueError(f"unknown transport {args.transport!r} (sim, spidev:PATH, ftdi:URL)")
    asyncio.run(_regs_command(Device(SpiRegisterBus(transport)), args))
    return 0


def _run_regs_in_simulation(args):
    """Run the command against the CPU-less core simulated with amaranth.sim over SPI."""
    from stagebox.driver.device import Device
    from stagebox.driver.spi import SpiRegisterBus
    from stagebox.gateware.config import CoreConfig, source_revision
    from stagebox.gateware.core import StageboxCore
    from stagebox.testing.amaranth_sim import AmaranthSpiTransport, run_testbench

    rev, dirty = source_revision()
    config = CoreConfig(source_rev=rev, source_dirty=dirty)
    core = StageboxCore(config)
    failure = []

    async def testbench(ctx):
        transport = AmaranthSpiTransport(ctx, core, ratio=4, clk_hz=config.sys_clk_hz)
        try:
            await _regs_command(Device(SpiRegisterBus(transport)), args)
        except Exception as error:  # reported after the simulator has stopped
            failure.append(error)

    run_testbench(core, testbench, clk_hz=config.sys_clk_hz)
    if failure:
        raise failure[0]
    return 0


def _regs(args):
    from stagebox.regmap.generate import generate_all, write_all

    if args.action == "generate":
        for path in write_all():
            print(f"wrote {path}")
        return 0
    if args.action == "check":
        stale = [p for p, text in generate_all().items()
                 if not (REPO_ROOT / p).exists() or (REPO_ROOT / p).read_text() != text]
        for path in stale:
            print(f"{path} is out of date: run `stagebox regs generate`", file=sys.stderr)
        return 1 if stale else 0
    from stagebox.driver.device import IdentityMismatch
    from stagebox.driver.spi_protocol import ProtocolError

    try:
        return _run_regs_on_transport(args)
    except (KeyError, ValueError) as error:
        print(f"stagebox regs: {error.args[0]}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"stagebox regs: {error} (install the extra: pip install 'stagebox[spi]')",
              file=sys.stderr)
        return 1
    except (OSError, ProtocolError, IdentityMismatch) as error:
        print(f"stagebox regs: {error}", file=sys.stderr)
        return 1


# --- build, test ----------------------------------------------------------------------------

def _summary(args, board, variant):
    from stagebox.regmap.map import STAGEBOX_MAP
    from stagebox.soc.soc import core_config_for

    config = core_config_for(board, variant)
    print(f"Stagebox core for {board.title}, variant {variant}")
    for key, value in vars(config).items():
        if key not in ("source_rev", "source_dirty"):
            print(f"  {key:<22} {value}")
    print(f"\nRegister map (hash {STAGEBOX_MAP.digest:#010x}, docs/registers.md)")
    for block in sorted(STAGEBOX_MAP.blocks, key=lambda b: b.base):
        count = len(block.registers)
        print(f"  {block.base:#06x}  {block.name:<8} {count:3d} registers  {block.desc}")


def _build(args):
    from stagebox.boards import get_board
    from stagebox.soc.build import build, build_dir, format_report

    board = get_board(args.board)
    variant = args.variant
    out_dir = args.out_dir or build_dir(board, variant)
    _summary(args, board, variant)
    print(f"\nBuilding {board.title}, variant {variant}, in {out_dir}")
    report = build(board, variant, out_dir=out_dir, bitstream=not args.no_bitstream)
    print()
    print(format_report(report))
    print(f"\nreport: {Path(out_dir) / 'report.json'}")
    return 0 if report.get("timing_met", True) else 1


def _boards(args):
    from stagebox.boards import BOARDS, get_board

    for name in BOARDS:
        board = get_board(name)
        flow = ("open-source flow, bitstream" if board.family == "gowin"
                else "Quartus project (+ Yosys estimate)")
        print(f"{name:<18} {board.title}")
        print(f"{'':<18} {board.device}, sys {board.sys_clk_hz / 1e6:g} MHz, "
              f"{board.phy.upper()}, {flow}; program: "
              f"{'stagebox program ' + name if board.programmer else 'vendor tools'}")
        if args.pins:
            for pin in board.pins:
                print(f"{'':<20}{pin.signal:<14} {pin.ball:<10} {pin.header:<28} {pin.note}")
    return 0


def _program(args):
    import shutil

    from stagebox.boards import get_board
    from stagebox.soc.build import TOP, build_dir

    board = get_board(args.board)
    if board.programmer is None:
        print(f"stagebox program: openFPGALoader does not support {board.title}; use the "
              "vendor's programmer on the build's Quartus project", file=sys.stderr)
        return 2
    # openFPGALoader takes Gowin's .fs and Quartus's .sof (built where Quartus is installed).
    suffix = ".fs" if board.family == "gowin" else ".sof"
    bitstream = Path(build_dir(board, args.variant)) / "gateware" / f"{TOP}{suffix}"
    if not bitstream.exists():
        print(f"stagebox program: no bitstream at {bitstream}; run `stagebox build "
              f"{board.name} --variant {args.variant}` first", file=sys.stderr)
        return 1
    loader = shutil.which("openFPGALoader")
    if loader is None:
        print("stagebox program: openFPGALoader is not installed (apt install openfpgaloader)",
              file=sys.stderr)
        return 1
    command = [loader, "-b", board.programmer, *(["-f"] if args.flash else []), str(bitstream)]
    print(" ".join(command))
    return subprocess.call(command)


def _sim_soc(args):
    from stagebox.soc.sim import main_sim_soc

    return main_sim_soc(args)


def _sim_replay(args):
    from stagebox.sim.replay import main_replay

    return main_replay(args)


def _sim_speed(args):
    from stagebox.sim.speed import main_speed

    return main_speed(args)


def _test(args):
    env = dict(os.environ)
    command = [sys.executable, "-m", "pytest", "-n", os.environ.get("STAGEBOX_JOBS", "auto"),
               *args.pytest_args]
    return subprocess.call(command, cwd=REPO_ROOT, env=env)


def main(argv=None):
    from stagebox.bench import record, synth

    parser = argparse.ArgumentParser(prog="stagebox", description="Stagebox AES67 endpoint")
    commands = parser.add_subparsers(dest="command", required=True)

    from stagebox.boards import BOARDS, DEFAULT_BOARD
    from stagebox.soc.soc import VARIANTS

    build = commands.add_parser("build", help="build a board: bitstream or project, and report")
    build.add_argument("board", nargs="?", default=DEFAULT_BOARD, choices=list(BOARDS),
                       help=f"board (default {DEFAULT_BOARD}; `stagebox boards` lists them)")
    build.add_argument("--variant", choices=VARIANTS, default="soc",
                       help="soc: VexRiscv on the chip (default); spi: CPU-less, SPI bridge")
    build.add_argument("--no-bitstream", action="store_true",
                       help="stop after place and route (Gowin) / project generation (Quartus)")
    build.add_argument("--out-dir", help="build directory (default build/BOARD-VARIANT)")
    build.set_defaults(handler=_build)

    boards = commands.add_parser("boards", help="list the supported boards")
    boards.add_argument("--pins", action="store_true", help="also list every Stagebox pin")
    boards.set_defaults(handler=_boards)

    program = commands.add_parser("program", help="load a built bitstream with openFPGALoader")
    program.add_argument("board", choices=list(BOARDS))
    program.add_argument("--variant", choices=VARIANTS, default="soc")
    program.add_argument("--flash", action="store_true",
                         help="write the configuration flash instead of the FPGA's SRAM")
    program.set_defaults(handler=_program)

    test = commands.add_parser("test", help="run the test suite (pytest, parallel)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(handler=_test)

    regs = commands.add_parser("regs", help="register map: generate files, or access a device")
    regs.add_argument("--transport", default="sim",
                      help="sim | spidev:/dev/spidevB.C | ftdi:URL (default sim)")
    regs.add_argument("--speed", type=int, default=1_000_000, help="SCLK in Hz (hardware)")
    actions = regs.add_subparsers(dest="action", required=True)
    actions.add_parser("generate", help="write the generated register files")
    actions.add_parser("check", help="fail if a generated register file is out of date")
    actions.add_parser("dump", help="print every readable register")
    read = actions.add_parser("read", help="print one register")
    read.add_argument("name")
    write = actions.add_parser("write", help="write one register")
    write.add_argument("name")
    write.add_argument("value", type=_parse_int)
    regs.set_defaults(handler=_regs)

    sim = commands.add_parser("sim", help="simulations: the system simulator, the SoC")
    sims = sim.add_subparsers(dest="sim_command", required=True)
    sim_soc = sims.add_parser("soc", help="the single-chip SoC in LiteX's Verilator simulation: "
                                          "BIOS, then the identity program")
    sim_soc.add_argument("--build-dir", help="build directory (default build/sim-soc)")
    sim_soc.add_argument("--no-app", action="store_true", help="boot the BIOS only")
    sim_soc.add_argument("--timeout-cycles", type=int, help="stop after this many cycles")
    sim_soc.set_defaults(handler=_sim_soc)
    replay = sims.add_parser("replay", help="play a capture into a simulated Stagebox and record "
                                            "what reached its pins")
    replay.add_argument("--pcap", required=True, help="capture to inject (Ethernet or Linux "
                                                      "cooked, pcap or pcapng)")
    replay.add_argument("--record", help="pcap of the frames at the device's pins, true times")
    replay.add_argument("--record-network", help="pcap of everything on the simulated switch")
    replay.add_argument("--retime-us", type=float,
                        help="send at this fixed interval instead of the capture's timing")
    replay.add_argument("--interface", choices=("gmii", "rmii"), default="gmii",
                        help="the device's PHY interface (default gmii)")
    replay.add_argument("--max-frames", type=int, help="only the first N frames")
    replay.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    replay.add_argument("--report", help="also write the JSON result here")
    replay.add_argument("--waveform", metavar="OUT.fst",
                        help="write the device's waveforms here (slower; keep it out of the "
                             "source tree, e.g. under build/)")
    replay.set_defaults(handler=_sim_replay)
    speed = sims.add_parser("speed", help="measure the system simulator on the default core")
    speed.add_argument("--interface", choices=("gmii", "rmii"), default="gmii")
    speed.add_argument("--ms", type=float, default=100.0, help="simulated milliseconds per run")
    speed.add_argument("--runs", type=int, default=3, help="runs (the median is reported)")
    speed.add_argument("--trace", help="also write waveforms (FST) of a short run here")
    speed.add_argument("--cold", action="store_true",
                       help="compile into an empty cache first and report the compile time")
    speed.add_argument("--append", action="store_true",
                       help="append the figures to the benchmark record")
    speed.set_defaults(handler=_sim_speed)

    report = commands.add_parser("synth-report", help="area and Fmax per block")
    synth.add_arguments(report)
    report.set_defaults(handler=synth.run)

    bench = commands.add_parser("bench", help="run the benchmarks; --append records them")
    record.add_arguments(bench)
    bench.set_defaults(handler=record.run)

    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
