"""Test helpers: the state-dict layouts of Facke's released CVAE networks, reproducible
reparameterisation noise, and the tiny test configuration.

The layouts describe, key by key, ``Merge_Image`` (M1), ``Encoder`` (E), ``Merge_Distribution``
(M2) and ``Decoder`` (D) of Ailon-Island/Facke ``models/CVAE/networks.py`` as ``CVAE.init``
builds them; the ArcFace of SimSwap's ``arcface_checkpoint.tar``, the digest and the reproducible
``fill`` and ``images`` (a float64 sine hash, so that golden numbers computed once with the
official implementation stay valid across torch versions) are the shared ones of
``zoo_testing.layouts``. ``OFFICIAL_DIGESTS`` holds the sha256 of their sorted ``key:shape``
lines computed from the official modules themselves; the tests compare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from zoo_testing.layouts import (
    ARCFACE_DIGESTS,
    Layout,
    add_batch_norm,
    add_conv,
    add_linear,
    digest,
    fill,
    hash_uniform,
    images,
)
from zoo_testing.layouts import arcface_layout as official_arcface_layout

__all__ = ["OFFICIAL_DIGESTS", "TINY", "digest", "fill", "fill_all", "images", "noise", "official_arcface_layout",
           "official_layouts"]

# sha256 of "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(state_dict().items())) of
# the official modules (Ailon-Island/Facke at e5141fe, models/CVAE/networks.py as CVAE.init
# builds them, and models/models.py ResNet(IRBlock, ..., use_se=True); torch 2.13).
OFFICIAL_DIGESTS = {
    "M1": "98eb49947e0373b63d879c9fd1107611f36b31528e4ede5c01950b93d584b44d",  # img_size=224
    "E": "2f73aef63200d68d8a2866c71964c230932d809d5bccdbdcfa1032b2041f624c",
    "M2": "bd8eb097781fe997f530504501b54a5fc71b570169ac676ee232ff4800be314e",  # num_ID_blocks=9
    "D": "2767ea83b8b2290152a7a320eddca042a7b4a22710a12b82c238dd935e531b02",
    "arcface-101": ARCFACE_DIGESTS[101],
    "arcface-18": ARCFACE_DIGESTS[18],
}

TINY = {
    "image_size": 32, "ngf": 4, "max_channels": 16, "n_blocks": 2,
    "identity_depth": 18, "identity_input_size": 32,
}
"""Config overrides with a few channels, 32 px crops and the smallest ArcFace, for fast tests."""


def official_layouts(
    image_size: int = 224, n_blocks: int = 9, ngf: int = 64, max_channels: int = 512
) -> dict[str, Layout]:
    """Keys and shapes of Facke's M1, E, M2 and D (``ngf``/``max_channels`` shrink the widths,
    which Facke hard-codes to 64..512, for fast tests of the same key names)."""
    w = [min(ngf * 2**k, max_channels) for k in range(4)]
    m1: Layout = {}
    add_linear(m1, "emb.0", 512, image_size * image_size)
    add_batch_norm(m1, "emb.1", image_size * image_size)
    e: Layout = {}
    add_conv(e, "conv1.1", 4, w[0], 7)
    add_batch_norm(e, "conv1.2", w[0])
    for k in (1, 2, 3):
        add_conv(e, f"down{k}.0", w[k - 1], w[k], 3)
        add_batch_norm(e, f"down{k}.1", w[k])
    for head in ("mu", "log_var"):
        add_conv(e, f"{head}.0", w[3], w[3], 3)
        add_batch_norm(e, f"{head}.1", w[3])
    m2: Layout = {}
    for i in range(n_blocks):
        for j in (1, 2):
            add_conv(m2, f"ID_blocks.{i}.conv{j}.1", w[3], w[3], 3)
            add_linear(m2, f"ID_blocks.{i}.adain{j}.linear", 512, 2 * w[3])
    d: Layout = {}
    for k in (1, 2, 3):  # up1: w3 -> w2, up2: w2 -> w1, up3: w1 -> w0
        add_conv(d, f"up{k}.1", w[4 - k], w[3 - k], 3)
        add_batch_norm(d, f"up{k}.2", w[3 - k])
    add_conv(d, "conv2.1", w[0], 3, 7)
    add_batch_norm(d, "conv2.2", 3)
    return {"M1": m1, "E": e, "M2": m2, "D": d}


def fill_all(layouts: Mapping[str, Layout], seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """``fill`` of each role with its own seed offset."""
    return {role: fill(layout, seed * 10 + index) for index, (role, layout) in enumerate(layouts.items())}


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
