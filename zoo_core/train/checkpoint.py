"""Training checkpoints in the engine's own format, read back without unpickling anything.

A checkpoint is a folder ``RUN/checkpoints/step-NNNNNNNN`` holding

* ``zoo_state.json``: the step, the model, the number of processes and the part files;
* the parts: ``network-NAME.safetensors`` and ``ema-NAME.safetensors`` (weights),
  ``optimizer-PHASE.pt``, ``scheduler-PHASE.pt`` and ``scaler.pt`` (``torch.save`` of state
  dicts, read with ``weights_only=True``);
* ``rng-RANK.safetensors``: the torch, device, NumPy and Python random states of each process;
* ``manifest.json``, written last: the size and sha256 of every other file.

A checkpoint is used only when every file its manifest lists matches; files it does not list
are never read.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zoo_core.errors import WeightsError, ZooError, describe_error, describe_validation
from zoo_core.fileio import atomic_path, write_json_atomic
from zoo_core.serialization import read_safetensors, sha256_file

MANIFEST = "manifest.json"
STATE = "zoo_state.json"
FORMAT = 1
STEP_FOLDER = re.compile(r"^step-(\d+)$")


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(BaseModel):
    """``manifest.json``: every file of the checkpoint with its size and digest."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1]
    files: dict[str, FileEntry]


class CheckpointState(BaseModel):
    """``zoo_state.json``: what the checkpoint continues and which part files it holds."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = FORMAT
    step: int = Field(ge=0)
    model: str
    processes: int = Field(ge=1)
    parts: list[str]


def step_folder_name(step: int) -> str:
    return f"step-{step:08d}"


def rng_file(process: int) -> str:
    return f"rng-{process}.safetensors"


def checkpoint_folders(checkpoints: Path) -> list[Path]:
    """The ``step-N`` folders under ``checkpoints``, oldest step first."""
    if not checkpoints.is_dir():
        return []
    found = [(int(match[1]), path) for path in checkpoints.iterdir()
             if path.is_dir() and (match := STEP_FOLDER.match(path.name))]
    return [path for _, path in sorted(found)]


# --- manifest ------------------------------------------------------------------------------


def write_manifest(folder: Path) -> None:
    """List every file of ``folder`` with its size and sha256 in ``manifest.json``."""
    files = {path.name: {"size": path.stat().st_size, "sha256": sha256_file(path)}
             for path in sorted(folder.iterdir()) if path.is_file() and path.name != MANIFEST}
    write_json_atomic(folder / MANIFEST, {"format": FORMAT, "files": files})


def _read_model(path: Path, schema: type[BaseModel]) -> Any:
    try:
        return schema.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as error:
        raise WeightsError(f"{path}: missing; the checkpoint is incomplete") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"{path}: unreadable ({type(error).__name__}: {error})") from error
    except ValidationError as error:
        raise WeightsError(f"{path}: not a zoo train checkpoint file ({describe_validation(error)})") from error


def verify_checkpoint(folder: Path) -> CheckpointState:
    """Check every file the manifest lists (present, same size, same sha256) and that it lists
    everything the state names; return the state. Raises ``WeightsError`` naming the bad file."""
    if not folder.is_dir():
        raise ZooError(f"{folder}: no such checkpoint folder")
    if not (folder / MANIFEST).is_file():
        if not (folder / STATE).is_file():
            raise ZooError(f"{folder}: not a checkpoint folder written by zoo train")
        raise WeightsError(f"{folder / MANIFEST}: missing; the checkpoint is incomplete or was written by an "
                           "older zoo train")
    manifest: Manifest = _read_model(folder / MANIFEST, Manifest)
    for name, entry in manifest.files.items():
        path = folder / name
        if Path(name).name != name or name in (".", ".."):
            raise WeightsError(f"{folder / MANIFEST}: lists {name!r}, which is not a file of the checkpoint")
        if not path.is_file():
            raise WeightsError(f"{path}: missing; the checkpoint is incomplete")
        size = path.stat().st_size
        if size != entry.size:
            raise WeightsError(f"{path}: {size} bytes where the manifest says {entry.size}; the file is truncated or altered")
        if sha256_file(path) != entry.sha256:
            raise WeightsError(f"{path}: content differs from the manifest (sha256); the file is corrupt or altered")
    if STATE not in manifest.files:
        raise WeightsError(f"{folder / MANIFEST}: does not list {STATE}")
    state: CheckpointState = _read_model(folder / STATE, CheckpointState)
    needed = [*state.parts, *(rng_file(rank) for rank in range(state.processes))]
    unlisted = [name for name in needed if name not in manifest.files]
    if unlisted:
        raise WeightsError(f"{folder / MANIFEST}: does not list {unlisted[0]}; the checkpoint is incomplete")
    return state


def newest_valid_checkpoint(checkpoints: Path) -> tuple[Path, CheckpointState, list[ZooError]]:
    """The newest checkpoint under ``checkpoints`` that passes :func:`verify_checkpoint`, its
    state, and the errors of the newer ones that did not."""
    skipped: list[ZooError] = []
    for folder in reversed(checkpoint_folders(checkpoints)):
        try:
            return folder, verify_checkpoint(folder), skipped
        except ZooError as error:
            skipped.append(error)
    if not skipped:
        raise ZooError(f"{checkpoints}: no checkpoint to resume from")
    raise WeightsError(f"{checkpoints}: no valid checkpoint to resume from (the newest: {skipped[0]})")


# --- parts ---------------------------------------------------------------------------------


def save_part(obj: Any, path: Path) -> None:
    """A module's weights as safetensors (``.safetensors``), any other state dict with ``torch.save``."""
    with atomic_path(path) as temp:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_model

            save_model(obj, str(temp))
        else:
            torch.save(obj.state_dict(), temp)


