"""Test helpers: the official SimSwap state-dict layouts, reproducible weights for them, and
the tiny test configuration.

The generator layout describes, key by key, ``Generator_Adain_Upsample`` of neuralchen/SimSwap
(``models/fs_networks.py``, ``models/fs_networks_512.py``); the ArcFace ``ResNet(IRBlock,
layers, use_se=True)`` pickled in ``arcface_checkpoint.tar``, the digest and the reproducible
``fill`` and ``images`` are the shared ones of ``zoo_testing.layouts``. The layouts were checked
against the official modules themselves: ``OFFICIAL_DIGESTS`` holds the sha256 of their sorted
``key:shape`` lines, computed from the real official code, and the tests compare.
"""

from __future__ import annotations

from zoo_testing.layouts import (
    ARCFACE_DIGESTS,
    Layout,
    add_batch_norm,
    add_conv,
    add_linear,
    digest,
    fill,
    images,
)
from zoo_testing.layouts import arcface_layout as official_arcface_layout

__all__ = ["OFFICIAL_DIGESTS", "TINY", "digest", "fill", "images", "official_arcface_layout", "official_generator_layout"]

# sha256 of "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(state_dict().items()))
# of the official modules (neuralchen/SimSwap at bd7b768, models/fs_networks*.py and
# models/arcface_models.py, built with torch 2.13).
OFFICIAL_DIGESTS = {
    ("224", False): "d5944897f5be721a3e10033763288df452f4697508b6bbeb7f2066de9f0c5daa",
    ("224", True): "f76c85291774290dbbe32a85e1b017b52be50a3a62f3a04c3083232aa57f030b",
    ("512", False): "6646eb850265304a80260d1693f0b43c9224dac308abc330219f2e762023c353",
    ("512", True): "ec04a12f173f409b37d0300dab8bfa0171989e7225f0fd7a965ed674e2039547",
    ("arcface", 101): ARCFACE_DIGESTS[101],
    ("arcface", 18): ARCFACE_DIGESTS[18],
}

TINY = {"ngf": 4, "max_channels": 16, "n_blocks": 2, "identity_depth": 18, "identity_input_size": 32}
"""Config overrides with a few channels and the smallest ArcFace, for fast tests on 32-64 px."""


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
    add_conv(out, "first_layer.1", 3, ngf, 7)
    add_batch_norm(out, "first_layer.2", ngf)
    for k in range(first, 4):  # downK: Conv(w[k-1] -> w[k]) + BN
        add_conv(out, f"down{k}.0", widths[k - 1], widths[k], 3)
        add_batch_norm(out, f"down{k}.1", widths[k])
    bottleneck = widths[3]
    if deep:
        add_conv(out, "down4.0", bottleneck, bottleneck, 3)
        add_batch_norm(out, "down4.1", bottleneck)
        add_conv(out, "up4.1", bottleneck, bottleneck, 3)
        add_batch_norm(out, "up4.2", bottleneck)
    for i in range(n_blocks):
        for j in (1, 2):
            add_conv(out, f"BottleNeck.{i}.conv{j}.1", bottleneck, bottleneck, 3)
            add_linear(out, f"BottleNeck.{i}.style{j}.linear", 512, 2 * bottleneck)
    for k in range(3, first - 1, -1):  # upK: Upsample + Conv(w[k] -> w[k-1]) + BN
        add_conv(out, f"up{k}.1", widths[k], widths[k - 1], 3)
        add_batch_norm(out, f"up{k}.2", widths[k - 1])
    add_conv(out, "last_layer.1", ngf, 3, 7)
    return out
