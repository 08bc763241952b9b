"""The one exception family users can cause. The CLI prints ``str(error)`` as one line."""

from __future__ import annotations


class ZooError(Exception):
    """An error caused by input, configuration or environment, with a message that says the fix."""


class UnknownModelError(ZooError, KeyError):
    """A model or component name that no installed plugin registers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PluginError(ZooError):
    """A plugin failed to load, or two plugins claim the same name."""


class WeightsError(ZooError):
    """Weights that are missing, corrupt, truncated, mismatched or fail verification."""


class OfflineError(WeightsError):
    """Weights are needed but not cached and the Hub cannot be reached (offline mode)."""


class ConfigError(ZooError):
    """A configuration that fails validation or was written by an incompatible version."""


class UnsafePickleError(WeightsError):
    """A pickle that cannot be read without executing code it names."""


class InputError(ZooError):
    """An input image or video that cannot be used: unreadable, corrupt, unsupported."""


class NoFaceError(InputError):
    """No usable face where one is needed (none found, index out of range)."""
