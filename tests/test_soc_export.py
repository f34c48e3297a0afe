"""The core's Verilog export: ports, clocks, and synchronizers that keep their marks."""

import re

import pytest

from stagebox.gateware.config import CoreConfig
from stagebox.soc.export import SYNC_ATTRS, SYNC_PREFIX, export_core, false_path_sdc


def _first_stages(verilog):
    """(module, attributes text) of every first-stage synchronizer register."""
    found = []
    for module in re.finditer(r"module\s+\\?(\S+)\s*\(.*?endmodule", verilog, re.S):
        for reg in re.finditer(rf"((?:\s*\(\*[^*]*\*\))*)\s*reg (?:\[\d+:0\] )?{SYNC_PREFIX}0\b",
                               module.group(0)):
            found.append((re.sub(r"\$\d+$", "", module.group(1)), reg.group(1)))
    return found


@pytest.fixture(scope="module")
def rmii_spi():
    return export_core(CoreConfig(phy="rmii", sys_clk_hz=81_000_000))


@pytest.fixture(scope="module")
def rgmii_bus():
    return export_core(CoreConfig(phy="rgmii", spi_bridge=False, cpu=True))


def test_ports_and_clocks(rmii_spi, rgmii_bus):
    assert rmii_spi.clocks == ("clk", "eth_clk")
    assert rmii_spi.resets() == ("rst", "eth_rst")
    assert {"sclk", "mosi", "cs_n", "miso", "miso_oe", "crs_dv", "txd"} <= set(rmii_spi.ports)
    assert rmii_spi.ports["rxd"] == ("input", 2) and rmii_spi.ports["miso"] == ("output", 1)
    assert "bus__adr" not in rmii_spi.ports
    assert rgmii_bus.clocks == ("clk", "eth_rx_clk", "eth_tx_clk")
    assert rgmii_bus.ports["bus__dat_r"] == ("output", 32)
    assert rgmii_bus.ports["rxd"] == ("input", 8)
    assert "sclk" not in rgmii_bus.ports


def _synchronizer_modules(verilog):
    """Modules that are synchronizers by their Amaranth names (every FFSynchronizer the core
    instantiates is a submodule named ``*_cdc``/``*_sync``, or one of AsyncFIFO's)."""
    names = {re.sub(r"\$\d+$", "", n)
             for n in re.findall(r"module\s+\\?(\S+)\s*\(", verilog)}
    return {n for n in names
            if re.search(r"(_cdc|_sync|produce_\w+_cdc|consume_\w+_cdc|rst_cdc)$", n)}


@pytest.mark.parametrize("which", ["rmii_spi", "rgmii_bus"])
def test_every_synchronizer_is_marked(request, which):
    export = request.getfixturevalue(which)
    stages = _first_stages(export.verilog)
    assert len(stages) == export.sync_first_stages > 10
    for module, attrs in stages:
        for key, value in SYNC_ATTRS.items():
            expected = f'"{value}"' if isinstance(value, str) else None
            assert f"{key} = " in attrs, (module, key)
            if expected:
                assert f"{key} = {expected}" in attrs, (module, key)
    # No synchronizer escaped: every module that holds a plain two-stage chain of Amaranth's
    # default implementation (``stage0``/``stage1``) would show up here.
    assert not re.search(r"\breg (?:\[\d+:0\] )?stage0\b", export.verilog)
    modules = {m for m, _ in stages}
    for name in _synchronizer_modules(export.verilog):
        # A PulseSynchronizer holds its FFSynchronizer as a child module.
        assert any(m == name or m.startswith(name + ".") for m in modules), name


def test_known_crossings_are_synchronized(rmii_spi):
    modules = {m for m, _ in _first_stages(rmii_spi.verilog)}
    # SPI pins, MDIO input, the event pin, and the MAC's FIFOs into the RMII domain.
    for part in ("spi.sclk_sync", "spi.mosi_sync", "spi.cs_sync", "mdio.mdio_sync",
                 "pin_cdc"):
        assert any(part in m for m in modules), part
    assert sum("fifo" in m or "bytes" in m or "stamps" in m for m in modules) >= 4


def test_false_path_sdc():
    quartus = false_path_sdc("quartus")
    assert any(line.startswith("set_false_path -to [get_registers")
               and f"*{SYNC_PREFIX}0*" in line for line in quartus)
    assert not any(f"{SYNC_PREFIX}1" in line for line in quartus)  # stage 0 -> 1 stays timed
    assert any("get_cells" in line for line in false_path_sdc("vivado"))
    with pytest.raises(ValueError, match="dialect"):
        false_path_sdc("gowin-ide")
