"""Build configuration of a Stagebox core: validated once, readable back from IDENT registers."""

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from stagebox.regmap.map import RTP_MATCH_ENTRIES, SAMPLE_RATES_HZ, PhyType

__all__ = ["CoreConfig", "source_revision"]


def source_revision(path=None):
    """`(rev32, dirty)` of the git checkout holding `path`; `(0, True)` outside a checkout."""
    cwd = Path(path or __file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=cwd, check=True,
                             capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    cwd=cwd, check=True, capture_output=True, text=True)
                     .stdout.strip())
        return int(rev, 16), dirty
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 0, True


@dataclass(frozen=True)
class CoreConfig:
    """Elaboration-time parameters of the core; every one is reported in the IDENT block."""

    sys_clk_hz: int = 125_000_000
    phy: str = "rgmii"
    tx_streams: int = 8
    rx_streams: int = 8
    tx_channels: int = 16
    rx_channels: int = 16
    sample_rates_hz: tuple[int, ...] = SAMPLE_RATES_HZ
    #: Whether the build carries the SPI register bridge (CPU-less variant).
    spi_bridge: bool = True
    #: Whether the build carries the on-chip softcore.
    cpu: bool = False
    #: Whether the board feeds an external clock generator's MCLK in (clock domain ``audio_ext``)
    #: for the audio clocks to be divided from, instead of generating them from ``sync``.
    external_audio_clock: bool = False
    #: 32 bits of the source commit and whether the tree was dirty (see `source_revision`).
    source_rev: int = 0
    source_dirty: bool = False
    version: tuple[int, int, int] = field(default=(0, 1, 0))

    def __post_init__(self):
        if not 1_000_000 <= self.sys_clk_hz < 1 << 32:
            raise ValueError(f"sys_clk_hz {self.sys_clk_hz} is outside 1 MHz .. 4.29 GHz")
        if self.phy not in PhyType.NAMES:
            raise ValueError(f"phy {self.phy!r} is not one of {', '.join(PhyType.NAMES)}")
        for name in ("tx_streams", "rx_streams", "tx_channels", "rx_channels"):
            if not 0 <= getattr(self, name) <= 255:
                raise ValueError(f"{name} must be in 0..255")
        if self.rx_streams > RTP_MATCH_ENTRIES:
            raise ValueError(f"rx_streams must be at most {RTP_MATCH_ENTRIES}, the entries of "
                             "the MAC's RTP match table")
        unknown = set(self.sample_rates_hz) - set(SAMPLE_RATES_HZ)
        if unknown or not self.sample_rates_hz:
            raise ValueError(f"sample rates must be a non-empty subset of {SAMPLE_RATES_HZ}")
        if not 0 <= self.source_rev < 1 << 32:
            raise ValueError("source_rev is a 32-bit value")
        major, minor, patch = self.version
        if not (0 <= major < 256 and 0 <= minor < 256 and 0 <= patch < 65536):
            raise ValueError("version must fit 8.8.16 bits")
        if self.sys_clk_hz % 1_000_000 and self.spi_bridge:
            # The bridge's microsecond prescaler counts whole system clock cycles.
            raise ValueError("the SPI bridge needs a system clock that is a whole number of MHz")

    @property
    def phy_type(self):
        return PhyType.NAMES[self.phy]

    @property
    def sample_rate_mask(self):
        return sum(1 << i for i, fs in enumerate(SAMPLE_RATES_HZ) if fs in self.sample_rates_hz)
