"""Similarity alignment of faces to a template, and warping with antialiasing."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from zoo_core.errors import ZooError


@dataclass(frozen=True)
class Template:
    """Normalised 5-point reference poses, ``(K, 5, 2)`` in [0, 1] of the crop side."""

    name: str
    points: np.ndarray

    def at(self, size: int) -> np.ndarray:
        return self.points * float(size)


def get_template(name: str) -> Template:
    """The registered template ``name`` (a ``ComponentSpec`` of kind "template")."""
    from zoo_core.registry import get_component_spec

    spec = get_component_spec(name)
    if spec.kind != "template":
        raise ZooError(f"component {name!r} is a {spec.kind}, not an alignment template")
    points = np.asarray(spec.data["points"], dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (5, 2):
        raise ZooError(f"template {name!r}: points must be (poses, 5, 2), got {points.shape}")
    return Template(name, points)


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) mapping
    ``src`` onto ``dst`` (Umeyama 1991, Eq. 40-42); returns a 3x3 matrix."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n, dim = src.shape
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / n
    d = np.ones(dim)
    if np.linalg.det(covariance) < 0:
        d[-1] = -1
    u, s, vt = np.linalg.svd(covariance)
    rotation = u @ np.diag(d) @ vt
    variance = src_c.var(0).sum()
    if variance == 0:
        raise ZooError("degenerate landmarks: all points coincide")
    scale = (s * d).sum() / variance
    matrix = np.eye(dim + 1)
    matrix[:dim, :dim] = scale * rotation
    matrix[:dim, dim] = dst_mean - scale * rotation @ src_mean
    return matrix


def estimate_alignment(landmarks: np.ndarray, template: Template, size: int) -> np.ndarray:
    """2x3 matrix mapping image coordinates to the ``size`` crop; the template pose with the
    smallest summed point error wins (SimSwap's multi-pose rule)."""
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    best, best_error = None, np.inf
    homogeneous = np.hstack([landmarks, np.ones((5, 1))])
    for pose in template.at(size):
        matrix = umeyama(landmarks, pose)[:2]
        error = np.sqrt(((homogeneous @ matrix.T - pose) ** 2).sum(1)).sum()
        if error < best_error:
            best, best_error = matrix, error
    assert best is not None
    return best


def similarity_scale(matrix: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))


def warp_to_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp ``image`` into a ``size`` x ``size`` crop. When the crop is smaller than the face in
    the image, the image is first area-resized (antialiasing) and the matrix adjusted."""
    scale = similarity_scale(matrix)
    if scale < 1.0:
        # Downscale by the integer-free factor first, so bilinear warping does not alias.
        h, w = image.shape[:2]
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        pre = np.array([[w / new_w, 0, 0], [0, h / new_h, 0], [0, 0, 1]])
        matrix = (np.vstack([matrix, [0, 0, 1]]) @ pre)[:2]
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@dataclass(frozen=True)
class AlignedFace:
    """A face crop and the 2x3 matrix that maps the source image onto it."""

    crop: np.ndarray
    matrix: np.ndarray
    points: np.ndarray  # the 5 landmarks in crop coordinates

    @property
    def inverse(self) -> np.ndarray:
        return cv2.invertAffineTransform(self.matrix)


def align_face(image: np.ndarray, landmarks: np.ndarray, template: Template, size: int) -> AlignedFace:
    matrix = estimate_alignment(landmarks, template, size)
    points = np.hstack([np.asarray(landmarks, dtype=np.float64).reshape(5, 2), np.ones((5, 1))]) @ matrix.T
    return AlignedFace(warp_to_crop(image, matrix, size), matrix, points)
