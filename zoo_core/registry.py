"""The registry of model variants and components, fed by the installed plugins' hooks.

Specs are data; nothing here imports torch. ``create_model`` resolves a spec's builder only
when a model is actually built.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Iterable
from typing import Any

from zoo_core.errors import (
    ConfigError,
    PluginError,
    UnknownModelError,
    ZooError,
    describe_validation,
)
from zoo_core.plugins import PluginSet, load_plugins, register_plugin, strict_mode
from zoo_core.protocols import CAPABILITY_PROTOCOLS
from zoo_core.specs import (
    ComponentSpec,
    ConverterSpec,
    MetricSpec,
    ModelSpec,
    TrainerSpec,
)

__all__ = [
    "ComponentSpec",
    "ConverterSpec",
    "MetricSpec",
    "ModelSpec",
    "Registry",
    "TrainerSpec",
    "add_plugin",
    "create_component",
    "create_model",
    "get_component_spec",
    "get_converters",
    "get_model_spec",
    "get_registry",
    "is_model",
    "list_components",
    "list_models",
    "remove_plugin",
    "reset",
    "resolve",
]

# hook name -> (table name, spec type)
_HOOKS: dict[str, tuple[str, type]] = {
    "register_models": ("models", ModelSpec),
    "register_components": ("components", ComponentSpec),
    "register_trainers": ("trainers", TrainerSpec),
    "register_metrics": ("metrics", MetricSpec),
    "register_converters": ("converters", ConverterSpec),
}


class Registry:
    """Every spec the loaded plugins registered, by kind and name, with the distribution
    that registered it. Names claimed by two distributions are kept as conflicts and
    raise ``PluginError`` naming both when used."""

    def __init__(self, plugins: PluginSet):
        self.plugins = plugins
        self.models: dict[str, ModelSpec] = {}
        self.components: dict[str, ComponentSpec] = {}
        self.trainers: dict[str, TrainerSpec] = {}
        self.metrics: dict[str, MetricSpec] = {}
        self.converters: dict[str, ConverterSpec] = {}
        self.conflicts: dict[tuple[str, str], list[str]] = {}
        self.errors: list[str] = []
        for hook_name, (table, spec_type) in _HOOKS.items():
            self._collect(hook_name, table, spec_type)
        self._check_converter_targets()

    def _collect(self, hook_name: str, table: str, spec_type: type) -> None:
        hook = getattr(self.plugins.manager.hook, hook_name)
        for impl in hook.get_hookimpls():
            distribution = self.plugins.distribution_of(impl.plugin_name)

            def register(spec: Any, _dist: str = distribution) -> None:
                self._add(table, spec_type, spec, _dist)

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as error:  # third-party hook code
                self._problem(f"plugin {distribution!r} failed in {hook_name}: {type(error).__name__}: {error}")

    def _check_converter_targets(self) -> None:
        """A converter must target a registered model or component (it is otherwise unreachable)."""
        claimed = {name for _, name in self.conflicts}  # a conflicting target is reported as the conflict
        for spec in list(self.converters.values()):
            if spec.target not in self.models and spec.target not in self.components and spec.target not in claimed:
                del self.converters[spec.name]
                self._problem(f"plugin {spec.plugin!r} registered converter {spec.name!r} for {spec.target!r}, "
                              "which is neither a registered model nor a component")

    def _add(self, table: str, spec_type: type, spec: Any, distribution: str) -> None:
        if not isinstance(spec, spec_type):
            raise TypeError(f"{table} hook of {distribution!r} registered {type(spec).__name__}, expected {spec_type.__name__}")
        spec = spec.model_copy(update={"plugin": distribution})
        entries: dict[str, Any] = getattr(self, table)
        key = (table, spec.name)
        if key in self.conflicts:
            self.conflicts[key].append(distribution)
            return
        previous = entries.get(spec.name)
        if previous is None:
            entries[spec.name] = spec
            return
        del entries[spec.name]
        self.conflicts[key] = [previous.plugin, distribution]
        self._problem(_conflict_message(table, spec.name, self.conflicts[key]))

    def _problem(self, message: str) -> None:
        if strict_mode():
            raise PluginError(message)
        self.errors.append(message)

    def lookup(self, table: str, name: str) -> Any:
        """Return the spec, or raise a clear error for conflicts and unknown names."""
        conflict = self.conflicts.get((table, name))
        if conflict:
            raise PluginError(_conflict_message(table, name, conflict))
        entries: dict[str, Any] = getattr(self, table)
        try:
            return entries[name]
        except KeyError:
            raise UnknownModelError(_unknown_message(table, name, entries, self.plugins.selection_problem())) from None


def _conflict_message(table: str, name: str, distributions: list[str]) -> str:
    kind = table.rstrip("s")
    owners = " and ".join(repr(d) for d in sorted(distributions))
    return f"{kind} {name!r} is registered by both {owners}; uninstall one of them (zoo uninstall PKG)"


def _unknown_message(table: str, name: str, entries: dict[str, Any], selection: str | None) -> str:
    """``selection``: the line about ``ZOO_LOAD_PLUGINS`` names that match no plugin, if any."""
    kind = table.rstrip("s")
    close = [n for n in entries if n.split("-")[0] == name.split("-")[0]] or list(entries)
    hint = f" Known: {', '.join(sorted(close, key=natural_key)[:8])}." if close else ""
    if table == "models" and ("/" in name or ":" in name):
        hint += " Use 'hf-hub:ORG/REPO[@REVISION]' or 'local-dir:PATH' for repositories and folders."
    elif selection:
        hint += f" {selection}."
    elif table == "models":
        hint += " Is its plugin installed? See 'zoo plugins' and 'zoo install zoo-plugin-<family>'."
    return f"unknown {kind} {name!r}.{hint}"


# --- the process-wide registry ------------------------------------------------------------

_plugins: PluginSet | None = None
_registry: Registry | None = None


def get_plugins() -> PluginSet:
    global _plugins
    if _plugins is None:
        _plugins = load_plugins()
    return _plugins


def get_registry() -> Registry:
    """The registry built from the installed plugins (loaded once per process)."""
    global _registry
    if _registry is None:
        _registry = Registry(get_plugins())
    return _registry


def add_plugin(plugin: object, name: str, distribution: str | None = None, version: str = "") -> None:
    """Register a plugin object in-process (tests, notebooks), like ``llm``'s ``pm.register``."""
    global _registry
    register_plugin(get_plugins(), plugin, name, distribution or name, version)
    _registry = None


