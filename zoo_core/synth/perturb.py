"""DeeperForensics-1.0's seven perturbations at five levels, and chains (mixes) of them.

The level parameters are those of the official ``perturbation/add_distortion_to_video.py``
(``get_distortion_parameter``). Implementation choices, where this module differs from the
official ``distortions.py``:

- images are RGB; the colour space of CS and GNC is full-range YCbCr in [0, 1] (OpenCV's
  ``RGB2YCrCb`` on floats), with chroma centred on 0.5;
- pixel values are rounded (``np.rint``), not truncated, when converted back to ``uint8``;
- BW draws ``level_param * max(1, min(h, w) // 256)`` blocks (the official count is zero for
  images under 256 px) of 8x8 grey (128) pixels;
- the randomness of BW and GNC comes from a ``numpy.random.Generator`` the caller seeds, so a
  row renders identically every time;
- JPEG is, as in the official code, a down-scaling by the level's factor and back (bilinear);
- VC re-encodes a video with libx264 at the level's crf (videos only).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import cv2
import numpy as np

from zoo_core.errors import InputError

LEVELS = {
    "CS": (0.4, 0.3, 0.2, 0.1, 0.0),  # colour saturation: chroma scale (smaller is worse)
    "CC": (0.85, 0.725, 0.6, 0.475, 0.35),  # colour contrast: pixel scale (smaller is worse)
    "BW": (16, 32, 48, 64, 80),  # local block-wise: blocks per 256 px of the short side
    "GNC": (0.001, 0.002, 0.005, 0.01, 0.05),  # white Gaussian noise: variance in YCbCr [0, 1]
    "GB": (7, 9, 13, 17, 21),  # Gaussian blur: kernel size (sigma = size / 6)
    "JPEG": (2, 3, 4, 5, 6),  # JPEG compression: down-scaling factor
    "VC": (30, 32, 35, 38, 40),  # video compression: libx264 crf
}
NAMES = {"CS": "colour saturation", "CC": "colour contrast", "BW": "local block-wise",
         "GNC": "white Gaussian noise", "GB": "Gaussian blur", "JPEG": "JPEG compression",
         "VC": "video compression"}
BLOCK = 8

Chain = list[tuple[str, int]]


def parameter(kind: str, level: int) -> float:
    return LEVELS[kind][level - 1]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _ycbcr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb)


def _rgb(ycrcb: np.ndarray) -> np.ndarray:
    return _to_uint8(cv2.cvtColor(ycrcb.astype(np.float32), cv2.COLOR_YCrCb2RGB) * 255.0)


def colour_saturation(rgb: np.ndarray, scale: float) -> np.ndarray:
    ycrcb = _ycbcr(rgb)
    ycrcb[..., 1:] = 0.5 + (ycrcb[..., 1:] - 0.5) * scale
    return _rgb(ycrcb)


def colour_contrast(rgb: np.ndarray, scale: float) -> np.ndarray:
    return _to_uint8(rgb.astype(np.float32) * scale)


def block_wise(rgb: np.ndarray, count: float, rng: np.random.Generator) -> np.ndarray:
    out = rgb.copy()
    h, w = rgb.shape[:2]
    if h <= BLOCK or w <= BLOCK:
        return out
    for _ in range(int(count) * max(1, min(h, w) // 256)):
        x, y = int(rng.integers(0, w - BLOCK)), int(rng.integers(0, h - BLOCK))
        out[y : y + BLOCK, x : x + BLOCK] = 128
    return out


def gaussian_noise(rgb: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    ycrcb = _ycbcr(rgb)
    return _rgb(ycrcb + np.sqrt(variance) * rng.standard_normal(ycrcb.shape))


def gaussian_blur(rgb: np.ndarray, size: float) -> np.ndarray:
    k = int(size)
    return cv2.GaussianBlur(rgb, (k, k), k / 6.0)


def jpeg_resample(rgb: np.ndarray, factor: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, w // int(factor)), max(1, h // int(factor))), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def apply(rgb: np.ndarray, kind: str, level: int, rng: np.random.Generator) -> np.ndarray:
    """One frame perturbation (every kind except VC, which acts on the encoded video)."""
    value = parameter(kind, level)
    if kind == "BW":
        return block_wise(rgb, value, rng)
    if kind == "GNC":
        return gaussian_noise(rgb, value, rng)
    functions = {"CS": colour_saturation, "CC": colour_contrast, "GB": gaussian_blur, "JPEG": jpeg_resample}
    return functions[kind](rgb, value)


def apply_chain(rgb: np.ndarray, chain: Chain, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` through every frame perturbation of ``chain``, in order (VC is skipped here)."""
    for kind, level in chain:
        if kind != "VC":
            rgb = apply(rgb, kind, level, rng)
    return rgb


def video_crf(chain: Chain) -> int | None:
    """The crf of the chain's VC step, if it has one."""
    return next((int(parameter(kind, level)) for kind, level in chain if kind == "VC"), None)


def parse_spec(text: str) -> str:
    """Check a perturbation spec: ``none``, ``random`` (one kind, random level), ``mix`` or
    ``mix:K`` (K distinct kinds, random levels; default 3), or a fixed chain ``CS:3+GB:2``."""
    if text in {"none", "random", "mix"}:
        return text
    if text.startswith("mix:"):
        count = text[4:]
        if not count.isdigit() or not 1 <= int(count) <= len(LEVELS):
            raise InputError(f"--perturb {text!r}: mix:K needs K in 1..{len(LEVELS)}")
        return text
    parse_chain(text)
    return text


def parse_chain(text: str) -> Chain:
    chain: Chain = []
    for step in text.split("+"):
        kind, _, level = step.partition(":")
        if kind not in LEVELS or level not in {"1", "2", "3", "4", "5"}:
            raise InputError(f"--perturb {text!r}: expected steps KIND:LEVEL with KIND in "
                             f"{', '.join(LEVELS)} and LEVEL in 1..5, joined by '+'")
        chain.append((kind, int(level)))
    return chain


def resolve(spec: str, rng: random.Random, video: bool) -> Chain:
    """The concrete chain a row gets from ``spec`` (random choices drawn from ``rng``). VC acts
    on videos only: random picks never draw it for a photo, and a fixed chain drops it there."""
    kinds = [k for k in LEVELS if video or k != "VC"]
    if spec == "none":
        return []
    if spec == "random":
        return [(rng.choice(kinds), rng.randint(1, 5))]
    if spec.startswith("mix"):
        count = int(spec[4:]) if spec.startswith("mix:") else 3
        return [(kind, rng.randint(1, 5)) for kind in rng.sample(kinds, min(count, len(kinds)))]
    return [(kind, level) for kind, level in parse_chain(spec) if video or kind != "VC"]


def describe(chain: Sequence[tuple[str, int]]) -> str:
    return "+".join(f"{kind}:{level}" for kind, level in chain) or "none"
