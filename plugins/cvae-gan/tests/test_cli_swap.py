"""`zoo swap` end to end on real photos with random-init cvae-gan-224 weights, and `zoo info`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from zoo_core.cli import cli
from zoo_core.faces.io import read_provenance

FACES = Path(os.environ.get("ZOO_TEST_FACES", Path(__file__).resolve().parents[3].parent / "shared" / "faces"))


def test_zoo_swap_end_to_end(cvae_gan_plugin, tmp_path):
    if not (FACES / "manifest.csv").is_file():
        pytest.skip(f"real face photos not found at {FACES} (set ZOO_TEST_FACES)")
    source, target = FACES / "face_recognition/biden/biden.jpg", FACES / "face_recognition/obama/obama.jpg"
    out = tmp_path / "swap.png"
    result = CliRunner().invoke(cli, ["swap", "--model", "cvae-gan-224", "--random-init", "--seed", "0",
                                      "--source", str(source), "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    before, after = np.asarray(Image.open(target).convert("RGB")), np.asarray(Image.open(out))
    assert after.shape == before.shape
    changed = np.any(after != before, axis=2)
    assert 0.02 < changed.mean() < 0.5  # the face region changed, the rest of the photo did not
    assert not changed[:20].any() and not changed[-20:].any()
    assert read_provenance(out)["model"] == "cvae-gan-224"


def test_zoo_info_shows_template_encoder_roles_and_licence(cvae_gan_plugin):
    result = CliRunner().invoke(cli, ["info", "cvae-gan-224"])
    assert result.exit_code == 0, result.output
    for expected in ("template: ffhq", "identity_encoder: simswap-arcface", "license: cc-by-nc-4.0", "zoo convert cvae-gan-224"):
        assert expected in result.output
