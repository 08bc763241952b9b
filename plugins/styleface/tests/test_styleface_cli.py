"""``zoo deid`` and ``zoo styleface masks`` end to end on real photos with a random-init
64 px StyleFace: variants per seed, reproducibility, levels, a fixed identity in video."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from zoo_core.cli import cli
from zoo_core.faces.io import read_provenance


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def photo(faces_dir, tmp_path, cached_detector) -> Path:
    """A one-face photo, reduced so that detection is quick."""
    path = tmp_path / "obama.png"
    Image.open(faces_dir / "face_recognition/obama/obama.jpg").convert("RGB").resize((320, 400)).save(path)
    return path


def test_zoo_deid_photo_variants_and_seeds(tiny_variant, photo, tmp_path):
    target = photo
    out = tmp_path / "deid.png"
    result = run("deid", "--model", tiny_variant, "--random-init", "--target", str(target), "--output", str(out),
                 "--seed", "3", "--num", "2")
    assert result.exit_code == 0, result.output
    first, second = (np.asarray(Image.open(tmp_path / f"deid-{i}.png")) for i in range(2))
    before = np.asarray(Image.open(target).convert("RGB"))
    assert first.shape == before.shape
    changed = np.any(first != before, axis=2)
    assert 0.01 < changed.mean() < 0.5 and not changed[:10].any() and not changed[-10:].any()
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 0.1  # another seed, another identity
    provenance = read_provenance(tmp_path / "deid-1.png")
    assert provenance["model"] == tiny_variant and provenance["seed"] == 4
    # the second variant of --seed 3 is the run with --seed 4
    again = tmp_path / "again.png"
    assert run("deid", "--model", tiny_variant, "--random-init", "--target", str(target), "--output", str(again),
               "--seed", "4").exit_code == 0
    assert np.array_equal(np.asarray(Image.open(again)), second)


def test_zoo_deid_levels_and_errors(tiny_variant, photo, tmp_path):
    target = str(photo)
    common = ("deid", "--random-init", "--target", target, "--seed", "1")
    full, low = tmp_path / "full.png", tmp_path / "low.png"
    assert run(*common, "--model", tiny_variant, "--output", str(full)).exit_code == 0
    assert run(*common, "--model", tiny_variant, "--output", str(low), "--levels", "low").exit_code == 0
    assert not np.array_equal(np.asarray(Image.open(full)), np.asarray(Image.open(low)))
    bad = run(*common, "--model", tiny_variant, "--output", str(tmp_path / "x.png"), "--levels", "top")
    assert bad.exit_code == 1 and "subset of low,mid,high" in bad.output
    unable = run(*common, "--model", "swaponly-64", "--output", str(tmp_path / "y.png"))
    assert unable.exit_code == 1 and "no 'deidentify' capability" in unable.output


def test_zoo_deid_video_keeps_one_identity(tiny_variant, photo, tmp_path):
    from zoo_core.faces.video import VideoWriter, iter_frames

    still = np.asarray(Image.open(photo))
    moved = np.roll(still, 4, axis=1)  # the face moves a little between frames
    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, Fraction(10), 320, 400) as writer:
        for frame in (still, moved, still, moved):
            writer.write(frame)
    outputs = {}
    for seed in ("5", "6"):
        out = tmp_path / f"deid-{seed}.mp4"
        result = run("deid", "--model", tiny_variant, "--random-init", "--target", str(clip), "--output", str(out),
                     "--seed", seed, "--smooth", "1")
        assert result.exit_code == 0, result.output
        outputs[seed] = [f.astype(int) for f in iter_frames(out)]
    frames = outputs["5"]
    assert len(frames) == 4
    same_identity = np.abs(frames[0] - frames[2]).mean()  # same input frame, same seed: same face
    other_identity = np.abs(frames[0] - outputs["6"][0]).mean()
    assert same_identity < 0.25 * other_identity


def test_zoo_styleface_masks(tiny_variant, styleface_plugin, faces_dir, photo, tmp_path):
    source, target = faces_dir / "face_recognition/biden/biden.jpg", photo
    out = tmp_path / "masks.png"
    styleface_plugin.register_commands(cli=cli)  # what zoo_core.cli.main does for installed plugins
    result = run("styleface", "masks", "--model", tiny_variant, "--random-init", "--source", str(source),
                 "--target", str(target), "--output", str(out))
    assert result.exit_code == 0, result.output
    grid = np.asarray(Image.open(out))
    assert grid.shape == (64, 64 * (2 + 5), 3)  # target, swap, one tile per resolution 4..64
    tiles = grid[:, 128:].reshape(64, 5, 64, 3)
    assert np.all(tiles[..., 0] == tiles[..., 1])  # grey masks
    assert read_provenance(out)["content"] == "styleface control masks"


def test_zoo_styleface_masks_refuses_a_malformed_device(styleface_plugin, tmp_path):
    styleface_plugin.register_commands(cli=cli)
    for name in ("s.jpg", "t.jpg"):
        (tmp_path / name).write_bytes(b"")  # never read: the option is refused first
    result = run("styleface", "masks", "--model", "styleface-256", "--random-init", "--source", str(tmp_path / "s.jpg"),
                 "--target", str(tmp_path / "t.jpg"), "--output", str(tmp_path / "m.png"), "--device", "gpu")
    assert result.exit_code == 2 and "Invalid value for '--device'" in result.output
