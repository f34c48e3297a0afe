"""Where the tests find the public packet captures (real PTP and AES67 traffic).

They are not part of the repository: they sit in ``shared/captures`` beside the checkout on the
project's machines. Looked up, in order: ``$STAGEBOX_CAPTURES``, ``../shared/captures`` next to
the checkout, ``/work/shared/captures`` (a fresh clone elsewhere, as CI makes). A missing file
skips the test locally and fails it under CI, like a missing tool (`tools.require_tool`).
"""

import os
from pathlib import Path

import pytest

__all__ = ["captures_dir", "require_capture"]

_REPO = Path(__file__).resolve().parents[2]


def captures_dir():
    """The captures folder, or None when none of the places has it."""
    candidates = [os.environ.get("STAGEBOX_CAPTURES"), _REPO.parent / "shared" / "captures",
                  "/work/shared/captures"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def require_capture(name):
    """The path of capture `name`; skips (fails under ``CI``) when it is missing."""
    folder = captures_dir()
    path = folder / name if folder else None
    if path is None or not path.exists():
        message = f"capture {name} not found (set STAGEBOX_CAPTURES to the captures folder)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