def remove_plugin(name: str) -> None:
    """Undo ``add_plugin``."""
    global _registry
    plugins = get_plugins()
    plugins.manager.unregister(name=name)
    plugins.plugins = [info for info in plugins.plugins if info.name != name]
    _registry = None


def reset() -> None:
    """Forget loaded plugins; the next call reloads entry points (and the environment switches)."""
    global _plugins, _registry
    _plugins = None
    _registry = None


# --- queries ------------------------------------------------------------------------------


def natural_key(text: str) -> list[Any]:
    """Sort key putting ``simswap-224`` before ``simswap-512`` before ``simswap-1024``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text.lower())]


def _matches(name: str, patterns: str | Iterable[str]) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def list_models(
    filter: str | Iterable[str] = "",
    pretrained: bool = False,
    exclude_filters: str | Iterable[str] = (),
    plugin: str | None = None,
    capability: str | None = None,
) -> list[str]:
    """Names of registered models, naturally sorted, filtered by fnmatch patterns."""
    specs = get_registry().models.values()
    names = [
        spec.name
        for spec in specs
        if (not filter or _matches(spec.name, filter))
        and not (exclude_filters and _matches(spec.name, exclude_filters))
        and (not pretrained or spec.pretrained)
        and (plugin is None or spec.plugin == plugin)
        and (capability is None or capability in spec.capabilities)
    ]
    return sorted(names, key=natural_key)


def is_model(name: str) -> bool:
    return name in get_registry().models


def get_model_spec(name: str) -> ModelSpec:
    return get_registry().lookup("models", name)


def list_components(kind: str | None = None, filter: str = "") -> list[str]:
    specs = get_registry().components.values()
    names = [s.name for s in specs if (kind is None or s.kind == kind) and (not filter or _matches(s.name, filter))]
    return sorted(names, key=natural_key)


def get_component_spec(name: str) -> ComponentSpec:
    return get_registry().lookup("components", name)


def get_converters(target: str) -> list[ConverterSpec]:
    """Converters producing weights for ``target``, the spec's own first."""
    registry = get_registry()
    found = [c for c in registry.converters.values() if c.target == target]
    return sorted(found, key=lambda c: (c.name != target, c.name))


def resolve(path: str, what: str = "") -> Any:
    """Import ``'package.module:attr.sub'`` lazily, with an error that names the spec."""
    module_name, _, attr_path = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for attr in attr_path.split("."):
            obj = getattr(obj, attr)
    except (ImportError, AttributeError) as error:
        label = f" of {what}" if what else ""
        raise PluginError(f"cannot import {path!r}{label}: {type(error).__name__}: {error}") from error
    return obj


def build_model(spec: ModelSpec, config: dict[str, Any]) -> Any:
    """Call the spec's builder and check that the result provides the declared capabilities."""
    from pydantic import ValidationError

    builder = resolve(spec.builder, f"model {spec.name!r}")
    try:
        model = builder(spec, config)
    except ValidationError as error:
        raise ConfigError(f"invalid config for {spec.name!r}: {describe_validation(error)}") from error
    if getattr(model, "spec", None) is None:
        model.spec = spec
    if getattr(model, "config", None) is None:
        model.config = config
    missing = [cap for cap in sorted(spec.capabilities) if not isinstance(model, CAPABILITY_PROTOCOLS[cap])]
    if missing:
        raise PluginError(
            f"builder {spec.builder!r} of {spec.name!r} returned {type(model).__name__}, which lacks "
            f"the declared capabilities {missing}"
        )
    return model


def merged_config(spec: ModelSpec | ComponentSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(spec.default_config)) if spec.default_config else []
    if unknown:
        raise ZooError(
            f"unknown config keys {unknown} for {spec.name!r}; known: {sorted(spec.default_config)}"
        )
    return {**spec.default_config, **overrides}


def create_model(name: str, **overrides: Any) -> Any:
    """Build a registered model with random weights (``zoo_core.factory.create_model`` also
    loads pretrained ones)."""
    spec = get_model_spec(name)
    return build_model(spec, merged_config(spec, overrides))


def create_component(name: str, **overrides: Any) -> Any:
    """Build a registered component (e.g. an identity encoder) with random or default state."""
    spec = get_component_spec(name)
    if spec.builder is None:
        raise ZooError(f"component {name!r} ({spec.kind}) is data only: use get_component_spec(name).data")
    from pydantic import ValidationError

    builder = resolve(spec.builder, f"component {name!r}")
    try:
        return builder(merged_config(spec, overrides))
    except ValidationError as error:
        raise ConfigError(f"invalid config for component {name!r}: {describe_validation(error)}") from error
