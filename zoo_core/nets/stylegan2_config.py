"""StyleGAN2 config-f hyper-parameters, without torch: the one definition that the generator
and discriminator (``zoo_core.nets.stylegan2``) are built from and that the core registers as
components at start-up."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CONFIG_F_SIZES", "StyleGAN2Config", "config_f", "default_channels"]

CONFIG_F_SIZES = (256, 1024)
"""The resolutions registered as components ``stylegan2-SIZE``."""


def default_channels(channel_multiplier: int = 2) -> dict[int, int]:
    """Feature channels per resolution of config-f (config-e with ``channel_multiplier=1``)."""
    cm = channel_multiplier
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm,
            512: 32 * cm, 1024: 16 * cm}


class StyleGAN2Config(BaseModel):
    """StyleGAN2 hyper-parameters; the defaults are config-f at 1024 px (FFHQ)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(1024, description="output resolution, a power of two >= 4")
    style_dim: int = Field(512, ge=1, description="size of z and w")
    n_mlp: int = Field(8, ge=1, description="fully connected layers of the mapping network")
    channel_multiplier: int = Field(2, ge=1, description="2 for config-f, 1 for config-e")
    lr_mlp: float = Field(0.01, gt=0, description="learning-rate multiplier of the mapping network")
    blur_kernel: tuple[int, ...] = Field((1, 3, 3, 1), description="1-D FIR taps of up/downsampling")
    channels: dict[int, int] | None = Field(
        None, description="resolution -> channels, overriding config-f's widths (small test models)"
    )

    @model_validator(mode="after")
    def _check(self) -> StyleGAN2Config:
        if self.size < 4 or self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two >= 4, got {self.size}")
        if len(self.blur_kernel) < 2:
            raise ValueError(f"blur_kernel needs at least 2 taps, got {self.blur_kernel}")
        missing = [r for r in self.resolutions if r not in self.channel_map]
        if missing:
            raise ValueError(f"channels has no entry for resolution(s) {missing}")
        bad = {r: c for r, c in self.channel_map.items() if c < 1}
        if bad:
            raise ValueError(f"channels must be positive, got {bad}")
        return self

    @property
    def log_size(self) -> int:
        return int(math.log2(self.size))

    @property
    def resolutions(self) -> list[int]:
        """4, 8, ..., size."""
        return [2**i for i in range(2, self.log_size + 1)]

    @property
    def channel_map(self) -> dict[int, int]:
        """Channels per resolution: config-f's widths updated with ``channels``."""
        return {**default_channels(self.channel_multiplier), **(self.channels or {})}


def config_f(size: int) -> StyleGAN2Config:
    """Config-f at ``size`` px (FFHQ's generator has 1024, StyleFace's smaller variant 256)."""
    return StyleGAN2Config(size=size)
