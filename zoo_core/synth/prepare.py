"""The CPU half of rendering a row, run in ``DataLoader`` workers while the model works:
decode the target (every frame of a video), detect, select the most prominent face, align;
the same for the source. A row that cannot be prepared comes back with its one-line reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo_core.errors import NoFaceError
from zoo_core.faces.align import AlignedFace, Template, align_face, get_template
from zoo_core.faces.detect import Detector, create_detector
from zoo_core.faces.io import ImageInfo, read_image
from zoo_core.faces.video import LandmarkSmoother, is_video, iter_frames, probe
from zoo_core.synth.manifest import reason_of

_DETECTORS: dict[str, Detector] = {}


def detector_named(name: str) -> Detector:
    """One detector per process and name (each DataLoader worker builds its own)."""
    if name not in _DETECTORS:
        _DETECTORS[name] = create_detector(name)
    return _DETECTORS[name]


@dataclass
class Prepared:
    """A row ready for the model: target frames, the aligned face of each frame to swap (None:
    copied unchanged), the aligned source crop; or ``error``."""

    row: dict[str, Any]
    frames: list[np.ndarray]
    aligned: list[AlignedFace | None]
    info: ImageInfo | None = None
    fps: Any = None
    source: np.ndarray | None = None
    boxes: list[Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Preparer:
    """Prepares plan rows for models of one template and resolution (``None`` for real rows)."""

    template: str | None
    size: int
    detector: str = "dlib-hog"
    max_pixels: int = 100_000_000
    smooth: float = 0.5

    def __call__(self, row: dict[str, Any]) -> Prepared:
        try:
            return self.prepare(row)
        except Exception as error:  # any failure is the row's, never the run's
            return Prepared(row, [], [], error=reason_of(error))

    def prepare(self, row: dict[str, Any]) -> Prepared:
        root = Path(row["root"])
        target = root / row["target"]["path"]
        if row["target"].get("video"):
            frames, fps, info = list(iter_frames(target)), probe(target).fps, None
        else:
            rgb, info = read_image(target, max_pixels=self.max_pixels)
            frames, fps = [rgb], None
        if self.template is None:  # a real row: re-encoded and perturbed, never swapped
            return Prepared(row, frames, [None] * len(frames), info, fps)
        template = get_template(self.template)
        aligned, boxes = self.target_faces(row, frames, template, str(target))
        source = self.source_crop(root / row["source"]["path"], template)
        return Prepared(row, frames, aligned, info, fps, source, boxes)

    def target_faces(self, row: dict[str, Any], frames: list[np.ndarray], template: Template,
                     name: str) -> tuple[list[AlignedFace | None], list[Any]]:
        detector = detector_named(self.detector)
        start, end = row.get("segment") or (0, len(frames))
        smoother = LandmarkSmoother(alpha=self.smooth) if len(frames) > 1 and self.smooth < 1 else None
        aligned: list[AlignedFace | None] = []
        boxes: list[Any] = []
        for index, frame in enumerate(frames):
            faces = detector.detect(frame) if start <= index < end else []
            if not faces:
                aligned.append(None)
                boxes.append(None)
                continue
            landmarks = faces[0].landmarks if smoother is None else smoother(faces[0].landmarks)
            aligned.append(align_face(frame, landmarks, template, self.size))
            boxes.append([float(v) for v in faces[0].box])
        if not any(a is not None for a in aligned):
            where = "" if len(frames) == 1 else f" in frames [{start}, {end}) of its {len(frames)}"
            raise NoFaceError(f"{name}: no face found{where}")
        return aligned, boxes

    def source_crop(self, path: Path, template: Template) -> np.ndarray:
        """The aligned crop of the source's most prominent face (a video: its first frame with one)."""
        if is_video(path):
            frames = iter_frames(path)
        else:
            frames = iter([read_image(path, max_pixels=self.max_pixels)[0]])
        detector = detector_named(self.detector)
        for frame in frames:
            faces = detector.detect(frame)
            if faces:
                return align_face(frame, faces[0].landmarks, template, self.size).crop
        raise NoFaceError(f"{path}: no face found")
