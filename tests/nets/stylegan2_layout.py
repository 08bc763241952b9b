"""Test helpers for StyleGAN2: the official state-dict layouts, reproducible weights, inputs.

* ``nvidia_layout`` lists, key by key, ``Generator`` / ``Discriminator`` of
  NVlabs/stylegan2-ada-pytorch (``training/networks.py``, architecture "skip" / "resnet",
  ``c_dim=0``) as they appear in a training snapshot's ``G_ema`` / ``D``.
* rosinality/stylegan2-pytorch uses our own key names; ``ROSINALITY_DIGESTS`` holds the sha256
  of its ``Generator`` / ``Discriminator`` layouts (sorted ``key:shape`` lines, buffers
  included), computed once from the real rosinality modules, and the tests compare ours.
* ``fill`` gives reproducible values from a float64 sine hash rather than torch's RNG, so the
  golden numbers computed once with the official code stay valid across torch versions.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import sys
import types
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

Layout = dict[str, tuple[int, ...]]

TINY = {"size": 32, "style_dim": 32, "n_mlp": 2, "channels": {4: 16, 8: 16, 16: 16, 32: 8}}
"""A 32 px StyleGAN2 with few channels; the same widths as stylegan2-ada-pytorch with
``channel_base=256, channel_max=16``."""

# sha256 of "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(state_dict().items()))
# of rosinality/stylegan2-pytorch (bef283a, model.py) Generator(size, 512, 8) and
# Discriminator(size), channel_multiplier 2, built with torch 2.13; "tiny" is TINY (the
# official channel table patched to TINY's widths).
ROSINALITY_DIGESTS = {
    ("G", "tiny"): "936af74b5e2766c6223fb3c7086cb76e35d6aecded67d12ea5e3816475e44286",
    ("D", "tiny"): "3c35e443c21d74ecdb017300ffcf9d03606e6991592562e461d8b35b0a124fce",
    ("G", 256): "c6a12d99b2664e2b9d5f07bd652c984443ee1629ff2c22ca6c5d95da5b045e21",
    ("D", 256): "9d78da8527562b91b9e77f15b4e25744a9aa6d76aab4a80afcbfb34bd8bdee8c",
    ("G", 1024): "12a56a48bd22fbe8791eb2cd82ec50be3539290875da65956c9fe2508a7918ea",
    ("D", 1024): "63ab5c96d36c719d8a84b090c30d216485c1f2407f2dd8ed6cb22ac12f4593f8",
}

# the same digests of stylegan2-ada-pytorch (d72cc7d, training/networks.py) Generator(z_dim,
# 0, w_dim, size, 3) and Discriminator(0, size, 3): "tiny" with z_dim = w_dim = 32, two mapping
# layers, channel_base=256, channel_max=16; 256 and 1024 with config-f's channel_base=32768
NVIDIA_DIGESTS = {
    ("G", "tiny"): "0fa6728ef90fabd921e0ffdb32cc6c3c2a0aaf2dbc932b9eeb0341d350abff99",
    ("D", "tiny"): "8f5f870108cd7542ac4b7727ea3d4d05b39bc6b5b6ebe03a451a02d22611ddf9",
    ("G", 256): "4191eba816520b5b7a48e163b28e8581b449f87466467757991222145e64cd96",
    ("D", 256): "7e3dc1fb3e7ff2dc13d28ae64ac47d0360af6b80a9bbf235ec78701e20a04414",
    ("G", 1024): "d482c4352038aeab0cc0a71c3edec12508fe65c4681dea8efe4c00c8126ade3c",
    ("D", 1024): "ac1f4e0dde5d4a3c2184384dc20fc31f519cca5c33d56cfdca237874b35b5130",
}

# numel of all parameters (buffers excluded) of those official modules; rosinality's and
# NVIDIA's agree at every size
OFFICIAL_PARAMETERS = {
    ("G", "tiny"): 21179, ("D", "tiny"): 18297,
    ("G", 256): 30034338, ("D", 256): 28864129,
    ("G", 1024): 30370060, ("D", 1024): 29012513,
}


def digest(layout: Mapping[str, tuple[int, ...]]) -> str:
    text = "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(layout.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def layout_of(module: torch.nn.Module) -> Layout:
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def nvidia_layout(size: int, channels: Mapping[int, int], style_dim: int = 512,
                  n_mlp: int = 8) -> tuple[Layout, Layout]:
    """(G, D) keys and shapes of stylegan2-ada-pytorch at resolution ``size``."""
    g: Layout = {}
    for i in range(n_mlp):
        g[f"mapping.fc{i}.weight"] = (style_dim, style_dim)
        g[f"mapping.fc{i}.bias"] = (style_dim,)
    g["mapping.w_avg"] = (style_dim,)

    def layer(name: str, cin: int, cout: int, res: int) -> None:
        g[f"{name}.resample_filter"] = (4, 4)
        g[f"{name}.affine.weight"] = (cin, style_dim)
        g[f"{name}.affine.bias"] = (cin,)
        g[f"{name}.weight"] = (cout, cin, 3, 3)
        g[f"{name}.noise_const"] = (res, res)
        g[f"{name}.noise_strength"] = ()
        g[f"{name}.bias"] = (cout,)

    resolutions = [2**i for i in range(2, int(math.log2(size)) + 1)]
    for res in resolutions:
        block, cout = f"synthesis.b{res}", channels[res]
        g[f"{block}.resample_filter"] = (4, 4)
        if res == 4:
            g[f"{block}.const"] = (cout, 4, 4)
        else:
            layer(f"{block}.conv0", channels[res // 2], cout, res)
        layer(f"{block}.conv1", cout, cout, res)
        g[f"{block}.torgb.affine.weight"] = (cout, style_dim)
        g[f"{block}.torgb.affine.bias"] = (cout,)
        g[f"{block}.torgb.weight"] = (3, cout, 1, 1)
        g[f"{block}.torgb.bias"] = (3,)

    d: Layout = {}

    def conv(name: str, cin: int, cout: int, k: int, bias: bool = True) -> None:
        d[f"{name}.resample_filter"] = (4, 4)
        d[f"{name}.weight"] = (cout, cin, k, k)
        if bias:
            d[f"{name}.bias"] = (cout,)

    for res in reversed(resolutions[1:]):
        block, tmp, out = f"b{res}", channels[res], channels[res // 2]
        d[f"{block}.resample_filter"] = (4, 4)
        if res == size:
            conv(f"{block}.fromrgb", 3, tmp, 1)
        conv(f"{block}.conv0", tmp, tmp, 3)
        conv(f"{block}.conv1", tmp, out, 3)
        conv(f"{block}.skip", tmp, out, 1, bias=False)
    c4 = channels[4]
    conv("b4.conv", c4 + 1, c4, 3)
    d["b4.fc.weight"], d["b4.fc.bias"] = (c4, c4 * 16), (c4,)
    d["b4.out.weight"], d["b4.out.bias"] = (1, c4), (1,)
    return g, d


def hash_uniform(numel: int, seed: float) -> torch.Tensor:
    """``numel`` reproducible values in [-1, 1): a scaled float64 sine taken modulo 1."""
    index = torch.arange(numel, dtype=torch.float64)
    return torch.remainder(torch.sin(index * 12.9898 + seed) * 43758.5453, 1.0) * 2 - 1


def hash_normal(shape: tuple[int, ...], seed: float) -> torch.Tensor:
    """Reproducible float32 values of unit variance (uniform, scaled by sqrt(3))."""
    return (hash_uniform(math.prod(shape), seed) * math.sqrt(3.0)).view(shape).float()


FILTER_SUFFIXES = (".kernel", ".resample_filter")
"""FIR filter buffers: fixed by the configuration, never filled."""


def fill(layout: Mapping[str, tuple[int, ...]], seed: int = 0, lr_mlp: float = 0.01) -> dict[str, torch.Tensor]:
    """Reproducible values for every key but the FIR filters, scaled as the official
    initialisers would (unit-variance weights, mapping weights / lr_mlp, affine biases near 1)."""
    state: dict[str, torch.Tensor] = {}
    for index, key in enumerate(sorted(layout)):
        if key.endswith(FILTER_SUFFIXES):
            continue
        shape = layout[key]
        u = hash_uniform(math.prod(shape), seed * 1000.0 + index * 0.618034).view(shape)
        name = key.rsplit(".", 1)[-1]
        if key.startswith(("style.", "mapping.fc")) and name == "weight":
            value = u * math.sqrt(3.0) / lr_mlp
        elif key.endswith(("modulation.bias", "affine.bias")):
            value = 1.0 + 0.2 * u
        elif name in ("noise_strength",) or key.endswith("noise.weight"):
            value = 0.3 * u
        elif name in ("w_avg", "latent_avg"):
            value = 0.5 * u
        elif name == "bias":
            value = 0.2 * u
        else:  # conv / linear weights, the constant input, stored noise maps
            value = u * math.sqrt(3.0)
        state[key] = value.to(torch.float32)
    return state


def images(n: int, size: int, seed: int) -> torch.Tensor:
    """Reproducible (n, 3, size, size) images in [-1, 1]."""
    return hash_uniform(n * 3 * size * size, 0.5 + seed).view(n, 3, size, size).float()


# --- a stylegan2-ada-pytorch snapshot, pickled the way its training loop does -------------

NVIDIA_BUFFERS = ("resample_filter", "noise_const", "w_avg")
"""Tensors the official modules register as buffers; everything else is a parameter."""

ADA_MODULE_SOURCE = "raise SystemExit('the pickled module source was executed')\n"
"""Stands in for the source text a persistent class pickles (it would run if imported)."""


class _Persistent:
    """Pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``, like every
    network of a snapshot; ``meta["state"]`` is the module's ``__dict__``."""

    def __init__(self, class_name: str, state: dict) -> None:
        self.meta = {"type": "class", "version": 4, "module_src": ADA_MODULE_SOURCE,
                     "class_name": class_name, "state": state}

    def __reduce__(self) -> tuple:
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,))


