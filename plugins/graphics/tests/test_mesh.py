"""The fixed mesh and the dense warp on real faces: full coverage, correct mirror pairs, a shape
transfer that keeps the target's pose, and one triangulation valid for every face."""

from __future__ import annotations

import numpy as np
from zoo_plugin_graphics.mesh import (
    CANONICAL_68,
    INNER,
    JAW,
    mesh_points,
    mesh_triangles,
    mirror,
    transfer_shape,
    warp,
)

from zoo_core.evaluate.metrics import euler_angles, head_pose
from zoo_core.faces.align import umeyama

FOREHEAD = 0.2


def orientation(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    return np.sign((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])


def test_warp_onto_itself_is_the_identity(model, astronaut_pair):
    face = astronaut_pair[0]
    points = mesh_points(model.landmarks(face, "face"), 512, FOREHEAD)
    assert np.array_equal(warp(face, points, points, mesh_triangles(FOREHEAD)), face)  # no pixel left uncovered


def test_mirror_pairs_the_right_landmarks():
    centred = CANONICAL_68 - np.array([0.5, 0.0])
    assert np.array_equal(mirror(mirror(centred)), centred)
    assert np.abs(mirror(centred) - centred).max() < 0.015  # the mean face is symmetric under the pairing
    shuffled = mirror(centred)[np.r_[1:68, 0]]
    assert np.abs(shuffled - centred).max() > 0.1


def test_shape_transfer_keeps_the_target_pose(model, photo_crop):
    source = model.landmarks(photo_crop("face_recognition/kit_harington/john2.jpeg"), "turned right")
    target = model.landmarks(photo_crop("face_recognition/obama/obama1.jpg"), "turned left")
    moved = transfer_shape(source, target, 1.0)
    matrix = umeyama(source, target)
    plain = target.copy()  # the source's inner points after a similarity fit, mirroring not applied
    plain[INNER] = (source @ matrix[:2, :2].T + matrix[:2, 2])[INNER]
    yaw = {name: euler_angles(head_pose(points, (512, 512)))[1]
           for name, points in (("source", source), ("target", target), ("moved", moved), ("plain", plain))}
    turn = abs(yaw["source"] - yaw["target"])
    assert turn > 40
    assert abs(yaw["moved"] - yaw["target"]) < 0.2 * turn  # the target's yaw stays ...
    assert abs(yaw["plain"] - yaw["source"]) < 0.2 * turn  # ... which a plain similarity fit would not keep
    assert np.array_equal(moved[JAW], target[JAW]) and np.array_equal(transfer_shape(source, target, 0.0), target)


def test_one_triangulation_fits_every_face(model, faces_dir, aligner):
    from zoo_core.faces.io import read_image

    triangles = mesh_triangles(FOREHEAD)
    reference = orientation(mesh_points(CANONICAL_68 * 512, 512, FOREHEAD), triangles)
    lips = np.isin(triangles, np.arange(48, 68)).all(1)  # a closed mouth folds its own triangles
    photos = sorted((faces_dir / "deepface").glob("id0*/img*.jpg"))[::3]
    flipped = [orientation(mesh_points(model.landmarks(aligner(read_image(p)[0]), p.name), 512, FOREHEAD), triangles)[~lips]
               != reference[~lips] for p in photos]
    assert len(photos) >= 10
    assert np.mean(flipped) < 0.005
