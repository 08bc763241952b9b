"""What the verbs share: click parameter types and options (``--device``, ``--seed``, ``--smooth``,
``--overwrite``, ``--max-pixels``), ``key=value`` parsing, JSON and table output, and the
one-line display of ``ZooWarning``.

Imported by the CLI at start-up, so only click is imported here; torch loads when a device
other than the CPU is checked.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import click

from zoo_core.devices import DEVICE_FORMS, DEVICE_PATTERN, check_device
from zoo_core.errors import ZooWarning

SEED = click.IntRange(0, 2**31 - 1)
"""A seed every library takes (numpy refuses negative ones; the engines add small offsets)."""

SMOOTHING = click.FloatRange(0, 1, min_open=True)
"""``--smooth``: the weight of a video frame's new landmarks (1 = no smoothing, 0 would freeze them)."""


class DeviceType(click.ParamType):
    """``--device``: a malformed value is a usage error (exit 2); a device this machine lacks is
    a one-line ``ZooError`` (exit 1)."""

    name = "device"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if DEVICE_PATTERN.fullmatch(text) is None:
            self.fail(f"{text!r} is not a device; expected {DEVICE_FORMS}", param, ctx)
        return check_device(text)


DEVICE = DeviceType()


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Show each distinct ``ZooWarning`` raised inside as one ``warning: ...`` line on stderr."""
    shown: set[str] = set()
    original: Callable[..., None] = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if not issubclass(category, ZooWarning):
            original(message, category, *args, **kwargs)
            return
        text = " ".join(str(message).split())
        if text not in shown:
            shown.add(text)
            click.echo(f"warning: {text}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always", ZooWarning)
        warnings.showwarning = show
        yield


def default_max_pixels() -> int:
    """``--max-pixels``'s default (imported when needed: the CLI starts without numpy and PIL)."""
    from zoo_core.faces.io import DEFAULT_MAX_PIXELS

    return DEFAULT_MAX_PIXELS


OVERWRITE = click.option("--overwrite", is_flag=True, help="Allow the output to replace one of the input files.")
MAX_PIXELS = click.option("--max-pixels", type=click.IntRange(min=1), default=default_max_pixels,
                          help="Refuse images larger than this many pixels, before decoding them (default: 100 million).")

SMOOTH = click.option("--smooth", type=SMOOTHING, default=0.5, show_default=True,
                      help="Video landmark smoothing: weight of the new frame, in (0, 1] (1 = off).")
_FACE_MODEL_OPTIONS = (
    click.option("--device", type=DEVICE, default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps, ..."),
    click.option("--revision", help="Branch, tag or commit of the weights."),
    click.option("--local-files-only", is_flag=True, help="Never download weights."),
    click.option("--detector", default="dlib-hog", show_default=True, help="Face detector component (zoo info NAME)."),
)


def face_model_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--device``, ``--revision``, ``--local-files-only`` and ``--detector`` of the face verbs."""
    for option in reversed(_FACE_MODEL_OPTIONS):
        function = option(function)
    return function


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def table(rows: list[list[str]], header: list[str]) -> None:
    """Left-aligned columns under a header, as ``zoo list`` and ``zoo plugins`` print them."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def parse_assignments(items: tuple[str, ...], what: str) -> dict[str, str]:
    """``("a=1", "b=x")`` -> ``{"a": "1", "b": "x"}``; anything else is a usage error naming ``what``."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected {what}, got {item!r}")
        result[key] = value
    return result


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON when it parses as JSON, the string otherwise."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def config_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """``--set key=value`` options as a config dict (JSON values)."""
    return {key: parse_value(value) for key, value in parse_assignments(items, "key=value").items()}
