"""Test helpers: the official SimSwap state-dict layouts, reproducible weights for them, and
the tiny test configuration.

The layouts describe, key by key, ``Generator_Adain_Upsample`` of neuralchen/SimSwap
(``models/fs_networks.py``, ``models/fs_networks_512.py``) and the ArcFace ``ResNet(IRBlock,
layers, use_se=True)`` pickled in ``arcface_checkpoint.tar``. They were checked against the
official modules themselves: ``OFFICIAL_DIGESTS`` holds the sha256 of their sorted
``key:shape`` lines, computed from the real official code, and the tests compare.

``fill`` gives reproducible values from a float64 sine hash rather than torch's RNG, so that
the golden numbers computed once with the official implementation stay valid across torch
versions.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import torch

Layout = dict[str, tuple[int, ...]]

# sha256 of "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(state_dict().items()))
# of the official modules (neuralchen/SimSwap at bd7b768, models/fs_networks*.py and
# models/arcface_models.py, built with torch 2.13).
OFFICIAL_DIGESTS = {
    ("224", False): "d5944897f5be721a3e10033763288df452f4697508b6bbeb7f2066de9f0c5daa",
    ("224", True): "f76c85291774290dbbe32a85e1b017b52be50a3a62f3a04c3083232aa57f030b",
    ("512", False): "6646eb850265304a80260d1693f0b43c9224dac308abc330219f2e762023c353",
    ("512", True): "ec04a12f173f409b37d0300dab8bfa0171989e7225f0fd7a965ed674e2039547",
    ("arcface", 101): "3cb111ad33ef0b3eee3c28acdf79708c4d3c80bc2c870396ca75efdab843aa21",
    ("arcface", 18): "573a49ee36c5693696b385d46fefa429f3f9f46de9b381105cae490879c75df1",
}

ARCFACE_LAYERS = {18: (2, 2, 2, 2), 101: (3, 4, 23, 3)}

TINY = {"ngf": 4, "max_channels": 16, "n_blocks": 2, "identity_depth": 18, "identity_input_size": 32}
"""Config overrides with a few channels and the smallest ArcFace, for fast tests on 32-64 px."""


def digest(layout: Mapping[str, tuple[int, ...]]) -> str:
    text = "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(layout.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _conv(layout: Layout, name: str, cin: int, cout: int, k: int, bias: bool = True) -> None:
    layout[f"{name}.weight"] = (cout, cin, k, k)
    if bias:
        layout[f"{name}.bias"] = (cout,)


def _bn(layout: Layout, name: str, channels: int) -> None:
    for stat in ("weight", "bias", "running_mean", "running_var"):
        layout[f"{name}.{stat}"] = (channels,)
    layout[f"{name}.num_batches_tracked"] = ()


def _linear(layout: Layout, name: str, fan_in: int, fan_out: int) -> None:
    layout[f"{name}.weight"] = (fan_out, fan_in)
    layout[f"{name}.bias"] = (fan_out,)


def official_generator_layout(
    kind: str = "224", n_blocks: int = 9, deep: bool = False, ngf: int | None = None,
    max_channels: int = 512,
) -> Layout:
    """Keys and shapes of ``Generator_Adain_Upsample(3, 3, 512, n_blocks, deep)``.

    ``kind`` "224": first layer 64 wide, stages down1..down3 / up3..up1; "512": first layer
    32 wide, down0..down3 / up3..up0. ``ngf``/``max_channels`` shrink the widths (not an
    official option) for fast tests of the same key names.
    """
    first = {"224": 1, "512": 0}[kind]
    ngf = ngf or {"224": 64, "512": 32}[kind]
    widths = {k: min(ngf * 2 ** (k - first + 1), max_channels) for k in range(first, 4)}
    widths[first - 1] = ngf  # first_layer output, the input of the first down stage
    out: Layout = {}
    _conv(out, "first_layer.1", 3, ngf, 7)
    _bn(out, "first_layer.2", ngf)
    for k in range(first, 4):  # downK: Conv(w[k-1] -> w[k]) + BN
        _conv(out, f"down{k}.0", widths[k - 1], widths[k], 3)
        _bn(out, f"down{k}.1", widths[k])
    bottleneck = widths[3]
    if deep:
        _conv(out, "down4.0", bottleneck, bottleneck, 3)
        _bn(out, "down4.1", bottleneck)
        _conv(out, "up4.1", bottleneck, bottleneck, 3)
        _bn(out, "up4.2", bottleneck)
    for i in range(n_blocks):
        for j in (1, 2):
            _conv(out, f"BottleNeck.{i}.conv{j}.1", bottleneck, bottleneck, 3)
            _linear(out, f"BottleNeck.{i}.style{j}.linear", 512, 2 * bottleneck)
    for k in range(3, first - 1, -1):  # upK: Upsample + Conv(w[k] -> w[k-1]) + BN
        _conv(out, f"up{k}.1", widths[k], widths[k - 1], 3)
        _bn(out, f"up{k}.2", widths[k - 1])
    _conv(out, "last_layer.1", ngf, 3, 7)
    return out


def official_arcface_layout(depth: int = 101, input_size: int = 112) -> Layout:
    """Keys and shapes of SimSwap's ArcFace ``ResNet(IRBlock, layers, use_se=True)``."""
    out: Layout = {}
    _conv(out, "conv1", 3, 64, 3, bias=False)
    _bn(out, "bn1", 64)
    out["prelu.weight"] = (1,)
    inplanes, size = 64, (input_size - 2) // 2
    for stage, (blocks, planes) in enumerate(zip(ARCFACE_LAYERS[depth], (64, 128, 256, 512), strict=True), 1):
        stride = 1 if stage == 1 else 2
        for b in range(blocks):
            name = f"layer{stage}.{b}"
            _bn(out, f"{name}.bn0", inplanes)
            _conv(out, f"{name}.conv1", inplanes, inplanes, 3, bias=False)
            _bn(out, f"{name}.bn1", inplanes)
            out[f"{name}.prelu.weight"] = (1,)
            _conv(out, f"{name}.conv2", inplanes, planes, 3, bias=False)
            _bn(out, f"{name}.bn2", planes)
            if b == 0 and (stride != 1 or inplanes != planes):
                _conv(out, f"{name}.downsample.0", inplanes, planes, 1, bias=False)
                _bn(out, f"{name}.downsample.1", planes)
            _linear(out, f"{name}.se.fc.0", planes, planes // 16)
            out[f"{name}.se.fc.1.weight"] = (1,)
            _linear(out, f"{name}.se.fc.2", planes // 16, planes)
            inplanes = planes
        if stride == 2:
            size = (size - 1) // 2 + 1
    _bn(out, "bn2", 512)
    _linear(out, "fc", 512 * size * size, 512)
    _bn(out, "bn3", 512)
    return out


def hash_uniform(numel: int, seed: float) -> torch.Tensor:
    """``numel`` reproducible values in [-1, 1): a scaled float64 sine taken modulo 1."""
    index = torch.arange(numel, dtype=torch.float64)
    return torch.remainder(torch.sin(index * 12.9898 + seed) * 43758.5453, 1.0) * 2 - 1


def fill(layout: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Reproducible, well-scaled float32 values for every key (num_batches_tracked = 0)."""
    state: dict[str, torch.Tensor] = {}
    for index, key in enumerate(sorted(layout)):
        shape = layout[key]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros(shape, dtype=torch.long)
            continue
        u = hash_uniform(math.prod(shape), seed * 1000.0 + index * 0.618034).view(shape)
        name = key.rsplit(".", 1)[-1]
        if name == "weight" and len(shape) >= 2:  # conv / linear: std 1 / sqrt(fan_in)
            value = u * math.sqrt(3.0 / math.prod(shape[1:]))
        elif name == "weight" and shape == (1,):  # PReLU slope
            value = 0.25 + 0.05 * u
        elif name == "weight":  # batch-norm scale
            value = 1.0 + 0.1 * u
        elif name == "running_var":
            value = 1.0 + 0.5 * u
        else:  # biases, running means
            value = 0.1 * u
        state[key] = value.to(torch.float32)
    return state


def images(n: int, size: int, seed: int) -> torch.Tensor:
    """Reproducible (n, 3, size, size) images in [0, 1]."""
    return (hash_uniform(n * 3 * size * size, 0.5 + seed).view(n, 3, size, size) + 1).div(2).float()
