"""`zoo mix` end to end on real photos with a random-init tiny MFIM: two sources, more sources
per resolution, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from mfim_tiny import TINY
from PIL import Image

from zoo_core.cli import cli
from zoo_core.faces.io import read_provenance


@pytest.fixture
def photos(faces_dir) -> dict[str, Path]:
    people = faces_dir / "deepface"  # three identities, small photos
    return {"global": people / "id00/img5.jpg", "local": people / "id08/img25.jpg", "target": people / "id02/img50.jpg"}


def invoke(photos: dict[str, Path], out: Path, *extra: str):
    tiny = [item for key, value in TINY.items() for item in ("--set", f"{key}={json.dumps(value)}")]
    return CliRunner().invoke(cli, ["mix", "--model", "mfim-1024", "--random-init", "--seed", "0", *tiny,
                                    "--global", str(photos["global"]), "--local", str(photos["local"]),
                                    "--target", str(photos["target"]), "--output", str(out), *extra])


def test_zoo_mix_end_to_end(mfim_plugin, photos, assert_face_swapped, tmp_path):
    out = tmp_path / "mix.png"
    result = invoke(photos, out)
    assert result.exit_code == 0, result.output
    provenance = assert_face_swapped(photos["target"], out, "mfim-1024", most=0.6, border=10)
    assert provenance["global_source"] == photos["global"].name
    after = np.asarray(Image.open(out))

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
