"""Configuration of Hopenet (Ruiz et al., "Fine-Grained Head Pose Estimation Without Keypoints",
CVPRW 2018), without torch, so the core registers it as a component at start-up
(``zoo_core.nets.hopenet`` builds it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HopenetConfig(BaseModel):
    """A ResNet trunk (bottleneck blocks, torchvision key layout) with three binned heads for
    yaw, pitch and roll. Defaults: the released ``hopenet_robust_alpha1.pkl`` (ResNet-50, 66 bins
    of 3 degrees from -99, 224 px crops with ImageNet normalisation), as in the official
    ``code/test_on_video_dlib.py`` of natanielruiz/deep-head-pose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layers: tuple[int, int, int, int] = Field((3, 4, 6, 3), description="bottleneck blocks per stage (ResNet-50)")
    width: int = Field(64, ge=4, description="stem channels; stage i has width * 2**i planes, x4 out")
    num_bins: int = Field(66, ge=2, description="classification bins per angle")
    bin_width: float = Field(3.0, gt=0, description="degrees per bin")
    angle_offset: float = Field(-99.0, description="angle (degrees) of bin index 0 in the expectation")
    image_size: int = Field(224, ge=32, description="square network input, pixels")
    mean: tuple[float, float, float] = Field((0.485, 0.456, 0.406), description="ImageNet mean (RGB, [0, 1])")
    std: tuple[float, float, float] = Field((0.229, 0.224, 0.225), description="ImageNet std (RGB, [0, 1])")


HOPENET_ROBUST = HopenetConfig()
