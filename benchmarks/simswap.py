"""SimSwap forward cost, run on demand: ``python benchmarks/simswap.py``.

For ``simswap-224`` and ``simswap-512`` (random weights from ``zoo_core.create_model``, eval
mode, ``torch.no_grad``, float32), at batch 1 and 8, on the CPU and, when one is available, on
CUDA, prints a table of:

- parameters of the generator and of the ArcFace identity encoder;
- GFLOPs of one ``swap(source, target)`` of the whole batch (identity + generator), counted by
  ``torch.utils.flop_counter.FlopCounterMode`` on the meta device. It counts the ops it knows:
  convolutions and matrix products (2 FLOPs per multiply-add), not normalisations, activations
  or interpolation;
- forward time of ``swap``: the median (and the fastest) of ``--repeats`` timed calls, after
  one untimed call;
- peak memory of that first call above the memory held just before it (model, inputs).

Peak memory on the CPU is the kernel's resident-set high-water mark (``VmHWM`` in
``/proc/self/status``), reset just before the call by writing 5 to ``/proc/self/clear_refs``.
Each (variant, device, batch) runs in a fresh subprocess, so memory that glibc or torch kept
cached from an earlier run cannot hide in the baseline. ``tracemalloc`` is not used because it
only sees allocations made through Python's allocator, and torch allocates tensor storage with
``posix_memalign`` outside it: it would report almost nothing. Sampling ``psutil`` RSS from a
thread is not used either, because it can miss a short peak. The RSS high-water mark catches
every page touched, including oneDNN scratch buffers. On kernels without ``clear_refs`` the
script falls back to ``resource.getrusage().ru_maxrss``, the peak over the worker's whole life,
and marks the number with ``*``. On CUDA, peak memory is
``torch.cuda.max_memory_allocated()`` minus ``torch.cuda.memory_allocated()`` before the call,
i.e. tensors only; the caching allocator and the CUDA context are not included.

Timings on a shared machine are noisy; ``--threads`` pins torch's intra-op threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from common import WORKER_FLAG, format_table, peak_bytes_of, register_plugin, run_worker

VARIANTS = ("simswap-224", "simswap-512")




def inputs(batch: int, resolution: int, device: Any) -> tuple[Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(0)
    source = torch.rand(batch, 3, resolution, resolution, generator=generator)
    target = torch.rand(batch, 3, resolution, resolution, generator=generator)
    return source.to(device), target.to(device)


def count_gflops(variant: str, batch: int) -> tuple[float, float]:
    """(identity, generator) GFLOPs of one swap of ``batch`` pairs, counted on the meta device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from zoo_core import registry

    with torch.device("meta"):
        model = registry.create_model(variant).eval()
    source, target = inputs(batch, model.spec.resolution, "meta")
    with torch.no_grad():
        with FlopCounterMode(display=False) as identity_counter:
            latent = model.identity(source)
        with FlopCounterMode(display=False) as generator_counter:
            model.generator(target, latent)
    return identity_counter.get_total_flops() / 1e9, generator_counter.get_total_flops() / 1e9






def measure(variant: str, device: str, batch: int, repeats: int, threads: int | None) -> dict[str, Any]:
    """One (variant, device, batch): peak memory of a first swap, then timed swaps."""
    import torch

    from zoo_core import registry

    if threads:
        torch.set_num_threads(threads)
    register_plugin("simswap", "zoo_plugin_simswap", "simswap")
    model = registry.create_model(variant).eval().to(device)
    params = (sum(p.numel() for p in model.generator.parameters()),
              sum(p.numel() for p in model.identity_encoder.parameters()))
    source, target = inputs(batch, model.spec.resolution, device)
    cuda = torch.device(device).type == "cuda"

    def swap() -> None:
        with torch.no_grad():
            model.swap(source, target)
        if cuda:
            torch.cuda.synchronize(device)

    exact = True
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        swap()
        peak = torch.cuda.max_memory_allocated(device) - before
    else:
        _, peak, exact = peak_bytes_of(swap)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        swap()
        times.append(time.perf_counter() - start)
    return {
        "params": params,
        "peak_bytes": peak,
        "peak_exact": exact,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "threads": torch.get_num_threads(),
        "device_label": torch.cuda.get_device_name(device) if cuda else "cpu",
    }






def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8], help="default: 1 8")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the first (default 3)")
    parser.add_argument("--devices", nargs="+", help="default: cpu, plus cuda when available")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)

    import torch

    register_plugin("simswap", "zoo_plugin_simswap", "simswap")
    devices = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    header = ["variant", "device", "batch", "params G+ID (M)", "GFLOPs ID+G", "GFLOPs/img",
              "median ms", "min ms", "ms/img", "peak MB"]
    rows, labels, notes = [], {}, set()
    for variant in args.variants:
        for batch in args.batch_sizes:
            identity_gflops, generator_gflops = count_gflops(variant, batch)
            total = identity_gflops + generator_gflops
            for device in devices:
                job = {"variant": variant, "device": device, "batch": batch,
                       "repeats": args.repeats, "threads": args.threads}
                result = run_worker(__file__, job)
                labels[device] = f"{result['device_label']} ({result['threads']} threads)" if device == "cpu" else result["device_label"]
                generator_m, identity_m = (p / 1e6 for p in result["params"])
                mark = "" if result["peak_exact"] else "*"
                notes.add(mark)
                rows.append([
                    variant, device, str(batch), f"{generator_m:.2f}+{identity_m:.2f}",
                    f"{identity_gflops:.1f}+{generator_gflops:.1f}", f"{total / batch:.1f}",
                    f"{result['median_s'] * 1e3:.0f}", f"{result['min_s'] * 1e3:.0f}",
                    f"{result['median_s'] * 1e3 / batch:.0f}", f"{result['peak_bytes'] / 2**20:.0f}{mark}",
                ])
    print(f"torch {torch.__version__}; devices: " + "; ".join(f"{k} = {v}" for k, v in labels.items()))
    print(f"swap(source, target), float32, eval, no_grad; time: median/min of {args.repeats} calls after "
          "one untimed call; peak MB: above the memory held before the first call "
          "(CPU: RSS high-water mark, CUDA: allocated tensors)\n")
    print(format_table(header, rows))
    if "*" in notes:
        print("\n* /proc/self/clear_refs unavailable: peak is ru_maxrss over the worker's life minus the baseline")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER_FLAG:
        print(json.dumps(measure(**json.loads(sys.argv[2]))))
    else:
        main()
