"""The face pipeline on whole photos and videos: detect, select, align, edit the aligned crops,
paste back, write with provenance. ``FacePipeline`` holds the steps and the one photo path and
one frame loop; ``FaceSwapper`` edits crops with a model's ``swap``, ``FaceDeidentifier`` with
its ``deidentify``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo_core.errors import NoFaceError, ZooError
from zoo_core.faces.align import AlignedFace, align_face, get_template
from zoo_core.faces.blend import paste_back
from zoo_core.faces.detect import Detector, Face, create_detector
from zoo_core.faces.io import (
    DEFAULT_MAX_PIXELS,
    ImageInfo,
    read_image,
    write_image,
)
from zoo_core.faces.tensors import check_output, crops_to_tensor, tensor_to_crops
from zoo_core.provenance import make_provenance
from zoo_core.specs import DEFAULT_RECOGNIZER

Image = str | Path | np.ndarray


@dataclass(frozen=True)
class Selection:
    """Which target faces to swap: the largest (default), one by index, all, or the one most
    like a reference photo."""

    face_index: int | None = None
    all_faces: bool = False
    reference: Image | None = None

    def __post_init__(self) -> None:
        chosen = sum([self.face_index is not None, self.all_faces, self.reference is not None])
        if chosen > 1:
            raise ZooError("choose at most one of face_index, all_faces and reference")


def load_image(image: Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, ImageInfo | None, str]:
    """An RGB array, the file's ``ImageInfo`` (None for an array) and a name for messages."""
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ZooError(f"expected an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}")
        return image, None, "<array>"
    rgb, info = read_image(image, max_pixels=max_pixels)
    return rgb, info, str(image)


@dataclass(frozen=True)
class SourceCode:
    """A source face ready for ``SwapModel.swap``: its crop tensor ``(1, 3, R, R)`` and
    ``identity``, the model's ``identity()`` of it (reused for every target)."""

    crop: Any
    identity: Any


CropEditor = Callable[[list[np.ndarray], list[int]], list[np.ndarray]]
"""Edits aligned crops; the second list gives each crop's position in its photo's or frame's
selection (face 0, 1, ...)."""


