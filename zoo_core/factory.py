"""Models ready to use: the one loading path of every face verb, of evaluation and of the
Python API (``zoo_core.create_model``).

A registry name is built (random weights, or complete for models that need no weights) or
loaded with its pretrained weights (``zoo_core.hub``); ``hf-hub:`` and ``local-dir:`` sources
are loaded. Each loaded model comes with its provenance label: what produced its weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo_core import hub, pretrained
from zoo_core.errors import ZooError, ZooWarning
from zoo_core.registry import build_model, get_model_spec, is_model, merged_config
from zoo_core.specs import ModelSpec

__all__ = ["LoadedModel", "create_model", "load", "load_model", "load_pretrained"]


@dataclass(frozen=True)
class LoadedModel:
    """A model on its device in eval mode, and the provenance label of its weights."""

    model: Any
    weights: str


def create_model(name: str, pretrained: bool = False, **overrides: Any) -> Any:
    """Build a registered model (random weights); with ``pretrained`` fetch, verify and load its
    weights. A model that needs no weights is complete either way."""
    spec = get_model_spec(name)
    if pretrained and spec.needs_weights:
        return load_pretrained(spec, config_overrides=overrides or None)[0]
    return build_model(spec, merged_config(spec, overrides))


def load(name_or_path: str, revision: str | None = None, device: str = "cpu", local_files_only: bool | None = None,
         cache_dir: str | Path | None = None, config_overrides: dict[str, Any] | None = None) -> Any:
    """Load a pretrained model: a registry name (its zoo repository, or its official files
    converted once and cached), ``hf-hub:ORG/REPO[@REV]`` or ``local-dir:PATH``."""
    if is_model(name_or_path):
        return load_pretrained(get_model_spec(name_or_path), revision, device, local_files_only, config_overrides,
                               cache_dir=cache_dir)[0]
    return hub.load(name_or_path, revision, device, local_files_only, cache_dir, config_overrides)


def load_pretrained(spec: ModelSpec, revision: str | None = None, device: str = "cpu",
                    local_files_only: bool | None = None, config_overrides: dict[str, Any] | None = None,
                    files: dict[str, Any] | None = None, accept_sha256: frozenset[str] = frozenset(),
                    cache_dir: str | Path | None = None) -> tuple[Any, str, Path]:
    """A registered model with its pretrained weights, their provenance label and the folder
    they were read from: its published zoo repository, else its official sources converted once
    into the zoo cache (``zoo_core.pretrained``), or the files given for its converter roles."""
    if files or accept_sha256 or (spec.weights is None and spec.sources):
        model, cached = pretrained.load(spec.name, device, files, accept_sha256, config_overrides,
                                        bool(local_files_only))
        return model, cached.label, cached.folder
    model, folder = hub.load_with_folder(spec.name, revision, device, local_files_only, cache_dir, config_overrides)
    return model, hub.weights_label(spec.name, folder), folder


def check_capability(name: str, spec: Any, capability: str | None) -> None:
    """A one-line error when ``capability`` is given and the model ``spec`` describes lacks it."""
    if capability and capability not in spec.capabilities:
        raise ZooError(f"--model {name}: this model has no {capability!r} capability "
                       f"(it has: {', '.join(sorted(spec.capabilities))})")


def load_model(name_or_path: str, *, device: str = "cpu", random_init: bool = False, seed: int = 0,
               revision: str | None = None, local_files_only: bool = False,
               config: dict[str, Any] | None = None, capability: str | None = None) -> LoadedModel:
    """The model ``name_or_path`` names (registry name, ``hf-hub:`` or ``local-dir:``) on
    ``device``: random weights seeded with ``seed`` when ``random_init``, else its pretrained
    ones; ``config`` overrides its config; ``capability`` is checked before anything is built
    when the name is a registry name."""
    import torch

    config = dict(config or {})
    spec = get_model_spec(name_or_path) if is_model(name_or_path) else None
    if spec is not None:  # refused before anything is built or downloaded
        check_capability(name_or_path, spec, capability)
    if spec is not None and not spec.needs_weights:
        model, label = create_model(spec.name, **config), f"{spec.name} (no weights)"
    elif random_init:
        torch.manual_seed(seed)
        model, label = create_model(name_or_path, **config), "random-init"
        warnings.warn(f"{name_or_path} has random weights: the geometry is real, the face content is meaningless",
                      ZooWarning, stacklevel=2)
    elif spec is not None:
        model, label, _ = load_pretrained(spec, revision, device, local_files_only or None, config or None)
    else:
        model, folder = hub.load_with_folder(name_or_path, revision, device, local_files_only or None,
                                             config_overrides=config or None)
        label = hub.weights_label(name_or_path, folder)
    check_capability(name_or_path, model.spec, capability)  # a folder or repository names its spec only now
    return LoadedModel(hub.ready_for_inference(model, device), label)
