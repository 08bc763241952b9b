"""The StyleFace configuration (pydantic, no torch): the StyleGAN2 generator, the identity
projector, the Adaptive Attribute Extractor and the identity encoder."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

LEVELS = ("low", "mid", "high")
"""The three Z+ codes of the paper (Sec. 3.1): low (4²-16²), middle (32²-128²), high (256²-1024²)."""

IDENTITY_ENCODER = "arcface-iresnet100"
"""The paper uses CurricularFace; no such encoder is registered, so ArcFace iresnet100 it is."""

FFHQ_ARCFACE_CROP_BOX = (0.1194, 0.1266, 0.8684, 0.8755)
"""``(top, left, bottom, right)`` of an FFHQ-aligned crop that holds ArcFace's 112 px crop: the
least-squares similarity (``zoo_core.faces.align.umeyama``, all five points) of the ``ffhq``
template onto ``arcface-112`` (scale 1.3353, rotation 0.009 degrees, dropped), inverted. After
the crop the template's eyes are 0.328 of the side apart (ArcFace 0.315) and the mouth is at
0.809 (ArcFace 0.824); resizing the whole FFHQ crop would give 0.246 and 0.725."""


class StyleFaceConfig(BaseModel):
    """StyleFace hyper-parameters; the defaults are the 1024 px model of the paper.

    The generator fields are those of ``zoo_core.nets.stylegan2.StyleGAN2Config`` (config-f).
    ``level_bounds = (16, 128)`` puts W+ layers of resolution <= 16 in the low level, <= 128 in
    the middle level and the rest in the high level (Sec. 3.1). ``aae_divisor = 8``: the AAE
    has 1/8 of the generator's channels at every resolution (Sec. 4.1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(1024, description="output resolution (power of two)")
    style_dim: int = Field(512, ge=1, description="size of z and w (the paper's 512)")
    n_mlp: int = Field(8, ge=1, description="layers of the mapping network f")
    channel_multiplier: int = Field(2, ge=1, description="StyleGAN2 config-f: 2")
    lr_mlp: float = Field(0.01, gt=0, description="learning-rate multiplier of the mapping network")
    blur_kernel: tuple[int, ...] = (1, 3, 3, 1)
    channels: dict[int, int] | None = Field(None, description="resolution -> generator channels (tiny tests)")
    level_bounds: tuple[int, int] = Field((16, 128), description="largest resolution of the low and mid levels")
    aae_divisor: int = Field(8, ge=1, description="AAE channels = generator channels / aae_divisor")
    mask_kernel: int = Field(1, ge=1, description="kernel of the AttrInjection mask conv (paper: 'Conv')")
    identity_encoder: str = Field(IDENTITY_ENCODER, description="identity encoder: a zoo_core preset (ArcFace "
                                  "family) or a registered identity_encoder component (dlib-resnet-128)")
    identity_depth: int | None = Field(None, description="preset backbone depth; None: the preset's (small for tests)")
    identity_input_size: int = Field(112, ge=16, description="preset encoder input side")
    identity_crop_box: tuple[float, float, float, float] = Field(
        FFHQ_ARCFACE_CROP_BOX, description="preset encoders: fractional (top, left, bottom, right) of the crop "
        "resized to the input (default: ArcFace's template in an FFHQ crop)")
    identity_dim: int = Field(512, ge=1, description="size of the identity encoder's features (dlib: 128)")

    @model_validator(mode="after")
    def _check(self) -> StyleFaceConfig:
        low, mid = self.level_bounds
        if not 4 <= low < mid:
            raise ValueError(f"level_bounds must be (low, mid) with 4 <= low < mid, got {self.level_bounds}")
        if self.mask_kernel % 2 == 0:
            raise ValueError(f"mask_kernel must be odd, got {self.mask_kernel}")
        return self

    def stylegan2(self) -> dict:
        """The ``StyleGAN2Config`` fields of this config."""
        return self.model_dump(include={"size", "style_dim", "n_mlp", "channel_multiplier", "lr_mlp",
                                         "blur_kernel", "channels"})

    def level_of(self, resolution: int) -> int:
        """Index into ``LEVELS`` of a generator resolution."""
        low, mid = self.level_bounds
        return 0 if resolution <= low else 1 if resolution <= mid else 2


CONFIG_1024 = StyleFaceConfig()
CONFIG_256 = StyleFaceConfig(size=256)
