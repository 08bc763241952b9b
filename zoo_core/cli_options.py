"""Click parameter types shared by the verbs (``--device``, ``--seed``, ``--smooth``) and the
one-line display of ``ZooWarning``.

Imported by the CLI at start-up, so only click is imported here; torch loads when a device
other than the CPU is checked.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import click

from zoo_core.errors import ZooError, ZooWarning

DEVICE_PATTERN = re.compile(r"(?P<type>cpu|cuda|mps|xpu)(?::(?P<index>\d+))?")
DEVICE_FORMS = "cpu, cuda, cuda:N, mps, xpu or xpu:N"
"""The devices the verbs accept (``DEVICE_PATTERN``), as the error messages list them."""

SEED = click.IntRange(0, 2**31 - 1)
"""A seed every library takes (numpy refuses negative ones; the engines add small offsets)."""

SMOOTHING = click.FloatRange(0, 1, min_open=True)
"""``--smooth``: the weight of a video frame's new landmarks (1 = no smoothing, 0 would freeze them)."""


def check_device(device: str) -> str:
    """``device`` if this machine can run on it; a one-line ``ZooError`` saying why not otherwise.

    ``device`` must match ``DEVICE_PATTERN``.
    """
    match = DEVICE_PATTERN.fullmatch(device)
    if match is None:
        raise ZooError(f"--device {device}: expected {DEVICE_FORMS}")
    kind, index = match["type"], match["index"]
    if kind == "cpu":
        return device
    import torch

    if kind == "cuda" and not torch.backends.cuda.is_built():
        raise ZooError(f"--device {device}: CUDA is not available in this torch build (torch {torch.__version__}); "
                       "install a CUDA build of torch or use --device cpu")
    backend = getattr(torch, kind)
    if not backend.is_available():
        raise ZooError(f"--device {device}: no {kind.upper()} device is visible; use --device cpu")
    count = backend.device_count()
    if index is not None and int(index) >= count:
        raise ZooError(f"--device {device}: only {count} {kind.upper()} device(s) are visible "
                       f"({kind}:0 to {kind}:{count - 1})")
    return device


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
