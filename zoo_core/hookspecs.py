"""Plugin hooks (pluggy project "zoo"). Each hook receives a ``register`` callback, as in
simonw/llm: ``register(spec)`` with a spec from ``zoo_core.specs`` (or a click command for
``register_commands``). Hook implementations must stay cheap: specs only, no torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "zoo"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[Any], None]


@hookspec
def register_models(register: Register) -> None:
    """Register model variants: ``register(ModelSpec(...))``."""


@hookspec
def register_components(register: Register) -> None:
    """Register components: ``register(ComponentSpec(...))`` (identity encoders, detectors, templates)."""


@hookspec
def register_trainers(register: Register) -> None:
    """Register training recipes: ``register(TrainerSpec(...))``."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register evaluation metrics: ``register(MetricSpec(...))``."""


@hookspec
def register_converters(register: Register) -> None:
    """Register extra official-checkpoint converters: ``register(ConverterSpec(...))``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands or groups to the ``zoo`` CLI group: ``cli.add_command(...)``."""
