"""Evaluation pairs: a CSV of (source, target) photos, or identity folders sampled by seed.

A ``PairSet`` holds the cross-identity swap pairs, the same-identity pairs (for the
de-identification TAR and same-identity reconstruction) and the gallery of original photos
with their identities (for top-1 ID retrieval, InfoSwap Table 1: "the nearest identity (on
cosine distance) in all original faces").
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from zoo_core.errors import InputError, ZooError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
DEFAULT_NUM_PAIRS = 100


@dataclass(frozen=True)
class Pair:
    """One (source, target) pair of photos; identities are ``None`` when unknown."""

    source: Path
    target: Path
    source_id: str | None = None
    target_id: str | None = None


@dataclass(frozen=True)
class PairSet:
    """Everything one evaluation runs on; paths are absolute."""

    pairs: tuple[Pair, ...]
    same_identity: tuple[Pair, ...] = ()
    gallery: tuple[tuple[Path, str], ...] = ()
    origin: str = ""
    root: Path = field(default_factory=Path.cwd)
    seed: int | None = None

    def photos(self) -> list[Path]:
        """Every distinct photo the evaluation reads, in a stable order."""
        seen: dict[Path, None] = {}
        for pair in (*self.pairs, *self.same_identity):
            seen.setdefault(pair.source)
            seen.setdefault(pair.target)
        for path, _ in self.gallery:
            seen.setdefault(path)
        return list(seen)

    def name(self, path: Path) -> str:
        """``path`` relative to the pair set's root (for reports)."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    @property
    def identities(self) -> list[str]:
        return sorted({identity for _, identity in self.gallery})


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def list_identities(data_dir: str | Path) -> dict[str, list[Path]]:
    """``{identity: photos}`` of ``DIR/<identity>/*.<image>``, both sorted; empty folders left out."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder (--data expects DIR/<identity>/*.jpg)")
    found = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        photos = sorted((p for p in folder.iterdir() if _is_image(p)), key=lambda p: p.name)
        if photos:
            found[folder.name] = [p.resolve() for p in photos]
    return found


def positive_pairs(gallery: Iterable[tuple[Path, str]]) -> list[Pair]:
    """Same-identity pairs: consecutive photos of each identity (first-second, second-third, ...)."""
    by_id: dict[str, list[Path]] = {}
    for path, identity in gallery:
        by_id.setdefault(identity, []).append(path)
    return [
        Pair(a, b, identity, identity)
        for identity, photos in sorted(by_id.items())
        for a, b in zip(photos, photos[1:], strict=False)
    ]


def sample_pairs(data_dir: str | Path, num_pairs: int = DEFAULT_NUM_PAIRS, seed: int = 0) -> PairSet:
    """Draw ``num_pairs`` distinct cross-identity (source, target) photo pairs uniformly, by seed.

    The gallery is every photo of the identities that occur in the drawn pairs; the
    same-identity pairs are their consecutive photos, shuffled by the same seed and capped at
    ``num_pairs``.
    """
    if num_pairs < 1:
        raise ZooError(f"--num-pairs must be at least 1, got {num_pairs}")
    root = Path(data_dir).resolve()
    identities = list_identities(root)
    photos = [(path, identity) for identity, paths in identities.items() for path in paths]
    cross_total = len(photos) ** 2 - sum(len(paths) ** 2 for paths in identities.values())
    if cross_total == 0:
        raise ZooError(
            f"{root}: no cross-identity pairs: found {len(identities)} identity folder(s) with images "
            f"(--data expects DIR/<identity>/*.jpg with at least two identities)"
        )
    rng = random.Random(seed)
    if num_pairs >= cross_total:
        chosen = [(s, t) for s in range(len(photos)) for t in range(len(photos)) if photos[s][1] != photos[t][1]]
        rng.shuffle(chosen)
    else:
        seen: set[tuple[int, int]] = set()
        chosen = []
        while len(chosen) < num_pairs:
            s, t = divmod(rng.randrange(len(photos) ** 2), len(photos))
            if photos[s][1] != photos[t][1] and (s, t) not in seen:
                seen.add((s, t))
                chosen.append((s, t))
    pairs = tuple(Pair(photos[s][0], photos[t][0], photos[s][1], photos[t][1]) for s, t in chosen)
    used = {p.source_id for p in pairs} | {p.target_id for p in pairs}
    gallery = tuple((path, identity) for path, identity in photos if identity in used)
    same = positive_pairs(gallery)
    rng.shuffle(same)
    return PairSet(pairs, tuple(same[:num_pairs]), gallery, origin=f"--data {root}", root=root, seed=seed)


def _read_rows(path: Path) -> list[dict[str, str]]:
    """The stripped rows of a UTF-8 CSV (a byte-order mark is allowed) with source and target columns."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            if "source" not in columns or "target" not in columns:
                raise ZooError(f"{path}: expected the columns source,target[,source_id,target_id], got {columns}")
            return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not a UTF-8 text CSV (byte {error.start} is {error.object[error.start]:#04x})") from error
    except csv.Error as error:
        raise InputError(f"{path}: not a readable CSV ({error})") from error


def read_pairs_csv(path: str | Path) -> PairSet:
    """Read ``source,target[,source_id,target_id]`` rows; paths are relative to the CSV.

    Rows whose ids are both given and equal are same-identity pairs; the others are swap pairs.
    The gallery is every listed photo that has an identity. Without same-identity rows, the
    same-identity pairs are consecutive gallery photos of one identity.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(f"{path}: no such pairs file")
    rows = _read_rows(path)
    pairs, same, gallery = [], [], {}
    missing = []
    for row in rows:
        if not row.get("source") and not row.get("target"):
            continue
        source, target = (path.parent / row["source"]).resolve(), (path.parent / row["target"]).resolve()
        missing += [p for p in (source, target) if not p.is_file()]
        source_id, target_id = row.get("source_id") or None, row.get("target_id") or None
        pair = Pair(source, target, source_id, target_id)
        (same if source_id is not None and source_id == target_id else pairs).append(pair)
        for photo, identity in ((source, source_id), (target, target_id)):
            if identity is not None:
                gallery.setdefault(photo, identity)
    if missing:
        shown = ", ".join(str(p) for p in sorted(set(missing))[:3])
        raise InputError(f"{path}: {len(set(missing))} listed photo(s) not found, e.g. {shown}")
    if not pairs:
        raise ZooError(f"{path}: no pairs (need rows with a source and a target of different identities)")
    gallery_items = tuple(gallery.items())
    return PairSet(tuple(pairs), tuple(same) or tuple(positive_pairs(gallery_items)), gallery_items,
                   origin=f"--pairs {path}", root=path.parent)
