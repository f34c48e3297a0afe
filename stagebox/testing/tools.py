"""Tool checks for tests: a missing tool skips locally but fails under CI (``CI`` set), where
`./bootstrap` must have installed everything."""

import os
import shutil

import pytest

__all__ = ["require_tool"]


def require_tool(name):
    """Return the path of executable `name`, or skip (fail under CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (./bootstrap installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
