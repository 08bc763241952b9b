"""The dataset's manifest: one JSON line per rendered (or failed) row, appended to a file of
its own by every shard and process and fsync'd line by line; read back merged.

A row is done when its files were renamed into place and its ``done`` line is durable; a done
row whose files are missing or fail their recorded sha256 is not done. A line torn by a kill
is ignored (the next writer starts on a fresh line).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo_core.errors import InputError, ZooError, describe_error
from zoo_core.serialization import sha256_file

MANIFEST_DIR = "manifest"
DONE, FAILED = "done", "failed"


def reason_of(error: BaseException) -> str:
    """A failed row's reason in one line: a zoo error's message, else ``Type: message``."""
    return " ".join(str(error).split()) if isinstance(error, ZooError) else describe_error(error)


class ManifestWriter:
    """Appends records to ``DATASET/manifest/NAME.jsonl``, each line fsync'd before ``append`` returns."""

    def __init__(self, dataset: Path, name: str):
        folder = dataset / MANIFEST_DIR
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{name}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        if size and _last_byte(self.path, size) != b"\n":
            os.write(self._fd, b"\n")  # a line torn by a kill stays alone on its line
        _fsync_folder(folder)

    def append(self, record: dict[str, Any]) -> None:
        os.write(self._fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(size - 1)
        return handle.read(1)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iter_records(dataset: Path) -> Iterator[dict[str, Any]]:
    """Every complete record of every manifest file (files in name order, lines in order)."""
    for path in sorted((dataset / MANIFEST_DIR).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # torn by a kill
            if isinstance(record, dict) and "id" in record and "status" in record:
                yield record


def read_manifest(dataset: Path) -> dict[str, dict[str, Any]]:
    """One record per row id: a ``done`` record over any ``failed`` one, else the last line."""
    merged: dict[str, dict[str, Any]] = {}
    for record in iter_records(dataset):
        previous = merged.get(record["id"])
        if previous is None or not (previous["status"] == DONE and record["status"] != DONE):
            merged[record["id"]] = record
    return merged


def done_records(dataset: Path) -> list[dict[str, Any]]:
    """The done records of a dataset folder (a one-line error when it has no manifest)."""
    if not (dataset / MANIFEST_DIR).is_dir():
        raise InputError(f"{dataset}: not a zoo synth dataset (no {MANIFEST_DIR}/ folder)")
    return [r for r in read_manifest(dataset).values() if r["status"] == DONE]


def folder_sha256(folder: Path) -> str:
    """The sha256 of a folder of files: of the lines ``NAME SHA256`` in name order."""
    lines = "".join(f"{p.name} {sha256_file(p)}\n" for p in sorted(folder.iterdir()) if p.is_file())
    return hashlib.sha256(lines.encode()).hexdigest()


def path_sha256(path: Path) -> str:
    return folder_sha256(path) if path.is_dir() else sha256_file(path)


def files_intact(record: dict[str, Any], dataset: Path) -> bool:
    """Whether a done record's output (and mask) exist with their recorded sha256."""
    for key in ("output", "mask"):
        name = record.get(key)
        if name is None:
            continue
        path = dataset / name
        if not path.exists() or path_sha256(path) != record.get(f"{key}_sha256"):
            return False
    return True
