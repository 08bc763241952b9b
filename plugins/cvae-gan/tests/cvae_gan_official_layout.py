"""Test helpers: the state-dict layouts of Facke's released CVAE networks, reproducible weights
and inputs for them, and the tiny test configuration.

The layouts describe, key by key, ``Merge_Image`` (M1), ``Encoder`` (E), ``Merge_Distribution``
(M2) and ``Decoder`` (D) of Ailon-Island/Facke ``models/CVAE/networks.py`` as ``CVAE.init``
builds them, and the ArcFace ``ResNet(IRBlock, layers, use_se=True)`` of SimSwap's
``arcface_checkpoint.tar``. ``OFFICIAL_DIGESTS`` holds the sha256 of their sorted
``key:shape`` lines computed from the official modules themselves; the tests compare.

``fill`` gives reproducible values from a float64 sine hash rather than torch's RNG, so that
golden numbers computed once with the official implementation stay valid across torch versions.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import torch

Layout = dict[str, tuple[int, ...]]

# sha256 of "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(state_dict().items())) of
# the official modules (Ailon-Island/Facke at e5141fe, models/CVAE/networks.py as CVAE.init
# builds them, and models/models.py ResNet(IRBlock, ..., use_se=True); torch 2.13).
OFFICIAL_DIGESTS = {
    "M1": "98eb49947e0373b63d879c9fd1107611f36b31528e4ede5c01950b93d584b44d",  # img_size=224
    "E": "2f73aef63200d68d8a2866c71964c230932d809d5bccdbdcfa1032b2041f624c",
    "M2": "bd8eb097781fe997f530504501b54a5fc71b570169ac676ee232ff4800be314e",  # num_ID_blocks=9
    "D": "2767ea83b8b2290152a7a320eddca042a7b4a22710a12b82c238dd935e531b02",
    "arcface-101": "3cb111ad33ef0b3eee3c28acdf79708c4d3c80bc2c870396ca75efdab843aa21",
    "arcface-18": "573a49ee36c5693696b385d46fefa429f3f9f46de9b381105cae490879c75df1",
}

ARCFACE_LAYERS = {18: (2, 2, 2, 2), 101: (3, 4, 23, 3)}

TINY = {
    "image_size": 32, "ngf": 4, "max_channels": 16, "n_blocks": 2,
    "identity_depth": 18, "identity_input_size": 32,
}
"""Config overrides with a few channels, 32 px crops and the smallest ArcFace, for fast tests."""


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


def official_layouts(
    image_size: int = 224, n_blocks: int = 9, ngf: int = 64, max_channels: int = 512
) -> dict[str, Layout]:
    """Keys and shapes of Facke's M1, E, M2 and D (``ngf``/``max_channels`` shrink the widths,
    which Facke hard-codes to 64..512, for fast tests of the same key names)."""
    w = [min(ngf * 2**k, max_channels) for k in range(4)]
    m1: Layout = {}
    _linear(m1, "emb.0", 512, image_size * image_size)
    _bn(m1, "emb.1", image_size * image_size)
    e: Layout = {}
    _conv(e, "conv1.1", 4, w[0], 7)
    _bn(e, "conv1.2", w[0])
    for k in (1, 2, 3):
        _conv(e, f"down{k}.0", w[k - 1], w[k], 3)
        _bn(e, f"down{k}.1", w[k])
    for head in ("mu", "log_var"):
        _conv(e, f"{head}.0", w[3], w[3], 3)
        _bn(e, f"{head}.1", w[3])
    m2: Layout = {}
    for i in range(n_blocks):
        for j in (1, 2):
            _conv(m2, f"ID_blocks.{i}.conv{j}.1", w[3], w[3], 3)
            _linear(m2, f"ID_blocks.{i}.adain{j}.linear", 512, 2 * w[3])
    d: Layout = {}
    for k in (1, 2, 3):  # up1: w3 -> w2, up2: w2 -> w1, up3: w1 -> w0
        _conv(d, f"up{k}.1", w[4 - k], w[3 - k], 3)
        _bn(d, f"up{k}.2", w[3 - k])
    _conv(d, "conv2.1", w[0], 3, 7)
    _bn(d, "conv2.2", 3)
    return {"M1": m1, "E": e, "M2": m2, "D": d}


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


def fill_all(layouts: Mapping[str, Layout], seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """``fill`` of each role with its own seed offset."""
    return {role: fill(layout, seed * 10 + index) for index, (role, layout) in enumerate(layouts.items())}


def images(n: int, size: int, seed: int) -> torch.Tensor:
    """Reproducible (n, 3, size, size) images in [0, 1]."""
    return (hash_uniform(n * 3 * size * size, 0.5 + seed).view(n, 3, size, size) + 1).div(2).float()


def noise(shape: tuple[int, ...], seed: int, uniform: bool = True) -> torch.Tensor:
    """Reproducible reparameterisation noise: uniform on [0, 1) (Facke's rand_like) or a
    Box-Muller standard normal."""
    numel = math.prod(shape)
    u1 = (hash_uniform(numel, 7.25 + seed) + 1) / 2
    if uniform:
        return u1.view(shape).float()
    u2 = (hash_uniform(numel, 9.5 + seed) + 1) / 2
    normal = torch.sqrt(-2 * torch.log(u1.clamp_min(1e-12))) * torch.cos(2 * math.pi * u2)
    return normal.view(shape).float()
