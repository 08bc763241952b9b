"""`zoo swap --model graphics-512` end to end on two real photos: no weights, no --random-init."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

from zoo_core.cli import cli
from zoo_core.faces.io import read_provenance


def test_zoo_swap_builds_the_model_and_swaps(graphics_plugin, faces_dir, tmp_path):
    source, target = faces_dir / "face_recognition/biden/biden.jpg", faces_dir / "face_recognition/obama/obama.jpg"
    out = tmp_path / "swap.png"
    result = CliRunner().invoke(cli, ["swap", "--model", "graphics-512", "--source", str(source),
                                      "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "random weights" not in result.output
    before, after = np.asarray(Image.open(target).convert("RGB")), np.asarray(Image.open(out))
    assert after.shape == before.shape
    changed = np.any(after != before, axis=2)
    assert 0.02 < changed.mean() < 0.3  # the face changed, the rest of the photo did not
    assert not changed[:20].any() and not changed[-20:].any()
    provenance = read_provenance(out)
    assert provenance["model"] == "graphics-512" and "no weights" in provenance["weights"]


def test_zoo_swap_without_a_model_uses_the_offline_default(graphics_plugin, faces_dir, tmp_path):
    source, target = faces_dir / "face_recognition/obama/obama.jpg", faces_dir / "face_recognition/biden/biden.jpg"
    out = tmp_path / "swap.jpg"
    result = CliRunner().invoke(cli, ["swap", "--source", str(source), "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["model: graphics-512 (the offline default, no weights; choose another with --model)"]
    assert read_provenance(out)["model"] == "graphics-512"


def test_zoo_swap_without_a_model_or_the_default_plugin_is_one_line(faces_dir, tmp_path):
    source = faces_dir / "face_recognition/obama/obama.jpg"
    result = CliRunner().invoke(cli, ["swap", "--source", str(source), "--target", str(source),
                                      "--output", str(tmp_path / "o.png")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no --model given and the offline default graphics-512 is not installed")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "o.png").exists()
