"""``zoo synth export``: the done rows of a dataset for other tools.

- ``deepfakebench``: DeepfakeBench's dataset JSON, ``{name: {label: {split: {compression:
  {video: {label, frames, masks}}}}}}`` (the structure its ``preprocessing/rearrange.py``
  writes), with frame and mask paths; a photo is a one-frame video (its file hard-linked), a
  video's frames are extracted as PNG. Labels are ``NAME-real`` and ``NAME-METHOD``; the
  ``label_dict`` for the detector config goes to ``JSON.label_dict.yaml``.
- ``ffpp``: FaceForensics++'s folder layout (``original_sequences/youtube/C/videos``,
  ``manipulated_sequences/METHOD/C/videos``, photos under ``images/NAME/0000.EXT``, masks
  under ``manipulated_sequences/METHOD/masks``), ``TARGET_SOURCE`` names and
  ``splits/{train,val,test}.json`` of ``[target, source]`` id pairs; files hard-linked when
  possible, else copied.
- ``csv``: one line per row.

FaceForensics++ names the lossless level ``raw``; ``c0`` is exported under that name.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from zoo_core.errors import InputError
from zoo_core.fileio import atomic_path, naming_output, write_json_atomic, write_text_atomic
from zoo_core.synth.manifest import done_records
from zoo_core.synth.perturb import describe
from zoo_core.synth.plan import folder_name
from zoo_core.synth.splits import SPLITS

FFPP_LEVEL = {"c0": "raw", "c23": "c23", "c40": "c40"}
CSV_COLUMNS = ["id", "split", "label", "method", "compression", "perturbations", "segment", "source",
               "source_identity", "target", "target_identity", "output", "mask", "output_sha256", "weights", "license"]


def records_of(dataset: Path) -> list[dict[str, Any]]:
    """The done records, in split then id order; a missing output is a one-line error."""
    records = sorted(done_records(dataset), key=lambda r: (SPLITS.index(r["split"]), r["id"]))
    if not records:
        raise InputError(f"{dataset}: no rendered rows to export (run zoo synth run first)")
    for record in records:
        if not (dataset / record["output"]).exists():
            raise InputError(f"{dataset / record['output']}: missing; run zoo synth run again to redo it")
    return records


def video_name(record: dict[str, Any]) -> str:
    return Path(record["output"]).stem


def label_name(name: str, record: dict[str, Any]) -> str:
    return f"{name}-real" if record["label"] == "real" else f"{name}-{folder_name(record['method'])}"


def mask_files(dataset: Path, record: dict[str, Any]) -> list[Path]:
    if record.get("mask") is None:
        return []
    path = dataset / record["mask"]
    return sorted(path.iterdir()) if path.is_dir() else [path]


def extract_frames(video: Path, folder: Path) -> list[Path]:
    """Every frame of ``video`` as ``folder/NNNNN.png`` (lossless)."""
    from zoo_core.faces.io import write_image
    from zoo_core.faces.video import iter_frames

    return [write_image(folder / f"{k:05d}.png", frame) for k, frame in enumerate(iter_frames(video))]


def to_deepfakebench(dataset: Path, output: Path, name: str = "ZooSynth") -> Path:
    """DeepfakeBench's dataset JSON at ``output`` and its ``label_dict`` snippet beside it; the
    frames and masks in ``OUTPUT-without-suffix/{frames,masks}/LABEL/VIDEO/`` under the same
    file names (DeepfakeBench finds a frame's mask by replacing ``frames`` with ``masks``)."""
    records = records_of(dataset)
    tree: dict[str, Any] = {}
    root = output.with_suffix("").resolve()
    for record in records:
        label = label_name(name, record)
        folder = root / "frames" / label / video_name(record)
        source = dataset / record["output"]
        if record["target"].get("video"):
            frames = extract_frames(source, folder)
        else:
            frames = [folder / f"00000{source.suffix}"]
            place(source, frames[0])
        sources = mask_files(dataset, record)  # one per frame, or none (real rows)
        masks = [root / "masks" / frame.relative_to(root / "frames") for frame in frames] if sources else []
        for mask, twin in zip(sources, masks, strict=True):
            place(mask, twin)  # PNG content under the frame's file name
        entry = {"label": label, "frames": [str(f) for f in frames], "masks": [str(m) for m in masks]}
        level = FFPP_LEVEL[record["compression"]]
        tree.setdefault(label, {s: {} for s in SPLITS})[record["split"]].setdefault(level, {})[video_name(record)] = entry
    write_json_atomic(output, {name: tree})
    labels = sorted(tree, key=lambda k: (not k.endswith("-real"), k))
    snippet = "".join([
        f"# DeepfakeBench detector config (training/config/detector/*.yaml): dataset JSON {output.name}\n",
        f"train_dataset: [{name}]\n", f"test_dataset: [{name}]\n", "label_dict:\n",
        *(f"  {label}: {0 if label.endswith('-real') else 1}\n" for label in labels)])
    write_text_atomic(output.with_name(output.name + ".label_dict.yaml"), snippet)
    return output


def place(source: Path, destination: Path) -> None:
    """``destination`` as a hard link to ``source`` (a copy across file systems), atomically."""
    with atomic_path(destination) as temp, naming_output(destination):
        temp.unlink()
        try:
            os.link(source, temp)
        except OSError:
            shutil.copy2(source, temp)


def ffpp_names(records: list[dict[str, Any]]) -> dict[str, str]:
    """``TARGET_SOURCE`` (``TARGET`` for real rows) per record id; a name used twice within a
    method and level gets the row id's first 8 characters."""
    names: dict[str, str] = {}
    used: set[tuple[str, str, str]] = set()
    for record in records:
        base = record["target"]["identity"] if record["label"] == "real" else \
            f"{record['target']['identity']}_{record['source']['identity']}"
        key = (record["method"], record["compression"], base)
        names[record["id"]] = base if key not in used else f"{base}_{record['id'][:8]}"
        used.add((record["method"], record["compression"], names[record["id"]]))
    return names


def to_ffpp(dataset: Path, output: Path) -> Path:
    """FaceForensics++'s layout under the folder ``output``."""
    records = records_of(dataset)
    names = ffpp_names(records)
    pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for record in records:
        level, file_name = FFPP_LEVEL[record["compression"]], names[record["id"]]
        real = record["label"] == "real"
        base = output / ("original_sequences/youtube" if real else f"manipulated_sequences/{folder_name(record['method'])}")
        source = dataset / record["output"]
        if record["target"].get("video"):
            place(source, base / level / "videos" / f"{file_name}{source.suffix}")
            kind = "videos"
        else:
            place(source, base / level / "images" / file_name / f"0000{source.suffix}")
            kind = "images"
        for k, mask in enumerate(mask_files(dataset, record)):
            place(mask, base / "masks" / kind / file_name / f"{k:04d}.png")
        if not real:
            pairs[record["split"]].add((record["target"]["identity"], record["source"]["identity"]))
    for split in SPLITS:
        write_json_atomic(output / "splits" / f"{split}.json", [list(p) for p in sorted(pairs[split])])
    return output


def to_csv(dataset: Path, output: Path) -> Path:
    """One CSV line per row (paths absolute: sources and targets under the plan's source folder)."""
    records = records_of(dataset)
    with atomic_path(output) as temp, naming_output(output), temp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS)
        writer.writeheader()
        for r in records:
            writer.writerow({
                "id": r["id"], "split": r["split"], "label": r["label"], "method": r["method"],
                "compression": r["compression"], "perturbations": describe([tuple(s) for s in r["perturbations"]]),
                "segment": "" if not r.get("segment") else "{}:{}".format(*r["segment"]),
                "source": "" if r.get("source") is None else str(Path(r["root"]) / r["source"]["path"]),
                "source_identity": "" if r.get("source") is None else r["source"]["identity"],
                "target": str(Path(r["root"]) / r["target"]["path"]), "target_identity": r["target"]["identity"],
                "output": str((dataset / r["output"]).resolve()),
                "mask": "" if r.get("mask") is None else str((dataset / r["mask"]).resolve()),
                "output_sha256": r["output_sha256"], "weights": r.get("weights") or "", "license": r.get("license") or ""})
    return output
