"""Control-mask visualisation (paper Sec. 4.4, Fig. 10): the mean AttrInjection mask of every
generator resolution for one swap, as an image grid."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from zoo_core.errors import ZooError


def resolution_masks(model: torch.nn.Module, source: torch.Tensor, target: torch.Tensor) -> dict[int, torch.Tensor]:
    """Resolution -> mean control mask ``(N, 1, r, r)`` in [0, 1], averaged over the channels
    and the modulated convs of that resolution."""
    grouped: dict[int, list[torch.Tensor]] = defaultdict(list)
    with torch.no_grad():
        for resolution, mask in model.control_masks(source, target):
            grouped[resolution].append(mask)
    return {r: torch.stack(masks).mean(0) for r, masks in sorted(grouped.items())}


def grid_image(target: torch.Tensor, swapped: torch.Tensor, masks: dict[int, torch.Tensor]) -> np.ndarray:
    """One row per pair: target | swap | one grey tile per resolution (nearest upsampling)."""
    size = target.shape[-1]
    tiles = [target, swapped]
    tiles += [F.interpolate(m, size=(size, size), mode="nearest").expand(-1, 3, -1, -1) for m in masks.values()]
    rows = torch.cat([torch.cat(list(t), dim=2) for t in zip(*tiles, strict=True)], dim=1)
    return (rows.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def mask_grid(model_name: str, source: Path, target: Path, device: str, detector: str, local_files_only: bool,
              random_init: bool, seed: int) -> tuple[np.ndarray, str]:
    """Load the model, align both photos' largest faces, swap and render the grid."""
    from zoo_core import hub, registry
    from zoo_core.faces.swapper import FaceSwapper
    from zoo_core.faces.tensors import crops_to_tensor

    if random_init:
        torch.manual_seed(seed)
        model, weights = registry.create_model(model_name).to(device).eval(), "random-init"
    else:
        model, folder = hub.load_with_folder(model_name, None, device, local_files_only or None)
        weights = str(folder)
    if not hasattr(model, "control_masks"):
        raise ZooError(f"--model {model_name}: not a StyleFace model (it has no AttrInjection control masks)")
    swapper = FaceSwapper(model, detector=detector, device=device)
    crops = [crops_to_tensor([swapper.source_crop(path)], swapper.device) for path in (source, target)]
    with torch.no_grad():
        swapped = model.swap(crops[0], crops[1])
    return grid_image(crops[1], swapped, resolution_masks(model, crops[0], crops[1])), weights


def write_grid(output: Path, grid: np.ndarray, model: str, weights: str, seed: int | None, source: Path,
               target: Path) -> Path:
    """Write the grid atomically with the zoo's provenance metadata."""
    from zoo_core.faces.io import write_image
    from zoo_core.provenance import make_provenance

    return write_image(output, grid, None, make_provenance(model, weights, seed, source=source.name,
                                                           target=target.name, content="styleface control masks"))
