"""The dense correspondence: where the landmarks go (``transfer_shape``), a fixed triangle mesh
over the 68 landmarks, points above the brows and the crop border, and the piecewise-affine
warp it defines.

The triangulation is computed once, by Delaunay on a canonical face (``CANONICAL_68``), and
reused for every face and frame: triangle ``k`` always joins the same landmarks, so the warp
changes smoothly with the landmarks and never jumps between triangulations.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from zoo_core.faces.align import umeyama

CANONICAL_68 = np.array([
    (0.2312, 0.4886), (0.2351, 0.5598), (0.2433, 0.6313), (0.2559, 0.7028), (0.2797, 0.7699), (0.3212, 0.8279),
    (0.3743, 0.8766), (0.4354, 0.9159), (0.5052, 0.9263), (0.5749, 0.9138), (0.6362, 0.8738), (0.6891, 0.8240),
    (0.7300, 0.7656), (0.7534, 0.6988), (0.7645, 0.6276), (0.7717, 0.5562), (0.7751, 0.4848), (0.2766, 0.4348),
    (0.3086, 0.4007), (0.3570, 0.3892), (0.4071, 0.3950), (0.4546, 0.4140), (0.5428, 0.4134), (0.5920, 0.3939),
    (0.6430, 0.3876), (0.6925, 0.3998), (0.7255, 0.4338), (0.4993, 0.4651), (0.4995, 0.5116), (0.4997, 0.5582),
    (0.4998, 0.6061), (0.4477, 0.6384), (0.4730, 0.6473), (0.5005, 0.6556), (0.5282, 0.6468), (0.5538, 0.6382),
    (0.3332, 0.4763), (0.3624, 0.4576), (0.3980, 0.4581), (0.4291, 0.4811), (0.3958, 0.4871), (0.3611, 0.4875),
    (0.5720, 0.4806), (0.6029, 0.4573), (0.6384, 0.4573), (0.6677, 0.4757), (0.6405, 0.4864), (0.6057, 0.4864),
    (0.3883, 0.7240), (0.4306, 0.7084), (0.4715, 0.7011), (0.5016, 0.7076), (0.5327, 0.7008), (0.5738, 0.7074),
    (0.6166, 0.7214), (0.5764, 0.7596), (0.5357, 0.7782), (0.5024, 0.7823), (0.4700, 0.7793), (0.4291, 0.7623),
    (0.4049, 0.7263), (0.4712, 0.7245), (0.5018, 0.7276), (0.5333, 0.7237), (0.5995, 0.7242), (0.5340, 0.7428),
    (0.5021, 0.7473), (0.4708, 0.7437),
])
"""Mean dlib landmarks of 76 FFHQ-aligned crops (fractions of the crop side)."""

JAW = slice(0, 17)
BROWS = slice(17, 27)
NOSE_BRIDGE, CHIN = 27, 8
FOREHEAD = slice(68, 78)
"""Mesh indices of the brow points lifted onto the forehead."""

_BORDER = np.array([(0, 0), (0.5, 0), (1, 0), (1, 0.5), (1, 1), (0.5, 1), (0, 1), (0, 0.5)])
"""The mesh's points on the crop border, in crop sides: the warp is the identity along it."""

MIRROR_68 = np.array([
    *range(16, -1, -1),                      # jaw
    *range(26, 16, -1),                      # brows
    27, 28, 29, 30, 35, 34, 33, 32, 31,      # nose bridge, nostrils
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,  # eyes
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,  # outer lips
    64, 63, 62, 61, 60, 67, 66, 65,          # inner lips
])
"""iBUG index of each landmark's mirror image (left eye corner 36 <-> right eye corner 45, ...)."""
INNER = slice(17, 48)
"""Brows, nose and eyes: the points whose layout the source may bring along."""


def mirror(points: np.ndarray) -> np.ndarray:
    """The face mirrored left-right about x = 0, relabelled so each index names the same feature."""
    return points[MIRROR_68] * np.array([-1.0, 1.0])


