"""Test helpers: the official InfoSwap state-dict layouts, reproducible weights and readout
files for them, and reproducible images.

The layouts are derived from our networks through the converter's prefixes plus the official
keys the converter drops; ``OFFICIAL_DIGESTS`` holds the sha256 of the sorted ``key:shape``
lines of the real official modules (GGGHSL/InfoSwap-master at 0484ef5: ``AII512``,
``AII1024``, ``UnetDecoder512``, ``UnetDecoder1024``, ``IIB(1536, [64]*4 + [128]*4 + [256]*2,
smooth=True, kernel_size=1)``, ``Backbone128(50, 0.6, "ir_se")``, built with torch 2.13), so a
drift of our layout from the official one fails the tests.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import torch

Layout = dict[str, tuple[int, ...]]

OFFICIAL_DIGESTS = {
    "generator512": "5a5edfcd27c2a84dac99ab4ac2eb909640e590d86f6c8d184562be697caea174",
    "generator1024": "8f61435020350b104c07e2c72173e4daa310e5f73e4543ff23e59dabd3fa5128",
    "decoder512": "9213772e6275edb989a947f4a2e10b6a5ce5aa178fdb3190458cfc9ad9f45c08",
    "decoder1024": "c794747db4f7de99a84d63b48bd5a0c9e276a6007757fe9392bb73f312c83005",
    "iib": "bd9cd3ec15f28f6708c0062d90897476fdac66305e4391d4812ecc4c1f175038",
    "identity": "14451c60b1b33b3bd91929420f1425edbf30e3c3c2586051f69b9a96fc3a3aba",
}


def digest(layout: Mapping[str, tuple[int, ...]]) -> str:
    text = "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(layout.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def official_layouts(config: Mapping) -> dict[str, Layout]:
    """role -> official ``{key: shape}`` for the networks of a model built with ``config``."""
    from zoo_plugin_infoswap.convert import NETWORK_ROLES
    from zoo_plugin_infoswap.model import build

    with torch.device("meta"):
        model = build(None, dict(config))
    state = model.state_dict()
    layouts: dict[str, Layout] = {}
    for role, prefix in NETWORK_ROLES.items():
        layouts[role] = {key[len(prefix):]: tuple(v.shape) for key, v in state.items() if key.startswith(prefix)}
    generator, c = layouts["generator"], model.config.channels
    if model.config.resolution == 512:
        generator["deconv.weight"] = (c // 32, 3, 4, 4)
    else:
        generator["up3.weight"], generator["up3.bias"] = (c, c, 2, 2), (c,)
    return layouts


PERIOD = 65521
"""Values repeat with this prime period, so filling the 67M-parameter decoders stays cheap."""


def hash_uniform(numel: int, seed: float) -> torch.Tensor:
    """``numel`` reproducible values in [-1, 1): a scaled float64 sine taken modulo 1, over
    indices taken modulo ``PERIOD``."""
    index = torch.arange(min(numel, PERIOD), dtype=torch.float64)
    base = torch.remainder(torch.sin(index * 12.9898 + seed) * 43758.5453, 1.0) * 2 - 1
    return base.repeat(-(-numel // PERIOD))[:numel]


def fill(layout: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Reproducible, well-scaled float32 values for every key (num_batches_tracked = 0).

    The last conv of each bottleneck gets the official initialisation's scale (bias ~5,
    weights ~1e-3), so lambda lies near, and partly beyond, the clamp at sigmoid(5).
    """
    state: dict[str, torch.Tensor] = {}
    for index, key in enumerate(sorted(layout)):
        shape = layout[key]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros(shape, dtype=torch.long)
            continue
        u = hash_uniform(math.prod(shape), seed * 1000.0 + index * 0.618034).view(shape)
        name = key.rsplit(".", 1)[-1]
        if "smooth.conv" in key:
            value = torch.ones(shape, dtype=torch.float64)
        elif key.endswith("conv3.bias"):
            value = 5.0 + 0.5 * u
        elif name == "weight" and len(shape) >= 2:  # conv / linear: std 1 / sqrt(fan_in)
            value = u * math.sqrt(3.0 / math.prod(shape[1:]))
        elif name == "weight" and shape == (1,):
            value = 0.25 + 0.05 * u
        elif name == "weight":  # batch-norm scale, PReLU slopes
            value = 1.0 + 0.1 * u
        elif name == "running_var":
            value = 1.0 + 0.5 * u
        else:  # biases, running means
            value = 0.1 * u
        state[key] = value.to(torch.float32)
    return state


def readout_files(config: Mapping, seed: int = 7) -> dict[str, dict[str, torch.Tensor]]:
    """``readout<i>`` -> a synthetic ``readout_layer<i>.pth`` (m, s, n_samples, neuron_nonzero);
    about 10% of the neurons are inactive (nonzero in under 1% of the samples)."""
    from zoo_plugin_infoswap.config import InfoSwapConfig

    cfg = InfoSwapConfig(**dict(config))
    n = 20001
    files = {}
    for i, (channels, size) in enumerate(zip(cfg.feature_channels, cfg.feature_sizes, strict=True)):
        shape = (channels, size, size)
        numel = math.prod(shape)
        u = hash_uniform(numel, seed * 100.0 + i).view(shape)
        v = hash_uniform(numel, seed * 100.0 + i + 0.5).view(shape)
        files[f"readout{i}"] = {
            "m": (0.2 * u).float(),
            "s": ((0.5 + 0.4 * v) ** 2 * (n - 1)).float(),
            "n_samples": torch.tensor([n]),
            "neuron_nonzero": torch.where(v > -0.8, torch.tensor(n), torch.tensor(100)).long(),
        }
    return files


def images(n: int, size: int, seed: int) -> torch.Tensor:
    """Reproducible (n, 3, size, size) images in [0, 1]."""
    return (hash_uniform(n * 3 * size * size, 0.5 + seed).view(n, 3, size, size) + 1).div(2).float()


def official_checkpoints(config: Mapping, seed: int = 1) -> dict[str, dict[str, torch.Tensor]]:
    """Every converter role filled with reproducible values in the official layout."""
    layouts = official_layouts(config)
    files = {role: fill(layout, seed + k) for k, (role, layout) in enumerate(sorted(layouts.items()))}
    return {**files, **readout_files(config)}
