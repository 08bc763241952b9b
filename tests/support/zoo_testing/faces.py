"""Where the real face photos are: ``$ZOO_TEST_FACES``, or ``../shared/faces`` beside the checkout.
Tests take them through the root conftest's ``faces_dir`` fixture, which skips when they are
absent; only collection-time parametrization reads ``FACES`` directly."""

from __future__ import annotations

import csv
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
FACES = Path(os.environ.get("ZOO_TEST_FACES") or REPO.parent / "shared" / "faces")
MANIFEST = FACES / "manifest.csv"


def manifest_photos() -> list[str]:
    """Every photo path of the manifest (one ``"<missing>"`` entry without the photos, so that
    tests parametrized with it still collect, then skip through ``faces_dir``)."""
    if not MANIFEST.is_file():
        return ["<missing>"]
    with MANIFEST.open() as handle:
        return [row["path"] for row in csv.DictReader(handle)]
