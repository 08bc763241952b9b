"""The model half of rendering: swap the prepared crops of a batch of rows in model batches
(each source's identity code computed once), paste back, take the masks, perturb, compress,
write atomically, and describe each row for the manifest."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from zoo_core.faces.align import AlignedFace
from zoo_core.faces.blend import paste_back
from zoo_core.faces.io import ImageInfo, write_image
from zoo_core.faces.tensors import check_output, crops_to_tensor, tensor_to_crops
from zoo_core.faces.video import VideoWriter, iter_frames
from zoo_core.provenance import make_provenance
from zoo_core.synth import perturb
from zoo_core.synth.compression import VIDEO_CRF, photo_quality
from zoo_core.synth.manifest import DONE, FAILED, path_sha256, reason_of
from zoo_core.synth.masks import mask_image
from zoo_core.synth.prepare import Prepared

MASK_DIR = "masks"


def mask_path(output: str, video: bool) -> str:
    """``masks/<output without suffix>.png`` for a photo, a folder of ``NNNNN.png`` (one per
    frame) for a video."""
    stem = str(Path(output).with_suffix(""))
    return f"{MASK_DIR}/{stem}" if video else f"{MASK_DIR}/{stem}.png"


def row_rng(row: dict[str, Any]) -> np.random.Generator:
    """The generator of a row's random perturbations, seeded by its id and the plan seed."""
    return np.random.default_rng([int(row["id"][:16], 16), int(row.get("seed") or 0)])


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def failed_record(row: dict[str, Any], reason: str) -> dict[str, Any]:
    from zoo_core import __version__

    return {"id": row["id"], "status": FAILED, "reason": reason, "split": row["split"], "label": row["label"],
            "method": row.get("method"), "output": None, "zoo_core_version": __version__, "created": now()}


PRECISIONS = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
"""``zoo synth run --precision``: the autocast dtype of the model calls."""


