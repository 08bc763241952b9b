"""StyleFace forward cost, run on demand: ``python benchmarks/styleface.py``.

For ``styleface-256`` and ``styleface-1024`` (random weights from ``zoo_core.create_model``,
eval mode, ``torch.no_grad``, float32, batch 1 by default) prints:

- parameters of each part: StyleGAN2 generator, identity projector ω, Adaptive Attribute
  Extractor, AttrInjection masks, and the frozen ArcFace identity encoder;
- time per image of ``swap(source, target)`` (identity of the source, attributes of the
  target) and of ``deidentify(target)`` (a sampled identity): the median and the fastest of
  ``--repeats`` timed calls after one untimed call (the paper's Table 1 speed is on a V100;
  this is the CPU, or CUDA when asked for and available);
- peak memory of the first ``swap`` above the memory held just before it.

Peak memory on the CPU is the resident-set high-water mark (``VmHWM`` in
``/proc/self/status``) reset just before the call by writing 5 to ``/proc/self/clear_refs``;
each (variant, device) runs in a fresh subprocess so that cached allocations of an earlier run
do not hide in the baseline (``tracemalloc`` would miss torch's tensor storage). Without
``clear_refs`` the script falls back to ``ru_maxrss`` over the worker's life and marks the
number with ``*``. On CUDA: ``torch.cuda.max_memory_allocated()`` above the allocation before
the call (tensors only). Timings on a shared machine are noisy; ``--threads`` pins torch's
intra-op threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from common import WORKER_FLAG, format_table, peak_bytes_of, register_plugin, run_worker

VARIANTS = ("styleface-256", "styleface-1024")
PARTS = ("generator", "projector", "aae", "injections", "identity_encoder")








def _timed(call: Any, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def measure(variant: str, device: str, batch: int, repeats: int, threads: int | None) -> dict[str, Any]:
    """One (variant, device): parameters, peak memory of a first swap, timed swaps and de-IDs."""
    import torch

    from zoo_core import registry

    if threads:
        torch.set_num_threads(threads)
    register_plugin("styleface", "zoo_plugin_styleface", "styleface")
    model = registry.create_model(variant).eval().to(device)
    params = {part: sum(p.numel() for p in getattr(model, part).parameters()) for part in PARTS}
    size = model.spec.resolution
    generator = torch.Generator().manual_seed(0)
    source = torch.rand(batch, 3, size, size, generator=generator).to(device)
    target = torch.rand(batch, 3, size, size, generator=generator).to(device)
    cuda = torch.device(device).type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    def swap() -> None:
        with torch.no_grad():
            model.swap(source, target)
        sync()

    def deidentify() -> None:
        with torch.no_grad():
            model.deidentify(target, torch.Generator(device=device).manual_seed(1))
        sync()

    exact = True
    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        swap()
        peak = torch.cuda.max_memory_allocated(device) - before
    else:
        _, peak, exact = peak_bytes_of(swap)
    deidentify()
    swaps, deids = _timed(swap, repeats), _timed(deidentify, repeats)
    return {"params": params, "peak_bytes": peak, "peak_exact": exact,
            "swap_s": (statistics.median(swaps), min(swaps)), "deid_s": (statistics.median(deids), min(deids)),
            "threads": torch.get_num_threads(),
            "device_label": torch.cuda.get_device_name(device) if cuda else "cpu"}






def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the first (default 3)")
    parser.add_argument("--devices", nargs="+", default=["cpu"], help="default: cpu")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)

    import torch

    header = ["variant", "device", "params (M): G / ω / AAE / masks / ID", "swap ms/img (min)",
              "deid ms/img (min)", "peak MB"]
    rows, labels, inexact = [], {}, False
    for variant in args.variants:
        for device in args.devices:
            result = run_worker(__file__, {"variant": variant, "device": device, "batch": args.batch,
                                 "repeats": args.repeats, "threads": args.threads})
            labels[device] = f"{result['device_label']} ({result['threads']} threads)"
            mark = "" if result["peak_exact"] else "*"
            inexact |= not result["peak_exact"]
            per_image = [f"{t[0] * 1e3 / args.batch:.0f} ({t[1] * 1e3 / args.batch:.0f})"
                         for t in (result["swap_s"], result["deid_s"])]
            parts = " / ".join(f"{result['params'][part] / 1e6:.2f}" for part in PARTS)
            rows.append([variant, device, parts, *per_image, f"{result['peak_bytes'] / 2**20:.0f}{mark}"])
    print(f"torch {torch.__version__}; devices: " + "; ".join(f"{k} = {v}" for k, v in labels.items()))
    print(f"batch {args.batch}, float32, eval, no_grad; median (min) of {args.repeats} calls after one untimed "
          "call; peak MB: above the memory held before the first swap\n")
    print(format_table(header, rows))
    if inexact:
        print("\n* /proc/self/clear_refs unavailable: peak is ru_maxrss over the worker's life minus the baseline")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER_FLAG:
        print(json.dumps(measure(**json.loads(sys.argv[2]))))
    else:
        main()
