"""No seam where the swapped face meets the target: on the pasted photo, the change the swap
makes (output minus target) must not jump at the outline of the swapped region. A hard paste of
the same warped face, measured the same way, shows the jump the measure is there to catch."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from zoo_plugin_graphics.mesh import face_height, warp

from zoo_core import registry
from zoo_core.faces.io import read_image
from zoo_core.faces.swapper import FaceSwapper

PAIRS = [
    ("face_recognition/biden/biden.jpg", "face_recognition/obama/obama.jpg"),
    ("deepface/id05/img18.jpg", "face_recognition/kit_harington/john1.jpg"),
]
SEAM_LIMIT = 0.2


def seam_ratio(out: np.ndarray, target: np.ndarray, region: np.ndarray) -> float:
    """Mean gradient magnitude of |out - target| on a 5 px band along the region's outline,
    over its mean well inside the region (the face's own changes)."""
    change = np.abs(out.astype(np.float32) - target.astype(np.float32)).mean(2)
    gradient = np.hypot(cv2.Sobel(change, cv2.CV_32F, 1, 0), cv2.Sobel(change, cv2.CV_32F, 0, 1))
    band = cv2.dilate(region, np.ones((5, 5), np.uint8)) - cv2.erode(region, np.ones((5, 5), np.uint8))
    inside = cv2.erode(region, np.ones((41, 41), np.uint8))
    return float(gradient[band > 0].mean() / gradient[inside > 0].mean())


@pytest.mark.parametrize("blend", ["feather", "poisson"])
def test_pasted_swap_has_no_seam(graphics_plugin, faces_dir, blend):
    model = registry.create_model("graphics-512", blend=blend)
    swapper = FaceSwapper(model)
    for source_name, target_name in PAIRS:
        source = swapper.source_crop(faces_dir / source_name)
        photo = read_image(faces_dir / target_name)[0]
        aligned = swapper.align(photo, swapper.faces(photo)[0])
        source_points, target_points = model.landmarks(source, "s"), model.landmarks(aligned.crop, "t")
        source_mesh, target_mesh = model.meshes(source_points, target_points, 512)
        region = model.region(target_mesh, face_height(target_points), 512)
        hard = np.where(region[..., None] > 0, warp(source, source_mesh, target_mesh, model.triangles), aligned.crop)
        outline = cv2.warpAffine(region, aligned.matrix, photo.shape[1::-1], flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
        ours = seam_ratio(swapper.blend(photo, [aligned], [model.swap_crop(source, aligned.crop)]), photo, outline)
        pasted = seam_ratio(swapper.blend(photo, [aligned], [hard]), photo, outline)
        assert ours < SEAM_LIMIT < pasted, (target_name, ours, pasted)
