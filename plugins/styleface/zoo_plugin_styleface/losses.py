"""StyleFace's own loss terms (Eq. 6, 8-10) and the pieces they need: the discriminator's
multi-level features, the background mask and the growing key bank of Eq. 3. The shared
terms (ICL, InfoNCE, non-saturating GAN, R1, L1 reconstruction) come from zoo_core.nets.losses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo_core.nets.losses import IdentityKeyBank


def mask_loss(masks: Sequence[Tensor], reduction: Literal["mean", "sum"] = "mean") -> Tensor:
    """Eq. 6, ``sum_{i,j} ||M_ij||_1``: every control mask's L1 norm, summed over the masks
    and averaged over the batch. ``"mean"`` divides each norm by the mask's size (our default:
    with the paper's weight 1 the raw sum at 1024 px would outweigh every other term by orders
    of magnitude); ``"sum"`` is the literal norm."""
    if not masks:
        raise ValueError("mask_loss needs at least one control mask")
    norms = [m.abs().flatten(1).sum(1).mean() if reduction == "sum" else m.abs().mean() for m in masks]
    return torch.stack(norms).sum()


def discriminator_features(discriminator: nn.Module, image: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Logits and the output of every block of ``discriminator.convs`` (fromRGB at full size,
    then one ResBlock per resolution down to 4), collected with forward hooks."""
    inner = getattr(discriminator, "module", discriminator)
    features: list[Tensor] = []
    hooks = [block.register_forward_hook(lambda _m, _i, out: features.append(out)) for block in inner.convs]
    try:
        logits = discriminator(image)
    finally:
        for hook in hooks:
            hook.remove()
    return logits, features


def _l2(a: Tensor, b: Tensor) -> Tensor:
    """Per-location L2 distance over channels, ``(N, 1, H, W)`` (eps keeps the gradient finite)."""
    return ((a - b).pow(2).sum(1, keepdim=True) + 1e-8).sqrt()


def feature_matching(fake: Sequence[Tensor], real: Sequence[Tensor], background: Tensor,
                     split: int) -> tuple[Tensor, Tensor]:
    """Eq. 8-9: ``(L_FM^low, L_FM^high)``.

    Features at resolution >= ``split`` are the shallow ones: their distance is weighted by the
    background mask (``(N or 1, 1, H, W)`` in [0, 1], resized to each feature map); deeper
    ones are matched on the whole image. Each term is the mean over locations of the channel
    L2 distance, summed over layers; real features are detached.
    """
    low = fake[0].new_zeros(())
    high = fake[0].new_zeros(())
    for f, r in zip(fake, real, strict=True):
        distance = _l2(f, r.detach())
        if f.shape[-1] >= split:
            mask = F.interpolate(background, size=f.shape[-2:], mode="area")
            low = low + (mask * distance).mean()
        else:
            high = high + distance.mean()
    return low, high


def ellipse_face_mask(points: Sequence[Sequence[float]], size: int) -> Tensor:
    """The face region of an aligned crop, ``(1, 1, size, size)``: an ellipse built from the
    alignment template's five points (x, y in [0, 1]): centred between the eyes' and the mouth
    corners' midpoints, half-width = the eye distance, half-height = 1.3 x the eye-to-mouth
    distance (covers forehead and chin on FFHQ crops)."""
    (lx, ly), (rx, ry), _, (mlx, mly), (mrx, mry) = points[:5]
    eye_x, eye_y, mouth_y = (lx + rx) / 2, (ly + ry) / 2, (mly + mry) / 2
    half_w = max(abs(rx - lx), 1e-3)
    half_h = max(1.3 * (mouth_y - eye_y), 1e-3)
    centre_y = (eye_y + mouth_y) / 2
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    inside = ((x - eye_x) / half_w).pow(2) + ((y - centre_y) / half_h).pow(2) <= 1.0
    return inside.float().view(1, 1, size, size)


class KeyBank(IdentityKeyBank):
    """The dynamic list K of Eq. 3 that grows to the largest identity index seen, so that it
    needs no data set size up front. New rows are random unit vectors (as the core bank's
    initial keys); a checkpoint restores its own number of rows."""

    def grow(self, num_identities: int) -> None:
        rows, dim = self.keys.shape
        if num_identities > rows:
            extra = F.normalize(torch.randn(num_identities - rows, dim, device=self.keys.device), dim=1)
            self.keys = torch.cat([self.keys, extra.to(self.keys.dtype)])

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        saved = state_dict.get(prefix + "keys")
        if saved is not None and saved.shape != self.keys.shape:
            self.keys = torch.empty_like(saved, device=self.keys.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
