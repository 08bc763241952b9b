"""Loading official weights: from the zoo cache vs reading the official files and converting them,
run on demand: ``python benchmarks/weights.py``.

For ``simswap-224`` (generator + SimSwap's pickled ArcFace) and the 1024 px StyleGAN2 component
(an NVlabs network pickle), files in the official layouts are made from random weights and served
by a local HTTP server (``ZOO_MIRROR``), then each path runs in a fresh interpreter:

- ``convert``: what the first ``zoo load`` does once the files are downloaded: read the official
  files (restricted unpickler), run the converter, build the model, load strictly, write the cache;
- ``cache``: what every later load does: verify the cached files against the lock, build without
  random initialisation, read the safetensors weights.

It prints wall time and peak resident memory above the baseline (see ``benchmarks/common.py``)
and the ratios the goals are stated in: cache load at least 3x faster than converting, and its
peak memory at most 1.3x the size of the weights.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, WORKER_FLAG, format_table, peak_bytes_of, register_plugin, run_worker  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "support"))
sys.path.insert(0, str(REPO / "tests" / "nets"))
sys.path.insert(0, str(REPO / "plugins" / "simswap" / "tests"))


def official_simswap() -> dict[str, bytes]:
    """checkpoints.zip (generator at the official member path) and arcface_checkpoint.tar."""
    import torch
    from simswap_official_layout import fill, official_generator_layout

    from zoo_core.nets.identity import SimSwapArcFace

    member, tar, archive = io.BytesIO(), io.BytesIO(), io.BytesIO()
    torch.save(fill(official_generator_layout("224"), seed=1), member)
    torch.save(SimSwapArcFace(depth=101, input_size=112).eval(), tar)
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("checkpoints/people/latest_net_G.pth", member.getvalue())
    return {"/github.com/neuralchen/SimSwap/releases/download/1.0/checkpoints.zip": archive.getvalue(),
            "/github.com/neuralchen/SimSwap/releases/download/1.0/arcface_checkpoint.tar": tar.getvalue()}


def official_stylegan2() -> dict[str, bytes]:
    """An NVlabs stylegan2-ada-pytorch snapshot of a 1024 px config-f generator."""
    import torch
    from stylegan2_layout import nvidia_layout, write_ada_snapshot

    from zoo_core.nets.stylegan2 import make_kernel
    from zoo_core.nets.stylegan2_config import default_channels

    generator = torch.Generator().manual_seed(0)
    g_layout, _ = nvidia_layout(1024, default_channels(2))
    state = {key: make_kernel((1, 3, 3, 1)) if key.endswith("resample_filter")  # the real FIR taps
             else torch.randn(shape, generator=generator) * 0.01 for key, shape in g_layout.items()}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ffhq.pkl"
        write_ada_snapshot(path, {"G_ema": state})
        data = path.read_bytes()
    return {"/nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/ffhq.pkl": data}


CASES = {"simswap-224": official_simswap, "stylegan2-1024": official_stylegan2}


def worker(job: dict) -> dict:
    """One measured load in this fresh interpreter."""
    import torch

    from zoo_core import pretrained
    from zoo_core.component_weights import load_component

    torch.set_num_threads(job["threads"])
    register_plugin("simswap", "zoo_plugin_simswap", "simswap")
    name, accept = job["name"], frozenset(job["accept"])

    def load() -> object:
        cached = pretrained.ensure(name, accept_sha256=accept)
        if name.startswith("stylegan2"):
            return load_component(name, cached.folder), cached
        return pretrained.load(name, accept_sha256=accept)

    start = time.perf_counter()
    (_, cached), peak, exact = peak_bytes_of(load)
    seconds = time.perf_counter() - start
    weights = sum(path.stat().st_size for path in cached.folder.glob("*.safetensors"))
    return {"seconds": seconds, "peak": peak, "exact": exact, "weights": weights}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from zoo_testing.weights_server import serve

    from zoo_core import pretrained, registry

    rows = []
    with tempfile.TemporaryDirectory() as cache, serve() as server:
        os.environ.update({"ZOO_CACHE": cache, "ZOO_MIRROR": server.mirror})
        os.environ.pop("ZOO_OFFLINE", None)
        for name, make in CASES.items():
            files = make()
            server.files.update(files)
            accept = sorted({hashlib.sha256(data).hexdigest() for data in files.values()}
                            | {hashlib.sha256(zipfile.ZipFile(io.BytesIO(data)).read(n)).hexdigest()
                               for data in files.values() if data[:2] == b"PK"
                               for n in zipfile.ZipFile(io.BytesIO(data)).namelist()})
            job = {"name": name, "accept": accept, "threads": args.threads}
            registry.reset()
            run_worker(__file__, job)  # downloads the files once (not measured)
            pretrained.remove(name)
            convert = run_worker(__file__, job)  # official files -> converted, cached, loaded
            cached = run_worker(__file__, job)  # from the cache
            mark = "" if cached["exact"] else "*"
            rows.append([name, f"{convert['weights'] / 2**20:,.0f} MiB",
                         f"{convert['seconds']:.2f} s", f"{cached['seconds']:.2f} s",
                         f"{convert['seconds'] / cached['seconds']:.1f}x",
                         f"{convert['peak'] / 2**20:,.0f} MiB", f"{cached['peak'] / 2**20:,.0f} MiB{mark}",
                         f"{cached['peak'] / cached['weights']:.2f}x"])
    print(format_table(["model", "weights", "convert", "cache", "speed-up", "peak convert", "peak cache",
                        "cache peak/weights"], rows))
    print("goals: speed-up >= 3x, cache peak/weights <= 1.3x   (* = lifetime peak, the kernel refused a reset)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == WORKER_FLAG:
        print(json.dumps(worker(json.loads(sys.argv[2]))))
    else:
        main()
