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

import math
from collections.abc import Mapping
from functools import partial

import torch
from zoo_testing import layouts
from zoo_testing.layouts import Layout, digest

__all__ = ["OFFICIAL_DIGESTS", "digest", "fill", "hash_uniform", "images", "official_checkpoints", "official_layouts"]

OFFICIAL_DIGESTS = {
    "generator512": "5a5edfcd27c2a84dac99ab4ac2eb909640e590d86f6c8d184562be697caea174",
    "generator1024": "8f61435020350b104c07e2c72173e4daa310e5f73e4543ff23e59dabd3fa5128",
    "decoder512": "9213772e6275edb989a947f4a2e10b6a5ce5aa178fdb3190458cfc9ad9f45c08",
    "decoder1024": "c794747db4f7de99a84d63b48bd5a0c9e276a6007757fe9392bb73f312c83005",
    "iib": "bd9cd3ec15f28f6708c0062d90897476fdac66305e4391d4812ecc4c1f175038",
    "identity": "14451c60b1b33b3bd91929420f1425edbf30e3c3c2586051f69b9a96fc3a3aba",
}


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


hash_uniform = partial(layouts.hash_uniform, period=PERIOD)
"""``hash_uniform(numel, seed)``: the shared sine hash over indices taken modulo ``PERIOD``."""


def bottleneck_values(key: str, u: torch.Tensor) -> torch.Tensor | None:
    """The smoothing kernels are ones; the last conv of each bottleneck gets the official
    initialisation's bias scale (~5), so lambda lies near, and partly beyond, the clamp at
    sigmoid(5). Other keys: the shared scaling."""
    if "smooth.conv" in key:
        return torch.ones(u.shape, dtype=torch.float64)
    if key.endswith("conv3.bias"):
        return 5.0 + 0.5 * u
    return None


def fill(layout: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Reproducible, well-scaled float32 values for every key (num_batches_tracked = 0), with the
    bottleneck rule above."""
    return layouts.fill(layout, seed, period=PERIOD, special=bottleneck_values)


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


images = partial(layouts.images, period=PERIOD)
"""``images(n, size, seed)``: reproducible (n, 3, size, size) images in [0, 1]."""


def official_checkpoints(config: Mapping, seed: int = 1) -> dict[str, dict[str, torch.Tensor]]:
    """Every converter role filled with reproducible values in the official layout."""
    layouts = official_layouts(config)
    files = {role: fill(layout, seed + k) for k, (role, layout) in enumerate(sorted(layouts.items()))}
    return {**files, **readout_files(config)}
