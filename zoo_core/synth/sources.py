"""The media of a source folder, by identity: ``DIR/<identity>/*`` folders, or files directly
in ``DIR`` (each file its own identity, named by its stem)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zoo_core.errors import InputError
from zoo_core.faces.io import WRITABLE_SUFFIXES
from zoo_core.faces.video import VIDEO_SUFFIXES

PHOTO_SUFFIXES = frozenset(WRITABLE_SUFFIXES)


@dataclass(frozen=True)
class Media:
    """One photo or video of one identity; ``path`` is relative to the source folder."""

    path: str
    identity: str
    video: bool


def media_kind(path: Path) -> bool | None:
    """True for a video, False for a photo, None for anything else (by suffix)."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return True
    return False if suffix in PHOTO_SUFFIXES else None


def scan_source(root: Path) -> list[Media]:
    """Every photo and video under ``root``, sorted by path: files in an identity folder belong
    to that folder's identity, files directly in ``root`` each to their own."""
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    found: list[Media] = []
    owners: dict[str, str] = {}
    for path in sorted(root.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            found += [Media(f"{path.name}/{p.name}", path.name, kind) for p in files
                      if (kind := media_kind(p)) is not None]
            identity = path.name
        elif (kind := media_kind(path)) is not None:
            identity = path.stem
            found.append(Media(path.name, identity, kind))
        else:
            continue
        if identity in owners:
            raise InputError(f"{root}: identity {identity!r} is both {owners[identity]} and {path.name}; rename one")
        owners[identity] = path.name
    if not found:
        raise InputError(f"{root}: no photos or videos found")
    return found