def transfer_shape(source: np.ndarray, target: np.ndarray, amount: float) -> np.ndarray:
    """The target's 68 landmarks with their brow, nose and eye points moved ``amount`` of the way
    to the source's layout, keeping the target's pose.

    The source is first fitted onto the target by a similarity (position, size, in-plane
    rotation). Only the left-right symmetric part of the remaining difference is applied: a
    turned head shifts mirror-image points alike (their depth is equal), which mirroring
    cancels, so the target's yaw stays while the source's proportions come along. Jaw and lips
    (the expression) stay the target's.
    """
    matrix = umeyama(source, target)
    difference = source @ matrix[:2, :2].T + matrix[:2, 2] - target
    symmetric = (difference + mirror(difference)) / 2.0
    out = target.copy()
    out[INNER] += amount * symmetric[INNER]
    return out


def face_height(landmarks: np.ndarray) -> float:
    """Nose bridge (27) to chin (8): the length the configuration's fractions refer to."""
    return float(np.linalg.norm(landmarks[NOSE_BRIDGE] - landmarks[CHIN]))


def mesh_points(landmarks: np.ndarray, size: int, forehead: float) -> np.ndarray:
    """The ``(86, 2)`` mesh vertices of a face: its 68 landmarks, its 10 brow points moved up by
    ``forehead`` face heights (along chin -> nose bridge), and 8 fixed points on the crop border."""
    lift = forehead * (landmarks[NOSE_BRIDGE] - landmarks[CHIN])
    return np.vstack([landmarks, landmarks[BROWS] + lift, _BORDER * (size - 1)])


@lru_cache(maxsize=8)
def mesh_triangles(forehead: float) -> np.ndarray:
    """``(T, 3)`` vertex indices: Delaunay triangles of the canonical face's mesh."""
    size = 512
    points = mesh_points(CANONICAL_68 * size, size, forehead)
    subdiv = cv2.Subdiv2D((0, 0, size, size))
    for x, y in points:
        subdiv.insert((float(x), float(y)))
    triangles = []
    for corners in subdiv.getTriangleList().reshape(-1, 3, 2):
        distances = np.linalg.norm(points[None] - corners[:, None], axis=2)
        index = distances.argmin(1)
        if distances[np.arange(3), index].max() < 1e-3:  # drop triangles on Subdiv2D's outer vertices
            triangles.append(index)
    return np.array(triangles, dtype=np.int64)


def _affines(source: np.ndarray, destination: np.ndarray) -> np.ndarray:
    """``(T, 3, 2)`` matrices ``M`` with ``[x, y, 1] @ M`` mapping each destination triangle
    onto its source triangle (least squares for degenerate ones)."""
    ones = np.ones((*destination.shape[:2], 1))
    return np.linalg.pinv(np.concatenate([destination, ones], axis=2)) @ source


def warp(image: np.ndarray, source: np.ndarray, destination: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``image`` resampled so that its mesh vertices ``source`` land on ``destination``: each
    pixel finds its destination triangle and reads the image through that triangle's affine map."""
    height, width = image.shape[:2]
    matrices = np.concatenate([_affines(source[triangles], destination[triangles]),
                               np.eye(3, 2)[None]]).astype(np.float32)  # last: identity, for uncovered pixels
    labels = np.full((height, width), len(triangles), dtype=np.int32)
    for index, triangle in enumerate(triangles):
        cv2.fillConvexPoly(labels, np.round(destination[triangle] * 16).astype(np.int32), int(index), cv2.LINE_8, 4)
    ys, xs = np.mgrid[:height, :width].astype(np.float32)
    per_pixel = matrices[labels]
    map_x = xs * per_pixel[..., 0, 0] + ys * per_pixel[..., 1, 0] + per_pixel[..., 2, 0]
    map_y = xs * per_pixel[..., 0, 1] + ys * per_pixel[..., 1, 1] + per_pixel[..., 2, 1]
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
