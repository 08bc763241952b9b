"""The one conversion between the pipeline's uint8 crops and the models' tensors, and the one
check of what a model returns.

Crops are ``(H, W, 3) uint8`` RGB; model tensors are ``(N, 3, H, W)`` float RGB in [0, 1]
(``zoo_core.protocols``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo_core.errors import ZooError

if TYPE_CHECKING:  # pragma: no cover
    import torch


def crops_to_tensor(crops: Sequence[np.ndarray], device: Any = "cpu") -> torch.Tensor:
    """Stack uint8 crops into one float batch in [0, 1] on ``device``."""
    import torch

    batch = torch.from_numpy(np.stack(crops)).to(device).permute(0, 3, 1, 2)
    return batch.float().div_(255.0)


def tensor_to_crops(batch: torch.Tensor) -> list[np.ndarray]:
    """A float batch in [0, 1] (clamped) back to uint8 crops, rounded."""
    array = batch.detach().float().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return list(array)


def check_output(model: str, method: str, out: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
    """``out`` when it has the shape of the crops ``given`` to ``method``; a one-line error otherwise."""
    if tuple(out.shape) != tuple(given.shape):
        raise ZooError(f"{model}: {method} returned {tuple(out.shape)} for input {tuple(given.shape)}")
    return out