class _EasyDict(dict):
    """Pickles under dnnlib's name, as the networks' ``_init_kwargs`` do."""


def _module_tree(state: Mapping[str, torch.Tensor], class_name: str) -> _Persistent:
    params, buffers, children = OrderedDict(), OrderedDict(), OrderedDict()
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if rest:
            children.setdefault(head, {})[rest] = value
        elif head in NVIDIA_BUFFERS:
            buffers[head] = value
        else:
            params[head] = torch.nn.Parameter(value, requires_grad=False)
    module_state = {
        "training": False, "_parameters": params, "_buffers": buffers,
        "_non_persistent_buffers_set": set(), "_forward_hooks": OrderedDict(),
        "_modules": OrderedDict((name, _module_tree(sub, name)) for name, sub in children.items()),
        "_init_kwargs": _EasyDict(channel_base=256), "weight_gain": np.float64(0.125),
    }
    return _Persistent(class_name, module_state)


def write_ada_snapshot(path: Path, networks: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
    """A plain pickle of ``{"G_ema": ..., "D": ..., "training_set_kwargs": ...}`` whose globals
    are those of a real snapshot (``torch_utils.persistence._reconstruct_persistent_obj``,
    ``dnnlib.util.EasyDict``, torch's tensor and storage rebuilders, numpy scalars)."""
    def reconstruct(meta: dict) -> None:  # only named, never called: reading must not import it
        raise AssertionError("persistent object reconstructed")

    fake = {name: types.ModuleType(name) for name in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util")}
    reconstruct.__module__, reconstruct.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"
    fake["torch_utils.persistence"]._reconstruct_persistent_obj = reconstruct
    _EasyDict.__module__, _EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    fake["dnnlib.util"].EasyDict = _EasyDict
    saved = {name: sys.modules.get(name) for name in fake}
    sys.modules.update(fake)
    try:
        snapshot = {name: _module_tree(state, name) for name, state in networks.items()}
        snapshot["training_set_kwargs"] = {"class_name": "training.dataset.ImageFolderDataset", "resolution": 32}
        with open(path, "wb") as handle:
            pickle.dump(snapshot, handle, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
