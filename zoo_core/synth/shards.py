"""Which rows of a plan this process renders: shard ``K`` of ``N`` takes rows ``K, K+N, ...``
of the plan (Slurm arrays: ``--num-shards``/``--shard-index``); under ``accelerate launch`` (or
any torch.distributed launcher) each process then takes its contiguous part of the shard with
accelerate's ``PartialState.split_between_processes``. The parts never overlap and cover the
plan once."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zoo_core.errors import InputError


@dataclass(frozen=True)
class Part:
    """This process's rows, and the name of its manifest file."""

    rows: list[dict[str, Any]]
    name: str
    process_index: int = 0
    num_processes: int = 1
    device: str | None = None


def shard_rows(rows: Sequence[dict[str, Any]], num_shards: int, shard_index: int) -> list[dict[str, Any]]:
    if not 0 <= shard_index < num_shards:
        raise InputError(f"--shard-index {shard_index}: expected 0 <= K < --num-shards ({num_shards})")
    return list(rows[shard_index::num_shards])


def launched_processes() -> int:
    """The world size a distributed launcher set (1 when started alone)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def this_part(rows: Sequence[dict[str, Any]], num_shards: int, shard_index: int) -> Part:
    """The rows of shard ``shard_index`` of ``num_shards``, split between launched processes."""
    shard = shard_rows(rows, num_shards, shard_index)
    name = f"shard-{shard_index:05d}-of-{num_shards:05d}"
    if launched_processes() <= 1:
        return Part(shard, name)
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # without a GPU: gloo ranks on the CPU
    with state.split_between_processes(shard) as mine:
        part = list(mine)
    return Part(part, f"{name}-process-{state.process_index:03d}-of-{state.num_processes:03d}",
                state.process_index, state.num_processes, str(state.device))
