"""Supported boards: ``stagebox boards`` lists them, ``stagebox build BOARD`` builds one.

Each board is one module with a `Board` subclass (pins, clocks, PHY, programmer); the core stays
board-agnostic. `BOARDS` maps the command-line name to ``(module, class)`` so listing the boards
imports no LiteX code.
"""

import importlib

__all__ = ["BOARDS", "DEFAULT_BOARD", "get_board"]

BOARDS = {
    "tang_primer_20k": ("tang_primer_20k", "TangPrimer20k"),
    "cyc1000": ("cyc1000", "Cyc1000"),
    "c10lp_evkit": ("c10lp_evkit", "C10lpEvkit"),
}
DEFAULT_BOARD = "tang_primer_20k"


def get_board(name):
    """The `Board` instance called `name` (see `BOARDS`)."""
    try:
        module, cls = BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; boards: {', '.join(BOARDS)}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)()
