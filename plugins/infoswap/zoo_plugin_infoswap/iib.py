"""Informative Identity Bottleneck (paper Sec. 3.2, Eq. 3-8; supplement Sec. 1.1).

Module and parameter names follow the official ``modules/iib.py`` (``iba_<i>.conv1..3``,
``iba_<i>.smooth.conv``) so that converted checkpoints load one to one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Noise = torch.Generator | None
"""Source of the Gaussian noise: a seeded generator, or None for torch's global generator."""


def standard_normal(like: torch.Tensor, generator: Noise, batch: int | None = None) -> torch.Tensor:
    """N(0, 1) noise shaped like ``like`` (first dimension ``batch`` when given), drawn in float32
    on the CPU (as the official code) so a seed gives the same numbers on every device and dtype."""
    shape = (like.shape[0] if batch is None else batch, *like.shape[1:])
    return torch.randn(shape, generator=generator).to(like)


def information(r: torch.Tensor, lam: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Per-element I(Z_i, R_i) = KL[p(Z|R) || p(Z)] of Eq. 6, on features normalised by (mu, sigma).

    Z|R ~ N(lam r_n, (1 - lam)^2) against N(0, 1): 0.5 * ((1-lam)^2 + (lam r_n)^2 - 1) - log(1 - lam).
    Eq. 6 as printed omits the 1/2 on the log term; the KL it defines (and the official
    ``_kl_div``) has it, so the KL is used. It is 0 at lam = 0 and grows with lam.
    """
    var = (1 - lam) ** 2
    mu = lam * (r - mean) / std
    return -0.5 * (1 + torch.log(var) - mu**2 - var)


def compress(r: torch.Tensor, lam: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, active: torch.Tensor,
             generator: Noise) -> tuple[torch.Tensor, torch.Tensor]:
    """Z = lambda R + (1 - lambda) eps, eps ~ N(mean, std^2) (Eq. 4), and the per-element
    I[Z, R] (Eq. 6); both masked to the active neurons (official ``active_neurons``)."""
    eps = standard_normal(r, generator) * std + mean
    z = (r * lam + (1 - lam) * eps) * active
    return z, information(r, lam, mean, std) * active


class GaussianSmoothing(nn.Module):
    """Fixed depthwise Gaussian kernel (sigma = kernel / 4) with reflection padding.

    The supplement's kernel 1 / sigma 0.25 is the identity; the weight is a frozen parameter
    only because the official checkpoints store it (``smooth.conv.weight``).
    """

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        sigma = kernel_size * 0.25
        coords = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
        grid = coords[None, :] ** 2 + coords[:, None] ** 2
        kernel = torch.exp(-grid / (2 * sigma**2)) / (2 * math.pi * sigma**2)
        kernel = kernel / kernel.sum()
        self.conv = nn.Conv2d(channels, channels, kernel_size, groups=channels, bias=False)
        self.conv.weight.data.copy_(kernel.expand(channels, 1, -1, -1))
        self.conv.weight.requires_grad_(False)
        self.pad = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
        return self.conv(x)


class Bottleneck(nn.Module):
    """IB_i: lambda_i = sigmoid(r_i), r_i = h_IBi(R_1..R_m) through three 1x1 Conv (+ReLU) blocks.

    Widths follow the official ``IBLayer``: in -> in/2 -> 2*out -> out. ``r_i`` starts at
    ``init_logit`` (bias; weights scaled by 1e-3), so lambda ~ 0.993 and Z_i ~ R_i (supplement).
    ``logit_bound`` clamps r_i as the official code does (``_alpha_bound = 5``).
    """

    def __init__(self, in_channels: int, out_channels: int, smooth: bool, kernel_size: int,
                 init_logit: float, logit_bound: float | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels // 2, 1)
        self.conv2 = nn.Conv2d(in_channels // 2, out_channels * 2, 1)
        self.conv3 = nn.Conv2d(out_channels * 2, out_channels, 1)
        with torch.no_grad():
            nn.init.constant_(self.conv3.bias, init_logit)
            self.conv3.weight.mul_(1e-3)
        self.smooth = GaussianSmoothing(out_channels, kernel_size) if smooth else None
        self.logit_bound = logit_bound

    def controller(self, readout: torch.Tensor) -> torch.Tensor:
        """lambda_i from the readout features already resized to R_i's size."""
        r = self.conv3(F.relu(self.conv2(F.relu(self.conv1(readout)))))
        if self.logit_bound is not None:
            r = r.clamp(-self.logit_bound, self.logit_bound)
        lam = torch.sigmoid(r)
        return self.smooth(lam) if self.smooth is not None else lam


class IIB(nn.Module):
    """The m bottlenecks ``iba_0 .. iba_{m-1}`` over the features R_1..R_m (+1 readout-only)."""

    def __init__(self, feature_channels: Sequence[int], num_bottlenecks: int, smooth: bool,
                 kernel_size: int, init_logit: float, logit_bound: float | None) -> None:
        super().__init__()
        self.num_bottlenecks = num_bottlenecks
        in_channels = sum(feature_channels)
        for i in range(num_bottlenecks):
            block = Bottleneck(in_channels, feature_channels[i], smooth, kernel_size, init_logit, logit_bound)
            self.add_module(f"iba_{i}", block)

    def bottleneck(self, i: int) -> Bottleneck:
        return getattr(self, f"iba_{i}")

    def controllers(self, readout: Sequence[torch.Tensor], sizes: Sequence[int]) -> list[torch.Tensor]:
        """lambda_1..lambda_m: every readout feature resized bilinearly to R_i's size, concatenated."""
        cache: dict[int, torch.Tensor] = {}
        lambdas = []
        for i in range(self.num_bottlenecks):
            size = sizes[i]
            if size not in cache:
                cache[size] = torch.cat([
                    f if f.shape[-1] == size else F.interpolate(f, size=(size, size), mode="bilinear", align_corners=True)
                    for f in readout
                ], dim=1)
            lambdas.append(self.bottleneck(i).controller(cache[size]))
        return lambdas
