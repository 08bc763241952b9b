"""InfoSwap forward cost, run on demand: ``python benchmarks/infoswap.py``.

For ``infoswap-512`` and ``infoswap-1024`` (random weights from ``zoo_core.create_model``,
eval mode, ``torch.no_grad``, float32, batch 1, CPU), prints:

- parameters of the IR-SE50, the IIB, the U-Net decoder and the AII generator;
- forward time of one ``swap(source, target)``: the median (and the fastest) of ``--repeats``
  timed calls after one untimed call;
- peak memory of that first call above the memory held just before it: the resident-set
  high-water mark (``VmHWM``), reset by writing 5 to ``/proc/self/clear_refs`` (falls back to
  ``ru_maxrss``, the whole worker's peak, marked ``*``). Each variant runs in a fresh subprocess.

Timings on a shared machine are noisy; ``--threads`` pins torch's intra-op threads.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VARIANTS = ("infoswap-512", "infoswap-1024")
PARTS = ("identity_encoder", "iib", "decoder", "generator")


def register() -> None:
    """Register zoo-plugin-infoswap in-process (from this checkout when it is not installed)."""
    try:
        import zoo_plugin_infoswap
    except ImportError:
        sys.path.insert(0, str(REPO / "plugins" / "infoswap"))
        import zoo_plugin_infoswap
    from zoo_core import registry

    registry.add_plugin(zoo_plugin_infoswap, name="infoswap", distribution="zoo-plugin-infoswap")


def _hwm_kib() -> int | None:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) if match else None


def _rss_kib() -> int:
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def worker(variant: str, repeats: int, threads: int) -> dict:
    import torch

    from zoo_core import registry

    torch.set_num_threads(threads)
    register()
    model = registry.create_model(variant).eval()
    params = {part: sum(p.numel() for p in getattr(model, part).parameters()) for part in PARTS}
    size = model.config.output_size
    generator = torch.Generator().manual_seed(0)
    source, target = torch.rand(1, 3, size, size, generator=generator), torch.rand(1, 3, size, size, generator=generator)
    exact = True
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        exact = False
    before = _rss_kib()
    with torch.no_grad():
        start = time.perf_counter()
        model.swap(source, target)
        first = time.perf_counter() - start
        peak = (_hwm_kib() if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) or 0
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.swap(source, target)
            times.append(time.perf_counter() - start)
    return {"variant": variant, "params": params, "first_s": first, "median_s": statistics.median(times) if times else first,
            "min_s": min(times) if times else first, "peak_mib": (peak - before) / 1024, "exact_peak": exact}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeats, args.threads)))
        return
    print(f"{'variant':<15} {'IR-SE50':>11} {'IIB':>11} {'decoder':>11} {'AII':>12} {'median s':>9} {'min s':>7} {'peak MiB':>9}")
    for variant in args.variants:
        out = subprocess.run([sys.executable, __file__, "--worker", variant, "--repeats", str(args.repeats),
                              "--threads", str(args.threads)], check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        p = row["params"]
        star = "" if row["exact_peak"] else "*"
        print(f"{variant:<15} {p['identity_encoder']:>11,} {p['iib']:>11,} {p['decoder']:>11,} {p['generator']:>12,} "
              f"{row['median_s']:>9.2f} {row['min_s']:>7.2f} {row['peak_mib']:>8.0f}{star}")


if __name__ == "__main__":
    main()
