"""The MFIM model configuration (pydantic, no torch), shared by the builder and the specs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IRSE50_UNITS = (3, 4, 14, 3)
"""IR-SE-50 units per stage (pSp's encoder body)."""


class MFIMConfig(BaseModel):
    """Facial attribute encoder + StyleGAN2 generator (MFIM Sec. 3.1).

    Defaults: the paper's model, 256 px encoder input, FFHQ config-f generator at 1024 px.
    Smaller widths/sizes only serve fast tests.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # generator (zoo_core.nets.stylegan2.StyleGAN2Config fields)
    size: int = Field(1024, description="generator output resolution (the swap's size)")
    style_dim: int = Field(512, ge=1, description="StyleGAN2 w size")
    n_mlp: int = Field(8, ge=1, description="mapping-network layers (unused by the swap path; kept for checkpoints)")
    channel_multiplier: int = Field(2, ge=1, description="2: config-f")
    generator_channels: dict[int, int] | None = Field(None, description="resolution -> channels override (tests)")
    freeze_generator: bool = Field(True, description="keep the pretrained generator fixed (GAN inversion); "
                                   "False fine-tunes it with the encoder")
    # encoder
    input_size: int = Field(256, ge=16, description="encoder input side (paper: 256)")
    encoder_units: tuple[int, int, int, int] = Field(IRSE50_UNITS, description="IR-SE units per stage")
    encoder_widths: tuple[int, int, int, int] = Field((64, 128, 256, 512), description="IR-SE stage widths")
    latent_channels: int = Field(512, ge=1, description="channels of the hierarchical latent maps (pSp: 512)")
    coarse_index: int = Field(3, ge=1, description="w+ index where pSp's 32x32-map styles start (pSp coarse_ind)")
    middle_index: int = Field(7, ge=2, description="w+ index where pSp's 64x64-map styles start (pSp middle_ind)")
    start_from_latent_avg: bool = Field(True, description="style codes are offsets from the S code of the "
                                        "generator's mean w (pSp's start_from_latent_avg)")
    # style maps (M2M) and the code split
    style_maps: bool = Field(True, description="M2M style maps as noise inputs (False: Table 4 configuration A)")
    style_map_channels: Literal["layer", "single"] = Field(
        "layer", description="'layer': one map channel per feature channel of the noise input's layer; "
                             "'single': one channel like StyleGAN's noise")
    coarse_max_resolution: int = Field(16, ge=4, description="codes up to this resolution come from the target "
                                       "(ID-irrelevant), the finer ones from the source (ID)")
    global_resolutions: tuple[int, ...] = Field((32,), description="ID mixing: resolutions whose ID codes come "
                                                "from the global source; finer ones from the local source")
    # ROI-only synthesis (configuration E+)
    roi_synthesis: bool = Field(False, description="E+: keep the target outside a feathered face ellipse")
    roi_center: tuple[float, float] = Field((0.5, 0.56), description="ellipse centre (x, y), fraction of the crop")
    roi_axes: tuple[float, float] = Field((0.32, 0.40), description="ellipse half-axes (x, y), fraction of the crop")
    roi_feather: float = Field(0.08, gt=0, description="soft edge width, fraction of the crop")

    @model_validator(mode="after")
    def _check(self) -> MFIMConfig:
        for name in ("size", "input_size"):
            value = getattr(self, name)
            if value & (value - 1):
                raise ValueError(f"{name} must be a power of two, got {value}")
        if self.input_size < 16 * 4:
            raise ValueError(f"input_size must be at least 64 (the coarsest latent map is input_size / 16), got {self.input_size}")
        if min(self.encoder_widths) < 16:
            raise ValueError(f"encoder_widths must be at least 16 (squeeze-excitation reduces by 16), got {self.encoder_widths}")
        if self.encoder_widths[3] != self.latent_channels:
            raise ValueError(f"latent_channels ({self.latent_channels}) must equal the last encoder width "
                             f"({self.encoder_widths[3]}): the coarsest latent map is the body's output (pSp)")
        if self.middle_index <= self.coarse_index:
            raise ValueError(f"middle_index ({self.middle_index}) must exceed coarse_index ({self.coarse_index})")
        if self.global_resolutions and min(self.global_resolutions) <= self.coarse_max_resolution:
            raise ValueError(f"global_resolutions {self.global_resolutions} must be finer than coarse_max_resolution "
                             f"{self.coarse_max_resolution} (ID codes only)")
        return self

    @property
    def latent_map_sizes(self) -> tuple[int, int, int]:
        """Sides of pSp's three latent maps (coarse, middle, fine): input / 16, / 8, / 4."""
        return (self.input_size // 16, self.input_size // 8, self.input_size // 4)


CONFIG_1024 = MFIMConfig()
