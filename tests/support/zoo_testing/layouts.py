"""Building blocks of the official state-dict layouts that the plugins' converter tests write out.

A layout is ``{key: shape}``, written key by key from the official code; ``digest`` is the sha256
of its sorted ``key:shape`` lines, compared with the digest of the real official module. ``fill``
gives reproducible values from a float64 sine hash rather than torch's RNG, so that golden numbers
computed once with an official implementation stay valid across torch versions. The per-plugin
layouts (and their digests) stay in each plugin's ``*_official_layout.py``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping

import torch

Layout = dict[str, tuple[int, ...]]

ARCFACE_LAYERS = {18: (2, 2, 2, 2), 101: (3, 4, 23, 3)}
"""Blocks per stage of SimSwap's ArcFace ``ResNet(IRBlock, layers, use_se=True)`` by depth."""

# sha256 of "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(state_dict().items())) of
# neuralchen/SimSwap's models/arcface_models.py ResNet(IRBlock, ..., use_se=True) at bd7b768 (the
# module Ailon-Island/Facke reuses), built with torch 2.13.
ARCFACE_DIGESTS = {
    101: "3cb111ad33ef0b3eee3c28acdf79708c4d3c80bc2c870396ca75efdab843aa21",
    18: "573a49ee36c5693696b385d46fefa429f3f9f46de9b381105cae490879c75df1",
}


def digest(layout: Mapping[str, tuple[int, ...]]) -> str:
    """sha256 of the layout's sorted ``key:shape`` lines."""
    text = "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(layout.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def add_conv(layout: Layout, name: str, cin: int, cout: int, k: int, bias: bool = True) -> None:
    """A square ``nn.Conv2d``'s weight (and bias)."""
    layout[f"{name}.weight"] = (cout, cin, k, k)
    if bias:
        layout[f"{name}.bias"] = (cout,)


def add_batch_norm(layout: Layout, name: str, channels: int) -> None:
    """An ``nn.BatchNorm``'s affine parameters and running statistics."""
    for stat in ("weight", "bias", "running_mean", "running_var"):
        layout[f"{name}.{stat}"] = (channels,)
    layout[f"{name}.num_batches_tracked"] = ()


def add_linear(layout: Layout, name: str, fan_in: int, fan_out: int) -> None:
    """An ``nn.Linear``'s weight and bias."""
    layout[f"{name}.weight"] = (fan_out, fan_in)
    layout[f"{name}.bias"] = (fan_out,)


def arcface_layout(depth: int = 101, input_size: int = 112) -> Layout:
    """Keys and shapes of SimSwap's ArcFace ``ResNet(IRBlock, layers, use_se=True)``, pickled in
    ``arcface_checkpoint.tar`` (SimSwap and CVAE-GAN read the same file)."""
    out: Layout = {}
    add_conv(out, "conv1", 3, 64, 3, bias=False)
    add_batch_norm(out, "bn1", 64)
    out["prelu.weight"] = (1,)
    inplanes, size = 64, (input_size - 2) // 2
    for stage, (blocks, planes) in enumerate(zip(ARCFACE_LAYERS[depth], (64, 128, 256, 512), strict=True), 1):
        stride = 1 if stage == 1 else 2
        for b in range(blocks):
            name = f"layer{stage}.{b}"
            add_batch_norm(out, f"{name}.bn0", inplanes)
            add_conv(out, f"{name}.conv1", inplanes, inplanes, 3, bias=False)
            add_batch_norm(out, f"{name}.bn1", inplanes)
            out[f"{name}.prelu.weight"] = (1,)
            add_conv(out, f"{name}.conv2", inplanes, planes, 3, bias=False)
            add_batch_norm(out, f"{name}.bn2", planes)
            if b == 0 and (stride != 1 or inplanes != planes):
                add_conv(out, f"{name}.downsample.0", inplanes, planes, 1, bias=False)
                add_batch_norm(out, f"{name}.downsample.1", planes)
            add_linear(out, f"{name}.se.fc.0", planes, planes // 16)
            out[f"{name}.se.fc.1.weight"] = (1,)
            add_linear(out, f"{name}.se.fc.2", planes // 16, planes)
            inplanes = planes
        if stride == 2:
            size = (size - 1) // 2 + 1
    add_batch_norm(out, "bn2", 512)
    add_linear(out, "fc", 512 * size * size, 512)
    add_batch_norm(out, "bn3", 512)
    return out


def meta_tensors(layout: Mapping[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Empty tensors of the layout's shapes on the meta device (no memory, no time)."""
    return {key: torch.empty(shape, device="meta") for key, shape in layout.items()}


def hash_uniform(numel: int, seed: float, period: int | None = None) -> torch.Tensor:
    """``numel`` reproducible values in [-1, 1): a scaled float64 sine taken modulo 1 (over indices
    taken modulo ``period`` when given, which keeps filling very large tensors cheap)."""
    index = torch.arange(numel if period is None else min(numel, period), dtype=torch.float64)
    base = torch.remainder(torch.sin(index * 12.9898 + seed) * 43758.5453, 1.0) * 2 - 1
    return base if period is None else base.repeat(-(-numel // period))[:numel]


Special = Callable[[str, torch.Tensor], "torch.Tensor | None"]
"""``special(key, u) -> values or None``: a plugin's own rule for some keys, tried first (``u``
holds the key's hash values in [-1, 1), float64, already in the key's shape)."""


def scaled(key: str, u: torch.Tensor) -> torch.Tensor:
    """Hash values ``u`` scaled for parameter ``key``: conv and linear weights ~ U(+-sqrt(3 /
    fan_in)), PReLU slopes near 0.25, norm scales and running variances near 1, small biases and
    running means."""
    name, shape = key.rsplit(".", 1)[-1], tuple(u.shape)
    if name == "weight" and len(shape) >= 2:  # conv / linear: std 1 / sqrt(fan_in)
        return u * math.sqrt(3.0 / math.prod(shape[1:]))
    if name == "weight" and shape == (1,):  # PReLU slope
        return 0.25 + 0.05 * u
    if name == "weight":  # norm scale
        return 1.0 + 0.1 * u
    if name == "running_var":
        return 1.0 + 0.5 * u
    return 0.1 * u  # biases, running means


def fill(layout: Mapping[str, tuple[int, ...]], seed: int = 0, period: int | None = None,
         special: Special | None = None) -> dict[str, torch.Tensor]:
    """Reproducible, well-scaled float32 values for every key (``scaled``; num_batches_tracked = 0)."""
    state: dict[str, torch.Tensor] = {}
    for index, key in enumerate(sorted(layout)):
        shape = layout[key]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros(shape, dtype=torch.long)
            continue
        u = hash_uniform(math.prod(shape), seed * 1000.0 + index * 0.618034, period).view(shape)
        value = special(key, u) if special is not None else None
        state[key] = (scaled(key, u) if value is None else value).to(torch.float32)
    return state


def images(n: int, size: int, seed: int, period: int | None = None) -> torch.Tensor:
    """Reproducible (n, 3, size, size) images in [0, 1]."""
    return (hash_uniform(n * 3 * size * size, 0.5 + seed, period).view(n, 3, size, size) + 1).div(2).float()
