"""The register map: its validation, its generated files, and their compilers."""

import importlib
import subprocess

import pytest

from stagebox.driver import regs
from stagebox.regmap.generate import OUTPUTS, REPO_ROOT, generate_all
from stagebox.regmap.map import STAGEBOX_MAP
from stagebox.regmap.model import Access, Block, Field, Register, RegisterMap
from stagebox.testing.tools import require_tool


def test_generated_files_are_in_sync():
    for path, text in generate_all().items():
        assert (REPO_ROOT / path).read_text() == text, f"{path}: run `stagebox regs generate`"


def test_python_table_matches_the_map():
    importlib.reload(regs)
    assert regs.REGMAP_HASH == STAGEBOX_MAP.digest
    names = [f"{b.name}_{r.name}" for b, r in STAGEBOX_MAP.registers()]
    assert list(regs.REGISTERS) == names
    for name in names:
        block, reg = STAGEBOX_MAP.lookup(name)
        info = regs.REGISTERS[name]
        assert (info.address, info.width, info.access, info.reset) == (
            block.base + reg.offset, reg.width, reg.access.value, reg.reset)
        assert [(f.name, f.lsb, f.width) for f in info.fields] == [
            (f.name, f.lsb, f.width) for f in reg.fields]


def test_addresses_are_fixed():
    """Blocks never move: a later issue adds registers inside its window, never shifts one."""
    bases = {b.name: b.base for b in STAGEBOX_MAP.blocks}
    assert bases == {"IDENT": 0x0000, "IRQ": 0x0100, "SPI": 0x0200, "MAC": 0x1000,
                     "CLOCK": 0x2000, "PTP": 0x3000, "RTP_TX": 0x4000, "RTP_RX": 0x5000,
                     "AUDIO": 0x6000, "PKTBUF": 0x8000}
    assert STAGEBOX_MAP.address("IDENT_MAGIC") == 0


@pytest.mark.parametrize("build, message", [
    (lambda: Register("X", 2, 32, Access.RW, ""), "word aligned"),
    (lambda: Register("X", 0, 8, Access.RW, "", reset=0x100), "does not fit"),
    (lambda: Register("X", 0, 8, Access.RO, "", reset=1), "reset value"),
    (lambda: Register("X", 0, 64, Access.WS, ""), "at most one word"),
    (lambda: Register("X", 0, 8, Access.RW, "", fields=(Field("A", 4, 8, ""),)), "exceeds"),
    (lambda: Register("X", 0, 8, Access.RW, "", fields=(
        Field("A", 0, 4, ""), Field("B", 3, 2, ""))), "overlaps"),
    (lambda: Block("B", 0x100, 0x100, "", (
        Register("X", 0, 64, Access.RO, ""), Register("Y", 4, 32, Access.RO, ""))), "overlaps"),
    (lambda: Block("B", 0x100, 0x10, "", (Register("X", 0x10, 32, Access.RO, ""),)), "exceed"),
    (lambda: Block("B", 0x180, 0x100, "", ()), "power of two"),
    (lambda: RegisterMap("m", 12, (Block("A", 0, 0x100, ""), Block("B", 0, 0x100, ""))),
     "overlaps"),
    (lambda: RegisterMap("m", 8, (Block("A", 0x100, 0x100, ""),)), "address space"),
    (lambda: Register("lower", 0, 8, Access.RW, ""), "identifier"),
])
def test_invalid_descriptions_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_digest_tracks_what_masters_rely_on():
    one = RegisterMap("m", 12, (Block("A", 0, 0x100, "", (Register("X", 0, 8, Access.RW, ""),)),))
    moved = RegisterMap("m", 12, (Block("A", 0, 0x100, "",
                                        (Register("X", 4, 8, Access.RW, ""),)),))
    reworded = RegisterMap("m", 12, (Block("A", 0, 0x100, "other words",
                                           (Register("X", 0, 8, Access.RW, "text"),)),))
    assert one.digest != moved.digest
    assert one.digest == reworded.digest


HEADER_TEST = """
#include "stagebox_regs.h"
#include <stdint.h>
_Static_assert(SB_IDENT_MAGIC_ADDR == 0x0000u, "magic at 0");
_Static_assert((SB_IDENT_VERSION_MAJOR_MASK >> SB_IDENT_VERSION_MAJOR_SHIFT) == 0xFFu, "field");
_Static_assert(SB_IDENT_UPTIME_WORDS == 2, "snapshot");
uint32_t scratch_address(void) { return SB_IDENT_SCRATCH_ADDR + SB_REGMAP_HASH * 0u; }
"""


@pytest.mark.parametrize("compiler, flags", [
    ("gcc", ["-std=c11"]),
    ("riscv64-unknown-elf-gcc", ["-std=c11", "-march=rv32imac", "-mabi=ilp32",
                                 "--specs=picolibc.specs"]),
])
def test_c_header_compiles(tmp_path, compiler, flags):
    require_tool(compiler)
    source = tmp_path / "header_test.c"
    source.write_text(HEADER_TEST)
    include = REPO_ROOT / OUTPUTS["c"].rsplit("/", 1)[0]
    subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror", "-pedantic",
                    f"-I{include}", "-c", str(source), "-o", str(tmp_path / "header_test.o")],
                   check=True)
