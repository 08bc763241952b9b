"""Core overheads, run on demand: ``python benchmarks/bench_core.py``.

Prints ratios rather than asserting times:
- start-up of ``zoo list`` against a bare ``python -c pass`` and against ``import torch``
  (``zoo list`` must stay far below the cost of importing torch);
- ``zoo_core.load`` of a saved folder against a bare ``safetensors`` read of the same file
  (the overhead of config parsing, building and strict loading).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 5


def wall(command: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup() -> None:
    bare = wall([sys.executable, "-c", "pass"])
    torch_import = wall([sys.executable, "-c", "import torch"])
    zoo_list = wall([sys.executable, "-m", "zoo_core", "list"])
    print(f"startup: python {bare:.3f}s, import torch {torch_import:.3f}s, zoo list {zoo_list:.3f}s")
    print(f"startup ratio zoo list / import torch: {zoo_list / torch_import:.2f} (want < 0.5)")


def bench_load() -> None:
    import torch
    from safetensors.torch import load_file

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "zoo-plugin-example"))
    import zoo_plugin_example

    import zoo_core
    from zoo_core import registry

    registry.add_plugin(zoo_plugin_example, name="example", distribution="zoo-plugin-example")
    model = zoo_core.create_model("example-64", channels=256, identity_dim=512)
    with tempfile.TemporaryDirectory() as scratch:
        folder = zoo_core.save_pretrained(model, Path(scratch) / "m")
        size_mb = (folder / "model.safetensors").stat().st_size / 1e6
        raw, full = [], []
        for _ in range(REPEATS):
            start = time.perf_counter()
            load_file(str(folder / "model.safetensors"))
            raw.append(time.perf_counter() - start)
            start = time.perf_counter()
            zoo_core.load(f"local-dir:{folder}")
            full.append(time.perf_counter() - start)
    raw_t, full_t = statistics.median(raw), statistics.median(full)
    print(f"load {size_mb:.1f} MB: safetensors {raw_t * 1e3:.1f} ms, zoo_core.load {full_t * 1e3:.1f} ms")
    print(f"load ratio zoo_core.load / safetensors read: {full_t / raw_t:.2f}")
    del torch


if __name__ == "__main__":
    bench_startup()
    bench_load()
