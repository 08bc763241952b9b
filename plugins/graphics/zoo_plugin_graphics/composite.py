"""Putting the warped source face into the target crop: the face region, its feathered edge,
seamless (Poisson) cloning, and the mouth interior."""

from __future__ import annotations

import cv2
import numpy as np

from zoo_plugin_graphics.mesh import FOREHEAD, JAW

FEATURES = (slice(17, 22), slice(22, 27), slice(36, 42), slice(42, 48), slice(48, 60))
"""Brows, eyes and lips: the parts of the face that are not skin."""
INNER_LIPS = slice(60, 68)
LIP_GAPS = ((61, 67), (62, 66), (63, 65))
"""Inner-lip landmark pairs (upper, lower) whose distance is how far the mouth is open."""


def face_region(mesh: np.ndarray, size: int, inset: float) -> np.ndarray:
    """``(size, size) uint8`` mask (0/255): the convex hull of the jaw line and the lifted brow
    points, pulled ``inset`` pixels towards its centre so the edge stays on the face's skin."""
    hull = cv2.convexHull(np.vstack([mesh[JAW], mesh[FOREHEAD]]).astype(np.float32))[:, 0].astype(np.float64)
    centre = hull.mean(0)
    radius = np.linalg.norm(hull - centre, axis=1, keepdims=True)
    hull = centre + (hull - centre) * np.clip(1 - inset / np.maximum(radius, 1e-6), 0, 1)
    mask = np.zeros((size, size), dtype=np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull * 16).astype(np.int32), 255, cv2.LINE_8, 4)
    return mask


def _grown(mask: np.ndarray, margin: float) -> np.ndarray:
    """``mask`` dilated by a disc of radius ``margin`` pixels (at least 1)."""
    radius = max(1, round(margin))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))


def skin(region: np.ndarray, landmarks: np.ndarray, margin: float) -> np.ndarray:
    """``region`` without the brows, eyes and lips (their hulls grown by ``margin`` pixels)."""
    features = np.zeros_like(region)
    for part in FEATURES:
        cv2.fillConvexPoly(features, np.round(landmarks[part]).astype(np.int32), 255)
    return cv2.bitwise_and(region, cv2.bitwise_not(_grown(features, margin)))


def feathered(mask: np.ndarray, width: float) -> np.ndarray:
    """``float32`` weights: 0 outside ``mask``, rising smoothly to 1 at ``width`` pixels inside."""
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_5)
    ramp = np.clip(distance / max(width, 1e-6), 0, 1)
    return (ramp * ramp * (3 - 2 * ramp)).astype(np.float32)  # smoothstep: no kink at either end


def poisson(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``source`` cloned into ``target`` inside ``mask`` with the gradients of ``source`` and the
    colours of ``target`` on the mask's edge (``cv2.seamlessClone``, positions kept)."""
    inner = np.zeros_like(mask)  # seamlessClone writes into its mask, and shifts one touching the border
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1]
    x, y, w, h = cv2.boundingRect(inner)
    if w < 3 or h < 3:
        return target.copy()
    return cv2.seamlessClone(source, target, inner, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)


def mouth_openness(landmarks: np.ndarray, height: float) -> float:
    """Mean gap between the inner lips, in face heights (0 for a closed mouth)."""
    gaps = [np.linalg.norm(landmarks[a] - landmarks[b]) for a, b in LIP_GAPS]
    return float(np.mean(gaps)) / max(height, 1e-6)


def mouth_region(landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    """``float32`` weights covering the inner-lip polygon grown by ``margin`` pixels, soft-edged."""
    mask = np.zeros((size, size), dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[INNER_LIPS] * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return cv2.GaussianBlur(_grown(mask, margin).astype(np.float32) / 255.0, (0, 0), max(margin, 1.0) / 2)
