"""FaceSwap Zoo core: registry, plugins, Hub I/O and CLI for face-swap models.

Only light modules are imported here; torch-heavy ones load on first attribute access, so
``import zoo_core`` and ``zoo list`` stay instant.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "ZooError": "zoo_core.errors",
    "ModelSpec": "zoo_core.registry",
    "ComponentSpec": "zoo_core.registry",
    "list_models": "zoo_core.registry",
    "list_components": "zoo_core.registry",
    "is_model": "zoo_core.registry",
    "get_model_spec": "zoo_core.registry",
    "create_model": "zoo_core.factory",
    "create_component": "zoo_core.registry",
    "load": "zoo_core.factory",
    "save_pretrained": "zoo_core.hub",
    "push_to_hub": "zoo_core.hub",
    "FaceSwapper": "zoo_core.faces.swapper",
    "Selection": "zoo_core.faces.swapper",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo_core' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
