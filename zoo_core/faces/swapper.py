"""``FaceSwapper``: one loaded model and one detector, run on whole photos and videos."""

from __future__ import annotations

from collections.abc import Sequence
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
    make_provenance,
    read_image,
    write_image,
)

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


class FaceSwapper:
    """Detect, align, swap, paste back. ``model`` is any ``SwapModel``; its spec names the
    alignment template and crop resolution. Photos larger than ``max_pixels`` are refused
    before they are decoded."""

    def __init__(self, model: Any, detector: Detector | str = "dlib-hog", device: str | None = None,
                 batch_size: int = 8, color_match: bool = False, weights: str | None = None,
                 seed: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS):
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
        from zoo_core.faces.recognize import DlibRecognizer, closest

        if self._recognizer is None:
            self._recognizer = DlibRecognizer()
        ref_rgb, _, ref_name = load_image(reference, self.max_pixels)
        ref_face = self.faces(ref_rgb, ref_name)[0]
        wanted = self._recognizer.describe(ref_rgb, ref_face)
        index, _ = closest([self._recognizer.describe(image, f) for f in faces], wanted)
        return index

    # --- tensors ----------------------------------------------------------------------------

    def _to_tensor(self, crops: Sequence[np.ndarray]) -> Any:
        import torch

        batch = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2)
        return batch.float().div_(255.0)

    @staticmethod
    def _to_uint8(batch: Any) -> list[np.ndarray]:
        array = batch.detach().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        return list(array)

    def source_crop(self, source: Image) -> np.ndarray:
        """The aligned crop of the source's largest face."""
        rgb, _, name = load_image(source, self.max_pixels)
        return self.align(rgb, self.faces(rgb, name)[0]).crop

    def swap_crops(self, source_crop: np.ndarray, target_crops: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Swap aligned target crops with one aligned source crop, in batches."""
        import torch

        if self.seed is not None:
            torch.manual_seed(self.seed)
        results: list[np.ndarray] = []
        with torch.inference_mode():
            source = self._to_tensor([source_crop])
            for start in range(0, len(target_crops), self.batch_size):
                chunk = self._to_tensor(target_crops[start : start + self.batch_size])
                out = self.model.swap(source.expand(len(chunk), -1, -1, -1), chunk)
                if tuple(out.shape) != tuple(chunk.shape):
                    raise ZooError(f"{self.spec.name}: swap returned {tuple(out.shape)} for input {tuple(chunk.shape)}")
                results += self._to_uint8(out)
        return results

    def blend(self, target: np.ndarray, aligned: Sequence[AlignedFace], swapped: Sequence[np.ndarray]) -> np.ndarray:
        out = target
        for face, crop in zip(aligned, swapped, strict=True):
            out = paste_back(out, crop, face.matrix, points=face.points, color_match=self.color_match, target_crop=face.crop)
        return out

    # --- photos -----------------------------------------------------------------------------

    def swap_image(self, source: Image, target: Image, selection: Selection = Selection()) -> np.ndarray:
        """The target photo with the selected face(s) swapped to the source identity."""
        source_crop = self.source_crop(source)
        rgb, _, name = load_image(target, self.max_pixels)
        chosen = self.select(rgb, self.faces(rgb, name), selection, name)
        aligned = [self.align(rgb, face) for face in chosen]
        return self.blend(rgb, aligned, self.swap_crops(source_crop, [a.crop for a in aligned]))

    def provenance(self, **extra: Any) -> dict[str, Any]:
        return make_provenance(self.spec.name, self.weights, self.seed, **extra)

    def swap_image_file(self, source: str | Path, target: str | Path, output: str | Path,
                        selection: Selection = Selection()) -> Path:
        """``swap_image`` then write ``output`` atomically in the target's mode, with provenance."""
        _, info = read_image(target, max_pixels=self.max_pixels)
        swapped = self.swap_image(source, target, selection)
        return write_image(output, swapped, info, self.provenance(source=Path(source).name, target=Path(target).name))

    # --- video ------------------------------------------------------------------------------

    def swap_video(self, source: Image, path_in: str | Path, path_out: str | Path,
                   selection: Selection = Selection(), smooth: float = 0.5, progress: bool = True) -> Path:
        """Swap every frame; keeps fps, frame count and audio. Frames without a face are copied.

        With one face per frame (largest, index or reference), its landmarks are smoothed over
        time (``smooth`` = weight of the new detection; 1 disables smoothing).
        """
        from tqdm.auto import tqdm

        from zoo_core.faces.video import LandmarkSmoother, VideoWriter, iter_frames, probe

        info = probe(path_in)
        source_crop = self.source_crop(source)
        smoother = LandmarkSmoother(alpha=smooth) if not selection.all_faces and smooth < 1 else None
        provenance = self.provenance(source=Path(str(source)).name if not isinstance(source, np.ndarray) else None,
                                     target=Path(path_in).name)
        pending: list[tuple[np.ndarray, list[AlignedFace]]] = []
        swapped_frames = 0
        bar = tqdm(total=info.frames, unit="frame", disable=not progress, desc=f"zoo swap {Path(path_in).name}")
        with bar, VideoWriter(path_out, info.fps, info.width, info.height, audio_from=path_in, provenance=provenance) as writer:
            for frame in iter_frames(path_in):
                aligned = self._frame_faces(frame, selection, smoother)
                swapped_frames += bool(aligned)
                pending.append((frame, aligned))
                if sum(len(a) for _, a in pending) >= self.batch_size:
                    self._flush(pending, source_crop, writer, bar)
            self._flush(pending, source_crop, writer, bar)
            if not swapped_frames:  # raising here leaves nothing at path_out
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

    def _flush(self, pending: list[tuple[np.ndarray, list[AlignedFace]]], source_crop: np.ndarray, writer: Any, bar: Any) -> None:
        crops = [a.crop for _, aligned in pending for a in aligned]
        swapped = self.swap_crops(source_crop, crops) if crops else []
        position = 0
        for frame, aligned in pending:
            writer.write(self.blend(frame, aligned, swapped[position : position + len(aligned)]))
            position += len(aligned)
            bar.update(1)
        pending.clear()


# --- de-identification (models with the "deidentify" capability) -----------------------------


def face_seed(seed: int, face: int) -> int:
    """The seed of the ``face``-th selected face for a run seeded with ``seed``: distinct per face,
    the same in every video frame (so a face keeps one virtual identity across the video)."""
    return int(np.random.SeedSequence([seed, face]).generate_state(1)[0])


class FaceDeidentifier(FaceSwapper):
    """Detect, align, de-identify, paste back, for a model with ``deidentify(target, generator)``.

    Each selected face ``k`` gets a ``torch.Generator`` seeded with ``face_seed(seed, k)`` for
    every call, so a model that samples its virtual identity from the generator gives the face
    the same identity in every frame. ``options`` go to ``model.deidentify`` (e.g. ``levels``).
    """

    def __init__(self, model: Any, seed: int, options: dict[str, Any] | None = None, **kwargs: Any):
        if "deidentify" not in model.spec.capabilities:
            raise ZooError(f"{model.spec.name} cannot de-identify (capabilities: {', '.join(sorted(model.spec.capabilities))})")
        super().__init__(model, seed=seed, **kwargs)
        self.options = dict(options or {})

    def deidentify_crops(self, crops: Sequence[np.ndarray]) -> list[np.ndarray]:
        """De-identify aligned crops; crop ``k`` is face ``k`` of the selection."""
        import torch

        results: list[np.ndarray] = []
        with torch.inference_mode():
            for face, crop in enumerate(crops):
                generator = torch.Generator(device=self.device).manual_seed(face_seed(int(self.seed), face))
                chunk = self._to_tensor([crop])
                out = self.model.deidentify(chunk, generator=generator, **self.options)
                if tuple(out.shape) != tuple(chunk.shape):
                    raise ZooError(f"{self.spec.name}: deidentify returned {tuple(out.shape)} for input {tuple(chunk.shape)}")
                results += self._to_uint8(out)
        return results

    def deidentify_image(self, target: Image, selection: Selection = Selection()) -> np.ndarray:
        """The photo with the selected face(s) replaced by virtual identities."""
        rgb, _, name = load_image(target, self.max_pixels)
        chosen = self.select(rgb, self.faces(rgb, name), selection, name)
        aligned = [self.align(rgb, face) for face in chosen]
        return self.blend(rgb, aligned, self.deidentify_crops([a.crop for a in aligned]))

    def deidentify_image_file(self, target: str | Path, output: str | Path,
                              selection: Selection = Selection()) -> Path:
        """``deidentify_image`` then write ``output`` atomically, with provenance."""
        _, info = read_image(target, max_pixels=self.max_pixels)
        out = self.deidentify_image(target, selection)
        return write_image(output, out, info, self.provenance(target=Path(target).name, deidentify=self.options or True))

    def deidentify_video(self, path_in: str | Path, path_out: str | Path, selection: Selection = Selection(),
                         smooth: float = 0.5, progress: bool = True) -> Path:
        """De-identify every frame with the same virtual identity per selected face; keeps fps,
        frame count and audio; frames without the selected face are copied."""
        from tqdm.auto import tqdm

        from zoo_core.faces.video import LandmarkSmoother, VideoWriter, iter_frames, probe

        info = probe(path_in)
        smoother = LandmarkSmoother(alpha=smooth) if not selection.all_faces and smooth < 1 else None
        provenance = self.provenance(target=Path(path_in).name, deidentify=self.options or True)
        changed = 0
        bar = tqdm(total=info.frames, unit="frame", disable=not progress, desc=f"zoo deid {Path(path_in).name}")
        with bar, VideoWriter(path_out, info.fps, info.width, info.height, audio_from=path_in, provenance=provenance) as writer:
            for frame in iter_frames(path_in):
                aligned = self._frame_faces(frame, selection, smoother)
                changed += bool(aligned)
                out = self.blend(frame, aligned, self.deidentify_crops([a.crop for a in aligned])) if aligned else frame
                writer.write(out)
                bar.update(1)
            if not changed:  # raising here leaves nothing at path_out
                raise NoFaceError(f"{path_in}: no selected face in any of its {writer.frames} frames")
        return Path(path_out)
