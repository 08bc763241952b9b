"""``zoo synth run`` throughput beside the model's forward pass alone, in one run.

    python benchmarks/synth.py                                  # tiny random simswap-224, 24 rows, batch 8
    python benchmarks/synth.py --real-config --rows 16          # simswap-224 at its paper size (random weights)
    python benchmarks/synth.py --num-workers 2 --threads 1

The plan: two small copies (longest side ``--side`` px) of each identity of the shared photos'
``face_recognition/`` folder, ``--rows`` fake photo rows (c23, no perturbation). The run is
``zoo_core.synth.runner.run_rows`` end to end (model load, DataLoader preparation: decoding,
dlib detection and alignment; the model; paste-back, masks, JPEG and PNG writing, sha256 and
the fsync'd manifest). The forward pass is ``model.swap(source, target, identity=...)`` on
random crops of the model's resolution in batches of ``--batch-size``, after one untimed
batch: what the model alone could do. The ratio run / forward is the share of the model's
throughput the pipeline keeps. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from common import FACES, format_table, register_plugin

TINY = {"ngf": 4, "max_channels": 16, "n_blocks": 1, "identity_depth": 18, "identity_input_size": 32}


def identity_folder(root: Path, side: int) -> Path:
    from PIL import Image

    for person in sorted((FACES / "face_recognition").iterdir()):
        for k, photo in enumerate(sorted(person.glob("*"))[:2]):
            image = Image.open(photo).convert("RGB")
            image.thumbnail((side, side))
            (root / person.name).mkdir(parents=True, exist_ok=True)
            image.save(root / person.name / f"{k}.png")
    return root


def synth_rate(source: Path, work: Path, config: dict, args: argparse.Namespace) -> tuple[float, int]:
    """Rows per second of a whole ``zoo synth run`` of a fresh plan."""
    from zoo_core.synth.plan import PlanSettings, build_plan
    from zoo_core.synth.runner import RunOptions, run_rows

    settings = PlanSettings(methods=["simswap-224"], pairs_per_identity=-(-args.rows // 5), seed=0,
                            fractions=(1.0, 0.0, 0.0), random_init=True, model_config={"simswap-224": config})
    rows = build_plan(source, settings)[: args.rows]
    options = RunOptions(work / "dataset", batch_size=args.batch_size, device=args.device, num_workers=args.num_workers,
                         progress=False, precision=args.precision, channels_last=args.channels_last)
    start = time.perf_counter()
    summary = run_rows(rows, options, "bench", echo=lambda line: None)
    elapsed = time.perf_counter() - start
    if summary.failed:
        raise SystemExit(f"{len(summary.failed)} rows failed: {summary.failed[0]}")
    return len(rows) / elapsed, len(rows)


def forward_rate(config: dict, count: int, args: argparse.Namespace) -> float:
    """Crops per second of ``swap`` alone at the same batch size (the identity code computed once per batch)."""
    import torch

    from zoo_core.factory import load_model

    from zoo_core.synth.render import Renderer

    model = load_model("simswap-224", device=args.device, random_init=True, config=config).model
    renderer = Renderer(Path(), model, None, args.batch_size, args.device, args.precision, args.channels_last)
    size = model.spec.resolution
    torch.manual_seed(0)
    shape = (args.batch_size, 3, size, size)
    source, target = (renderer.layout(torch.rand(shape, device=args.device)) for _ in range(2))
    with torch.inference_mode(), renderer.autocast():
        model.swap(source, target, identity=model.identity(source))  # untimed
        synchronize(args.device)
        start = time.perf_counter()
        done = 0
        while done < count:
            model.swap(source, target, identity=model.identity(source))
            done += args.batch_size
        synchronize(args.device)
        return done / (time.perf_counter() - start)


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--side", type=int, default=400, help="longest side of the photo copies")
    parser.add_argument("--real-config", action="store_true", help="simswap-224 at its paper configuration")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp32", help="autocast dtype")
    parser.add_argument("--channels-last", action="store_true", help="channels_last model and inputs")
    args = parser.parse_args()
    import warnings

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*random weights.*")
    register_plugin("simswap", "zoo_plugin_simswap", "simswap")
    config = {} if args.real_config else TINY
    work = Path(tempfile.mkdtemp(prefix="zoo-synth-bench-"))
    try:
        synth, rows = synth_rate(identity_folder(work / "people", args.side), work, config, args)
        forward = forward_rate(config, rows, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = "simswap-224 " + ("(paper config)" if args.real_config else "(tiny)")
    print(f"{rows} rows, batch size {args.batch_size}, {args.num_workers} loader workers, "
          f"{torch.get_num_threads()} torch threads, {args.device}, {args.precision}"
          + (", channels_last" if args.channels_last else ""))
    print(format_table(["model", "what", "rows/s"], [
        [name, "zoo synth run (end to end)", f"{synth:.2f}"],
        [name, "swap forward only", f"{forward:.2f}"],
    ]))
    print(f"ratio run / forward: {synth / forward:.3f}")


if __name__ == "__main__":
    main()
