"""Paste-back: outside the mask the target is bit-identical; inside, the swap shows."""

from __future__ import annotations

import numpy as np

from zoo_core.faces.align import align_face, get_template
from zoo_core.faces.blend import crop_mask, match_colors, paste_back


def test_outside_mask_pixels_are_bit_identical(astronaut, detector):
    face = detector.detect(astronaut)[0]
    aligned = align_face(astronaut, face.landmarks, get_template("ffhq"), 256)
    swapped = np.full_like(aligned.crop, 17)
    out = paste_back(astronaut, swapped, aligned.matrix, points=aligned.points)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    changed = np.any(out != astronaut, axis=2)
    mask = crop_mask(256, aligned.points)
    import cv2

    footprint = cv2.warpAffine(mask, aligned.matrix, astronaut.shape[1::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    assert not np.any(changed & (footprint == 0))  # nothing outside the mask moved
    assert changed.sum() > 2000  # and the face region did change
    x0, y0, x1, y1 = (int(v) for v in face.box)
    assert changed[y0:y1, x0:x1].mean() > 0.8
    assert not changed[:40].any() and not changed[:, -40:].any()


def test_mask_is_an_ellipse_over_the_face_with_feathered_edge():
    points = get_template("ffhq").at(256)[0]
    mask = crop_mask(256, points)
    assert mask[150, 128] > 0.99  # nose
    assert mask[5, 5] == 0 and mask[128, 5] == 0  # corner, beside the cheek
    assert mask[250, 128] < 0.02 and mask[128, 20] < 0.02  # below the chin, the side: only the feather's tail
    assert 0 < mask[128, 60] < 1 or 0 < mask[40, 128] < 1  # a soft edge somewhere on the way out
    whole = crop_mask(256)
    assert whole[128, 128] > 0.99 and whole[0, 0] == 0


def test_colour_matching_moves_statistics_towards_the_reference():
    rng = np.random.default_rng(0)
    swapped = rng.integers(100, 140, (64, 64, 3), dtype=np.uint8)
    reference = rng.integers(20, 60, (64, 64, 3), dtype=np.uint8)
    out = match_colors(swapped, reference, np.ones((64, 64), np.float32))
    assert abs(out.mean() - reference.mean()) < abs(swapped.mean() - reference.mean()) / 4


def test_crop_outside_the_image_leaves_it_untouched():
    target = np.arange(60 * 80 * 3, dtype=np.uint8).reshape(60, 80, 3)
    far = np.array([[1.0, 0, -1000], [0, 1.0, -1000]])
    assert np.array_equal(paste_back(target, np.zeros((32, 32, 3), np.uint8), far), target)