def load_part(obj: Any, path: Path) -> None:
    """Load what :func:`save_part` wrote into ``obj``; a file that does not fit is a ``WeightsError``."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_model

        try:
            load_model(obj, str(path), strict=True)
        except Exception as error:  # safetensors and load_state_dict raise several types
            raise WeightsError(f"{path}: does not fit the network ({describe_error(error)})") from error
        return
    state = load_torch_state(path)
    try:
        obj.load_state_dict(state)
    except Exception as error:  # optimizers and schedulers raise KeyError, ValueError, ...
        raise WeightsError(f"{path}: does not fit ({describe_error(error)})") from error


def load_torch_state(path: Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` of a state dict; anything else is a ``WeightsError``."""
    import pickle

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise WeightsError(f"{path}: not a plain tensor state dict (it names objects that only unrestricted "
                           "unpickling would build); refused") from error
    except Exception as error:  # a corrupt zip or pickle raises many types
        raise WeightsError(f"{path}: unreadable ({describe_error(error)})") from error
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return state


# --- random states -------------------------------------------------------------------------


def save_rng(path: Path, device: torch.device) -> None:
    """This process's torch (CPU and ``device``), NumPy and Python random states."""
    from safetensors.torch import save_file

    version, words, gauss = random.getstate()
    _, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    tensors = {
        "torch": torch.get_rng_state(),
        "python.version": torch.tensor([version], dtype=torch.int64),
        "python.state": torch.tensor(words, dtype=torch.int64),
        "python.gauss": torch.tensor([] if gauss is None else [gauss], dtype=torch.float64),
        "numpy.keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy.position": torch.tensor([position, has_gauss], dtype=torch.int64),
        "numpy.gauss": torch.tensor([cached], dtype=torch.float64),
    }
    if device.type != "cpu":
        tensors[f"device.{device.type}"] = getattr(torch, device.type).get_rng_state()
    with atomic_path(path) as temp:
        save_file(tensors, str(temp))


def load_rng(path: Path, device: torch.device) -> None:
    """Restore the random states :func:`save_rng` wrote."""
    tensors = read_safetensors(path)
    try:
        torch.set_rng_state(tensors["torch"])
        gauss = tensors["python.gauss"].tolist()
        random.setstate((int(tensors["python.version"][0]), tuple(tensors["python.state"].tolist()),
                         gauss[0] if gauss else None))
        position, has_gauss = tensors["numpy.position"].tolist()
        keys = tensors["numpy.keys"].numpy()
        if keys.shape != (624,) or keys.min() < 0 or keys.max() >= 2**32:
            raise ValueError("the NumPy key is not 624 32-bit words")
        np.random.set_state(("MT19937", keys.astype(np.uint32), position, has_gauss, float(tensors["numpy.gauss"][0])))
        if device.type != "cpu" and f"device.{device.type}" in tensors:
            getattr(torch, device.type).set_rng_state(tensors[f"device.{device.type}"])
    except (KeyError, IndexError, ValueError, TypeError, RuntimeError, OverflowError) as error:
        raise WeightsError(f"{path}: not a random-state file of zoo train ({describe_error(error)})") from error
