"""The InfoSwap configuration (pydantic, no torch), shared by the builder, converter and trainer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IRSE50_WIDTHS = (64, 128, 256, 512)
IRSE50_UNITS = (3, 4, 14, 3)


class InfoSwapConfig(BaseModel):
    """Hyper-parameters of the IIB, the U-Net decoder and the AII generator.

    The released networks (official ``AII512`` / ``AII1024``, ``UnetDecoder512`` / ``1024``,
    ``IIB``) are ``channels=1024`` with the IR-SE50 on 128 px. Widths are ``channels / 2**k``;
    smaller ``channels`` and ``identity_input_size`` exist only for fast tests. The output side
    is ``4 * identity_input_size`` at 512 and twice that at 1024.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution: Literal[512, 1024] = Field(512, description="generator output family (AII512 or AII1024)")
    channels: int = Field(1024, ge=32, description="widest AII / decoder layer (released: 1024)")
    identity_input_size: Literal[64, 128] = Field(128, description="IR-SE50 input side (released: 128)")
    identity_widths: tuple[int, int, int, int] = Field(
        IRSE50_WIDTHS, description="IR-SE50 stage widths (released: 64-512; smaller only for tests)"
    )
    identity_units: tuple[int, int, int, int] = Field(
        IRSE50_UNITS, description="IR-SE50 units per stage (released: 3, 4, 14, 3; fewer only for tests)"
    )
    num_bottlenecks: int = Field(10, ge=10, le=10, description="m: IIB bottlenecks (paper: 10)")
    smooth: bool = Field(True, description="Gaussian smoothing of lambda (official 'smooth' mode)")
    smooth_kernel: int = Field(1, ge=1, description="Gaussian kernel size (supplement: 1, sigma 0.25)")
    lambda_init_logit: float = Field(5.0, description="initial r_i: bias of each bottleneck's last conv")
    official_noise: bool = Field(
        False, description="draw epsilon^s with std = the feature mean, as the official code does (parity only)"
    )
    bgr_input: bool = Field(False, description="feed BGR crops as the official demo does (parity only)")
    min_readout_std: float = Field(0.01, gt=0, description="floor of sigma_R when normalising readout features")
    active_threshold: float = Field(0.01, ge=0, description="neurons nonzero in fewer samples are masked out")

    @model_validator(mode="after")
    def _check(self) -> InfoSwapConfig:
        if self.channels % 32:
            raise ValueError(f"channels must be a multiple of 32, got {self.channels}")
        first, second, third, fourth = self.identity_units
        if first != 3 or second != 4 or third < 3 or fourth < 1:
            raise ValueError(f"identity_units must be (3, 4, >=3, >=1) to expose R_1..R_11, got {self.identity_units}")
        if self.identity_widths[0] % 4:
            raise ValueError(f"the first identity width must be a multiple of 4, got {self.identity_widths}")
        if self.smooth_kernel % 2 == 0:
            raise ValueError(f"smooth_kernel must be odd, got {self.smooth_kernel}")
        return self

    @property
    def output_size(self) -> int:
        """Side of the generated face."""
        return self.identity_input_size * (4 if self.resolution == 512 else 8)

    @property
    def feature_channels(self) -> tuple[int, ...]:
        """Channels of R_1..R_11: the input layer, then IR-SE50 body units 1..10."""
        w = self.identity_widths
        return (w[0],) * 4 + (w[1],) * 4 + (w[2],) * 3

    @property
    def feature_sizes(self) -> tuple[int, ...]:
        """Spatial sides of R_1..R_11 at ``identity_input_size``."""
        s = self.identity_input_size
        return (s,) + (s // 2,) * 3 + (s // 4,) * 4 + (s // 8,) * 3


CONFIG_512 = InfoSwapConfig()
CONFIG_1024 = InfoSwapConfig(resolution=1024)
TINY = {"channels": 32, "identity_input_size": 64, "identity_widths": (16, 16, 32, 32), "identity_units": (3, 4, 3, 1)}
"""Overrides for fast tests: 32-wide AII / decoder, a narrow 11-unit IR-SE on 64 px (256 px output)."""
