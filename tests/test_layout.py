"""Packaging: one `stagebox` namespace, every Python folder packaged, nothing generic installed."""

import importlib.util
import tomllib

from stagebox.regmap.generate import REPO_ROOT


def test_every_python_folder_is_a_listed_package():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    mapping = setuptools["package-dir"]
    listed = set(setuptools["packages"])
    found = set()
    for package, folder in mapping.items():
        root = REPO_ROOT / folder
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((package, *relative)))
    assert found == listed


def test_no_generic_top_level_modules():
    for name in ("gateware", "soc", "sim", "boards"):
        assert importlib.util.find_spec(name) is None, f"a top-level `{name}` is importable"
    assert importlib.util.find_spec("stagebox.gateware.core") is not None
