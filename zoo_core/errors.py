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


class ZooWarning(UserWarning):
    """Something done on the user's behalf that they should know about (a cast, a dropped frame);
    the CLI prints it as one ``warning: ...`` line."""


def describe_validation(error: Exception) -> str:
    """A pydantic ``ValidationError`` as one line: ``key: problem (got value)`` per field."""
    parts = []
    for item in error.errors():  # type: ignore[attr-defined]
        where = ".".join(str(part) for part in item.get("loc", ())) or "config"
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        given = item.get("input")
        plain = isinstance(given, (str, int, float, bool, type(None)))
        shown = f" (got {given!r})" if plain and f"got {given}" not in message else ""
        parts.append(f"{where}: {message}{shown}")
    return "; ".join(parts) or str(error).splitlines()[0]


def describe_error(error: BaseException) -> str:
    """Any exception as one line, ``Type: message`` (for errors raised by code we call)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def few_keys(keys: list[str], n: int = 6) -> str:
    """The first ``n`` keys (or names) for an error message, with the total when there are more."""
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")
