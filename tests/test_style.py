"""Ruff, with the project's rule set (pyproject.toml), over every Python folder."""

import subprocess
import sys

from stagebox.regmap.generate import REPO_ROOT


def test_ruff_is_clean():
    folders = ["stagebox", "gateware", "sim", "soc", "boards", "tests"]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", *folders], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
