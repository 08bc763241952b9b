"""Helpers every Trainer needs: the module inside a distributed wrapper, and the
source | target | swap grid the engine writes as PNG."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def unwrap(module: nn.Module) -> Any:
    """The module inside a DistributedDataParallel wrapper (the module itself otherwise)."""
    return getattr(module, "module", module)


def swap_grid(model: nn.Module, source: torch.Tensor, target: torch.Tensor,
              swap: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """``(3, N*R, 3*R)``: one row per pair, source | target | swap, computed in eval mode
    without gradients (``swap`` defaults to ``model.swap``); the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            swapped = (swap or model.swap)(source, target)
    finally:
        model.train(was_training)
    rows = [torch.cat([s, t, w], dim=2) for s, t, w in zip(source, target, swapped, strict=True)]
    return torch.cat(rows, dim=1)
