"""``zoo synth plan``: a folder of identities -> one JSONL row per output to render.

Identities are split first (``splits``), then paired inside their split, so no identity is
in two splits. Each row carries everything its rendering depends on (method, model config,
seed, compression, the concrete perturbation chain, the fake segment of a video) and an
``id``: the sha256 of exactly those inputs, so regenerating a plan gives the same ids.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core.errors import InputError
from zoo_core.fileio import write_text_atomic
from zoo_core.synth import perturb
from zoo_core.synth.compression import photo_suffix
from zoo_core.synth.sources import Media, scan_source
from zoo_core.synth.splits import SPLITS, assign_splits, read_ffpp_splits

REAL = "real"
FAKE = "fake"


@dataclass(frozen=True)
class PlanSettings:
    """The options of ``zoo synth plan``."""

    methods: Sequence[str]
    pairs_per_identity: int = 1
    seed: int = 0
    fractions: Sequence[float] = (0.8, 0.1, 0.1)
    real: bool = False
    videos: bool = False
    compressions: Sequence[str] = ("c23",)
    perturbations: Sequence[str] = ("none",)
    segment: str | None = None  # None, "auto", or "START:END" (frames of videos)
    random_init: bool = False
    model_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    ffpp_splits: Path | None = None


Pair = tuple[str, Media | None, Media]  # split, source (None for a real row), target


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _by_identity(media: Sequence[Media], videos: bool) -> tuple[dict[str, list[Media]], dict[str, list[Media]]]:
    """Per identity: the media usable as targets, and as sources (photos first; a video's
    first face when the identity has no photo)."""
    targets: dict[str, list[Media]] = defaultdict(list)
    sources: dict[str, list[Media]] = defaultdict(list)
    for item in media:
        if videos or not item.video:
            targets[item.identity].append(item)
        sources[item.identity].append(item)
    for identity, items in sources.items():
        photos = [m for m in items if not m.video]
        sources[identity] = photos or items
    return targets, sources


def random_pairs(media: Sequence[Media], settings: PlanSettings) -> list[Pair]:
    """``pairs_per_identity`` (source, target) pairs per target identity, both from its split."""
    targets, sources = _by_identity(media, settings.videos)
    split_of = assign_splits(sorted(sources), settings.fractions, settings.seed)
    pairs: list[Pair] = []
    for split in SPLITS:
        members = sorted(i for i, s in split_of.items() if s == split)
        for target in members:
            others = [i for i in members if i != target]
            if not targets.get(target) or not others:
                continue
            rng = random.Random(f"{settings.seed}:{target}")
            rng.shuffle(others)
            for k in range(settings.pairs_per_identity):
                source = others[k % len(others)]
                pairs.append((split, rng.choice(sources[source]), rng.choice(targets[target])))
    return pairs


def ffpp_pairs(media: Sequence[Media], folder: Path, videos: bool) -> list[Pair]:
    """Both swaps of every ``[a, b]`` pair of FaceForensics++'s split files (first media of each id)."""
    targets, sources = _by_identity(media, videos)
    pairs: list[Pair] = []
    for split, listed in read_ffpp_splits(folder).items():
        for a, b in listed:
            for target, source in ((a, b), (b, a)):
                if target not in targets or source not in sources:
                    missing = target if target not in targets else source
                    raise InputError(f"{folder / (split + '.json')}: id {missing!r} has no usable media in the source folder")
                pairs.append((split, sources[source][0], targets[target][0]))
    return pairs


def _segment(spec: str | None, target: Media, root: Path, rng: random.Random) -> list[int] | None:
    """The fake frames ``[start, end)`` of a video target, or None (all frames)."""
    if spec is None or not target.video:
        return None
    if spec != "auto":
        start, _, end = spec.partition(":")
        return [int(start), int(end)]
    from zoo_core.faces.video import probe

    frames = probe(root / target.path).frames
    length = rng.randint(max(1, frames // 4), max(1, (3 * frames) // 4))
    start = rng.randint(0, frames - length)
    return [start, start + length]


def _rows_of(split: str, source: Media | None, target: Media, root: Path, settings: PlanSettings) -> Iterator[dict[str, Any]]:
    methods = settings.methods if source is not None else [REAL]
    for method in methods:
        for compression in settings.compressions:
            for spec in settings.perturbations:
                model = None if source is None else {
                    "name": method, "config": dict(settings.model_config.get(method, {})),
                    "random_init": settings.random_init}
                inputs = {"source": None if source is None else source.path, "target": target.path,
                          "method": method, "model": model, "seed": settings.seed,
                          "compression": compression, "perturb": spec}
                rng = random.Random(digest(inputs))
                chain = perturb.resolve(spec, rng, target.video)
                segment = _segment(settings.segment, target, root, rng) if source is not None else None
                inputs.update(perturbations=[list(step) for step in chain], segment=segment)
                row_id = digest(inputs)[:24]
                yield {
                    "id": row_id, "split": split, "label": REAL if source is None else FAKE,
                    "method": method, "model": model, "seed": settings.seed, "root": str(root),
                    "source": None if source is None else {"path": source.path, "identity": source.identity},
                    "target": {"path": target.path, "identity": target.identity, "video": target.video},
                    "compression": compression, "perturb": spec,
                    "perturbations": [list(step) for step in chain], "segment": segment,
                    "output": output_path(row_id, split, method, compression, source, target),
                }


def folder_name(method: str) -> str:
    """``method`` as one path component (``hf-hub:org/repo@rev`` -> ``hf-hub_org_repo_rev``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", method)


def output_path(row_id: str, split: str, method: str, compression: str, source: Media | None, target: Media) -> str:
    """Where a row's output goes inside the dataset folder."""
    suffix = ".mp4" if target.video else photo_suffix(compression)
    stem = target.identity if source is None else f"{target.identity}_{source.identity}"
    kind = REAL if source is None else f"{FAKE}/{folder_name(method)}"
    return f"{split}/{kind}/{compression}/{stem}-{row_id[:12]}{suffix}"


def build_plan(root: Path, settings: PlanSettings) -> list[dict[str, Any]]:
    """Every row of the plan of ``root``: fakes per pair, then the real targets with ``real``."""
    root = root.resolve()
    media = scan_source(root)
    if settings.ffpp_splits is not None:
        pairs = ffpp_pairs(media, settings.ffpp_splits, settings.videos)
    else:
        pairs = random_pairs(media, settings)
    if not pairs:
        raise InputError(f"{root}: no pairs to plan (each split needs two identities with usable media"
                         f"{'' if settings.videos else '; videos are targets only with --videos'})")
    rows = [row for split, source, target in pairs for row in _rows_of(split, source, target, root, settings)]
    if settings.real:
        reals = sorted({(split, target) for split, _, target in pairs}, key=lambda p: (SPLITS.index(p[0]), p[1].path))
        rows += [row for split, target in reals for row in _rows_of(split, None, target, root, settings)]
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:  # a pair drawn twice renders once
        unique.setdefault(row["id"], row)
    return list(unique.values())


def write_plan(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def read_plan(path: Path) -> list[dict[str, Any]]:
    """The rows of a plan file; a malformed line is a one-line error naming it."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InputError(f"{path}: cannot read the plan ({error.strerror or error})") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{number}: not a JSON line ({error.msg})") from error
        if not isinstance(row, dict) or not {"id", "split", "label", "target", "output"} <= row.keys():
            raise InputError(f"{path}:{number}: not a plan row (needs id, split, label, target, output)")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: the plan has no rows")
    return rows
