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
from zoo_core.fileio import write_json_atomic
from zoo_core.hub import (
    CONFIG_NAME,
    FORMAT_VERSION,
    HF_PREFIX,
    LOCAL_PREFIX,
    _ready,
    _save_weights,
    fetch,
    load_state_dict_strict,
    parse_source,
    read_weights,
    skip_weight_init,
)
from zoo_core.registry import create_component, get_component_spec, merged_config


def save_component(module: Any, name: str, save_directory: str | Path, *, config: dict[str, Any],
                   provenance: dict[str, Any] | None = None) -> Path:
    """Write a component's ``config.json`` and safetensors weights (atomically)."""
    from zoo_core import __version__

    spec = get_component_spec(name)
    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = _save_weights(module.state_dict(), folder, "2GB")
    for stale in folder.glob("model*.safetensors*"):
        if stale.name not in written:
            stale.unlink()
    write_json_atomic(folder / CONFIG_NAME, {
        "format_version": FORMAT_VERSION,
        "zoo_core_version": __version__,
        "component": spec.name,
        "kind": spec.kind,
        "config": json.loads(json.dumps(config)),
        **({"provenance": provenance} if provenance else {}),
    })
    return folder


def read_component_config(folder: Path, name: str) -> dict[str, Any]:
    """Read ``config.json`` of a component folder and check that it holds ``name``."""
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"{path}: missing; is {folder} a component folder written by 'zoo convert {name} ...'?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict) or "component" not in data or "config" not in data:
        raise ConfigError(f"{path}: not a component config (needs 'component' and 'config')")
    if data["component"] != name:
        raise ConfigError(f"{path}: holds component {data['component']!r}, expected {name!r}")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ConfigError(f"{path}: format {version!r} is newer than this zoo-core reads ({FORMAT_VERSION})")
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
    load_state_dict_strict(module, read_weights(folder), str(folder))
    return _ready(module, device)
