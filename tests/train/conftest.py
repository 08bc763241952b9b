"""Fixtures of the training tests: the real faces aligned once, and tiny example-64 engine options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zoo_core.train.engine import TrainOptions
from zoo_core.train.prepare import prepare_data


@pytest.fixture(scope="session")
def aligned(faces_dir, tmp_path_factory) -> Path:
    """The face_recognition identities (5 people, 15 photos) aligned once at 64 px."""
    out = tmp_path_factory.mktemp("aligned")
    report = prepare_data(faces_dir / "face_recognition", out, template="ffhq", size=64, workers=1, progress=False)
    assert report.written == 15 and not report.no_face
    return out


@pytest.fixture
def options(example_plugin, aligned) -> Callable[..., TrainOptions]:
    """``options(output, **overrides)``: engine options training the example plugin's tiny
    model on the aligned faces (30 steps, no tracker, no worker processes)."""

    def make(output: Path, **overrides: Any) -> TrainOptions:
        base = dict(model="example-64", data=aligned, output=output, max_steps=30, batch_size=6, tracker="none",
                    checkpoint_every=1000, sample_every=1000, log_every=2, num_workers=0, seed=0,
                    trainer_config={"lr": 3e-3})
        return TrainOptions(**{**base, **overrides})

    return make
