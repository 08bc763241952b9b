"""Entry-point plugin loader for the group "zoo".

Unlike ``pluggy.PluginManager.load_setuptools_entrypoints`` it isolates failures (a plugin that
fails to import is reported and the others still load), reports two distributions that use
the same entry-point name instead of silently skipping one, and honours:

- ``ZOO_LOAD_PLUGINS``: comma-separated entry-point or distribution names to load; an empty
  string loads none (only the core's built-ins). Names that match no installed plugin are
  reported with the installed ones (``PluginSet.selection_problem``).
- ``ZOO_STRICT_PLUGINS=1``: raise ``PluginError`` on the first problem instead of reporting it.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from zoo_core import hookspecs
from zoo_core.errors import PluginError, describe_error

ENTRY_POINT_GROUP = "zoo"
BUILTIN_PLUGIN = "zoo-core"
DEFAULT_PLUGINS = ("zoo_core.default_plugins.core",)
"""The core's own plugins, imported by name (they sit above every service they register)."""


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``zoo plugins`` shows it."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: tuple[str, ...] = ()
    error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.error is None


@dataclass
class PluginSet:
    """A plugin manager plus what happened while loading it."""

    manager: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    """``name (distribution)`` of every installed entry point, loaded or not."""
    unmatched: list[str] = field(default_factory=list)
    """``ZOO_LOAD_PLUGINS`` names that match no installed entry point or distribution."""

    def distribution_of(self, plugin_name: str) -> str:
        for info in self.plugins:
            if info.name == plugin_name:
                return info.distribution
        return plugin_name

    @property
    def problems(self) -> list[PluginInfo]:
        return [info for info in self.plugins if info.error]

    def selection_problem(self) -> str | None:
        """One line naming the ``ZOO_LOAD_PLUGINS`` names that match no installed plugin, or ``None``."""
        if not self.unmatched:
            return None
        names = ", ".join(repr(name) for name in self.unmatched)
        verb = "matches" if len(self.unmatched) == 1 else "match"
        return (f"ZOO_LOAD_PLUGINS names {names}, which {verb} none of the installed plugins: "
                f"{', '.join(self.installed) or 'none'} (give entry-point or distribution names, "
                "or unset it to load every plugin)")


def strict_mode() -> bool:
    return os.environ.get("ZOO_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def _selection() -> set[str] | None:
    raw = os.environ.get("ZOO_LOAD_PLUGINS")
    if raw is None:
        return None
    return {item.strip() for item in raw.split(",") if item.strip()}


def _dist_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    if dist is None:
        return entry_point.value, ""
    return dist.metadata["Name"] or entry_point.value, dist.version or ""


def _hook_names(manager: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    callers = manager.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


def register_plugin(plugins: PluginSet, module: object, name: str, distribution: str, version: str) -> None:
    """Register one plugin object, validating its hooks; record (or raise) any problem."""
    manager = plugins.manager
    if manager.is_registered(module):
        return  # the same object again (e.g. loaded from its entry point, then added in-process)
    registered = False
    try:
        manager.register(module, name=name)
        registered = True
        manager.check_pending()  # a misspelt hook name fails here, not silently
    except Exception as error:  # pluggy.PluginValidationError and friends
        if registered:
            manager.unregister(module)
        _report(plugins, PluginInfo(name, distribution, version, _module_name(module), (), describe_error(error)))
        return
    plugins.plugins.append(
        PluginInfo(name, distribution, version, _module_name(module), _hook_names(manager, module))
    )


def load_plugins() -> PluginSet:
    """Create the plugin manager: the core's built-ins, then every selected entry point."""
    plugins = PluginSet(new_manager())
    for module_name in DEFAULT_PLUGINS:
        register_plugin(plugins, importlib.import_module(module_name), BUILTIN_PLUGIN, BUILTIN_PLUGIN, _core_version())

    selected = _selection()
    seen: dict[str, tuple[str, str]] = {}  # entry-point name -> (distribution, value)
    # Deterministic order: by entry-point name, then distribution (the first of a clash loads).
    entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, _dist_of(ep)[0]))
    for entry_point in entry_points:
        distribution, version = _dist_of(entry_point)
        if selected is not None and not {entry_point.name, distribution} & selected:
            continue
        previous = seen.get(entry_point.name)
        if previous is not None:
            if previous == (distribution, entry_point.value):
                continue  # the same distribution found twice on sys.path
            _report(
                plugins,
                PluginInfo(
                    entry_point.name, distribution, version, entry_point.value, (),
                    f"entry point name {entry_point.name!r} is used by both distributions "
                    f"{previous[0]!r} and {distribution!r}; uninstall one of them",
                ),
            )
            continue
        seen[entry_point.name] = (distribution, entry_point.value)
        try:
            module = entry_point.load()
        except Exception as error:  # any import-time failure of third-party code
            _report(
                plugins,
                PluginInfo(entry_point.name, distribution, version, entry_point.value, (),
                           f"failed to import {entry_point.value!r}: {describe_error(error)}"),
            )
            continue
        register_plugin(plugins, module, entry_point.name, distribution, version)
    pairs = {(ep.name, _dist_of(ep)[0]) for ep in entry_points}
    plugins.installed = [f"{name} ({distribution})" for name, distribution in sorted(pairs)]
    plugins.unmatched = sorted((selected or set()) - {name for pair in pairs for name in pair})
    return plugins


def _report(plugins: PluginSet, info: PluginInfo) -> None:
    if strict_mode():
        raise PluginError(f"plugin {info.name!r} ({info.distribution}): {info.error}")
    plugins.plugins.append(info)


def _module_name(module: object) -> str:
    return getattr(module, "__name__", type(module).__name__)


def _core_version() -> str:
    from zoo_core import __version__

    return __version__
