"""Build the single-chip variant's C programs against a LiteX build, and their flash images.

A program under ``firmware/apps/<name>`` is compiled with its own Makefile, run out of tree
(``make -C OUT_DIR -f firmware/apps/<name>/Makefile``) against the software LiteX generated for
one SoC build: ``BUILD_DIR/software`` holds the generated headers and ``variables.mak`` (the
cross compiler's triple and the CPU's ``-march``/``-mabi``), and the BIOS build's ``libc``
(picolibc), ``libcompiler_rt`` and ``libbase``. So the program always matches the CPU and the
memory map of the SoC it runs on; nothing is compiled into the source tree.

The link address is a parameter: main RAM's base when the BIOS boots the program from there
(the simulation initialises main RAM with it), or the SPI flash boot address plus the 8-byte
image header when it executes in place. `flash_image` wraps a binary in the header LiteX's BIOS
checks before booting from flash: length and CRC-32 of the payload, little-endian (VexRiscv).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["APPS_DIR", "FLASH_HEADER_BYTES", "build_ident_app", "flash_image", "tool_environment",
           "xip_link_base"]

APPS_DIR = Path(__file__).resolve().parent.parent / "firmware" / "apps"
#: Length and CRC-32 words in front of a flash image: code executing in place starts after them.
FLASH_HEADER_BYTES = 8


def tool_environment(env=None):
    """`env` (default: this process's) with this Python's scripts first on ``PATH``.

    LiteX's software Makefiles call ``python3 -m litex...`` and ``meson``: both must be the ones
    of the environment LiteX is installed in, also when it is not activated.
    """
    env = dict(os.environ if env is None else env)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
    return env


def xip_link_base(soc_build_dir):
    """Link address of a program the BIOS executes in place from SPI flash: the SoC's
    ``FLASH_BOOT_ADDRESS`` (LiteX's generated ``soc.h``) plus the image header."""
    soc_h = Path(soc_build_dir) / "software" / "include" / "generated" / "soc.h"
    match = re.search(r"^#define FLASH_BOOT_ADDRESS\s+(\w+)", soc_h.read_text(), re.M)
    if match is None:
        raise ValueError(f"{soc_h}: the SoC boots from no flash (no FLASH_BOOT_ADDRESS)")
    return int(match[1].rstrip("L"), 0) + FLASH_HEADER_BYTES


def build_ident_app(soc_build_dir, out_dir, *, link_base, link_size=None):
    """Compile ``firmware/apps/ident`` against the LiteX build in `soc_build_dir`.

    `link_base` is the address the program runs from; `link_size` bounds the region there
    (default: 64 KiB, more than the program needs). Returns the path of the raw binary
    (``ident.bin`` in `out_dir`). Raises `RuntimeError` with the compiler's output on failure.
    """
    return _build_app("ident", soc_build_dir, out_dir, link_base=link_base,
                      link_size=0x10000 if link_size is None else link_size)


def _build_app(name, soc_build_dir, out_dir, *, link_base, link_size):
    soc_build_dir = Path(soc_build_dir).resolve()
    if not (soc_build_dir / "software" / "include" / "generated" / "variables.mak").exists():
        raise FileNotFoundError(f"{soc_build_dir} holds no LiteX software build "
                                "(software/include/generated/variables.mak)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = ["make", "-C", str(out_dir), "-f", str(APPS_DIR / name / "Makefile"),
           f"BUILD_DIR={soc_build_dir}", f"APP_BASE={link_base:#x}", f"APP_SIZE={link_size:#x}"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=tool_environment())
    if result.returncode != 0:
        raise RuntimeError(f"building {name} failed:\n{result.stdout}{result.stderr}")
    return out_dir / f"{name}.bin"


def flash_image(bin_path, out_path):
    """Write `bin_path` as a LiteX flash boot image to `out_path`; returns `out_path`.

    The image is the payload's length and CRC-32, little-endian, then the payload: what the
    BIOS's flash boot checks (and what LiteX's ``crcfbigen --fbi --little`` writes).
    """
    from litex.soc.software.crcfbigen import insert_crc

    insert_crc(str(bin_path), fbi_mode=True, o_filename=str(out_path), little_endian=True)
    return Path(out_path)
