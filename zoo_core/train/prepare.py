"""``zoo prepare-data``: align a photo folder once with the face pipeline.

``SRC/<identity>/*.jpg`` (or a flat folder) becomes ``DST/<identity>/<name>.png``: the most
prominent face of each photo aligned to a template at a size. Photos of one folder that share a
stem keep their suffix (``p.jpg`` and ``p.png`` become ``p.jpg.png`` and ``p.png.png``), so every
photo gets its own crop. Parallel workers, a progress bar, resumable (photos already in DST, or
listed as faceless by an earlier run, are skipped), and photos without a face are listed in
``DST/skipped.tsv`` instead of stopping the run. DST and SRC must not overlap: a crop written
inside SRC would be read back as a photo by the next run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zoo_core.errors import InputError, ZooError
from zoo_core.fileio import write_text_atomic

MIN_CROP_SIZE = 32
"""The smallest crop size in pixels; below it a face is a few blurred pixels."""

_worker: dict[str, object] = {}


@dataclass(frozen=True)
class PrepareReport:
    written: int
    skipped_existing: int
    no_face: list[tuple[str, str]]


def _jobs(source: Path, destination: Path) -> list[tuple[Path, Path]]:
    """(photo, crop path) of every photo under ``source``, in a stable order."""
    from zoo_core.train.data import IMAGE_SUFFIXES  # numpy: kept out of the CLI's start-up

    folders: dict[Path, list[str]] = {}
    for path in sorted(source.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            folders.setdefault(path.parent.relative_to(source), []).append(path.name)
    return [
        (source / folder / name, destination / folder / crop)
        for folder, names in folders.items()
        for name, crop in crop_names(names).items()
    ]


def crop_names(names: list[str]) -> dict[str, str]:
    """The crop file name of each photo name of one folder: ``p.jpg`` -> ``p.png``, but photos
    sharing a stem keep their suffix (``p.jpg.png``, ``p.png.png``) until every name is distinct."""
    qualified: set[str] = set()
    while True:
        crops = {name: f"{name if name in qualified else Path(name).stem}.png" for name in names}
        counts = Counter(crops.values())
        clashing = {name for name, crop in crops.items() if counts[crop] > 1} - qualified
        if not clashing:
            return crops
        qualified |= clashing


def _init(template: str, size: int, detector: str) -> None:
    from zoo_core.faces.align import get_template
    from zoo_core.faces.detect import create_detector

    _worker.update(template=get_template(template), size=size, detector=create_detector(detector))


def _align_one(job: tuple[Path, Path]) -> tuple[str, str | None]:
    from zoo_core.faces.align import align_face
    from zoo_core.faces.io import read_image, write_image

    source, target = job
    try:
        rgb, _ = read_image(source)
    except InputError as error:
        return str(source), str(error)
    faces = _worker["detector"].detect(rgb)  # type: ignore[attr-defined]
    if not faces:
        return str(source), "no face found"
    aligned = align_face(rgb, faces[0].landmarks, _worker["template"], _worker["size"])  # type: ignore[arg-type]
    write_image(target, aligned.crop)
    return str(source), None


def _results(jobs: list[tuple[Path, Path]], workers: int,
             setup: tuple[str, int, str]) -> Iterator[tuple[str, str | None]]:
    """``_align_one`` of each job, in order, in this process or in ``workers`` processes;
    ``setup``: the (template, size, detector) each process starts with."""
    if workers == 1:
        yield from map(_align_one, jobs)
        return
    from concurrent.futures import ProcessPoolExecutor  # here, not at the CLI's start-up

    with ProcessPoolExecutor(workers, initializer=_init, initargs=setup) as pool:
        yield from pool.map(_align_one, jobs, chunksize=4)


def prepare_data(source: str | Path, destination: str | Path, template: str = "ffhq", size: int = 256,
                 workers: int | None = None, detector: str = "dlib-hog", progress: bool = True) -> PrepareReport:
    """Align every photo under ``source`` into ``destination`` (see the module docstring)."""
    from tqdm.auto import tqdm

    source, destination = Path(source), Path(destination)
    check_arguments(source, destination, size, workers)
    _init(template, size, detector)  # an unknown template or detector fails here, not in a worker
    jobs = _jobs(source, destination)
    skipped_file = destination / "skipped.tsv"
    known = _read_skipped(skipped_file)
    todo = [job for job in jobs if not job[1].exists() and str(job[0]) not in known]
    if workers is None:
        workers = max(1, min(4, os.cpu_count() or 1))
    failures: list[tuple[str, str]] = list(known.items())
    with tqdm(total=len(todo), unit="photo", disable=not progress, desc="zoo prepare-data") as bar:
        for name, error in _results(todo, workers, (template, size, detector)):
            if error:
                failures.append((name, error))
            bar.update(1)
    new_failures = len(failures) - len(known)
    if failures:
        lines = "".join(f"{name}\t{error}\n" for name, error in failures)
        write_text_atomic(skipped_file, "path\treason\n" + lines)
    return PrepareReport(len(todo) - new_failures, len(jobs) - len(todo), failures)


def check_arguments(source: Path, destination: Path, size: int, workers: int | None) -> None:
    """Refuse what would write wrong crops: a missing source, overlapping folders, a crop size
    below ``MIN_CROP_SIZE``, fewer than one worker."""
    if not source.is_dir():
        raise InputError(f"{source}: no such folder")
    inside = destination.resolve().is_relative_to(source.resolve())
    if inside or source.resolve().is_relative_to(destination.resolve()):
        raise InputError(f"{destination}: the destination must not overlap the source folder {source} "
                         "(crops written there are read back as photos on the next run)")
    if size < MIN_CROP_SIZE:
        raise ZooError(f"size {size}: crops must be at least {MIN_CROP_SIZE} pixels")
    if workers is not None and workers < 1:
        raise ZooError(f"workers {workers}: need at least 1")


def _read_skipped(path: Path) -> dict[str, str]:
    """Photos an earlier run found no face in (not retried on resume)."""
    if not path.is_file():
        return {}
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines()[1:] if "\t" in line]
    return {name: reason for name, reason in rows}
