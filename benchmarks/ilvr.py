"""ILVR speed / fidelity trade-off: time per swap and two fidelity numbers per step count.

For each respacing (default 100, 50 and 25 of 1000 steps; ``range_t`` scaled with the step count
so that the same share of the trajectory is conditioned) on aligned crops of the shared photos:
seconds per swap (one UNet evaluation per step), the low-pass agreement with the target (PSNR of
phi_N(output) against phi_N(target), in dB, images in [0, 1]) and the identity cosine between the
output and the source under the evaluation recognizer (NaN when it finds no face in the output).

    python benchmarks/ilvr.py --model ilvr-celebahq-256 --random-init
    python benchmarks/ilvr.py --model local-dir:converted/ilvr-ffhq-256 --device cuda
    python benchmarks/ilvr.py --random-init --set 'unet={"sample_size": 256, ...}'   # a smaller UNet

With random weights the numbers check the pipeline only; with real weights they are the curve.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

from common import FACES

PAIRS = (("face_recognition/biden/biden.jpg", "face_recognition/obama/obama.jpg"),
         ("face_recognition/obama/obama.jpg", "face_recognition/biden/biden.jpg"))


def load_model(args: argparse.Namespace) -> Any:
    import torch
    import zoo_plugin_ilvr

    from zoo_core import hub, registry

    registry.add_plugin(zoo_plugin_ilvr, name="ilvr", distribution="zoo-plugin-ilvr")
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    if args.random_init:
        torch.manual_seed(0)
        return registry.create_model(args.model, **overrides).to(args.device).eval()
    return hub.load(args.model, device=args.device, config_overrides=overrides)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ilvr-celebahq-256")
    parser.add_argument("--random-init", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="config override key=JSON")
    parser.add_argument("--steps", nargs="+", type=int, default=[100, 50, 25])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--faces", type=Path, default=FACES)
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from PIL import Image
    from zoo_plugin_ilvr.resize import LowPass

    from zoo_core.errors import NoFaceError
    from zoo_core.evaluate.recognizers import cosine_rows, load_recognizer
    from zoo_core.faces.swapper import FaceSwapper
    from zoo_core.faces.tensors import crops_to_tensor, tensor_to_crops

    model = load_model(args)
    swapper = FaceSwapper(model, device=args.device)
    recognizer = load_recognizer()
    sources, targets, source_ids = [], [], []
    for source_name, target_name in PAIRS:
        source_rgb = np.ascontiguousarray(np.asarray(Image.open(args.faces / source_name).convert("RGB")))
        source_ids.append(recognizer.describe(source_rgb, swapper.faces(source_rgb)[0]))
        sources.append(swapper.source_crop(args.faces / source_name))
        targets.append(swapper.source_crop(args.faces / target_name))
    source, target = crops_to_tensor(sources, swapper.device), crops_to_tensor(targets, swapper.device)
    lowpass = LowPass(source.shape[-1], model.downsample_factor).to(args.device)
    print(f"{model.spec.name} on {args.device}, N={model.downsample_factor}, range_t={model.conditioning_range}, "
          f"{len(PAIRS)} pairs, {'random' if args.random_init else 'loaded'} weights")
    print("| steps | range_t | s / swap | low-pass PSNR (dB) | identity cosine to source |")
    print("|---:|---:|---:|---:|---:|")
    model.pipeline(target, source, timestep_respacing="1")  # warm-up, not timed
    for steps in args.steps:
        generator = torch.Generator(args.device).manual_seed(0)
        start = time.perf_counter()
        # range_t counts respaced steps: keep the conditioned share of the trajectory fixed
        range_t = round(model.conditioning_range * steps / model.num_inference_steps)
        out = model.pipeline(target, source, timestep_respacing=str(steps), conditioning_range=range_t,
                             generator=generator).images
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / len(PAIRS)
        mse = ((lowpass(out) - lowpass(target)) ** 2).mean(dim=(1, 2, 3)).clamp(min=1e-12)
        psnr = (10 * torch.log10(1 / mse)).mean().item()
        cosines = []
        for i, crop in enumerate(tensor_to_crops(out)):
            try:
                face = swapper.faces(np.ascontiguousarray(crop))[0]
            except NoFaceError:
                cosines.append(math.nan)
                continue
            cosines.append(float(cosine_rows(recognizer.describe(crop, face)[None], source_ids[i][None])[0]))
        identity = math.nan if all(map(math.isnan, cosines)) else float(np.nanmean(cosines))
        print(f"| {steps} | {range_t} | {seconds:.3f} | {psnr:.2f} | {identity:.3f} |")


if __name__ == "__main__":
    main()
