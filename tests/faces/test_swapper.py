"""FaceSwapper and ``zoo swap`` on real photos with a tiny random-init model: the face
content is meaningless, the geometry, selection, integrity and provenance are real."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import zoo_core
from zoo_core.cli import cli
from zoo_core.errors import NoFaceError, ZooError
from zoo_core.faces.io import read_provenance
from zoo_core.faces.swapper import FaceSwapper, Selection


@pytest.fixture
def swapper(example_plugin, detector):
    torch.manual_seed(0)
    return FaceSwapper(zoo_core.create_model("example-64"), detector=detector, seed=1)


def changed_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


def test_swap_image_changes_only_the_face(swapper, astronaut, faces_dir):
    out = swapper.swap_image(faces_dir / "face_recognition/obama/obama.jpg", astronaut)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    changed = changed_mask(out, astronaut)
    x0, y0, x1, y1 = (int(v) for v in swapper.detector.detect(astronaut)[0].box)
    assert changed[y0:y1, x0:x1].mean() > 0.8
    outside = np.ones_like(changed)
    pad = (x1 - x0) // 2
    outside[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = False
    assert not changed[outside].any()


def test_swap_is_deterministic_with_a_seed(swapper, astronaut):
    first = swapper.swap_image(astronaut, astronaut)
    assert np.array_equal(first, swapper.swap_image(astronaut, astronaut))


def test_selection_all_index_and_reference(swapper, faces_dir):
    scene = faces_dir / "face_recognition_scenes/obama_and_biden.jpg"
    source = faces_dir / "face_recognition/alex_lacamoire/img1.jpg"
    image = np.asarray(Image.open(scene).convert("RGB"))
    faces = swapper.detector.detect(image)

    def touched(out):
        return [changed_mask(out, image)[int(f.box[1]):int(f.box[3]), int(f.box[0]):int(f.box[2])].mean() > 0.5 for f in faces]

    assert touched(swapper.swap_image(source, scene)) == [True] + [False] * (len(faces) - 1)
    assert touched(swapper.swap_image(source, scene, Selection(face_index=1)))[:2] == [False, True]
    assert sum(touched(swapper.swap_image(source, scene, Selection(all_faces=True)))) >= 2
    by_biden = touched(swapper.swap_image(source, scene, Selection(reference=faces_dir / "face_recognition/biden/biden.jpg")))
    by_obama = touched(swapper.swap_image(source, scene, Selection(reference=faces_dir / "face_recognition/obama/obama.jpg")))
    assert sum(by_biden) == 1 and sum(by_obama) == 1 and by_biden != by_obama
    with pytest.raises(NoFaceError, match=rf"obama_and_biden.jpg: face index 9 out of range \({len(faces)} faces found"):
        swapper.swap_image(source, scene, Selection(face_index=9))
    with pytest.raises(ZooError, match="at most one"):
        Selection(face_index=0, all_faces=True)


def test_no_face_is_a_clear_error(swapper, tmp_path, astronaut):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    with pytest.raises(NoFaceError, match=f"{blank}: no face found"):
        swapper.swap_image(blank, astronaut)
    with pytest.raises(NoFaceError, match=f"{blank}: no face found"):
        swapper.swap_image(astronaut, blank)


def test_swap_image_file_keeps_mode_and_size_and_writes_provenance(swapper, astronaut, tmp_path):
    rgba = Image.fromarray(astronaut).convert("RGBA")
    rgba.putalpha(200)
    target = tmp_path / "target.png"
    rgba.save(target)
    out = swapper.swap_image_file(target, target, tmp_path / "out.png")
    written = Image.open(out)
    assert written.mode == "RGBA" and written.size == rgba.size
    assert np.all(np.asarray(written)[:, :, 3] == 200)
    data = read_provenance(out)
    assert data["model"] == "example-64" and data["seed"] == 1 and data["synthetic"]


def test_zoo_swap_cli_and_inspect(example_plugin, tmp_path, faces_dir):
    out = tmp_path / "swapped.jpg"
    target = faces_dir / "deepface/id00/img1.jpg"
    result = CliRunner().invoke(cli, ["swap", "--model", "example-64", "--random-init", "--seed", "5",
                                      "--source", str(faces_dir / "face_recognition/biden/biden.jpg"),
                                      "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "random weights" in result.output and Image.open(out).size == Image.open(target).size
    shown = CliRunner().invoke(cli, ["inspect", str(out)])
    assert "model: example-64" in shown.output and "weights: random-init" in shown.output and "seed: 5" in shown.output


def test_zoo_swap_with_saved_weights_records_them(example_plugin, tmp_path, astronaut):
    folder = zoo_core.save_pretrained(zoo_core.create_model("example-64"), tmp_path / "weights")
    source = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(source)
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["swap", "--model", f"local-dir:{folder}", "--source", str(source),
                                      "--target", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    from zoo_core.serialization import sha256_file

    assert read_provenance(out)["weights"] == f"local-dir:{folder} sha256:{sha256_file(folder / 'model.safetensors')}"


def test_failed_swap_writes_nothing(example_plugin, tmp_path, astronaut):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["swap", "--model", "example-64", "--random-init", "--source", str(blank),
                                      "--target", str(blank), "--output", str(out)])
    assert result.exit_code == 1 and f"error: {blank}: no face found" in result.output
    assert not out.exists()


def test_zoo_swap_config_overrides(example_plugin, tmp_path, astronaut):
    source = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(source)
    args = ["swap", "--model", "example-64", "--random-init", "--source", str(source), "--target", str(source)]
    result = CliRunner().invoke(cli, [*args, "--output", str(tmp_path / "a.png"), "--set", "channels=8"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, [*args, "--output", str(tmp_path / "b.png"), "--set", "bogus=1"])
    assert result.exit_code == 1 and "unknown config keys ['bogus']" in result.output
    assert not (tmp_path / "b.png").exists()
