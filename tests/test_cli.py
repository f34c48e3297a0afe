"""`stagebox regs` against the simulated CPU-less core (SPI bridge) and the generated files."""

import re

from stagebox.cli import main
from stagebox.driver.regs import REGISTERS, REGMAP_HASH


def test_regs_dump_over_simulated_spi(capsys):
    assert main(["regs", "--transport", "sim", "dump"]) == 0
    lines = capsys.readouterr().out.splitlines()
    values = dict(re.fullmatch(r"(\w+) = (0x[0-9a-f]+)", line).groups() for line in lines)
    assert list(values) == [r.name for r in REGISTERS.values() if r.readable]
    assert int(values["IDENT_MAGIC"], 16) == 0x53424F58
    assert int(values["IDENT_REGMAP_HASH"], 16) == REGMAP_HASH
    assert int(values["SPI_GAP_TIMEOUT_US"], 16) == REGISTERS["SPI_GAP_TIMEOUT_US"].reset


def test_regs_read_write_and_errors(capsys):
    assert main(["regs", "write", "ident_scratch", "0x1234"]) == 0
    assert main(["regs", "read", "IDENT_SCRATCH"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"IDENT_SCRATCH = {REGISTERS['IDENT_SCRATCH'].reset:#x}")   # each run is a fresh device
    assert main(["regs", "read", "NO_SUCH_REGISTER"]) == 2
    assert main(["regs", "write", "IDENT_MAGIC", "1"]) == 2
    assert "read-only" in capsys.readouterr().err


def test_regs_check_passes_on_a_clean_tree():
    assert main(["regs", "check"]) == 0


def test_regs_reports_a_missing_device_without_a_traceback(capsys):
    assert main(["regs", "--transport", "spidev:/dev/spidev97.3", "read", "IDENT_MAGIC"]) == 1
    assert capsys.readouterr().err.startswith("stagebox regs: ")
    assert main(["regs", "--transport", "carrier-pigeon", "dump"]) == 2
