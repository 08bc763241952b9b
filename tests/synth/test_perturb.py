"""DeeperForensics-1.0 perturbations, each against an independent computation of its formula,
and deterministic for a seed; compression levels."""

from __future__ import annotations

import random

import numpy as np
import pytest

from zoo_core.synth import perturb
from zoo_core.synth.compression import PHOTO_JPEG_QUALITY, VIDEO_CRF, photo_suffix


@pytest.fixture
def image() -> np.ndarray:
    """A smooth colourful 96x128 image (no clipping at the edges of the colour cube)."""
    y, x = np.mgrid[0:96, 0:128].astype(np.float64)
    rgb = np.stack([60 + 120 * x / 127, 50 + 140 * y / 95, 150 - 80 * (x + y) / 222], axis=2)
    return np.rint(rgb).astype(np.uint8)


def ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 YCbCr in [0, 1], written out (chroma centred on 0.5)."""
    r, g, b = (rgb[..., k].astype(np.float64) / 255.0 for k in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return np.stack([y, 0.5 + (b - y) * 0.564, 0.5 + (r - y) * 0.713], axis=2)


def rgb_of(ycc: np.ndarray) -> np.ndarray:
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 0.5, ycc[..., 2] - 0.5
    rgb = np.stack([y + 1.403 * cr, y - 0.714 * cr - 0.344 * cb, y + 1.773 * cb], axis=2)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def test_level_parameters_are_deeperforensics():
    # perturbation/add_distortion_to_video.py, get_distortion_parameter (levels 1..5)
    assert [perturb.parameter("CS", k) for k in range(1, 6)] == [0.4, 0.3, 0.2, 0.1, 0.0]
    assert [perturb.parameter("GB", k) for k in range(1, 6)] == [7, 9, 13, 17, 21]
    assert [perturb.parameter("VC", k) for k in range(1, 6)] == [30, 32, 35, 38, 40]
    assert set(perturb.LEVELS) == {"CS", "CC", "BW", "GNC", "GB", "JPEG", "VC"}


@pytest.mark.parametrize("level", [1, 3, 5])
def test_colour_saturation_scales_chroma_around_grey(image, level):
    scale = perturb.parameter("CS", level)
    expected = ycbcr(image)
    expected[..., 1:] = 0.5 + (expected[..., 1:] - 0.5) * scale
    got = perturb.apply(image, "CS", level, np.random.default_rng(0))
    assert np.abs(got.astype(int) - rgb_of(expected).astype(int)).max() <= 2
    if level == 5:  # scale 0: grey, R = G = B
        assert np.abs(got[..., 0].astype(int) - got[..., 2].astype(int)).max() <= 1


def test_colour_contrast_scales_pixels(image):
    got = perturb.apply(image, "CC", 4, np.random.default_rng(0))
    assert np.array_equal(got, np.rint(image * 0.475).astype(np.uint8))


def test_block_wise_paints_grey_8x8_blocks(image):
    big = np.random.default_rng(1).integers(0, 120, (520, 600, 3)).astype(np.uint8)  # no 128 anywhere
    got = perturb.apply(big, "BW", 1, np.random.default_rng(7))
    changed = np.any(got != big, axis=2)
    assert (got[changed] == 128).all()
    blocks = 16 * (520 // 256)  # level 1: 16 blocks per 256 px of the short side
    assert 64 <= changed.sum() <= blocks * 64 and changed.sum() > (blocks // 2) * 64
    ys, xs = np.nonzero(changed)
    y, x = ys[0], xs[np.argmin(np.where(ys == ys[0], xs, 10**6))]
    assert changed[y : y + 8, x : x + 8].all()  # a full 8x8 square at the first painted pixel
    again = perturb.apply(big, "BW", 1, np.random.default_rng(7))
    assert np.array_equal(got, again) and not np.array_equal(got, perturb.apply(big, "BW", 1, np.random.default_rng(8)))
    assert np.any(perturb.apply(image, "BW", 1, np.random.default_rng(0)) != image)  # small images get blocks too


def test_gaussian_noise_has_the_level_variance_in_ycbcr():
    grey = np.full((200, 200, 3), 128, np.uint8)
    for level in (3, 4):
        got = perturb.apply(grey, "GNC", level, np.random.default_rng(3))
        noise = ycbcr(got) - ycbcr(grey)
        assert noise.std(axis=(0, 1)) == pytest.approx([np.sqrt(perturb.parameter("GNC", level))] * 3, rel=0.08)
    a = perturb.apply(grey, "GNC", 2, np.random.default_rng(5))
    assert np.array_equal(a, perturb.apply(grey, "GNC", 2, np.random.default_rng(5)))


def test_gaussian_blur_is_the_separable_kernel():
    image = np.random.default_rng(2).integers(0, 256, (40, 50, 3)).astype(np.uint8)  # sharp: sigma matters
    size = 9
    sigma = size / 6.0
    offsets = np.arange(size) - size // 2
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    padded = np.pad(image.astype(np.float64), ((size // 2,) * 2, (size // 2,) * 2, (0, 0)), mode="reflect")
    rows = sum(kernel[k] * padded[:, k : k + image.shape[1]] for k in range(size))
    expected = sum(kernel[k] * rows[k : k + image.shape[0]] for k in range(size))
    got = perturb.apply(image, "GB", 2, np.random.default_rng(0))
    assert np.abs(got.astype(float) - expected).max() <= 1.0


def test_jpeg_level_is_a_down_and_up_scaling(image):
    checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, 2)
    flat = perturb.apply(checker, "JPEG", 1, np.random.default_rng(0))  # factor 2 averages pixel pairs
    assert flat.shape == checker.shape and np.abs(flat.astype(int) - 128).max() <= 1
    ramp = perturb.apply(image, "JPEG", 1, np.random.default_rng(0))  # a linear image survives inside
    assert np.abs(ramp[4:-4, 4:-4].astype(int) - image[4:-4, 4:-4].astype(int)).max() <= 2


def test_chains_resolve_and_apply_deterministically(image):
    for spec in ("random", "mix", "mix:4", "CS:1+GB:3+GNC:2"):
        first = perturb.resolve(spec, random.Random("row-1"), video=False)
        assert first == perturb.resolve(spec, random.Random("row-1"), video=False)
        assert all(kind != "VC" for kind, _ in first)
        out = perturb.apply_chain(image, first, np.random.default_rng(9))
        assert np.array_equal(out, perturb.apply_chain(image, first, np.random.default_rng(9)))
    assert perturb.resolve("CS:1+GB:3", random.Random(0), video=False) == [("CS", 1), ("GB", 3)]
    chained = perturb.apply_chain(image, [("CC", 1), ("GB", 1)], np.random.default_rng(0))
    by_hand = perturb.apply(perturb.apply(image, "CC", 1, None), "GB", 1, None)
    assert np.array_equal(chained, by_hand)
    assert perturb.video_crf([("CS", 1), ("VC", 4)]) == 38 and perturb.video_crf([("CS", 1)]) is None
    assert len({kind for kind, _ in perturb.resolve("mix:7", random.Random(1), video=True)}) == 7


def test_compression_levels():
    assert VIDEO_CRF == {"c0": 0, "c23": 23, "c40": 40}  # FaceForensics++'s libx264 crf values
    assert photo_suffix("c0") == ".png" and photo_suffix("c40") == ".jpg"
    assert PHOTO_JPEG_QUALITY["c23"] > PHOTO_JPEG_QUALITY["c40"]