class FacePipeline:
    """Detect, select, align, paste back around an edit of the aligned crops. ``model``'s spec
    names the alignment template and crop resolution. Photos larger than ``max_pixels`` are
    refused before they are decoded; ``--reference`` matching uses the recognizer component
    ``recognizer``."""

    def __init__(self, model: Any, detector: Detector | str = "dlib-hog", device: str | None = None,
                 batch_size: int = 8, color_match: bool = False, weights: str | None = None,
                 seed: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
                 recognizer: str = DEFAULT_RECOGNIZER):
        import torch

        self.model = model
        self.spec = model.spec
        self.template = get_template(self.spec.template)
        self.size = self.spec.resolution
        self.detector = create_detector(detector) if isinstance(detector, str) else detector
        self.device = torch.device(device or next((p.device for p in model.parameters()), "cpu"))
        self.batch_size = batch_size
        self.color_match = color_match
        self.weights = weights
        self.seed = seed
        self.max_pixels = max_pixels
        self.recognizer_name = recognizer
        self._recognizer: Any = None

    # --- faces ------------------------------------------------------------------------------

    def faces(self, image: np.ndarray, name: str = "<array>") -> list[Face]:
        faces = self.detector.detect(image)
        if not faces:
            raise NoFaceError(f"{name}: no face found")
        return faces

    def align(self, image: np.ndarray, face: Face) -> AlignedFace:
        return align_face(image, face.landmarks, self.template, self.size)

    def select(self, image: np.ndarray, faces: list[Face], selection: Selection, name: str) -> list[Face]:
        if selection.all_faces:
            return faces
        if selection.face_index is not None:
            if not 0 <= selection.face_index < len(faces):
                raise NoFaceError(f"{name}: face index {selection.face_index} out of range ({len(faces)} faces found, most prominent first)")
            return [faces[selection.face_index]]
        if selection.reference is not None:
            return [faces[self._closest_to_reference(image, faces, selection.reference)]]
        return [faces[0]]

    def _closest_to_reference(self, image: np.ndarray, faces: list[Face], reference: Image) -> int:
        from zoo_core.faces.recognize import closest
        from zoo_core.registry import create_component

        if self._recognizer is None:
            self._recognizer = create_component(self.recognizer_name)
        ref_rgb, _, ref_name = load_image(reference, self.max_pixels)
        ref_face = self.faces(ref_rgb, ref_name)[0]
        wanted = self._recognizer.describe(ref_rgb, ref_face)
        index, _ = closest([self._recognizer.describe(image, f) for f in faces], wanted)
        return index

    def source_crop(self, source: Image) -> np.ndarray:
        """The aligned crop of the source's largest face."""
        rgb, _, name = load_image(source, self.max_pixels)
        return self.align(rgb, self.faces(rgb, name)[0]).crop

    def blend(self, target: np.ndarray, aligned: Sequence[AlignedFace], edited: Sequence[np.ndarray]) -> np.ndarray:
        out = target
        for face, crop in zip(aligned, edited, strict=True):
            out = paste_back(out, crop, face.matrix, points=face.points, color_match=self.color_match, target_crop=face.crop)
        return out

    def provenance(self, **extra: Any) -> dict[str, Any]:
        return make_provenance(self.spec.name, self.weights, self.seed, **extra)

    # --- the photo path and the frame loop ---------------------------------------------------

    def edit_photo(self, target: Image, selection: Selection, edit: CropEditor) -> tuple[np.ndarray, ImageInfo | None]:
        """The photo, decoded once, with its selected faces edited; and what the file was."""
        rgb, info, name = load_image(target, self.max_pixels)
        chosen = self.select(rgb, self.faces(rgb, name), selection, name)
        aligned = [self.align(rgb, face) for face in chosen]
        return self.blend(rgb, aligned, edit([a.crop for a in aligned], list(range(len(aligned))))), info

    def edit_video(self, path_in: str | Path, path_out: str | Path, selection: Selection, smooth: float,
                   edit: CropEditor, provenance: dict[str, Any], verb: str, progress: bool = True) -> Path:
        """Edit every frame's selected faces (crops of several frames batched up to
        ``batch_size``); keeps fps, frame count and audio; frames without the face are copied.

        With one face per frame (largest, index or reference), its landmarks are smoothed over
        time (``smooth`` = weight of the new detection; 1 disables smoothing).
        """
        from tqdm.auto import tqdm

        from zoo_core.faces.video import LandmarkSmoother, VideoWriter, iter_frames, probe

        info = probe(path_in)
        smoother = LandmarkSmoother(alpha=smooth) if not selection.all_faces and smooth < 1 else None
        pending: list[tuple[np.ndarray, list[AlignedFace]]] = []
        edited_frames = 0
        bar = tqdm(total=info.frames, unit="frame", disable=not progress, desc=f"zoo {verb} {Path(path_in).name}")
        with bar, VideoWriter(path_out, info.fps, info.width, info.height, audio_from=path_in, provenance=provenance) as writer:
            for frame in iter_frames(path_in):
                aligned = self._frame_faces(frame, selection, smoother)
                edited_frames += bool(aligned)
                pending.append((frame, aligned))
                if sum(len(a) for _, a in pending) >= self.batch_size:
                    self._flush(pending, edit, writer, bar)
            self._flush(pending, edit, writer, bar)
            if not edited_frames:  # raising here leaves nothing at path_out
                raise NoFaceError(f"{path_in}: no selected face in any of its {writer.frames} frames")
        return Path(path_out)

    def _frame_faces(self, frame: np.ndarray, selection: Selection, smoother: Any) -> list[AlignedFace]:
        faces = self.detector.detect(frame)
        try:
            chosen = self.select(frame, faces, selection, "<frame>") if faces else []
        except NoFaceError:  # this frame lacks the requested face index: copied unchanged
            chosen = []
        if not chosen:
            return []
        if smoother is not None:
            landmarks = smoother(chosen[0].landmarks)
            chosen = [Face(chosen[0].box, landmarks, chosen[0].score)]
        return [self.align(frame, face) for face in chosen]

    def _flush(self, pending: list[tuple[np.ndarray, list[AlignedFace]]], edit: CropEditor, writer: Any, bar: Any) -> None:
        crops = [a.crop for _, aligned in pending for a in aligned]
        faces = [k for _, aligned in pending for k in range(len(aligned))]
        edited = edit(crops, faces) if crops else []
        position = 0
        for frame, aligned in pending:
            writer.write(self.blend(frame, aligned, edited[position : position + len(aligned)]))
            position += len(aligned)
            bar.update(1)
        pending.clear()


