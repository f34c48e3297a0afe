"""The Tang Primer 20K's CPU-less top, generated as a user's build generates it, driven over its
SPI pins in cocotb on Verilator (see cocotb/board_top_tb.py)."""

from pathlib import Path

import pytest

from stagebox.boards.tang_primer_20k import TangPrimer20k
from stagebox.testing.board_top import (
    PRIMITIVE_MODELS,
    generate_board_top,
    run_board_top,
    sim_wrapper,
)


@pytest.fixture(scope="module")
def tang_spi_top(tmp_path_factory):
    return generate_board_top(TangPrimer20k(), "spi", tmp_path_factory.mktemp("tang_spi"))


def test_tang_spi_top_has_a_model_for_every_primitive(tang_spi_top):
    """The top's vendor cells are exactly the modelled ones, and the SPI header is at the top
    level with MISO as a tristate pin."""
    top = tang_spi_top
    assert top.sources[2:] == (PRIMITIVE_MODELS["DFFP"], PRIMITIVE_MODELS["rPLL"])
    assert {name: top.ports[f"stagebox_spi_{name}"] for name in
            ("sclk", "mosi", "cs_n", "miso", "irq")} == {
        "sclk": ("input", 1), "mosi": ("input", 1), "cs_n": ("input", 1),
        "miso": ("inout", 1), "irq": ("output", 1)}
    assert (top.config.spi_bridge, top.config.cpu) == (True, False)
    wrapper = sim_wrapper(top.ports, top.name)
    assert "pullup (stagebox_spi_miso__net);" in wrapper
    assert "output wire stagebox_spi_miso" in wrapper


@pytest.mark.slow
def test_tang_spi_top_over_spi_pins(tang_spi_top):
    run_board_top(tang_spi_top, test_module="board_top_tb",
                  test_dir=Path(__file__).parent / "cocotb")
