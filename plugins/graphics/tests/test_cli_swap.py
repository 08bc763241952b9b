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


def test_zoo_swap_on_a_video_keeps_every_frame_and_copies_faceless_ones(graphics_plugin, faces_dir, tmp_path):
    import av

    photo = np.asarray(Image.open(faces_dir / "face_recognition/biden/biden.jpg").convert("RGB"))
    photo = np.ascontiguousarray(photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2])
    clip, out = tmp_path / "clip.mp4", tmp_path / "swapped.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = photo.shape[1], photo.shape[0], "yuv420p"
        for index in range(4):
            frame = np.zeros_like(photo) if index == 2 else np.roll(photo, 2 * index, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    result = CliRunner().invoke(cli, ["swap", "--model", "graphics-512", "--source",
                                      str(faces_dir / "face_recognition/obama/obama.jpg"),
                                      "--target", str(clip), "--output", str(out)])
    assert result.exit_code == 0, result.output
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        before = [f.to_ndarray(format="rgb24") for f in a.decode(video=0)]
        after = [f.to_ndarray(format="rgb24") for f in b.decode(video=0)]
    assert len(after) == len(before) == 4
    assert np.abs(after[2].astype(int) - before[2]).max() <= 8  # no face: the frame is copied (re-encoded)
    assert all(np.abs(after[i].astype(int) - before[i]).mean() > 1 for i in (0, 1, 3))  # faces swapped
    assert read_provenance(out)["model"] == "graphics-512"


def test_zoo_evaluate_measures_graphics_512(graphics_plugin, faces_dir, tmp_path):
    import json

    result = CliRunner().invoke(cli, ["evaluate", "--model", "graphics-512", "--data", str(faces_dir / "face_recognition"),
                                      "--num-pairs", "3", "--metrics", "id-similarity", "--output", str(tmp_path / "r"),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert "graphics-512" in json.dumps(report) and "no weights" in json.dumps(report)
