"""graphics-512: the source face's texture on the target face's geometry, colour-corrected and
blended seamlessly. No learned parameters: the builder returns the complete model."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from zoo_core.errors import InputError
from zoo_core.faces.align import umeyama
from zoo_core.faces.blend import match_colors
from zoo_core.protocols import swap_identity
from zoo_plugin_graphics.composite import (
    face_region,
    feathered,
    mouth_openness,
    mouth_region,
    poisson,
    skin,
)
from zoo_plugin_graphics.config import GraphicsConfig
from zoo_plugin_graphics.landmarks import CropLandmarks
from zoo_plugin_graphics.mesh import (
    CANONICAL_68,
    face_height,
    mesh_points,
    mesh_triangles,
    transfer_shape,
    warp,
)

SKIN_MARGIN = 0.03
"""How far (face heights) around brows, eyes and lips is left out of the colour statistics."""
MOUTH_MARGIN = 0.03
"""How far (face heights) the kept target mouth reaches beyond its inner lips."""
LANDMARK_VALUES = 136
"""Values of 68 (x, y) landmarks: each half of the identity code."""


def _crops(batch: torch.Tensor, name: str) -> list[np.ndarray]:
    """``(N, 3, R, R)`` floats in [0, 1] as ``(R, R, 3) uint8`` RGB crops."""
    if batch.ndim != 4 or batch.shape[1] != 3 or batch.shape[2] != batch.shape[3]:
        raise InputError(f"{name}: expected (N, 3, R, R) square RGB crops, got {tuple(batch.shape)}")
    array = batch.detach().cpu().float().numpy().transpose(0, 2, 3, 1)  # numpy: no torch threads to wake
    return [np.rint(np.clip(crop, 0.0, 1.0) * 255.0).astype(np.uint8) for crop in array]


class GraphicsSwapper(nn.Module):
    """The FaceForensics++ "FaceSwap" method on aligned crops (an ``nn.Module`` without parameters)."""

    def __init__(self, spec: Any, config: GraphicsConfig):
        super().__init__()
        self.spec, self.config = spec, config
        self.landmarks = CropLandmarks()
        self.triangles = mesh_triangles(config.forehead)

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        """``(N, 272)``: the source's 68 landmarks with pose removed (similarity-aligned to the
        canonical face), in crop sides, then the same landmarks in crop pixels. The first half
        is the sparse geometry the swap is driven by; the second, the points the source mesh is
        cut at, is what ``swap(..., identity=)`` reuses (dlib's points are float32, so exact)."""
        codes = []
        for index, crop in enumerate(_crops(source, "source")):
            pixels = self.landmarks(crop, f"source crop {index}")
            points = pixels / crop.shape[0]
            matrix = umeyama(points, CANONICAL_68)
            codes.append(np.concatenate([(points @ matrix[:2, :2].T + matrix[:2, 2]).reshape(-1), pixels.reshape(-1)]))
        return torch.as_tensor(np.stack(codes), dtype=torch.float32, device=source.device)

    def swap(self, source: torch.Tensor, target: torch.Tensor, *, identity: torch.Tensor | None = None) -> torch.Tensor:
        """Each target crop with the face of the matching source crop (same shapes, [0, 1]).
        ``identity``: a precomputed ``self.identity(source)`` (``(N, 272)`` or ``(1, 272)``);
        the source's landmarks are then not detected again, its pixels still give the texture."""
        if source.shape != target.shape:
            raise InputError(f"source {tuple(source.shape)} and target {tuple(target.shape)} crops differ in shape")
        sources, targets = _crops(source, "source"), _crops(target, "target")
        codes = swap_identity(self, source, target, identity)
        points = codes[:, LANDMARK_VALUES:].detach().cpu().numpy().astype(np.float64).reshape(-1, 68, 2)
        out = np.stack([self.swap_crop(s, t, index, points[index])
                        for index, (s, t) in enumerate(zip(sources, targets, strict=True))])
        return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0).to(target.device)

    def swap_crop(self, source: np.ndarray, target: np.ndarray, index: int = 0,
                  source_points: np.ndarray | None = None) -> np.ndarray:
        """One ``uint8`` RGB target crop with the face of the source crop (whose 68 landmarks
        ``source_points`` are detected when not given)."""
        config, size = self.config, target.shape[0]
        if source_points is None:
            source_points = self.landmarks(source, f"source crop {index}")
        target_points = self.landmarks(target, f"target crop {index}")
        height = face_height(target_points)
        source_mesh, target_mesh = self.meshes(source_points, target_points, size)
        face = warp(source, source_mesh, target_mesh, self.triangles)
        region = self.region(target_mesh, height, size)
        if config.color == "lab":
            x, y, w, h = cv2.boundingRect(region)
            box = np.s_[y : y + h, x : x + w]
            weights = skin(region, target_points, SKIN_MARGIN * height)[box].astype(np.float32) / 255.0
            face[box] = match_colors(face[box], target[box], weights)
        if config.blend == "poisson":
            face = poisson(face, target, region)
        alpha = feathered(region, config.feather * height)
        if config.keep_target_mouth and self.mouths_differ(source_points, target_points):
            alpha *= 1.0 - mouth_region(target_points, size, MOUTH_MARGIN * height)
        blended = alpha[..., None] * face.astype(np.float32) + (1.0 - alpha[..., None]) * target.astype(np.float32)
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)

    def meshes(self, source_points: np.ndarray, target_points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The mesh vertices on the source crop, and where they go in the target crop: the
        target's geometry with ``shape`` of the source's layout."""
        moved = transfer_shape(source_points, target_points, self.config.shape)
        return mesh_points(source_points, size, self.config.forehead), mesh_points(moved, size, self.config.forehead)

    def region(self, target_mesh: np.ndarray, height: float, size: int) -> np.ndarray:
        """The swapped region of the target crop (``uint8`` 0/255) for a face ``height`` pixels tall."""
        return face_region(target_mesh, size, self.config.shrink * height)

    def mouths_differ(self, source_points: np.ndarray, target_points: np.ndarray) -> bool:
        """Whether the lips are apart by more than ``mouth_difference`` face heights more in one face."""
        source_open = mouth_openness(source_points, face_height(source_points))
        target_open = mouth_openness(target_points, face_height(target_points))
        return abs(source_open - target_open) > self.config.mouth_difference


def build(spec: Any, config: dict[str, Any]) -> GraphicsSwapper:
    return GraphicsSwapper(spec, GraphicsConfig(**config))
