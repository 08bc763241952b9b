"""FLAME-parameter regressor: DECA's coarse encoder ``E_flame`` (Feng et al., SIGGRAPH 2021).

A ResNet-50 body (torchvision's bottleneck layout, no classifier) and a regressor
``Linear(2048, 1024) -> ReLU -> Linear(1024, 236)`` to the FLAME parameters shape (100),
texture (50), expression (50), pose (6: global rotation and jaw, axis-angle), camera (3) and
lighting (27). The key layout is DECA's (``encoder.*``, ``layers.0``, ``layers.2``), so the
``E_flame`` part of the released ``deca_model.tar`` loads through :func:`convert_deca`.

Only the regressed parameters are needed by the metrics (shape / expression errors) and by
3DMM-supervised training (MFIM's L_shape, L_pose, L_exp); the FLAME mesh itself, whose model
file is licence-restricted, is never needed.

Input: DECA's crop (:func:`deca_crop_matrix`), 224 px RGB in [0, 1], no normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import InputError
from zoo_core.nets.flame_config import FlameEncoderConfig

EXPANSION = 4


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck (stride on the 3x3 convolution)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes * EXPANSION:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * EXPANSION, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * EXPANSION),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNetBody(nn.Module):
    """ResNet stem and four bottleneck stages, globally average-pooled to one vector.

    DECA pools with ``AvgPool2d(7)``, which on its 224 px input (7x7 last feature map) is the
    global mean; the global mean is used here so that small test configurations work too.
    """

    def __init__(self, layers: tuple[int, int, int, int], width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        inplanes = width
        for index, blocks in enumerate(layers):
            planes = width * 2**index
            stage = []
            for block in range(blocks):
                stage.append(Bottleneck(inplanes, planes, stride=2 if index > 0 and block == 0 else 1))
                inplanes = planes * EXPANSION
            setattr(self, f"layer{index + 1}", nn.Sequential(*stage))
        self.out_features = inplanes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        for index in range(1, 5):
            x = getattr(self, f"layer{index}")(x)
        return x.mean(dim=(2, 3))


class FlameEncoder(nn.Module):
    """Regresses FLAME parameters from DECA crops (``(N, 3, S, S)`` RGB in [0, 1])."""

    def __init__(self, config: FlameEncoderConfig):
        super().__init__()
        self.config = config
        self.encoder = ResNetBody(config.layers, config.width)
        self.layers = nn.Sequential(
            nn.Linear(self.encoder.out_features, config.hidden), nn.ReLU(), nn.Linear(config.hidden, config.n_params)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The flat parameter vector ``(N, n_params)`` in DECA's order."""
        size = self.config.image_size
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != (size, size):
            raise InputError(f"FLAME encoder expects (N, 3, {size}, {size}) crops, got {tuple(images.shape)}")
        return self.layers(self.encoder(images))

    def split(self, parameters: torch.Tensor) -> dict[str, torch.Tensor]:
        """Name the groups of a flat parameter vector (``light`` as ``(N, 9, 3)``)."""
        groups = dict(zip(self.config.sizes(), parameters.split(list(self.config.sizes().values()), dim=1), strict=True))
        groups["light"] = groups["light"].reshape(parameters.shape[0], -1, 3)
        return groups

    def encode(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named FLAME parameters of a batch of crops."""
        return self.split(self(images))


def build_flame_encoder(config: Mapping[str, Any]) -> FlameEncoder:
    """Component builder (``zoo_core.registry.create_component``)."""
    return FlameEncoder(FlameEncoderConfig(**config))


# --- DECA's crop ----------------------------------------------------------------------------


def deca_crop_matrix(landmarks68: np.ndarray, size: int = 224, scale: float = 1.25) -> np.ndarray:
    """The 2x3 image -> crop affine matrix of DECA's test-time crop from 68 landmarks.

    DECA (``TestData``, landmark boxes): side = int(1.1 x mean side of the landmarks' box x
    ``scale``) around the box centre, axis-aligned, mapped onto ``size`` pixels with its
    three-point similarity (corners to 0 and ``size - 1``).
    """
    points = np.asarray(landmarks68, dtype=np.float64)
    if points.shape != (68, 2) or not np.isfinite(points).all():
        raise InputError(f"DECA crop needs 68 finite (x, y) landmarks, got an array of shape {points.shape}")
    left, top = points.min(axis=0)
    right, bottom = points.max(axis=0)
    old_size = (right - left + bottom - top) / 2 * 1.1
    side = int(old_size * scale)
    if side < 2:
        raise InputError(f"DECA crop: the landmarks span {old_size:.2f} px, too small to crop")
    centre_x, centre_y = right - (right - left) / 2.0, bottom - (bottom - top) / 2.0
    factor = (size - 1) / side
    return np.array([[factor, 0.0, -(centre_x - side / 2) * factor],
                     [0.0, factor, -(centre_y - side / 2) * factor]])


def deca_crop(image: np.ndarray, landmarks68: np.ndarray, size: int = 224, scale: float = 1.25) -> np.ndarray:
    """DECA's input crop of an ``(H, W, 3) uint8`` RGB image: ``(size, size, 3)`` float32 in
    [0, 1], bilinear, black outside the image (skimage ``warp``'s defaults, which DECA uses)."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"DECA crop needs an (H, W, 3) RGB image, got shape {image.shape}")
    matrix = deca_crop_matrix(landmarks68, size, scale)
    pixels = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    return cv2.warpAffine(pixels, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0, 0.0, 0.0))


# --- converter ------------------------------------------------------------------------------


def convert_deca(checkpoints: Mapping[str, Mapping[str, torch.Tensor]], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """``deca_model.tar`` (``{"E_flame", "E_detail", "D_detail"}``, flattened) -> our state
    dict: the ``E_flame`` entries, whose names already match; the detail networks are not used."""
    from zoo_core.convert import rename_checked

    state = checkpoints["model"]
    prefix = "E_flame."
    flame = {key: value for key, value in state.items() if key.startswith(prefix)}
    if not flame:
        from zoo_core.convert import few_keys
        from zoo_core.errors import WeightsError

        raise WeightsError(f"model checkpoint has no 'E_flame' entries (is it DECA's deca_model.tar?); "
                           f"it has: {few_keys(sorted(state))}")
    with torch.device("meta"):
        expected = build_flame_encoder(config).state_dict()
    mapping = {prefix + key: key for key in expected}
    return rename_checked("model", flame, mapping, expected, "DECA's E_flame (deca_model.tar)")
