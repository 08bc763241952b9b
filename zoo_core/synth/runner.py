"""``zoo synth run``: render this process's part of a plan into a dataset folder, resumably.

Rows already done (manifest line durable, files intact) are skipped; rows that failed before
are skipped unless ``retry_failed``. The rest are grouped by model (one model loaded per
group) and fed through a ``DataLoader`` whose workers decode, detect and align while the main
process runs the model and writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core.faces.io import DEFAULT_MAX_PIXELS
from zoo_core.synth.manifest import DONE, FAILED, ManifestWriter, files_intact, read_manifest
from zoo_core.synth.prepare import Preparer
from zoo_core.synth.render import Renderer


@dataclass(frozen=True)
class RunOptions:
    """The options of ``zoo synth run``."""

    dataset: Path
    batch_size: int = 8
    device: str = "cpu"
    retry_failed: bool = False
    num_workers: int = 0
    detector: str = "dlib-hog"
    max_pixels: int = DEFAULT_MAX_PIXELS
    progress: bool = True
    precision: str = "fp32"
    channels_last: bool = False


@dataclass
class Summary:
    """What a run did: rows written, skipped (done before), failed (with reasons), and rows
    left alone because they failed in an earlier run."""

    written: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    failed_before: int = 0

    def add(self, record: dict[str, Any]) -> None:
        """Count one manifest record."""
        if record["status"] == DONE:
            self.written += 1
        else:
            self.failed.append((record["id"], record["reason"]))

    def lines(self) -> list[str]:
        lines = [f"written {self.written}, skipped {self.skipped} (done before), failed {len(self.failed)}"
                 + (f", {self.failed_before} failed before (rerun with --retry-failed)" if self.failed_before else "")]
        lines += [f"failed {row_id}: {reason}" for row_id, reason in self.failed]
        return lines


def pending(rows: Sequence[dict[str, Any]], dataset: Path, retry_failed: bool, summary: Summary) -> list[dict[str, Any]]:
    """The rows still to render (counting the others in ``summary``)."""
    known = read_manifest(dataset) if dataset.is_dir() else {}
    todo = []
    for row in rows:
        record = known.get(row["id"])
        if record is not None and record["status"] == DONE and files_intact(record, dataset):
            summary.skipped += 1
        elif record is not None and record["status"] == FAILED and not retry_failed:
            summary.failed_before += 1
        else:
            todo.append(row)
    return todo


def model_key(row: dict[str, Any]) -> str:
    return json.dumps(row.get("model"), sort_keys=True)


class RowDataset:
    """Plan rows as a map-style dataset of ``Prepared`` rows (prepared in the loader's workers)."""

    def __init__(self, rows: Sequence[dict[str, Any]], preparer: Preparer):
        self.rows, self.preparer = list(rows), preparer

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Any:
        return self.preparer(self.rows[index])


def _as_list(batch: list[Any]) -> list[Any]:
    return batch


def load_renderer(row: dict[str, Any], options: RunOptions) -> tuple[Renderer, Preparer]:
    """The renderer and preparer of a model group (the model loaded once, on ``options.device``)."""
    common = {"detector": options.detector, "max_pixels": options.max_pixels}
    model = row.get("model")
    if model is None:
        return Renderer(options.dataset), Preparer(None, 0, **common)
    from zoo_core.factory import load_model

    loaded = load_model(model["name"], device=options.device, random_init=bool(model.get("random_init")),
                        seed=int(row.get("seed") or 0), config=model.get("config") or None, capability="swap")
    spec = loaded.model.spec
    renderer = Renderer(options.dataset, loaded.model, loaded.weights, options.batch_size, options.device,
                        options.precision, options.channels_last)
    return renderer, Preparer(spec.template, spec.resolution, **common)


def prepared_batches(rows: Sequence[dict[str, Any]], preparer: Preparer, options: RunOptions) -> Iterable[list[Any]]:
    from torch.utils.data import DataLoader

    loader = DataLoader(RowDataset(rows, preparer), batch_size=options.batch_size, shuffle=False,
                        num_workers=options.num_workers, collate_fn=_as_list,
                        persistent_workers=False, prefetch_factor=2 if options.num_workers else None)
    return loader


def run_rows(rows: Sequence[dict[str, Any]], options: RunOptions, manifest_name: str,
             echo: Callable[[str], None] = print) -> Summary:
    """Render ``rows`` (this process's part of a plan) into ``options.dataset``."""
    from tqdm.auto import tqdm

    summary = Summary()
    todo = pending(rows, options.dataset, options.retry_failed, summary)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in todo:
        groups.setdefault(model_key(row), []).append(row)
    bar = tqdm(total=len(todo), unit="row", disable=not options.progress, desc="zoo synth run", dynamic_ncols=True)
    with bar, ManifestWriter(options.dataset, manifest_name) as manifest:
        for group in groups.values():
            renderer, preparer = load_renderer(group[0], options)
            for batch in prepared_batches(group, preparer, options):
                for record in renderer.render(batch):
                    manifest.append(record)
                    summary.add(record)
                    bar.update(1)
    for line in summary.lines():
        echo(line)
    return summary
