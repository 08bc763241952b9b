"""``zoo synth run --executor ray``: the plan's pending rows through Ray Data, one model per
actor (``map_batches`` with an actor class), the manifest written by the driver as results
stream back (the same durable lines and resume rules as the local runner).

Ray connects to the cluster in ``RAY_ADDRESS`` or starts a local one. With ``--device cuda``
each actor takes one GPU (``num_gpus=1``) and sees it as ``cuda``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.synth.manifest import ManifestWriter
from zoo_core.synth.runner import RunOptions, Summary, load_renderer, model_key, pending
from zoo_core.synth.shards import shard_rows


def import_ray() -> Any:
    """``ray`` with Ray Data, or a one-line error naming the extra that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is a separate extra of ray
    except ImportError as error:
        raise ZooError("--executor ray needs 'ray[data]', which is not installed: pip install 'zoo-core[ray]'") from error
    return ray


class RowRenderer:
    """A Ray Data actor: loads the group's model once, renders batches of JSON rows."""

    def __init__(self, row: dict[str, Any], options: RunOptions):
        self.renderer, self.preparer = load_renderer(row, options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prepared = [self.preparer(json.loads(text)) for text in batch["row"]]
        records = self.renderer.render(prepared)
        return {"record": np.array([json.dumps(r) for r in records], dtype=object)}


def run_with_ray(rows: list[dict[str, Any]], options: RunOptions, num_shards: int, shard_index: int,
                 actors: int = 1, echo: Callable[[str], None] = print) -> Summary:
    """Render shard ``shard_index`` of ``num_shards`` of ``rows`` with ``actors`` Ray actors."""
    from tqdm.auto import tqdm

    ray = import_ray()
    summary = Summary()
    todo = pending(shard_rows(rows, num_shards, shard_index), options.dataset, options.retry_failed, summary)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in todo:
        groups.setdefault(model_key(row), []).append(row)
    if todo and not ray.is_initialized():
        ray.init(log_to_driver=False)
    gpu = options.device.startswith("cuda")
    actor_options = replace(options, device="cuda" if gpu else options.device, progress=False)
    name = f"shard-{shard_index:05d}-of-{num_shards:05d}-ray"
    bar = tqdm(total=len(todo), unit="row", disable=not options.progress, desc="zoo synth run (ray)", dynamic_ncols=True)
    with bar, ManifestWriter(options.dataset, name) as manifest:
        for group in groups.values():
            data = ray.data.from_items([{"row": json.dumps(row)} for row in group])
            results = data.map_batches(RowRenderer, fn_constructor_kwargs={"row": group[0], "options": actor_options},
                                       batch_size=options.batch_size, concurrency=actors, num_gpus=1 if gpu else 0,
                                       batch_format="numpy")
            for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
                for text in batch["record"]:
                    record = json.loads(text)
                    manifest.append(record)
                    summary.add(record)
                    bar.update(1)
    for line in summary.lines():
        echo(line)
    return summary
