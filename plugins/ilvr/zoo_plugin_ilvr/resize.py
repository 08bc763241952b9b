"""The low-pass filter phi_N of ILVR: anti-aliased bicubic downsampling by N, then bicubic
upsampling by N, as the Resizer the official code uses (Shocher's MATLAB-style imresize).

Each 1-D resize is a matrix built from facts of that Resizer: the Keys cubic kernel
(a = -0.5), stretched by 1/scale with weight ``scale`` when downscaling (anti-aliasing),
pixel-centre alignment ``p_in = p_out / s + (1 - 1/s) / 2``, weights normalised per output
pixel and symmetric (mirror) padding at the borders. ``F.interpolate(mode="bicubic",
antialias=True)`` differs: other kernel coefficient and border handling.
"""

from __future__ import annotations

import math

import torch

from zoo_core.errors import ConfigError


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's imresize)."""
    ax = x.abs()
    near = (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1)
    far = (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


def resize_matrix(in_length: int, scale: float) -> torch.Tensor:
    """``(out, in)`` float64 matrix resizing one axis of length ``in_length`` by ``scale``."""
    out_length = math.ceil(in_length * scale)
    antialias = scale < 1
    width = 4.0 / scale if antialias else 4.0
    out = torch.arange(1, out_length + 1, dtype=torch.float64) - (out_length - in_length * scale) / 2
    centre = out / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(centre - width / 2)
    taps = torch.arange(math.ceil(width) + 2, dtype=torch.float64)
    positions = left[:, None] + taps[None, :] - 1  # 0-based input pixels each output pixel sees
    distance = centre[:, None] - positions - 1
    weights = scale * cubic(scale * distance) if antialias else cubic(distance)
    total = weights.sum(dim=1, keepdim=True)
    weights = weights / torch.where(total == 0, torch.ones_like(total), total)
    period = 2 * in_length  # mirror padding: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
    index = torch.remainder(positions.long(), period)
    index = torch.where(index >= in_length, period - 1 - index, index)
    matrix = torch.zeros(out_length, in_length, dtype=torch.float64)
    matrix.scatter_add_(1, index, weights)
    return matrix


class LowPass(torch.nn.Module):
    """phi_N on ``(B, C, size, size)`` tensors: ``up_N(down_N(x))``; ``down`` alone is exposed too."""

    def __init__(self, size: int, factor: int):
        super().__init__()
        if factor < 1 or size % factor:
            raise ConfigError(f"downsample_factor {factor} must divide the image size {size}")
        self.size, self.factor = size, factor
        self.register_buffer("down_matrix", resize_matrix(size, 1 / factor).float(), persistent=False)
        self.register_buffer("up_matrix", resize_matrix(size // factor, float(factor)).float(), persistent=False)

    def down(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        m = self.down_matrix.to(x.dtype)
        return m @ x @ m.T

    def up(self, x: torch.Tensor) -> torch.Tensor:
        m = self.up_matrix.to(x.dtype)
        return m @ x @ m.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))

    def _check(self, x: torch.Tensor) -> None:
        if x.shape[-2:] != (self.size, self.size):
            raise ConfigError(f"phi_N expects {self.size}x{self.size} images, got {tuple(x.shape[-2:])}")
