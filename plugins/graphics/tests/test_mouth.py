"""keep_target_mouth: when one mouth is open and the other closed, the target's mouth interior
stays; when both are alike, the option changes nothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from zoo_plugin_graphics.composite import INNER_LIPS
from zoo_plugin_graphics.model import build

CLOSED = "face_recognition/biden/biden.jpg"
OPEN = "face_recognition/obama/obama.jpg"  # a broad smile, teeth showing
ALSO_CLOSED = "face_recognition/kit_harington/john1.jpg"


@pytest.fixture(scope="module")
def without_option(spec):
    return build(spec, {**spec.default_config, "keep_target_mouth": False})


def inner_mouth(model, crop: np.ndarray) -> np.ndarray:
    mask = np.zeros(crop.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(model.landmarks(crop, "target")[INNER_LIPS]).astype(np.int32)], 255)
    return mask > 0


def test_open_target_mouth_is_kept_when_the_source_mouth_is_closed(model, without_option, photo_crop):
    source, target = photo_crop(CLOSED), photo_crop(OPEN)
    assert model.mouths_differ(model.landmarks(source, "s"), model.landmarks(target, "t"))
    inside = inner_mouth(model, target)
    assert inside.sum() > 500  # the teeth of the smile
    kept = np.abs(model.swap_crop(source, target).astype(float) - target)[inside].mean()
    stretched = np.abs(without_option.swap_crop(source, target).astype(float) - target)[inside].mean()
    assert kept < 3 and stretched > 20  # the target's teeth, not the source's closed lips pulled apart


def test_alike_mouths_are_swapped_whatever_the_option(model, without_option, photo_crop):
    source, target = photo_crop(CLOSED), photo_crop(ALSO_CLOSED)
    assert not model.mouths_differ(model.landmarks(source, "s"), model.landmarks(target, "t"))
    assert np.array_equal(model.swap_crop(source, target), without_option.swap_crop(source, target))
