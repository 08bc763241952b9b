"""The PyTorch port of dlib's face recognition ResNet against dlib itself, on the same chips."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo_core import registry
from zoo_core.errors import WeightsError
from zoo_core.evaluate.recognizers import load_recognizer
from zoo_core.faces.dlib_chip import extract_face_chip
from zoo_core.faces.io import read_image
from zoo_core.faces.recognize import DlibRecognizer
from zoo_core.faces.recognize_torch import DlibTorchRecognizer
from zoo_core.nets.dlib_models import face_recognition_models_dir
from zoo_core.nets.dlib_resnet import MODEL_FILE, DlibResNet, load_dlib_resnet, read_dlib_resnet

dlib = pytest.importorskip("dlib")

TOLERANCE = 1e-4  # the required agreement with dlib's descriptors
SINGLE_FACE_FOLDERS = ("deepface/", "face_recognition/")


@dataclass(frozen=True)
class PhotoChips:
    """One photo's dlib chip (``dlib.get_face_chip``) and the numpy port's chip."""

    path: str
    dlib_chip: np.ndarray
    numpy_chip: np.ndarray


@pytest.fixture(scope="module")
def model_file() -> Path:
    return face_recognition_models_dir() / MODEL_FILE


@pytest.fixture(scope="module")
def net() -> DlibResNet:
    return load_dlib_resnet()


@pytest.fixture(scope="module")
def dlib_net(model_file: Path):
    return dlib.face_recognition_model_v1(str(model_file))


@pytest.fixture(scope="module")
def photo_chips(faces_dir: Path) -> list[PhotoChips]:
    """Every single-face photo: dlib HOG box, 5-point landmarks, the 150 px chips."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(face_recognition_models_dir() / "shape_predictor_5_face_landmarks.dat"))
    with open(faces_dir / "manifest.csv") as handle:
        paths = [row["path"] for row in csv.DictReader(handle) if row["path"].startswith(SINGLE_FACE_FOLDERS)]
    result = []
    for path in paths:
        image, _ = read_image(faces_dir / path)
        boxes = detector(image, 0)
        assert len(boxes) == 1, f"{path}: dlib's HOG found {len(boxes)} faces"
        shape = predictor(image, boxes[0])
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        result.append(PhotoChips(path, dlib.get_face_chip(image, shape, 150, 0.25), extract_face_chip(image, points)))
    return result


@pytest.fixture(scope="module")
def descriptors(photo_chips: list[PhotoChips], net: DlibResNet, dlib_net) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{path: (dlib's descriptor, the torch descriptor)}`` of the same dlib chip."""
    chips = [photo.dlib_chip for photo in photo_chips]
    theirs = np.array(dlib_net.compute_face_descriptor(chips))
    ours = net.embed_chips(np.stack(chips), batch_size=16)
    return {photo.path: (theirs[i], ours[i]) for i, photo in enumerate(photo_chips)}


def test_descriptors_match_dlib_on_every_single_face_photo(photo_chips, descriptors):
    folders = {photo.path.split("/")[0] + "/" for photo in photo_chips}
    assert folders == set(SINGLE_FACE_FOLDERS)
    difference = max(float(np.abs(theirs - ours).max()) for theirs, ours in descriptors.values())
    assert len(descriptors) == len(photo_chips) and difference <= TOLERANCE


def test_verification_decisions_match_dlib_on_pairs(faces_dir, descriptors):
    with open(faces_dir / "deepface" / "pairs.csv") as handle:
        pairs = [(f"deepface/{row['file_x']}", f"deepface/{row['file_y']}") for row in csv.DictReader(handle)]
    assert pairs and all(x in descriptors and y in descriptors for x, y in pairs)
    threshold = DlibRecognizer.same_person_distance

    def decisions(which: int) -> list[bool]:  # 0: dlib, 1: torch
        return [bool(np.linalg.norm(descriptors[x][which] - descriptors[y][which]) < threshold) for x, y in pairs]

    assert decisions(1) == decisions(0)


def test_numpy_chip_equals_dlibs_chip(photo_chips):
    differing = [photo.path for photo in photo_chips if not np.array_equal(photo.dlib_chip, photo.numpy_chip)]
    assert photo_chips and not differing


def test_file_threshold_is_dlibs_same_person_distance(net):
    assert float(net.distance_threshold) == pytest.approx(DlibRecognizer.same_person_distance, abs=1e-6)


def test_torch_recognizer_describes_as_dlib_resnet(astronaut, detector):
    images = [astronaut, np.ascontiguousarray(astronaut[:, ::-1])]
    faces = [detector.detect(image)[0] for image in images]
    reference = load_recognizer("dlib-resnet")
    expected = reference.describe_batch(images, faces)  # dlib, face by face
    ported = load_recognizer("dlib-resnet-torch")
    assert np.abs(ported.describe_batch(images, faces) - expected).max() <= TOLERANCE
    assert np.abs(ported.describe(astronaut, faces[0]) - expected[0]).max() <= TOLERANCE
    assert ported.rule is not None and reference.rule is not None
    assert ported.rule.threshold == reference.rule.threshold


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_embeds_a_batch_on_cuda(net, astronaut, detector):
    chip = DlibTorchRecognizer().chip(astronaut, detector.detect(astronaut)[0])
    chips = np.stack([chip, chip[:, ::-1]])
    on_cpu = net.embed_chips(chips)
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        on_gpu = load_dlib_resnet().cuda().embed_chips(chips)
    assert np.abs(on_gpu - on_cpu).max() <= TOLERANCE


def test_components_are_registered():
    encoder = registry.get_component_spec("dlib-resnet-128")
    recognizer = registry.get_component_spec("dlib-resnet-torch")
    assert encoder.kind == "identity_encoder" and "not any paper" in encoder.description
    assert recognizer.kind == "recognizer" and recognizer.data["identity_encoder"] == "dlib-resnet-128"
    assert isinstance(registry.create_component("dlib-resnet-128"), DlibResNet)


def check_one_line_error(path: Path, match: str) -> None:
    with pytest.raises(WeightsError, match=match) as caught:
        read_dlib_resnet(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("keep", [0, 9, 300, 10_000_000, -1])
def test_truncated_file_is_a_one_line_weights_error(tmp_path, model_file, keep):
    data = model_file.read_bytes()
    path = tmp_path / "truncated.dat"
    path.write_bytes(data[:keep])
    check_one_line_error(path, "truncated")


@pytest.mark.parametrize(("old", "new", "match"), [
    (b"con_4", b"con_9", "found 'con_9'"),
    (b"\x01\x03\x01\x15input", b"\x01\x04\x01\x15input", "input wrapper version 4"),
    (b"\x01\x01\x01\x0dloss", b"\x01\x01\x01\x0dLOSS", "found 'LOSS"),
    (b"max_pool_2\x01\x03", b"max_pool_2\x01\x05", "max_pool"),
    (b"\x01\x96\x01\x96", b"\x01\x96\x01\x97", "input size"),
])
def test_altered_file_is_a_one_line_weights_error(tmp_path, model_file, old, new, match):
    data = model_file.read_bytes()
    assert old in data
    path = tmp_path / "altered.dat"
    path.write_bytes(data.replace(old, new, 1))
    check_one_line_error(path, match)


def test_trailing_bytes_and_missing_file_are_weights_errors(tmp_path, model_file):
    path = tmp_path / "longer.dat"
    path.write_bytes(model_file.read_bytes() + b"\x00")
    check_one_line_error(path, "unexpected bytes")
    check_one_line_error(tmp_path / "absent.dat", "cannot read")
