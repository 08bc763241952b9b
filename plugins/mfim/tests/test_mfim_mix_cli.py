"""`zoo mix` end to end on real photos with a random-init tiny MFIM: two sources, more sources
per resolution, and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from mfim_tiny import TINY
from PIL import Image

from zoo_core.cli import cli
from zoo_core.faces.io import read_provenance

FACES = Path(os.environ.get("ZOO_TEST_FACES", Path(__file__).resolve().parents[3].parent / "shared" / "faces"))


@pytest.fixture
def photos() -> dict[str, Path]:
    if not (FACES / "manifest.csv").is_file():
        pytest.skip(f"real face photos not found at {FACES} (set ZOO_TEST_FACES)")
    people = FACES / "deepface"  # three identities, small photos
    return {"global": people / "id00/img5.jpg", "local": people / "id08/img25.jpg", "target": people / "id02/img50.jpg"}


def invoke(photos: dict[str, Path], out: Path, *extra: str):
    tiny = [item for key, value in TINY.items() for item in ("--set", f"{key}={json.dumps(value)}")]
    return CliRunner().invoke(cli, ["mix", "--model", "mfim-1024", "--random-init", "--seed", "0", *tiny,
                                    "--global", str(photos["global"]), "--local", str(photos["local"]),
                                    "--target", str(photos["target"]), "--output", str(out), *extra])


def test_zoo_mix_end_to_end(mfim_plugin, photos, tmp_path):
    out = tmp_path / "mix.png"
    result = invoke(photos, out)
    assert result.exit_code == 0, result.output
    before, after = np.asarray(Image.open(photos["target"]).convert("RGB")), np.asarray(Image.open(out))
    assert after.shape == before.shape
    changed = np.any(after != before, axis=2)
    assert 0.02 < changed.mean() < 0.6 and not changed[:10].any() and not changed[-10:].any()
    provenance = read_provenance(out)
    assert provenance["model"] == "mfim-1024" and provenance["global_source"] == photos["global"].name

    three = tmp_path / "three.png"
    result = invoke(photos, three, "--source-at", f"64={photos['target']}")
    assert result.exit_code == 0, result.output
    assert not np.array_equal(np.asarray(Image.open(three)), after)  # the 64 px codes changed source
    assert read_provenance(three)["source_at"] == {"64": photos["target"].name}


def test_zoo_mix_rejects_bad_levels(mfim_plugin, photos, tmp_path):
    result = invoke(photos, tmp_path / "x.png", "--source-at", f"16={photos['target']}")
    assert result.exit_code != 0 and "no ID codes at resolutions [16]" in result.output
    result = invoke(photos, tmp_path / "x.png", "--source-at", "sixty-four")
    assert result.exit_code != 0 and "RES=PHOTO" in result.output
