"""Face detection + 5-point alignment throughput, run on demand: ``python benchmarks/faces.py``.

Ours: ``create_detector("dlib-hog")`` (HOG on a copy downscaled to 640 px, 68 landmarks on the
full image, reduced to 5) + ``align_face`` to the "ffhq" template at 256 px. Theirs: the
``face_recognition`` package's ``face_locations`` (HOG, one upsampling, full resolution) +
``face_landmarks`` (68 points) on the same decoded images. Decoding (``zoo_core.faces.io
.read_image``, EXIF honoured) happens once, before timing.

Photos: the single-face photos of ``manifest.csv`` in the shared faces folder (``--faces``,
default ``$ZOO_TEST_FACES`` or ``<repo>/../shared/faces``); the ``*_scenes/`` folders are skipped.
Each side runs ``--repeat`` passes; the fastest pass is reported (timings on a shared machine are
noisy: compare the ratio, not the absolute numbers).

``face_recognition`` is not a dependency of zoo; install it without its dependencies, or pip
compiles dlib from source (``dlib-bin`` and ``face-recognition-models`` are already installed)::

    pip install --no-deps face_recognition

``face_recognition_models`` imports ``pkg_resources``, which recent setuptools no longer ships;
when it is missing, this script puts a minimal stand-in (``resource_filename`` only) in
``sys.modules`` while importing ``face_recognition``, and nothing else.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import FACES

ALIGN_SIZE = 256


@dataclass
class Result:
    name: str
    seconds: float
    counts: list[int]  # faces found per photo

    @property
    def faces(self) -> int:
        return sum(self.counts)

    @property
    def exactly_one(self) -> int:
        return sum(count == 1 for count in self.counts)


def single_face_photos(folder: Path, limit: int | None) -> list[Path]:
    """The manifest's photos outside the ``*_scenes/`` folders, in manifest order."""
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        sys.exit(f"error: {manifest} not found: pass --faces DIR or set ZOO_TEST_FACES")
    with manifest.open(newline="") as handle:
        paths = [row["path"] for row in csv.DictReader(handle)]
    photos = [folder / path for path in paths if not path.split("/", 1)[0].endswith("_scenes")]
    return photos[:limit] if limit else photos


def _pkg_resources_shim() -> types.ModuleType:
    """``pkg_resources.resource_filename`` for a package's data file, as the file path."""

    def resource_filename(package: str, resource: str) -> str:
        return str(Path(sys.modules[package].__file__).parent / resource)

    shim = types.ModuleType("pkg_resources")
    shim.resource_filename = resource_filename  # type: ignore[attr-defined]
    return shim


def import_face_recognition() -> types.ModuleType:
    """``face_recognition``, with the ``pkg_resources`` stand-in when setuptools lacks it."""
    if importlib.util.find_spec("face_recognition") is None:
        sys.exit("error: the face_recognition package is missing; install it without dependencies "
                 "(else pip compiles dlib):\n    pip install --no-deps face_recognition")
    if importlib.util.find_spec("face_recognition_models") is None:
        sys.exit("error: face_recognition needs its models: pip install face-recognition-models")
    shimmed = importlib.util.find_spec("pkg_resources") is None
    if shimmed:
        sys.modules["pkg_resources"] = _pkg_resources_shim()
    try:
        import face_recognition
    except SystemExit as error:  # face_recognition calls quit() when its models fail to import
        raise SystemExit("error: face_recognition could not import face_recognition_models") from error
    finally:
        if shimmed:
            sys.modules.pop("pkg_resources", None)
    return face_recognition


def time_passes(run: Callable[[np.ndarray], int], images: list[np.ndarray], repeat: int, name: str) -> Result:
    """The fastest of ``repeat`` passes of ``run`` over ``images``, with faces found per image."""
    best, counts = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        counts = [run(image) for image in images]
        best = min(best, time.perf_counter() - start)
    return Result(name, best, counts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=FACES, help=f"shared faces folder (default {FACES})")
    parser.add_argument("--limit", type=int, help="only the first N photos")
    parser.add_argument("--repeat", type=int, default=1, help="passes per side; the fastest counts (default 1)")
    args = parser.parse_args(argv)

    face_recognition = import_face_recognition()

    from zoo_core.faces.align import align_face, get_template
    from zoo_core.faces.detect import create_detector
    from zoo_core.faces.io import read_image

    photos = single_face_photos(args.faces, args.limit)
    images = [read_image(path)[0] for path in photos]
    megapixels = sum(image.shape[0] * image.shape[1] for image in images) / 1e6
    detector = create_detector("dlib-hog")
    template = get_template("ffhq")

    def ours(image: np.ndarray) -> int:
        faces = detector.detect(image)
        for face in faces:
            align_face(image, face.landmarks, template, ALIGN_SIZE)
        return len(faces)

    def theirs(image: np.ndarray) -> int:
        locations = face_recognition.face_locations(image)
        face_recognition.face_landmarks(image, locations)
        return len(locations)

    ours(images[0]), theirs(images[0])  # warm-up: first-call allocations stay out of the timing
    results = [
        time_passes(ours, images, args.repeat, "zoo dlib-hog + align_face(ffhq, 256)"),
        time_passes(theirs, images, args.repeat, "face_recognition face_locations + face_landmarks"),
    ]

    print(f"{len(photos)} single-face photos ({megapixels:.1f} MP decoded) from {args.faces}, "
          f"fastest of {args.repeat} pass(es)\n")
    header = ["pipeline", "photos", "faces found", "exactly 1 face", "seconds", "faces/s"]
    rows = [[r.name, str(len(photos)), str(r.faces), str(r.exactly_one), f"{r.seconds:.2f}",
             f"{r.faces / r.seconds:.2f}"] for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths, strict=True))))
    ours_result, theirs_result = results
    if ours_result.faces and theirs_result.faces:
        ratio = (ours_result.faces / ours_result.seconds) / (theirs_result.faces / theirs_result.seconds)
        print(f"\nratio ours/theirs (faces/s): {ratio:.2f}")
    odd = [(path, a, b) for path, a, b in zip(photos, ours_result.counts, theirs_result.counts, strict=True) if (a, b) != (1, 1)]
    if odd:
        print("photos where a side did not find exactly one face:")
    for path, a, b in odd:
        print(f"  {path.relative_to(args.faces)}: ours {a}, theirs {b}")

if __name__ == "__main__":
    main()
