"""FaceSwapper encodes the source once (``model.identity``) and passes the code to every batch
of target faces and every batch of video frames (``swap(..., identity=)``); the swaps are
those of encoding the source in each call."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import zoo_core
from zoo_core.faces.io import read_image
from zoo_core.faces.swapper import FaceSwapper, Selection, SourceCode
from zoo_core.faces.video import VideoWriter, iter_frames

SCENE = "face_recognition_scenes/obama_and_biden.jpg"
SOURCE = "face_recognition/alex_lacamoire/img1.jpg"
PANNED = "face_recognition/obama/obama.jpg"


class Calls:
    """Counts the identity encoder's runs and records the ``identity=`` of every swap."""

    def __init__(self, model, monkeypatch: pytest.MonkeyPatch):
        self.encoder_runs = 0
        self.swaps: list[torch.Tensor | None] = []
        forward, swap = model.identity_encoder.forward, model.swap

        def counted_forward(x):
            self.encoder_runs += 1
            return forward(x)

        def recorded_swap(source, target, *, identity=None):
            self.swaps.append(identity)
            return swap(source, target, identity=identity)

        monkeypatch.setattr(model.identity_encoder, "forward", counted_forward)
        monkeypatch.setattr(model, "swap", recorded_swap)


@pytest.fixture
def model(example_plugin):
    torch.manual_seed(0)
    return zoo_core.create_model("example-64").eval()


def encode_every_call(model, monkeypatch: pytest.MonkeyPatch) -> None:
    """The swap as before sources were encoded once: the given code is ignored, ``swap``
    encodes its ``source`` argument itself."""
    swap = model.swap
    monkeypatch.setattr(model, "swap", lambda source, target, *, identity=None: swap(source, target))


def test_a_multi_face_photo_encodes_the_source_once(model, detector, faces_dir, monkeypatch):
    scene, source = faces_dir / SCENE, faces_dir / SOURCE
    swapper = FaceSwapper(model, detector=detector, batch_size=1)
    faces = len(detector.detect(read_image(scene)[0]))
    calls = Calls(model, monkeypatch)
    out = swapper.swap_image(source, scene, Selection(all_faces=True))
    assert faces >= 2 and len(calls.swaps) == faces  # one batch per face
    assert calls.encoder_runs == 1
    code = calls.swaps[0]
    assert code is not None and all(c is code for c in calls.swaps)
    monkeypatch.undo()
    encode_every_call(model, monkeypatch)
    calls = Calls(model, monkeypatch)
    assert np.array_equal(swapper.swap_image(source, scene, Selection(all_faces=True)), out)
    assert calls.encoder_runs == faces + 1  # the encoded code (unused) and once per batch


def test_swap_crops_takes_a_crop_or_its_code(model, detector, faces_dir, monkeypatch):
    swapper = FaceSwapper(model, detector=detector, batch_size=2)
    crop = swapper.source_crop(faces_dir / SOURCE)
    targets = [swapper.source_crop(faces_dir / PANNED)] * 5
    code = swapper.encode_source(crop)
    assert isinstance(code, SourceCode) and code.crop.shape == (1, 3, 64, 64) and code.identity.shape[0] == 1
    calls = Calls(model, monkeypatch)
    from_code = swapper.swap_crops(code, targets)
    assert calls.encoder_runs == 0 and len(calls.swaps) == 3
    from_crop = swapper.swap_crops(crop, targets)
    assert calls.encoder_runs == 1
    assert all(np.array_equal(a, b) for a, b in zip(from_code, from_crop, strict=True))


def panning_clip(photo: Path, path: Path, frames: int = 7) -> Path:
    """``frames`` frames of ``photo`` panning by a few pixels per frame (160x200, 10 fps)."""
    width, height = 160, 200
    canvas = np.asarray(ImageOps.pad(Image.open(photo).convert("RGB"), (width + 2 * frames, height + frames),
                                     color=(128, 128, 128)))
    with VideoWriter(path, Fraction(10), width, height) as writer:
        for i in range(frames):
            writer.write(np.ascontiguousarray(canvas[i : i + height, 2 * i : 2 * i + width]))
    return path


def test_a_video_encodes_the_source_once(model, detector, faces_dir, tmp_path, monkeypatch):
    clip = panning_clip(faces_dir / PANNED, tmp_path / "clip.mp4")
    frames = list(iter_frames(clip))
    assert all(detector.detect(frame) for frame in frames)
    swapper = FaceSwapper(model, detector=detector, batch_size=2)
    calls = Calls(model, monkeypatch)
    swapper.swap_video(faces_dir / SOURCE, clip, tmp_path / "swapped.mp4", progress=False)
    assert len(calls.swaps) == 4  # 7 frames, one face each, two per batch
    assert calls.encoder_runs == 1
    assert calls.swaps[0] is not None and all(c is calls.swaps[0] for c in calls.swaps)
    assert sum(1 for _ in iter_frames(tmp_path / "swapped.mp4")) == len(frames)
