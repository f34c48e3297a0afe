"""The `stagebox` command.

    stagebox build                  the main job: build configuration, register map, synthesis
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

def _summary(args):
    from stagebox.bench.synth import config_from_args
    from stagebox.regmap.map import STAGEBOX_MAP

    config = config_from_args(args)
    print("Stagebox core build configuration")
    for key, value in vars(config).items():
        print(f"  {key:<16} {value:#010x}" if key == "source_rev" else f"  {key:<16} {value}")
    print(f"\nRegister map (hash {STAGEBOX_MAP.digest:#010x}, docs/registers.md)")
    for block in sorted(STAGEBOX_MAP.blocks, key=lambda b: b.base):
        count = len(block.registers)
        print(f"  {block.base:#06x}  {block.name:<8} {count:3d} registers  {block.desc}")


def _build(args):
    from stagebox.bench import synth

    # The per-block out-of-context runs are a benchmark's detail; a build wants the whole
    # design placed and routed, which is what the flat figures are.
    args.no_ooc = not args.ooc
    _summary(args)
    print()
    return synth.run(args)


def _test(args):
    env = dict(os.environ)
    command = [sys.executable, "-m", "pytest", "-n", os.environ.get("STAGEBOX_JOBS", "auto"),
               *args.pytest_args]
    return subprocess.call(command, cwd=REPO_ROOT, env=env)


def main(argv=None):
    from stagebox.bench import record, synth

    parser = argparse.ArgumentParser(prog="stagebox", description="Stagebox AES67 endpoint")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="show the configuration and synthesize the core")
    synth.add_arguments(build, ooc_flag=False)
    build.add_argument("--ooc", action="store_true",
                       help="also place and route every block alone for its own Fmax (slow)")
    build.set_defaults(handler=_build)

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
