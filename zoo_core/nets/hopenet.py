"""Hopenet head-pose estimator (Ruiz et al., CVPRW 2018; natanielruiz/deep-head-pose).

A ResNet-50 trunk (torchvision's bottleneck layout, shared with DECA's encoder:
:class:`zoo_core.nets.flame_encoder.ResNetBody`) and three linear heads ``fc_yaw``,
``fc_pitch``, ``fc_roll`` of 66 bins each. An angle is the expectation over its bins,
``sum(softmax(logits)_i * i) * 3 - 99`` degrees, as the official test scripts decode it.

Input (official ``test_on_video_dlib.py``): the face box of dlib's detector widened by half its
width left and right, three quarters of its height upwards and a quarter downwards, clipped to
the image; resized so the shorter side is 224 (PIL bilinear, torchvision's ``Scale``), centre
cropped to 224, ImageNet mean/std normalisation (:func:`hopenet_input`).

The released ``hopenet_robust_alpha1.pkl`` is a plain state dict with the official key names;
:func:`convert_hopenet` drops the unused ``fc_finetune`` layer ("vestigial layer from previous
experiments" in the official ``hopenet.py``) and checks every other name and shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo_core.errors import InputError
from zoo_core.nets.flame_encoder import ResNetBody
from zoo_core.nets.hopenet_config import HopenetConfig

ANGLES = ("yaw", "pitch", "roll")
"""Order of the heads and of every angle triple here (the official scripts' order)."""

UNUSED_PREFIX = "fc_finetune."
"""The official module's vestigial layer, present in the released file, never used in forward."""


class Hopenet(ResNetBody):
    """ResNet trunk + one binned classifier per Euler angle; keys match the official module."""

    def __init__(self, config: HopenetConfig):
        super().__init__(config.layers, config.width)
        self.config = config
        self.fc_yaw = nn.Linear(self.out_features, config.num_bins)
        self.fc_pitch = nn.Linear(self.out_features, config.num_bins)
        self.fc_roll = nn.Linear(self.out_features, config.num_bins)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Bin logits ``(N, 3, num_bins)`` (yaw, pitch, roll) of normalised crops ``(N, 3, S, S)``."""
        size = self.config.image_size
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != (size, size):
            raise InputError(f"Hopenet expects (N, 3, {size}, {size}) crops, got {tuple(images.shape)}")
        features = super().forward(images)
        return torch.stack([self.fc_yaw(features), self.fc_pitch(features), self.fc_roll(features)], dim=1)

    def angles(self, images: torch.Tensor) -> torch.Tensor:
        """Euler angles ``(N, 3)`` in degrees (yaw, pitch, roll)."""
        return decode_bins(self(images), self.config.bin_width, self.config.angle_offset)


def decode_bins(logits: torch.Tensor, bin_width: float, offset: float) -> torch.Tensor:
    """The expected angle of binned logits (last axis): ``sum(softmax_i * i) * bin_width + offset``."""
    index = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return (logits.softmax(dim=-1) * index).sum(dim=-1) * bin_width + offset


def build_hopenet(config: Mapping[str, Any]) -> Hopenet:
    """Component builder (``zoo_core.registry.create_component``)."""
    return Hopenet(HopenetConfig(**config))


# --- the official input crop ----------------------------------------------------------------


def hopenet_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """The official crop around a detector box ``(x0, y0, x1, y1)``: integer box (dlib's
    rectangle), then ``x -= w // 2``, ``x1 += w // 2``, ``y0 -= 3h // 4``, ``y1 += h // 4``
    (the script's Python 2 integer division), clipped to the image."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    box_w, box_h = abs(x1 - x0), abs(y1 - y0)
    x0, x1 = x0 - 2 * box_w // 4, x1 + 2 * box_w // 4
    y0, y1 = y0 - 3 * box_h // 4, y1 + box_h // 4
    return max(x0, 0), max(y0, 0), min(width, x1), min(height, y1)


def hopenet_input(image: np.ndarray, box: tuple[float, float, float, float], config: HopenetConfig) -> np.ndarray:
    """The network input ``(3, S, S) float32`` for the face at ``box`` of an ``(H, W, 3) uint8``
    RGB image: :func:`hopenet_box`, shorter side to S (PIL bilinear), centre crop, ImageNet
    normalisation."""
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"Hopenet crop needs an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    x0, y0, x1, y1 = hopenet_box(box, image.shape[1], image.shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise InputError(f"Hopenet crop: the face box {box} leaves no image region")
    region = Image.fromarray(np.ascontiguousarray(image[y0:y1, x0:x1]))
    size = config.image_size
    w, h = region.size
    if w <= h:
        scaled = (size, int(size * h / w))
    else:
        scaled = (int(size * w / h), size)
    if scaled != (w, h):
        region = region.resize(scaled, Image.BILINEAR)
    left = int(math.floor((scaled[0] - size) / 2.0 + 0.5))  # torchvision CenterCrop, Python 2 rounding
    top = int(math.floor((scaled[1] - size) / 2.0 + 0.5))
    pixels = np.asarray(region, dtype=np.float32)[top:top + size, left:left + size] / 255.0
    pixels = (pixels - np.asarray(config.mean, dtype=np.float32)) / np.asarray(config.std, dtype=np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


# --- converter ------------------------------------------------------------------------------


def convert_hopenet(checkpoints: Mapping[str, Mapping[str, torch.Tensor]], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """``hopenet_robust_alpha1.pkl`` (a state dict with the official names) -> our state dict:
    the same names without ``fc_finetune``, every name and shape checked."""
    from zoo_core.convert import rename_checked

    state = {key: value for key, value in checkpoints["model"].items() if not key.startswith(UNUSED_PREFIX)}
    with torch.device("meta"):
        expected = build_hopenet(config).state_dict()
    mapping = {key: key for key in expected}
    return rename_checked("model", state, mapping, expected, "Hopenet (hopenet_robust_alpha1.pkl, ResNet-50, 66 bins)")
