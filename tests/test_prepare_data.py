"""``zoo prepare-data``: crop names, refused arguments and one-line errors (on skimage's astronaut)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from zoo_core.cli import cli
from zoo_core.errors import InputError, ZooError
from zoo_core.train.prepare import prepare_data


def photo(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def test_photos_sharing_a_stem_get_distinct_crops(astronaut, tmp_path):
    for name in ("p.jpg", "p.png", "q.jpg"):
        photo(tmp_path / "src" / "a" / name, astronaut)
    out = tmp_path / "out"
    first = prepare_data(tmp_path / "src", out, size=64, workers=1, progress=False)
    assert first.written == 3 and not first.no_face
    assert sorted(p.name for p in (out / "a").iterdir()) == ["p.jpg.png", "p.png.png", "q.png"]
    again = prepare_data(tmp_path / "src", out, size=64, workers=1, progress=False)
    assert again.written == 0 and again.skipped_existing == 3


def test_crop_names_stay_distinct_when_a_qualified_name_is_taken():
    from zoo_core.train.prepare import crop_names

    assert crop_names(["p.jpg", "p.png", "p.jpg.png", "q.webp"]) == {
        "p.jpg": "p.jpg.png", "p.png": "p.png.png", "p.jpg.png": "p.jpg.png.png", "q.webp": "q.png"}


@pytest.mark.parametrize("where", ["inside", "same", "around"])
def test_overlapping_folders_are_refused(tmp_path, where):
    source = tmp_path / "photos"
    (source / "a").mkdir(parents=True)
    (source / "a" / "p.jpg").write_bytes(b"not decoded: refused before")
    destination = {"inside": source / "aligned", "same": source, "around": tmp_path}[where]
    with pytest.raises(InputError, match="must not overlap the source folder"):
        prepare_data(source, destination, size=64, workers=1, progress=False)
    assert sorted(p.name for p in source.rglob("*")) == ["a", "p.jpg"]
    result = CliRunner().invoke(cli, ["prepare-data", str(source), str(destination), "--workers", "1"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "must not overlap" in result.stderr


@pytest.mark.parametrize(("size", "workers"), [(0, None), (-5, None), ("min-1", None), (64, 0), (64, -2)])
def test_api_refuses_tiny_crops_and_no_workers(tmp_path, size, workers):
    from zoo_core.train.prepare import MIN_CROP_SIZE

    (tmp_path / "src").mkdir()
    size = MIN_CROP_SIZE - 1 if size == "min-1" else size
    with pytest.raises(ZooError, match=r"crops must be at least|need at least 1"):
        prepare_data(tmp_path / "src", tmp_path / "dst", size=size, workers=workers, progress=False)


@pytest.mark.parametrize(("detector", "message"), [
    ("nope", "error: unknown component 'nope'"),
    ("dlib-resnet", "error: component 'dlib-resnet' is a recognizer, not a face detector"),
])
def test_bad_detector_is_one_line_before_any_worker(tmp_path, detector, message):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "p.jpg").write_bytes(b"never read")
    result = CliRunner().invoke(cli, ["prepare-data", str(tmp_path / "src"), str(tmp_path / "dst"),
                                      "--workers", "2", "--detector", detector])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and result.stderr.startswith(message)


def test_unwritable_destination_is_one_line(astronaut, tmp_path):
    photo(tmp_path / "src" / "p.jpg", astronaut)
    (tmp_path / "file").write_text("a file, not a folder")
    destination = tmp_path / "file" / "out"
    result = CliRunner().invoke(cli, ["prepare-data", str(tmp_path / "src"), str(destination), "--workers", "1"])
    assert result.exit_code == 1 and result.stderr.count("error:") == 1
    last = result.stderr.split("\n")[-2]  # on its own line, after the closed progress bar
    assert last.startswith(f"error: {destination / 'p.png'}: ") and "Not a directory" in last
