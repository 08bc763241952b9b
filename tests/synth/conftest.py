"""Fixtures of the ``zoo synth`` tests: small identity folders of real face photos (resized
copies, so detection stays fast), the graphics and SimSwap plugins registered in-process, and
the tiny random-init SimSwap config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo_core import registry

IDENTITIES = ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]
TINY_SIMSWAP = ["simswap-224:ngf=4", "simswap-224:max_channels=16", "simswap-224:n_blocks=1",
                "simswap-224:identity_depth=18", "simswap-224:identity_input_size=32"]
"""``zoo synth plan --set`` overrides of a tiny random-init simswap-224 (fast on a CPU)."""


@pytest.fixture
def plugins():
    """zoo-plugin-graphics and zoo-plugin-simswap registered in-process."""
    import zoo_plugin_graphics
    import zoo_plugin_simswap

    registry.add_plugin(zoo_plugin_graphics, name="graphics", distribution="zoo-plugin-graphics")
    registry.add_plugin(zoo_plugin_simswap, name="simswap", distribution="zoo-plugin-simswap")


def small_copy(photo: Path, out: Path, side: int = 360) -> Path:
    image = Image.open(photo).convert("RGB")
    image.thumbnail((side, side))
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out


@pytest.fixture(scope="session")
def people(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``DIR/<identity>/*.png``: two small photos of each of 5 real identities."""
    root = tmp_path_factory.mktemp("people")
    for identity in IDENTITIES:
        for k, photo in enumerate(sorted((faces_dir / "face_recognition" / identity).glob("*"))[:2]):
            small_copy(photo, root / identity / f"{k}.png")
    return root


@pytest.fixture(scope="session")
def clip(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-frame 25 fps video of a real face (the photo drifting one pixel a frame)."""
    from fractions import Fraction

    from zoo_core.faces.video import VideoWriter

    image = np.asarray(Image.open(small_copy(faces_dir / "face_recognition/obama/obama.jpg",
                                             tmp_path_factory.mktemp("still") / "obama.png", 320)))
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    path = tmp_path_factory.mktemp("clip") / "obama.mp4"
    with VideoWriter(path, Fraction(25), w - 8, h, crf=10) as writer:
        for k in range(6):
            writer.write(np.ascontiguousarray(image[:h, k : k + w - 8]))
    return path


def zoo(*args: str, timeout: float = 300) -> str:
    """``python -m zoo_core ARGS`` in a subprocess with the installed plugins; its output."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    result = subprocess.run([sys.executable, "-m", "zoo_core", *args], env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def small_dataset(people: Path, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rendered dataset (tiny simswap-224): photos at c0 and c23, one video target, real rows."""
    import shutil

    root = tmp_path_factory.mktemp("small")
    source = root / "src"
    shutil.copytree(people, source)
    shutil.copy(clip, source / "obama" / "clip.mp4")
    plan = root / "plan.jsonl"
    overrides = [a for item in TINY_SIMSWAP for a in ("--set", item)]
    zoo("synth", "plan", str(source), "-o", str(plan), "--methods", "simswap-224", "--random-init", *overrides,
        "--splits", "0.6,0.4,0", "--videos", "--real", "--compression", "c0", "--compression", "c23", "--seed", "8")
    zoo("synth", "run", str(plan), "-o", str(root / "ds"), "--no-progress")
    return root / "ds"
