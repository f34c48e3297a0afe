"""Packaging: one `stagebox` namespace, every Python folder packaged, nothing generic installed."""

import subprocess
import sys
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


def test_no_generic_top_level_modules(tmp_path):
    """What the installed environment offers, seen from outside the checkout (the checkout's
    own folders are importable from its root only because Python puts the cwd on sys.path)."""
    probe = ("import importlib.util as u, sys; "
             "print([n for n in ('gateware', 'soc', 'sim', 'boards') if u.find_spec(n)]); "
             "print(u.find_spec('stagebox.gateware.core') is not None)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True"
