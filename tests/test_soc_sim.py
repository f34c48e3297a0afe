"""The single-chip variant in LiteX's Verilator simulation: the BIOS boots the ident program
(firmware/apps/ident), which reads the real core's identity registers through the generated
header and prints them. Every expected value comes from the design: the core's configuration,
the register map, the SoC's base address and interrupt, LiteX's generated memory map.

The simulation is built once per module (BIOS, picolibc, program, Verilator model; two to four
minutes on two cores). The other tests check the program against LiteX's generated headers of
the simulated and of a board's SoC without building LiteX's libraries (syntax and types only),
and the flash image format.
"""

import re
import subprocess
import zlib
from pathlib import Path

import pytest

from stagebox.regmap.map import MAGIC, STAGEBOX_MAP, PhyType
from stagebox.soc.firmware import (
    APPS_DIR,
    FLASH_HEADER_BYTES,
    build_ident_app,
    flash_image,
    xip_link_base,
)
from stagebox.soc.sim import (
    IDENT_END_MARKER,
    SIM_SYS_CLK_HZ,
    VERILATOR,
    StageboxSimSoC,
    run_soc_sim,
    sim_core_config,
)
from stagebox.soc.soc import STAGEBOX_BASE, STAGEBOX_IRQ
from stagebox.testing.tools import require_tool

REPO = Path(__file__).resolve().parent.parent
RISCV_GCC = "riscv64-unknown-elf-gcc"

# Values a default build would not show, so each one is seen to travel from the configuration
# through the core's IDENT registers to the console.
CONFIG = sim_core_config(tx_streams=3, rx_streams=5, tx_channels=6, rx_channels=10,
                         sample_rates_hz=(48_000, 96_000), source_rev=0x5EED0B05,
                         source_dirty=True)


def _require_sim_tools():
    require_tool(RISCV_GCC)
    require_tool("make")
    if not VERILATOR.exists():
        require_tool(str(VERILATOR))  # skips, or fails under CI


def _expected_ident_lines(config):
    major, minor, patch = config.version
    _, scratch = STAGEBOX_MAP.lookup("IDENT_SCRATCH")
    _, irq_test = STAGEBOX_MAP.lookup("IRQ_TEST")
    software = irq_test.field("SOFTWARE").mask
    digest = STAGEBOX_MAP.digest
    return [
        "start",
        f"base 0x{STAGEBOX_BASE:08x}",
        f"magic 0x{MAGIC:08x} OK",
        f"version {major}.{minor}.{patch}",
        f"source 0x{config.source_rev:08x} {'dirty' if config.source_dirty else 'clean'}",
        f"build cpu {int(config.cpu)} external_audio_clock {int(config.external_audio_clock)}",
        f"sys_clk_hz {config.sys_clk_hz}",
        f"phy {PhyType.NAMES[config.phy]} {config.phy}",
        f"streams tx {config.tx_streams} rx {config.rx_streams} "
        f"channels tx {config.tx_channels} rx {config.rx_channels}",
        f"sample_rates 0x{config.sample_rate_mask:x}",
        f"regmap_hash 0x{digest:08x} header 0x{digest:08x} OK",
        f"scratch reset 0x{scratch.reset:08x} OK",
        "scratch round-trip 4 patterns OK",
        "uptime OK",
        f"irq {STAGEBOX_IRQ} count 1 pending 0x{software:08x} OK",
        "done",
    ]


def _generated_constant(build_dir, header, name):
    text = (Path(build_dir) / "software" / "include" / "generated" / header).read_text()
    return int(re.search(rf"#define {name}\s+(\w+?)L?\b", text)[1], 0)


# --- The simulation. ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sim_run(tmp_path_factory):
    _require_sim_tools()
    build_dir = tmp_path_factory.mktemp("soc-sim")
    output = run_soc_sim(build_dir, config=CONFIG)
    # The BIOS highlights its headings with ANSI codes.
    return build_dir, re.sub(r"\x1b\[[0-9;]*m", "", output)


@pytest.mark.slow
def test_bios_boots_the_program_from_main_ram(sim_run):
    build_dir, output = sim_run
    main_ram = _generated_constant(build_dir, "mem.h", "MAIN_RAM_BASE")
    assert "BIOS CRC passed" in output
    assert f"CPU:\t\tVexRiscv_Lite @ {SIM_SYS_CLK_HZ // 1_000_000}MHz" in output
    # The program in main RAM survived the BIOS (no memory test over it) and was started.
    assert "Memtest" not in output
    assert f"Executing booted program at 0x{main_ram:08x}" in output
    assert output.index("BIOS CRC passed") < output.index("Liftoff!") \
        < output.index("stagebox-ident: start")


@pytest.mark.slow
def test_program_prints_the_identity_registers(sim_run):
    _, output = sim_run
    printed = [line.removeprefix("stagebox-ident: ") for line in output.splitlines()
               if line.startswith("stagebox-ident: ")]
    assert printed == _expected_ident_lines(CONFIG)


