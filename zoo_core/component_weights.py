"""Weights folders of components (a 3DMM estimator, a pretrained generator...): the same
layout as a model folder, with ``"component"`` instead of ``"variant"`` in ``config.json``::

    config.json        {"format_version", "zoo_core_version", "component", "kind", "config"}
    model.safetensors  the component's state dict

``zoo convert COMPONENT ROLE=FILE --output DIR`` writes one; ``load_component`` reads it
strictly from a folder or a Hub repository (``hf-hub:ORG/REPO[@REV]``, offline cache
honoured).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo_core.errors import ConfigError, ZooError
from zoo_core.hub import (
    CONFIG_NAME,
    HF_PREFIX,
    LOCAL_PREFIX,
    fetch,
    load_weights,
    parse_source,
    read_config,
    ready_for_inference,
    skip_weight_init,
    write_folder,
)
from zoo_core.registry import create_component, get_component_spec, merged_config


def save_component(module: Any, name: str, save_directory: str | Path, *, config: dict[str, Any],
                   provenance: dict[str, Any] | None = None) -> Path:
    """Write a component's ``config.json`` and safetensors weights (atomically)."""
    spec = get_component_spec(name)
    header = {"component": spec.name, "kind": spec.kind, "config": json.loads(json.dumps(config))}
    return write_folder(Path(save_directory), module.state_dict(), header, provenance)


def read_component_config(folder: Path, name: str) -> dict[str, Any]:
    """Read ``config.json`` of a component folder and check that it holds ``name``."""
    data = read_config(folder, holds="component", written_by=f"'zoo convert {name} ...'")
    if data["component"] != name:
        raise ConfigError(f"{folder / CONFIG_NAME}: holds component {data['component']!r}, expected {name!r}")
    return data


def load_component(name: str, source: str | Path, device: str = "cpu", revision: str | None = None,
                   local_files_only: bool | None = None) -> Any:
    """Build component ``name`` and load its weights strictly from ``source``: a folder path,
    ``local-dir:PATH`` or ``hf-hub:ORG/REPO[@REV]``."""
    text = str(source)
    if not text.startswith((HF_PREFIX, LOCAL_PREFIX)):
        text = LOCAL_PREFIX + text
    folder = fetch(parse_source(text, revision), local_files_only)
    data = read_component_config(folder, name)
    try:
        config = merged_config(get_component_spec(name), data["config"])
        with skip_weight_init():
            module = create_component(name, **config)
    except ZooError as error:
        raise ConfigError(f"{folder / CONFIG_NAME}: {error}") from error
    return ready_for_inference(load_weights(module, folder), device)