class FaceSwapper(FacePipeline):
    """The face pipeline with a ``SwapModel``: the source's identity into the target's faces.

    The source is encoded once (``encode_source``: ``model.identity``) and its code passed as
    ``swap(..., identity=)`` to every batch of target faces and video frames."""

    def encode_source(self, source_crop: np.ndarray) -> SourceCode:
        """The aligned source crop as a ``(1, 3, R, R)`` tensor and its identity code."""
        import torch

        with torch.inference_mode():
            source = crops_to_tensor([source_crop], self.device)
            return SourceCode(source, self.model.identity(source))

    def swap_crops(self, source: np.ndarray | SourceCode, target_crops: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Swap aligned target crops, in batches, with an aligned source crop or its
        ``encode_source`` (then not encoded again)."""
        import torch

        code = source if isinstance(source, SourceCode) else self.encode_source(source)
        if self.seed is not None:
            torch.manual_seed(self.seed)
        results: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(target_crops), self.batch_size):
                chunk = crops_to_tensor(target_crops[start : start + self.batch_size], self.device)
                out = self.model.swap(code.crop.expand(len(chunk), -1, -1, -1), chunk, identity=code.identity)
                results += tensor_to_crops(check_output(self.spec.name, "swap", out, chunk))
        return results

    def _swapper_of(self, source: Image) -> CropEditor:
        code = self.encode_source(self.source_crop(source))
        return lambda crops, faces: self.swap_crops(code, crops)

    def swap_image(self, source: Image, target: Image, selection: Selection = Selection()) -> np.ndarray:
        """The target photo with the selected face(s) swapped to the source identity."""
        return self.edit_photo(target, selection, self._swapper_of(source))[0]

    def swap_image_file(self, source: str | Path, target: str | Path, output: str | Path,
                        selection: Selection = Selection()) -> Path:
        """``swap_image`` then write ``output`` atomically in the target's mode, with provenance."""
        swapped, info = self.edit_photo(target, selection, self._swapper_of(source))
        return write_image(output, swapped, info, self.provenance(source=Path(source).name, target=Path(target).name))

    def swap_video(self, source: Image, path_in: str | Path, path_out: str | Path,
                   selection: Selection = Selection(), smooth: float = 0.5, progress: bool = True) -> Path:
        """Swap every frame (see ``edit_video``)."""
        provenance = self.provenance(source=Path(str(source)).name if not isinstance(source, np.ndarray) else None,
                                     target=Path(path_in).name)
        return self.edit_video(path_in, path_out, selection, smooth, self._swapper_of(source), provenance, "swap", progress)


# --- de-identification (models with the "deidentify" capability) -----------------------------


def face_seed(seed: int, face: int) -> int:
    """The seed of the ``face``-th selected face for a run seeded with ``seed``: distinct per face,
    the same in every video frame (so a face keeps one virtual identity across the video)."""
    return int(np.random.SeedSequence([seed, face]).generate_state(1)[0])


class FaceDeidentifier(FacePipeline):
    """The face pipeline with a model's ``deidentify(target, generator)``.

    Each selected face ``k`` gets a ``torch.Generator`` seeded with ``face_seed(seed, k)`` for
    every call, so a model that samples its virtual identity from the generator gives the face
    the same identity in every frame. ``options`` go to ``model.deidentify`` (e.g. ``levels``).
    """

    def __init__(self, model: Any, seed: int, options: dict[str, Any] | None = None, **kwargs: Any):
        if "deidentify" not in model.spec.capabilities:
            raise ZooError(f"{model.spec.name} cannot de-identify (capabilities: {', '.join(sorted(model.spec.capabilities))})")
        super().__init__(model, seed=seed, **kwargs)
        self.options = dict(options or {})

    def deidentify_crops(self, crops: Sequence[np.ndarray], faces: Sequence[int] | None = None) -> list[np.ndarray]:
        """De-identify aligned crops; crop ``i`` is face ``faces[i]`` of its selection (default: ``i``)."""
        import torch

        results: list[np.ndarray] = []
        with torch.inference_mode():
            for crop, face in zip(crops, range(len(crops)) if faces is None else faces, strict=True):
                generator = torch.Generator(device=self.device).manual_seed(face_seed(int(self.seed), face))
                chunk = crops_to_tensor([crop], self.device)
                out = self.model.deidentify(chunk, generator=generator, **self.options)
                results += tensor_to_crops(check_output(self.spec.name, "deidentify", out, chunk))
        return results

    def deidentify_image(self, target: Image, selection: Selection = Selection()) -> np.ndarray:
        """The photo with the selected face(s) replaced by virtual identities."""
        return self.edit_photo(target, selection, self.deidentify_crops)[0]

    def deidentify_image_file(self, target: str | Path, output: str | Path,
                              selection: Selection = Selection()) -> Path:
        """``deidentify_image`` then write ``output`` atomically, with provenance."""
        out, info = self.edit_photo(target, selection, self.deidentify_crops)
        return write_image(output, out, info, self.provenance(target=Path(target).name, deidentify=self.options or True))

    def deidentify_video(self, path_in: str | Path, path_out: str | Path, selection: Selection = Selection(),
                         smooth: float = 0.5, progress: bool = True) -> Path:
        """De-identify every frame with the same virtual identity per selected face (see ``edit_video``)."""
        provenance = self.provenance(target=Path(path_in).name, deidentify=self.options or True)
        return self.edit_video(path_in, path_out, selection, smooth, self.deidentify_crops, provenance, "deid", progress)
