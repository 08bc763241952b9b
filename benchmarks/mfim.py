"""MFIM forward cost, run on demand: ``python benchmarks/mfim.py``.

``mfim-1024`` at its real configuration (random weights from ``zoo_core.create_model``, eval
mode, ``torch.no_grad``, float32): one swap of a 256x256 source and target (the encoder's
input) into a 1024x1024 image (``model(source, target)``: two encoder passes, 26 StyleSpace
codes, six style maps, the config-f synthesis network), at batch 1, on the CPU and, when one
is available, on CUDA. Prints parameters (encoder, generator), GFLOPs (convolutions and matrix
products counted by ``torch.utils.flop_counter`` on the meta device), the median and fastest of
``--repeats`` timed calls after one untimed call, and the peak memory of that first call above
the memory held before it: on the CPU the resident-set high-water mark (``VmHWM``, reset
through ``/proc/self/clear_refs``; ``*`` marks the whole-life ``ru_maxrss`` fallback), on CUDA
``max_memory_allocated`` (tensors only). Each device runs in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from common import WORKER_FLAG, peak_bytes_of, register_plugin, run_worker

VARIANT = "mfim-1024"




def inputs(batch: int, size: int, device: Any) -> tuple[Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(0)
    return (torch.rand(batch, 3, size, size, generator=generator).to(device),
            torch.rand(batch, 3, size, size, generator=generator).to(device))


def count_gflops(batch: int) -> tuple[float, float]:
    """(encoder, generator) GFLOPs of one swap of ``batch`` pairs, on the meta device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from zoo_core import registry
    from zoo_core.hub import skip_weight_init

    with skip_weight_init(), torch.device("meta"):
        model = registry.create_model(VARIANT).eval()
    source, target = inputs(1, model.config.input_size, "cpu")
    source, target = source.expand(batch, -1, -1, -1).to("meta"), target.expand(batch, -1, -1, -1).to("meta")
    with torch.no_grad():
        with FlopCounterMode(display=False) as encoder_counter:
            codes, maps = model.encode_target(target)
            codes.update(model.encode_identity(source))
        with FlopCounterMode(display=False) as generator_counter:
            model.synthesize(codes, maps)
    return encoder_counter.get_total_flops() / 1e9, generator_counter.get_total_flops() / 1e9






def measure(device: str, batch: int, repeats: int, threads: int | None) -> dict[str, Any]:
    """Peak memory of a first swap, then timed swaps."""
    import torch

    from zoo_core import registry

    if threads:
        torch.set_num_threads(threads)
    register_plugin("mfim", "zoo_plugin_mfim", "mfim")
    model = registry.create_model(VARIANT).eval().to(device)
    params = (sum(p.numel() for p in model.encoder.parameters()), sum(p.numel() for p in model.generator.parameters()))
    source, target = inputs(batch, model.config.input_size, device)
    cuda = torch.device(device).type == "cuda"

    def swap() -> tuple[int, ...]:
        with torch.no_grad():
            out = model(source, target)
        if cuda:
            torch.cuda.synchronize(device)
        return tuple(out.shape)

    exact = True
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        shape = swap()
        peak = torch.cuda.max_memory_allocated(device) - before
    else:
        shape, peak, exact = peak_bytes_of(swap)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        swap()
        times.append(time.perf_counter() - start)
    return {"params": params, "peak_bytes": peak, "peak_exact": exact, "median_s": statistics.median(times),
            "min_s": min(times), "output": shape, "threads": torch.get_num_threads(),
            "device_label": torch.cuda.get_device_name(device) if cuda else "cpu"}




def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1], help="default: 1")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the first (default 3)")
    parser.add_argument("--devices", nargs="+", help="default: cpu, plus cuda when available")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)

    import torch

    register_plugin("mfim", "zoo_plugin_mfim", "mfim")
    devices = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    print("| device | batch | params enc + G (M) | GFLOPs enc + G | output | median ms | min ms | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in args.batch_sizes:
        encoder_gflops, generator_gflops = count_gflops(batch)
        for device in devices:
            r = run_worker(__file__, {"device": device, "batch": batch, "repeats": args.repeats, "threads": args.threads})
            label = f"cpu ({r['threads']} threads)" if device == "cpu" else r["device_label"]
            print(f"| {label} | {batch} | {r['params'][0] / 1e6:.1f} + {r['params'][1] / 1e6:.1f} | "
                  f"{encoder_gflops:.1f} + {generator_gflops:.1f} | {'x'.join(map(str, r['output'][1:]))} | "
                  f"{r['median_s'] * 1e3:.0f} | {r['min_s'] * 1e3:.0f} | "
                  f"{r['peak_bytes'] / 2**20:.0f}{'' if r['peak_exact'] else '*'} |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER_FLAG:
        job = json.loads(sys.argv[2])
        print(json.dumps(measure(job["device"], job["batch"], job["repeats"], job["threads"])))
    else:
        main()