@pytest.mark.slow
def test_program_ends_the_simulation(sim_run):
    _, output = sim_run
    assert "MISMATCH" not in output
    assert "cycle limit" not in output
    # The program's finisher stops the simulator right after the end marker.
    tail = output[output.index(IDENT_END_MARKER) + len(IDENT_END_MARKER):].strip()
    assert tail.endswith("Verilog $finish")
    assert "\n" not in tail


@pytest.mark.slow
def test_program_links_for_flash_execution(sim_run, tmp_path):
    """The same program, linked to execute in place behind a flash image's header."""
    build_dir, _ = sim_run
    link_base = 0x2010_0000 + FLASH_HEADER_BYTES
    binary = build_ident_app(build_dir, tmp_path / "xip", link_base=link_base,
                             link_size=0x10_0000)
    symbols = subprocess.run(["riscv64-unknown-elf-nm", str(binary.with_suffix(".elf"))],
                             check=True, capture_output=True, text=True).stdout
    address = {name: int(value, 16) for value, _, name in
               (line.split() for line in symbols.splitlines() if len(line.split()) == 3)}
    sram = _generated_constant(build_dir, "mem.h", "SRAM_BASE")
    assert address["_start"] == link_base
    assert address["_fdata_rom"] == address["_erodata"]  # .data's image follows the code
    assert sram <= address["_fdata"] < address["_ebss"] <= address["_fstack"]
    image = flash_image(binary, tmp_path / "ident.fbi").read_bytes()
    assert image[FLASH_HEADER_BYTES:] == binary.read_bytes()


# --- Fast checks. -------------------------------------------------------------------------------

def _check_compiles(build_dir):
    """main.c against LiteX's generated headers in `build_dir` and stagebox_regs.h, with the
    CPU's flags and warnings as errors (no library build: syntax and types only)."""
    generated = Path(build_dir) / "software" / "include"
    variables = dict(line.split("=", 1) for line in
                     (generated / "generated" / "variables.mak").read_text().splitlines()
                     if "=" in line and not line.startswith("export"))
    soc_dir = Path(variables["SOC_DIRECTORY"])
    cmd = [RISCV_GCC, *variables["CPUFLAGS"].split(), "--specs=picolibc.specs", "-std=gnu99",
           "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-Wstrict-prototypes",
           "-Wmissing-prototypes", f"-I{generated}", f"-I{soc_dir / 'software' / 'include'}",
           f"-I{soc_dir / 'software'}", f"-I{variables['CPU_DIRECTORY']}",
           f"-I{REPO / 'firmware' / 'include'}", str(APPS_DIR / "ident" / "main.c")]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert _generated_constant(build_dir, "mem.h", "STAGEBOX_BASE") == STAGEBOX_BASE
    assert _generated_constant(build_dir, "soc.h", "STAGEBOX_CORE_INTERRUPT") == STAGEBOX_IRQ


def test_program_compiles_for_the_simulated_soc(tmp_path):
    require_tool(RISCV_GCC)
    from litex.soc.integration.builder import Builder

    Builder(StageboxSimSoC(CONFIG), output_dir=str(tmp_path), compile_software=False,
            compile_gateware=False).build(build=False, run=False)
    _check_compiles(tmp_path)


@pytest.mark.slow
def test_program_compiles_for_the_board_soc(tmp_path):
    """The same against the Tang Primer 20K single-chip SoC, which boots it from flash."""
    require_tool(RISCV_GCC)
    from litex.soc.integration.builder import Builder

    from stagebox.boards.tang_primer_20k import TangPrimer20k
    from stagebox.soc.soc import FIRMWARE_FLASH_OFFSET, StageboxSoC

    board = TangPrimer20k()
    platform = board.platform()
    platform.stagebox_source_dir = str(tmp_path / "core")
    Builder(StageboxSoC(board, "soc", platform=platform), output_dir=str(tmp_path),
            compile_software=False, compile_gateware=False).build(build_name="stagebox",
                                                                  run=False)
    _check_compiles(tmp_path)
    flash = _generated_constant(tmp_path, "mem.h", "SPIFLASH_BASE")
    assert xip_link_base(tmp_path) == flash + FIRMWARE_FLASH_OFFSET + FLASH_HEADER_BYTES


def test_flash_image_header(tmp_path):
    payload = bytes(range(256)) * 3 + b"\x01\x02\x03"
    binary = tmp_path / "app.bin"
    binary.write_bytes(payload)
    image = flash_image(binary, tmp_path / "app.fbi").read_bytes()
    assert len(image) == FLASH_HEADER_BYTES + len(payload)
    assert int.from_bytes(image[0:4], "little") == len(payload)
    assert int.from_bytes(image[4:8], "little") == zlib.crc32(payload)
    assert image[8:] == payload
