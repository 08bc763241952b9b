"""What the per-model benchmarks share: where the shared face photos are, registering a plugin
from this checkout, peak-RSS measurement (see ``benchmarks/simswap.py`` for why the kernel's
high-water mark), a fresh interpreter per measurement, and plain-text tables."""

from __future__ import annotations

import importlib
import json
import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FACES = Path(os.environ.get("ZOO_TEST_FACES") or REPO.parent / "shared" / "faces")
"""The shared face photos: ``$ZOO_TEST_FACES``, or ``../shared/faces`` beside the checkout."""
WORKER_FLAG = "--worker"


def register_plugin(folder: str, package: str, name: str) -> None:
    """Register ``plugins/<folder>`` in-process (from this checkout when it is not installed)."""
    try:
        module = importlib.import_module(package)
    except ImportError:
        sys.path.insert(0, str(REPO / "plugins" / folder))
        module = importlib.import_module(package)
    from zoo_core import registry

    registry.add_plugin(module, name=name, distribution=f"zoo-plugin-{folder}")


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (0 when absent)."""
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match[1]) if match else 0


def reset_peak_rss() -> bool:
    """Reset the RSS high-water mark (``clear_refs`` 5); False where the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_bytes_of(call: Callable[[], Any]) -> tuple[Any, int, bool]:
    """``call()``'s result, its peak resident memory above what was resident before it, and
    whether that number is exact (False: the process's lifetime peak, ``ru_maxrss``)."""
    before = status_kib("VmRSS") * 1024
    exact = reset_peak_rss()
    result = call()
    peak = status_kib("VmHWM") * 1024 if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result, peak - before, exact


def run_worker(script: str, job: dict[str, Any]) -> dict[str, Any]:
    """Run ``script --worker JOB`` in a fresh interpreter; its last stdout line is the JSON result."""
    command = [sys.executable, str(Path(script).resolve()), WORKER_FLAG, json.dumps(job)]
    env = {**os.environ, "ZOO_LOAD_PLUGINS": ""}  # only the plugin the script registers
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"worker {job} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned first two columns, right-aligned numbers."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                     for row in [header, *rows])
