"""The provenance every output carries: that it is synthetic, and exactly what produced it.

Built here once and stored by the writers in the file's own metadata (PNG text chunk, EXIF,
video container tags) or, for formats without metadata (BMP), in a ``FILE.zoo.json`` sidecar.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PROVENANCE_KEY = "zoo:provenance"
"""The PNG text chunk holding the provenance JSON."""
PROVENANCE_SIDECAR_SUFFIX = ".zoo.json"


def make_provenance(model: str, weights: str | None, seed: int | None, **extra: Any) -> dict[str, Any]:
    """The metadata every output carries: it is synthetic, and exactly what produced it."""
    from zoo_core import __version__

    return {
        "synthetic": True,
        "generator": "FaceSwap Zoo",
        "zoo_core_version": __version__,
        "model": model,
        "weights": weights,
        "seed": seed,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def parse_provenance(text: str | bytes | None) -> dict[str, Any] | None:
    """The provenance dict in a metadata string, or None if it is not zoo provenance."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("synthetic") else None


def provenance_sidecar(path: str | Path) -> Path:
    """Where the provenance of a format without metadata (BMP) is kept: ``FILE.zoo.json``."""
    path = Path(path)
    return path.with_name(path.name + PROVENANCE_SIDECAR_SUFFIX)