class Renderer:
    """Renders prepared rows into ``dataset`` with ``model`` (None for real rows)."""

    def __init__(self, dataset: Path, model: Any | None = None, weights: str | None = None, batch_size: int = 8,
                 device: str = "cpu", precision: str = "fp32", channels_last: bool = False):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.dataset, self.model, self.weights = dataset, model, weights
        self.batch_size, self.device = batch_size, device
        self.precision, self.channels_last = precision, channels_last
        self.spec = None if model is None else model.spec
        if model is not None and channels_last and hasattr(model, "to"):
            import torch

            model.to(memory_format=torch.channels_last)

    def autocast(self) -> Any:
        """Mixed precision for the model calls (``fp32``: none)."""
        import contextlib

        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=getattr(torch, PRECISIONS[self.precision]))

    def layout(self, batch: Any) -> Any:
        """``batch`` in channels_last memory format when asked."""
        import torch

        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch

    # --- the model --------------------------------------------------------------------------

    def swap(self, items: Sequence[Prepared]) -> list[list[np.ndarray]]:
        """Each item's swapped crops (of its frames with a face, in order), in model batches."""
        import torch

        owners = [k for k, item in enumerate(items) for a in item.aligned if a is not None]
        targets = [a.crop for item in items for a in item.aligned if a is not None]
        torch.manual_seed(int(items[0].row.get("seed") or 0))
        results: list[np.ndarray] = []
        with torch.inference_mode(), self.autocast():
            sources = self.layout(crops_to_tensor([item.source for item in items], self.device))
            codes = self.model.identity(sources)  # each source encoded once, for all its crops
            for start in range(0, len(targets), self.batch_size):
                index = torch.tensor(owners[start : start + self.batch_size], device=sources.device)
                chunk = self.layout(crops_to_tensor(targets[start : start + self.batch_size], self.device))
                out = self.model.swap(sources.index_select(0, index), chunk,
                                      identity=codes.index_select(0, index.to(codes.device)))
                results += tensor_to_crops(check_output(self.spec.name, "swap", out.float(), chunk))
        per_item: list[list[np.ndarray]] = [[] for _ in items]
        for owner, crop in zip(owners, results, strict=True):
            per_item[owner].append(crop)
        return per_item

    def render(self, items: Sequence[Prepared]) -> list[dict[str, Any]]:
        """The manifest record of every item, written or failed with its reason (one failing
        row never fails the others: a failing model batch is retried row by row)."""
        ready = [item for item in items if item.error is None]
        swapped: dict[int, list[np.ndarray] | str] = {}
        if self.model is not None and ready:
            try:
                swapped.update(zip(map(id, ready), self.swap(ready), strict=True))
            except Exception:  # find the failing rows one by one
                for item in ready:
                    try:
                        swapped[id(item)] = self.swap([item])[0]
                    except Exception as error:  # recorded as the row's reason
                        swapped[id(item)] = reason_of(error)
        records = []
        for item in items:
            crops = swapped.get(id(item), [])
            if item.error is not None or isinstance(crops, str):
                records.append(failed_record(item.row, item.error or str(crops)))
                continue
            try:
                records.append(self.write(item, crops))
            except Exception as error:  # recorded as the row's reason
                records.append(failed_record(item.row, reason_of(error)))
        return records

    # --- the files --------------------------------------------------------------------------

    def write(self, item: Prepared, crops: list[np.ndarray]) -> dict[str, Any]:
        row = item.row
        video = bool(row["target"].get("video"))
        rng = row_rng(row)
        chain = [tuple(step) for step in row.get("perturbations") or []]
        frames: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        faces: list[dict[str, Any]] = []
        remaining = iter(crops)
        for index, (frame, aligned) in enumerate(zip(item.frames, item.aligned, strict=True)):
            if self.model is not None:
                masks.append(mask_image(frame.shape, [] if aligned is None else [aligned]))
            if aligned is not None:
                frame = paste_back(frame, next(remaining), aligned.matrix, points=aligned.points)
                faces.append(self.face_record(index, aligned, item.boxes[index] if item.boxes else None))
            frames.append(perturb.apply_chain(frame, chain, rng))
        output = self.dataset / row["output"]
        provenance = None if self.model is None else make_provenance(
            self.spec.name, self.weights, row.get("seed"), source=row["source"]["path"], target=row["target"]["path"],
            synth_id=row["id"], compression=row["compression"], perturbations=perturb.describe(chain))
        if video:
            self.write_video(output, frames, item, perturb.video_crf(chain), provenance)
        else:
            write_image(output, frames[0], item.info, provenance, quality=photo_quality(row["compression"]))
        mask = self.write_masks(row["output"], masks, video, provenance) if self.model is not None else None
        return self.record(row, output, mask, faces, chain)

    @staticmethod
    def face_record(index: int, aligned: AlignedFace, box: Any) -> dict[str, Any]:
        """A swapped face for the manifest: frame, box, 5 landmarks (image pixels), crop transform."""
        landmarks = np.hstack([aligned.points, np.ones((5, 1))]) @ aligned.inverse.T
        return {"frame": index, "box": box, "landmarks": np.round(landmarks, 3).tolist(),
                "crop_transform": np.round(aligned.matrix, 6).tolist(), "crop_size": aligned.crop.shape[0]}

    def write_video(self, output: Path, frames: list[np.ndarray], item: Prepared, vc_crf: int | None,
                    provenance: dict[str, Any] | None) -> None:
        """Encode at the compression level's crf; a VC perturbation first encodes at its own crf."""
        height, width = frames[0].shape[:2]
        audio = Path(item.row["root"]) / item.row["target"]["path"]
        crf = VIDEO_CRF[item.row["compression"]]
        if vc_crf is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=output.parent, prefix=".vc-") as folder:
                first = Path(folder) / "vc.mp4"
                with VideoWriter(first, item.fps, width, height, crf=vc_crf) as writer:
                    for frame in frames:
                        writer.write(frame)
                frames = list(iter_frames(first))
        with VideoWriter(output, item.fps, width, height, audio_from=audio, provenance=provenance, crf=crf) as writer:
            for frame in frames:
                writer.write(frame)

    def write_masks(self, output: str, masks: list[np.ndarray], video: bool,
                    provenance: dict[str, Any] | None) -> str:
        """Grey PNG masks (255 = fake pixel, 0 = untouched): one per photo, one per frame of a
        video (all zero where the frame was not swapped), so masks and frames line up."""
        name = mask_path(output, video)
        for index, mask in enumerate(masks):
            path = self.dataset / name / f"{index:05d}.png" if video else self.dataset / name
            info = ImageInfo(str(path), "L", (mask.shape[1], mask.shape[0]), "PNG")
            write_image(path, np.repeat(mask[..., None], 3, axis=2), info, provenance)
        return name

    def record(self, row: dict[str, Any], output: Path, mask: str | None, faces: list[dict[str, Any]],
               chain: list[tuple[Any, ...]]) -> dict[str, Any]:
        from zoo_core import __version__

        return {
            "id": row["id"], "status": DONE, "split": row["split"], "label": row["label"], "method": row["method"],
            "model": row.get("model"), "family": None if self.spec is None else self.spec.family,
            "weights": self.weights, "license": None if self.spec is None else self.spec.license,
            "precision": None if self.spec is None else self.precision,
            "seed": row.get("seed"), "root": row["root"], "source": row.get("source"), "target": row["target"],
            "output": row["output"], "output_sha256": path_sha256(output),
            "mask": mask, "mask_sha256": None if mask is None else path_sha256(self.dataset / mask),
            "frames": [face["frame"] for face in faces] if row["target"].get("video") else None,
            "faces": faces, "segment": row.get("segment"), "compression": row["compression"],
            "perturbations": [list(step) for step in chain], "zoo_core_version": __version__, "created": now(),
        }
