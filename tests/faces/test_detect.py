"""Detection and 5 landmarks on real faces (../shared/faces), plus the SCRFD decoding."""

from __future__ import annotations

import numpy as np
import pytest
from zoo_testing.faces import manifest_photos

from zoo_core.errors import ZooError
from zoo_core.faces.detect import (
    Face,
    anchor_centers,
    create_detector,
    decode_scrfd,
    five_from_68,
    nms,
)
from zoo_core.faces.io import read_image

SCENES = ("dlib_scenes/", "face_recognition_scenes/")


def check_geometry(face: Face) -> None:
    """Landmarks inside the box, eyes above nose above mouth, image-left before image-right."""
    x0, y0, x1, y1 = face.box
    pts = face.landmarks
    assert pts.shape == (5, 2)
    margin = 0.25 * (x1 - x0)
    assert np.all(pts[:, 0] > x0 - margin) and np.all(pts[:, 0] < x1 + margin)
    assert np.all(pts[:, 1] > y0 - margin) and np.all(pts[:, 1] < y1 + margin)
    assert pts[0, 0] < pts[1, 0] and pts[3, 0] < pts[4, 0]
    assert max(pts[0, 1], pts[1, 1]) < pts[2, 1] < min(pts[3, 1], pts[4, 1])


@pytest.mark.parametrize("path", [path for path in manifest_photos() if not path.startswith(SCENES)])
def test_every_single_face_photo(faces_dir, detector, path):
    image, _ = read_image(faces_dir / path)
    faces = detector.detect(image)
    assert len(faces) == 1, f"{path}: {len(faces)} faces"
    check_geometry(faces[0])


@pytest.mark.parametrize(("path", "at_least"), [("dlib_scenes/bald_guys.jpg", 20), ("face_recognition_scenes/two_people.jpg", 2),
                                                ("face_recognition_scenes/obama_and_biden.jpg", 2)])
def test_scenes_return_all_faces_largest_first(faces_dir, detector, path, at_least):
    image, _ = read_image(faces_dir / path)
    faces = detector.detect(image)
    assert len(faces) >= at_least
    order = [f.prominence for f in faces]
    assert order == sorted(order, reverse=True)
    for face in faces:
        assert face.landmarks68.shape == (68, 2)


def test_astronaut_always(astronaut, detector):
    face = detector.detect(astronaut)[0]  # HOG also fires weakly (score ~0.1) on her badge
    check_geometry(face)
    x0, y0, x1, y1 = face.box  # her face is in the upper middle of the 512 px picture
    assert 150 < (x0 + x1) / 2 < 300 and 50 < (y0 + y1) / 2 < 200


def test_no_face_in_noise_free_gradient(detector):
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    assert detector.detect(gradient) == []


def test_five_from_68_uses_eye_centres_nose_and_mouth_corners():
    points = np.zeros((68, 2), dtype=np.float32)
    points[36:42] = [10, 20]
    points[42:48] = [30, 20]
    points[30] = [20, 30]
    points[48], points[54] = [12, 40], [28, 40]
    assert five_from_68(points).tolist() == [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]]


def test_registered_detectors():
    assert create_detector("dlib-hog").name == "dlib-hog"
    with pytest.raises(ZooError, match="not a face detector"):
        create_detector("ffhq")


def test_scrfd_names_the_missing_weights(tmp_path):
    missing = tmp_path / "det_10g.onnx"
    with pytest.raises(ZooError, match=f"{missing}: SCRFD weights not found"):
        create_detector("scrfd", model_path=str(missing))


def test_scrfd_decoding_and_nms():
    size, strides = 32, (8, 16, 32)
    outputs = []
    for stride in strides:  # scores: one confident anchor at the second location of stride 8
        n = (size // stride) ** 2 * 2
        scores = np.zeros((n, 1), dtype=np.float32)
        if stride == 8:
            scores[2] = 0.9  # location index 1 -> centre (8, 0)
        outputs.append(scores)
    for stride in strides:
        n = (size // stride) ** 2 * 2
        outputs.append(np.ones((n, 4), dtype=np.float32))  # one stride to each side
    for stride in strides:
        n = (size // stride) ** 2 * 2
        outputs.append(np.tile(np.array([[0, 0, 1, 0, 0, 1, 1, 1, 0.5, 0.5]], dtype=np.float32), (n, 1)))
    boxes, points, scores = decode_scrfd(outputs, size, strides, 2, 0.5)
    assert boxes.tolist() == [[0.0, -8.0, 16.0, 8.0]] and scores.tolist() == pytest.approx([0.9])
    assert points[0].tolist() == [[8, 0], [16, 0], [8, 8], [16, 8], [12, 4]]
    assert anchor_centers(16, 8, 2).tolist() == [[0, 0], [0, 0], [8, 0], [8, 0], [0, 8], [0, 8], [8, 8], [8, 8]]
    many = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=np.float32)
    assert nms(many, np.array([0.5, 0.9, 0.7]), 0.4) == [1, 2]
