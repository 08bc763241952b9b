"""Does SimSwap training learn identity with dlib-resnet-128 as its frozen identity encoder? Run
on demand: ``python benchmarks/identity_training.py`` (about 3.5 minutes on one core).

A small SimSwap (64 px crops aligned to the simswap-224 template, narrow widths: ``MODEL``)
trains on the CPU with the engine of ``zoo train`` and SimSwap's losses (paper weights except
``--lambda-id``; learning rate ``--lr``) on the identity folders of ``deepface/`` in the shared
faces folder (``--faces``, default ``$ZOO_TEST_FACES`` or ``<repo>/../shared/faces``), aligned
once with ``prepare_data``; the last photo of each identity is held out. Each ``--lambda-id``
value trains its own run from the same initial weights (``--lambda-id 30 0`` adds a control
without the identity term). It prints:

- the curve: the generator's identity loss ``1 - cos(E(swap), E(source))``, averaged over each
  ``--log-every`` steps (``RUN/losses.jsonl``; same- and cross-identity batches alternate);
- over every cross-identity (source, target) pair of two held-out sets, the held-out photos and
  the 5 people of ``face_recognition/`` (never trained on): the mean cosine of the swap's code
  to the source's and to the target's, at step 0 and at the end (the model's encoder, eval
  mode). The target's own cosine to the source is the level of a swap that copied the target.

Timings on a shared machine are noisy; ``--threads`` pins torch's intra-op threads (default 1).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from common import FACES, format_table, register_plugin

SIZE = 64
MODEL = {"ngf": 16, "max_channels": 64, "n_blocks": 3}
TRAINER = {"identity_encoder": "dlib-resnet-128", "d_channels": 16, "d_layers": 3}

Pairs = tuple[Any, Any]  # (sources, targets) crops


def align(source: Path, destination: Path) -> Path:
    from zoo_core.train.prepare import prepare_data

    prepare_data(source, destination, template="simswap-224", size=SIZE, workers=1, progress=False)
    return destination


def split_photos(folder: Path, held_out: Path) -> None:
    """Move the last photo (by name) of every identity of ``folder`` to ``held_out/<identity>/``."""
    for identity in sorted(p for p in folder.iterdir() if p.is_dir()):
        photo = sorted(identity.glob("*.png"))[-1]
        (held_out / identity.name).mkdir(parents=True)
        photo.rename(held_out / identity.name / photo.name)


def cross_identity_pairs(folder: Path) -> Pairs:
    """Every cross-identity (source, target) pair of the aligned crops in ``folder``."""
    import numpy as np
    import torch

    from zoo_core.train.data import FaceFolder, load_crop

    faces = FaceFolder.scan(folder)
    crops = torch.from_numpy(np.stack([load_crop(path, SIZE) for path in faces.paths]))
    ids = np.asarray(faces.identities)
    sources, targets = np.nonzero(ids[:, None] != ids[None])
    return crops[sources], crops[targets]


def cosines(model: Any, sources: Any, targets: Any) -> dict[str, float]:
    """Mean cosine of the swap's code to the source's and to the target's, and of the target's
    to the source's, in eval mode (the model's mode is restored)."""
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            source, target = model.identity(sources), model.identity(targets)
            swapped = model.identity(model.swap(sources, targets))
    finally:
        model.train(was_training)
    pairs = {"swap, source": (swapped, source), "swap, target": (swapped, target), "target, source": (target, source)}
    return {name: float(F.cosine_similarity(a, b).mean()) for name, (a, b) in pairs.items()}


def train(args: argparse.Namespace, lambda_id: float, data: Path, run: Path,
          pairs: dict[str, Pairs]) -> tuple[list[dict], dict, dict, float]:
    """One run: the logged rows, the cosines of each pair set before and after, the seconds."""
    from zoo_core.train.engine import Engine, TrainOptions

    options = TrainOptions(model="simswap-224", data=data, output=run, max_steps=args.steps, batch_size=args.batch_size,
                           tracker="none", resolution=SIZE, checkpoint_every=args.steps, sample_every=args.steps,
                           log_every=args.log_every, num_workers=0, seed=args.seed, model_overrides=MODEL,
                           trainer_config={**TRAINER, "lambda_id": lambda_id, "lr": args.lr})
    engine = Engine(options)
    model = engine.accelerator.unwrap_model(engine.networks["swapper"])
    before = {name: cosines(model, *pair) for name, pair in pairs.items()}
    start = time.perf_counter()
    engine.run()
    seconds = time.perf_counter() - start
    rows = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    return rows, before, {name: cosines(model, *pair) for name, pair in pairs.items()}, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=FACES)
    parser.add_argument("--steps", type=int, default=400, help="training steps (default 400)")
    parser.add_argument("--batch-size", type=int, default=8, help="default 8")
    parser.add_argument("--log-every", type=int, default=25, help="default 25")
    parser.add_argument("--lambda-id", type=float, nargs="+", default=[30.0],
                        help="identity loss weights, one run each (default: the paper's 30)")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3; official 4e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    register_plugin("simswap", "zoo_plugin_simswap", "simswap")
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        data = align(args.faces / "deepface", folder / "train")
        split_photos(data, folder / "held-out-photos")
        pairs = {"held-out photos": cross_identity_pairs(folder / "held-out-photos"),
                 "held-out people": cross_identity_pairs(align(args.faces / "face_recognition", folder / "held-out"))}
        runs = {weight: train(args, weight, data, folder / f"run-{weight:g}", pairs) for weight in args.lambda_id}
    labels = [f"lambda_id {weight:g}" for weight in runs]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.steps} steps of batch "
          f"{args.batch_size}, lr {args.lr:g}, model {MODEL}; seconds per run: "
          + ", ".join(f"{run[3]:.0f}" for run in runs.values()) + "; "
          + ", ".join(f"{len(pair[0])} pairs of {name}" for name, pair in pairs.items()) + "\n")
    curves = [[row["generator/identity"] for row in run[0]] for run in runs.values()]
    steps = [row["step"] for row in next(iter(runs.values()))[0]]
    print(format_table(["step", "identity loss:", *labels],
                       [[str(step), "", *(f"{curve[i]:.3f}" for curve in curves)] for i, step in enumerate(steps)]))
    print()
    before = next(iter(runs.values()))[1]  # same seed: every run starts from the same weights
    print(format_table(["cross-identity pairs", "cosine", "step 0", *(f"{label}, step {args.steps}" for label in labels)],
                       [[pair, name, f"{before[pair][name]:.3f}", *(f"{run[2][pair][name]:.3f}" for run in runs.values())]
                        for pair in before for name in before[pair]]))


if __name__ == "__main__":
    main()
