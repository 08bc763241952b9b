"""``zoo prepare-data``: align a photo folder once with the face pipeline.

``SRC/<identity>/*.jpg`` (or a flat folder) becomes ``DST/<identity>/<name>.png``: the most
prominent face of each photo aligned to a template at a size. Parallel workers, a progress bar,
resumable (photos already in DST, or listed as faceless by an earlier run, are skipped), and
photos without a face are listed in ``DST/skipped.tsv`` instead of stopping the run.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from zoo_core.fileio import write_text_atomic
from zoo_core.train.data import IMAGE_SUFFIXES

_worker: dict[str, object] = {}


@dataclass(frozen=True)
class PrepareReport:
    written: int
    skipped_existing: int
    no_face: list[tuple[str, str]]


def _jobs(source: Path, destination: Path) -> list[tuple[Path, Path]]:
    jobs = []
    for path in sorted(source.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            relative = path.relative_to(source)
            jobs.append((path, (destination / relative).with_suffix(".png")))
    return jobs


def _init(template: str, size: int, detector: str) -> None:
    from zoo_core.faces.align import get_template
    from zoo_core.faces.detect import create_detector

    _worker.update(template=get_template(template), size=size, detector=create_detector(detector))


def _align_one(job: tuple[Path, Path]) -> tuple[str, str | None]:
    from zoo_core.errors import InputError
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


def prepare_data(source: str | Path, destination: str | Path, template: str = "ffhq", size: int = 256,
                 workers: int | None = None, detector: str = "dlib-hog", progress: bool = True) -> PrepareReport:
    """Align every photo under ``source`` into ``destination`` (see the module docstring)."""
    from tqdm.auto import tqdm

    from zoo_core.errors import InputError
    from zoo_core.faces.align import get_template

    source, destination = Path(source), Path(destination)
    if not source.is_dir():
        raise InputError(f"{source}: no such folder")
    get_template(template)  # fail early on an unknown template
    jobs = _jobs(source, destination)
    skipped_file = destination / "skipped.tsv"
    known = _read_skipped(skipped_file)
    todo = [job for job in jobs if not job[1].exists() and str(job[0]) not in known]
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    failures: list[tuple[str, str]] = list(known.items())
    bar = tqdm(total=len(todo), unit="photo", disable=not progress, desc="zoo prepare-data")
    if workers == 1:
        _init(template, size, detector)
        results = map(_align_one, todo)
        for name, error in results:
            if error:
                failures.append((name, error))
            bar.update(1)
    else:
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(template, size, detector)) as pool:
            for name, error in pool.map(_align_one, todo, chunksize=4):
                if error:
                    failures.append((name, error))
                bar.update(1)
    bar.close()
    new_failures = len(failures) - len(known)
    if failures:
        lines = "".join(f"{name}\t{error}\n" for name, error in failures)
        write_text_atomic(skipped_file, "path\treason\n" + lines)
    return PrepareReport(len(todo) - new_failures, len(jobs) - len(todo), failures)


def _read_skipped(path: Path) -> dict[str, str]:
    """Photos an earlier run found no face in (not retried on resume)."""
    if not path.is_file():
        return {}
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines()[1:] if "\t" in line]
    return {name: reason for name, reason in rows}
