"""Identity encoder configurations and the presets of the supported models, without torch, so
the core can register them as components at start-up (``zoo_core.nets.identity`` builds them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IRESNET_LAYERS: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 14, 3),
    100: (3, 13, 30, 3),
    200: (6, 26, 60, 6),
}
# foamliu/InsightFace-v2 resnet18/34/101/152 (its resnet50 repeats the resnet34 layout, so the
# depth number would be misleading and is left out).
SIMSWAP_ARCFACE_LAYERS: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
IRSE_LAYERS: dict[int, tuple[int, int, int, int]] = {
    50: (3, 4, 14, 3),
    100: (3, 13, 30, 3),
    152: (3, 8, 36, 3),
}
Arch = Literal["iresnet", "simswap_arcface", "irse"]
Interpolation = Literal["bilinear", "bicubic", "area", "nearest"]
Triple = tuple[float, float, float]

_DEPTHS: dict[str, dict[int, tuple[int, int, int, int]]] = {
    "iresnet": IRESNET_LAYERS,
    "simswap_arcface": SIMSWAP_ARCFACE_LAYERS,
    "irse": IRSE_LAYERS,
}
SMOOTH_MODES = ("bilinear", "bicubic")


class IdentityEncoderConfig(BaseModel):
    """Backbone choice plus the preprocessing that turns a [0, 1] RGB face crop into its input.

    ``crop_box`` is ``(top, left, bottom, right)``, bottom/right exclusive, either as fractions of
    the input's height/width (``crop_units="fraction"``, rounded to whole pixels) or in pixels.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: Arch
    depth: int = Field(
        description="iresnet: 18/34/50/100/200; simswap_arcface: 18/34/101/152; "
        "irse: 50/100/152 (TreB1eN num_layers)"
    )
    use_se: bool | None = Field(
        default=None,
        description="squeeze-excitation units; None = arch default (iresnet: no, others: yes)",
    )
    input_size: int = Field(default=112, ge=16, description="square backbone input, pixels")
    head_name: Literal["output_layer", "output_layer128"] = Field(
        default="output_layer", description="irse only: attribute name of the output head"
    )
    mean: Triple = (0.5, 0.5, 0.5)
    std: Triple = (0.5, 0.5, 0.5)
    crop_box: tuple[float, float, float, float] | None = None
    crop_units: Literal["fraction", "pixels"] = "fraction"
    interpolation: Interpolation = "bilinear"
    align_corners: bool = False
    antialias: bool = False
    normalize_output: bool = True

    @model_validator(mode="after")
    def _check(self) -> IdentityEncoderConfig:
        depths = _DEPTHS[self.arch]
        if self.depth not in depths:
            raise ValueError(f"{self.arch} depth must be one of {sorted(depths)}, got {self.depth}")
        if self.arch == "iresnet" and self.use_se:
            raise ValueError("iresnet has no squeeze-excitation variant; leave use_se unset")
        if self.arch != "irse" and self.head_name != "output_layer":
            raise ValueError("head_name only applies to arch 'irse'")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")
        if (self.align_corners or self.antialias) and self.interpolation not in SMOOTH_MODES:
            raise ValueError("align_corners/antialias need interpolation 'bilinear' or 'bicubic'")
        if self.crop_box is not None:
            self._check_crop_box(self.crop_box)
        return self

    def _check_crop_box(self, box: tuple[float, float, float, float]) -> None:
        top, left, bottom, right = box
        if min(box) < 0 or bottom <= top or right <= left:
            raise ValueError(
                f"crop_box must be (top, left, bottom, right) with 0 <= top < bottom "
                f"and 0 <= left < right, got {box}"
            )
        if self.crop_units == "fraction" and max(box) > 1:
            raise ValueError(f"fractional crop_box values must be <= 1, got {box}")
        if self.crop_units == "pixels" and any(v != int(v) for v in box):
            raise ValueError(f"pixel crop_box values must be integers, got {box}")

    @property
    def se(self) -> bool:
        """Whether the backbone uses squeeze-excitation (``use_se`` with its arch default)."""
        return self.arch != "iresnet" if self.use_se is None else self.use_se


_IMAGENET_MEAN: Triple = (0.485, 0.456, 0.406)
_IMAGENET_STD: Triple = (0.229, 0.224, 0.225)

IDENTITY_ENCODER_PRESETS: dict[str, IdentityEncoderConfig] = {
    # insightface arcface_torch: aligned 112x112 crops, (x - 0.5) / 0.5. Upstream takes 112 px
    # input as is; for other sizes we resize with antialiased bilinear (our choice).
    "arcface-iresnet50": IdentityEncoderConfig(
        arch="iresnet", depth=50, interpolation="bilinear", antialias=True
    ),
    "arcface-iresnet100": IdentityEncoderConfig(
        arch="iresnet", depth=100, interpolation="bilinear", antialias=True
    ),
    # SimSwap test scripts (test_one_image.py, test_wholeimage_swapsingle.py, ...): ImageNet
    # Normalize on the 224 crop, then F.interpolate(img, size=(112, 112)) -- default mode
    # "nearest" (early versions used scale_factor=0.5, which picks the same pixels).
    "simswap-arcface": IdentityEncoderConfig(
        arch="simswap_arcface",
        depth=101,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        interpolation="nearest",
    ),
    # InfoSwap inference_demo.py: Normalize(0.5, 0.5) on the 512 crop, X[:, :, 37:475, 37:475],
    # F.interpolate(size=[128, 128], mode="bilinear", align_corners=True); Backbone128 head.
    "infoswap-irse50": IdentityEncoderConfig(
        arch="irse",
        depth=50,
        input_size=128,
        head_name="output_layer128",
        crop_box=(37 / 512, 37 / 512, 475 / 512, 475 / 512),
        interpolation="bilinear",
        align_corners=True,
    ),
    # pSp criteria/id_loss.py: images in [-1, 1], x[:, :, 35:223, 32:220] of the 256 output, then
    # AdaptiveAvgPool2d((112, 112)), which equals F.interpolate(mode="area").
    "pixel2style2pixel-irse50": IdentityEncoderConfig(
        arch="irse",
        depth=50,
        crop_box=(35 / 256, 32 / 256, 223 / 256, 220 / 256),
        interpolation="area",
    ),
}


