"""Templates, the similarity fit and warping: exact on synthetic points, round trips on photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from zoo_core.faces.align import align_face, estimate_alignment, get_template, umeyama, warp_to_crop
from zoo_core.faces.io import read_image


def similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty], [0, 0, 1]])


def test_umeyama_recovers_a_known_similarity_exactly():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    truth = similarity(1.7, 0.3, 12.0, -4.0)
    dst = np.hstack([src, np.ones((5, 1))]) @ truth[:2].T
    np.testing.assert_allclose(umeyama(src, dst), truth, atol=1e-9)


def test_registered_templates_are_normalised_five_point_sets():
    for name, poses in [("arcface-112", 1), ("simswap-224", 5), ("ffhq", 1), ("infoswap-512", 1)]:
        template = get_template(name)
        assert template.points.shape == (poses, 5, 2)
        assert np.all((template.points > 0) & (template.points < 1))
    ffhq = get_template("ffhq").at(512)[0]
    np.testing.assert_allclose(ffhq[0], [192.98138, 239.94708])
    arcface = get_template("arcface-112").at(112)[0]
    infoswap = get_template("infoswap-512").at(512)[0]  # (arcface - 56) * 0.85 + 56, scaled to 512
    np.testing.assert_allclose(infoswap, ((arcface - 56) * 0.85 + 56) * 512 / 112, rtol=1e-6)


def test_simswap_template_picks_the_pose_that_fits():
    template = get_template("simswap-224")
    for index in range(5):  # landmarks already at pose i (moved by a similarity) choose pose i
        pose = template.at(224)[index]
        moved = np.hstack([pose, np.ones((5, 1))]) @ similarity(0.5, 0.2, 30, 40)[:2].T
        matrix = estimate_alignment(moved, template, 224)
        back = np.hstack([moved, np.ones((5, 1))]) @ matrix.T
        np.testing.assert_allclose(back, pose, atol=1e-6)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2)[mask].mean()
    return 10 * np.log10(255.0**2 / mse)


def round_trip_psnr(image: np.ndarray, landmarks: np.ndarray, size: int) -> float:
    aligned = align_face(image, landmarks, get_template("ffhq"), size)
    h, w = image.shape[:2]
    back = cv2.warpAffine(aligned.crop, aligned.inverse, (w, h), flags=cv2.INTER_LINEAR)
    footprint = cv2.warpAffine(np.ones((size, size), np.uint8), aligned.inverse, (w, h), flags=cv2.INTER_NEAREST)
    inner = cv2.erode(footprint, np.ones((5, 5), np.uint8)).astype(bool)  # away from the crop's edge
    return psnr(back, image, inner)


# Two bilinear resamplings at (or above) the image's own scale only lose the highest
# frequencies: measured ~36-42 dB on these photos, so 30 dB is a safe floor that still fails
# for a wrong inverse (a one-pixel shift or a transposed matrix gives < 25 dB).
ROUND_TRIP_PSNR_DB = 30.0


def test_align_inverse_round_trip_on_astronaut(astronaut, detector):
    face = detector.detect(astronaut)[0]
    face_side = face.box[2] - face.box[0]
    size = int(2 ** np.ceil(np.log2(face_side * 3)))  # crop at least at the image's scale
    assert round_trip_psnr(astronaut, face.landmarks, size) > ROUND_TRIP_PSNR_DB


@pytest.mark.parametrize("path", ["face_recognition/obama/obama.jpg", "deepface/id00/img1.jpg", "celebahq_1024/src_male_006930.jpg"])
def test_align_inverse_round_trip_on_photos(faces_dir, detector, path):
    image, _ = read_image(faces_dir / path)
    face = detector.detect(image)[0]
    assert round_trip_psnr(image, face.landmarks, 1024) > ROUND_TRIP_PSNR_DB


def test_a_wrong_inverse_fails_the_round_trip(astronaut, detector):
    face = detector.detect(astronaut)[0]
    shifted = face.landmarks + np.array([1.5, 0.0], dtype=np.float32)
    aligned = align_face(astronaut, face.landmarks, get_template("ffhq"), 512)
    wrong = align_face(astronaut, shifted, get_template("ffhq"), 512)
    back = cv2.warpAffine(aligned.crop, wrong.inverse, astronaut.shape[1::-1])
    footprint = cv2.warpAffine(np.ones((512, 512), np.uint8), wrong.inverse, astronaut.shape[1::-1]).astype(bool)
    assert psnr(back, astronaut, footprint) < ROUND_TRIP_PSNR_DB


def test_downscaling_is_antialiased():
    """A fine stripe pattern shrunk 8x must average to grey, not alias into stripes."""
    stripes = np.zeros((512, 512, 3), np.uint8)
    stripes[:, ::2] = 255
    matrix = np.array([[0.125, 0, 0], [0, 0.125, 0]])
    crop = warp_to_crop(stripes, matrix, 64).astype(np.float64)
    assert abs(crop[4:-4, 4:-4].mean() - 127.5) < 3 and crop[4:-4, 4:-4].std() < 3
    aliased = cv2.warpAffine(stripes, matrix, (64, 64)).astype(np.float64)
    assert abs(aliased[4:-4, 4:-4].mean() - 127.5) > 100  # plain bilinear warping hits only white columns


def test_points_are_mapped_into_the_crop(astronaut, detector):
    face = detector.detect(astronaut)[0]
    aligned = align_face(astronaut, face.landmarks, get_template("ffhq"), 256)
    np.testing.assert_allclose(aligned.points, get_template("ffhq").at(256)[0], atol=256 * 0.04)
