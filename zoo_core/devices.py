"""Which devices this machine can run on: ``check_device`` answers before anything is loaded.

torch is imported only when a device other than the CPU is checked.
"""

from __future__ import annotations

import re

from zoo_core.errors import ZooError

DEVICE_PATTERN = re.compile(r"(?P<type>cpu|cuda|mps|xpu)(?::(?P<index>\d+))?")
DEVICE_FORMS = "cpu, cuda, cuda:N, mps, xpu or xpu:N"
"""The devices the verbs accept (``DEVICE_PATTERN``), as the error messages list them."""


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
