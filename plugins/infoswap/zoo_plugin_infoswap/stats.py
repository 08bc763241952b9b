"""Readout statistics of R_1..R_11 (supplement Sec. 1.1: "10k images going through the
pre-trained model to calculate the global mean and std values") and the lambda heat maps of
Fig. 6 / supplement Fig. 1."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from zoo_core.errors import InputError
from zoo_plugin_infoswap.model import InfoSwap


class ReadoutAccumulator:
    """Streaming per-position sums over photos: mean, unbiased std and the share of photos in
    which each neuron is nonzero (the official ``n_samples`` / ``neuron_nonzero``)."""

    def __init__(self) -> None:
        self.count = 0
        self.sums: list[torch.Tensor] = []
        self.squares: list[torch.Tensor] = []
        self.nonzero: list[torch.Tensor] = []

    def update(self, feats: Iterable[torch.Tensor]) -> None:
        feats = [f.detach().double().cpu() for f in feats]
        if not self.sums:
            self.sums = [torch.zeros_like(f[0]) for f in feats]
            self.squares = [torch.zeros_like(f[0]) for f in feats]
            self.nonzero = [torch.zeros_like(f[0]) for f in feats]
        for i, f in enumerate(feats):
            self.sums[i] += f.sum(0)
            self.squares[i] += (f * f).sum(0)
            self.nonzero[i] += (f != 0).sum(0)
        self.count += feats[0].shape[0]

    def result(self, threshold: float) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(mean, std, active) per feature; active = nonzero share above ``threshold``."""
        if self.count < 2:
            raise InputError(f"readout statistics need at least 2 photos, got {self.count}")
        out = []
        for total, square, nonzero in zip(self.sums, self.squares, self.nonzero, strict=True):
            mean = total / self.count
            var = ((square - self.count * mean * mean) / (self.count - 1)).clamp_min(0)
            out.append((mean.float(), var.sqrt().float(), (nonzero / self.count > threshold).float()))
        return out


@torch.no_grad()
def compute_readout_stats(model: InfoSwap, crops: Iterable[torch.Tensor]) -> int:
    """Run batches of [0, 1] aligned crops through the recognizer and store the statistics in
    ``model.stats``; returns the number of photos used."""
    acc = ReadoutAccumulator()
    for batch in crops:
        _, feats = model.recognize(model.to_network(batch))
        acc.update(feats)
    for i, (mean, std, active) in enumerate(acc.result(model.config.active_threshold)):
        for name, value in (("mean", mean), ("std", std), ("active", active)):
            getattr(model.stats, f"{name}{i}").copy_(value)
    return acc.count


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> RGB uint8 with a blue-cyan-yellow-red ramp (blue = 0, red = 1)."""
    v = np.clip(values, 0, 1)[..., None]
    stops = np.array([[0, 0, 160], [0, 200, 255], [255, 230, 0], [220, 0, 0]], dtype=np.float64)
    pos = v * (len(stops) - 1)
    low = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)
    frac = pos - low
    rgb = stops[low[..., 0]] * (1 - frac) + stops[low[..., 0] + 1] * frac
    return rgb.astype(np.uint8)


@torch.no_grad()
def lambda_overlays(model: InfoSwap, crop: torch.Tensor, alpha: float = 0.5) -> list[np.ndarray]:
    """One RGB overlay per bottleneck: the crop blended with its channel-averaged lambda_i map
    (bilinearly resized to the crop)."""
    size = crop.shape[-1]
    image = crop[0].permute(1, 2, 0).cpu().numpy() * 255
    overlays = []
    for lam in model.lambda_maps(crop):
        up = torch.nn.functional.interpolate(lam[:, None], size=(size, size), mode="bilinear", align_corners=False)
        heat = colormap(up[0, 0].cpu().numpy()).astype(np.float64)
        overlays.append(((1 - alpha) * image + alpha * heat).round().astype(np.uint8))
    return overlays

