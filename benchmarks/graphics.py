"""graphics-512 speed beside simswap-224, and its identity transfer on the shared photos.

    python benchmarks/graphics.py                       # swap-step time, both models, one run
    python benchmarks/graphics.py --identity            # the model card's identity / pose table
    python benchmarks/graphics.py --identity --set blend=poisson --set shape=0

Speed: the graphics-512 swap step is ``model.swap(source, target)`` on one pair of real 512 px
aligned crops (skimage's astronaut and her mirror image, always available): tensors in, dlib
detection and 68 landmarks on both crops, the mesh warp, colour transfer, blending, tensor out.
Beside it, the forward time of ``simswap-224``'s ``swap`` (random weights, eval, ``no_grad``,
float32, batch 1, as ``benchmarks/simswap.py`` measures it). Each model runs in a fresh
interpreter, one after the other, with the libraries' default threads (``--threads N`` pins
torch's and OpenCV's: on a shared machine, compare at 1); the median and the fastest of
``--repeats`` calls after one untimed call are printed.

Identity (``--identity``): one photo of every identity of ``deepface/`` and
``face_recognition/`` (the first by name) is swapped onto the photo of every other identity
through the whole pipeline (``FaceSwapper.swap_image``); the face detected in the output is
described by dlib's 128-d ResNet (the evaluation recognizer). Each identity's reference is its
other photos (their mean descriptor); retrieval searches all of them. Pose error: the angle
between the head rotations that ``zoo_core.evaluate.metrics.head_pose`` finds from the 68
landmarks of the output's face and of the target photo's face.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import FACES, WORKER_FLAG, format_table, register_plugin, run_worker


def parse_overrides(items: list[str]) -> dict[str, Any]:
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def astronaut_crops() -> tuple[Any, Any]:
    """Aligned 512 px crops of the astronaut and of her mirror image, as ``(1, 3, 512, 512)``."""
    import numpy as np
    import torch
    from skimage.data import astronaut

    from zoo_core.faces.align import align_face, get_template
    from zoo_core.faces.detect import DlibDetector

    detector, template = DlibDetector(), get_template("ffhq")
    crops = []
    for image in (astronaut(), np.ascontiguousarray(astronaut()[:, ::-1])):
        crops.append(align_face(image, detector.detect(image)[0].landmarks, template, 512).crop)
    return tuple(torch.from_numpy(c).permute(2, 0, 1)[None].float().div(255) for c in crops)


def measure(variant: str, repeats: int, overrides: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """Median and fastest seconds of ``swap`` for one variant, in this (fresh) interpreter."""
    import cv2
    import torch

    from zoo_core import registry

    if threads:
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)

    if variant.startswith("graphics"):
        register_plugin("graphics", "zoo_plugin_graphics", "graphics")
        model = registry.create_model(variant, **overrides)
        source, target = astronaut_crops()
    else:
        register_plugin("simswap", "zoo_plugin_simswap", "simswap")
        torch.manual_seed(0)
        model = registry.create_model(variant).eval()
        generator = torch.Generator().manual_seed(0)
        size = model.spec.resolution
        source, target = (torch.rand(1, 3, size, size, generator=generator) for _ in range(2))
    with torch.no_grad():
        model.swap(source, target)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.swap(source, target)
            times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "threads": torch.get_num_threads()}


def speed(repeats: int, overrides: dict[str, Any], threads: int | None) -> None:
    rows = []
    for variant, what in (("graphics-512", "swap step: 2 crops in, 1 out, landmarks included"),
                          ("simswap-224", "forward, random weights")):
        result = run_worker(__file__, {"variant": variant, "repeats": repeats, "overrides": overrides,
                                        "threads": threads})
        rows.append([variant, what, f"{result['median_s'] * 1e3:.0f}", f"{result['min_s'] * 1e3:.0f}"])
    print(f"CPU, torch (and OpenCV) threads {result['threads']}, batch 1; median/min of {repeats} calls after one untimed call\n")
    print(format_table(["variant", "measured", "median ms", "min ms"], rows))


def identity(faces: Path, overrides: dict[str, Any]) -> None:
    import numpy as np

    from zoo_core import registry
    from zoo_core.evaluate.metrics import euler_angles, head_pose, rotation_angle
    from zoo_core.evaluate.recognizers import cosine_matrix, cosine_rows
    from zoo_core.faces.io import read_image
    from zoo_core.faces.recognize import DlibRecognizer
    from zoo_core.faces.swapper import FaceSwapper

    register_plugin("graphics", "zoo_plugin_graphics", "graphics")
    swapper, recognizer = FaceSwapper(registry.create_model("graphics-512", **overrides)), DlibRecognizer()

    def described(image: np.ndarray) -> tuple[Any, Any]:
        found = swapper.detector.detect(image)
        return (recognizer.describe(image, found[0]), found[0]) if found else (None, None)

    folders = [p for root in ("deepface", "face_recognition") for p in sorted((faces / root).iterdir()) if p.is_dir()]
    probes, gallery, gallery_ids = {}, [], []
    for folder in folders:
        photos = sorted(folder.iterdir())
        probes[folder.name] = (photos[0], *described(read_image(photos[0])[0]))
        for photo in photos[1:]:
            gallery.append(described(read_image(photo)[0])[0])
            gallery_ids.append(folder.name)
    gallery_array, ids = np.array(gallery), np.array(gallery_ids)
    references = {name: gallery_array[ids == name].mean(0) for name in probes}
    rows, no_face, seconds = [], 0, time.perf_counter()
    for source, (source_photo, source_code, _) in probes.items():
        for target, (target_photo, target_code, target_face) in probes.items():
            if source == target:
                continue
            out = swapper.swap_image(source_photo, target_photo)
            code, face = described(out)
            if code is None:
                no_face += 1
                continue
            size = out.shape[1::-1]
            pose_out, pose_target = head_pose(face.landmarks68, size), head_pose(target_face.landmarks68, size)
            axes = np.abs(np.subtract(euler_angles(pose_out), euler_angles(pose_target)))
            nearest = ids[cosine_matrix(code, gallery_array)[0].argmax()]
            rows.append([cosine_rows(code, source_code)[0], cosine_rows(code, target_code)[0],
                         cosine_rows(code, references[source])[0], cosine_rows(code, references[target])[0],
                         nearest == source, nearest == target, rotation_angle(pose_out, pose_target), *axes])
    seconds = time.perf_counter() - seconds
    values = np.array(rows, dtype=np.float64)
    pairs = len(rows) + no_face
    table = [
        ["pairs (identities)", f"{pairs} ({len(probes)})"],
        ["no face detected in the output", f"{no_face / pairs:.1%}"],
        ["nearer the source identity than the target's", f"{np.mean(values[:, 2] > values[:, 3]):.1%}"],
        ["nearer the source photo than the target photo", f"{np.mean(values[:, 0] > values[:, 1]):.1%}"],
        ["top-1 retrieval: source identity / target identity", f"{values[:, 4].mean():.1%} / {values[:, 5].mean():.1%}"],
        ["mean cosine to source photo / target photo", f"{values[:, 0].mean():.3f} / {values[:, 1].mean():.3f}"],
        ["mean cosine to source identity / target identity", f"{values[:, 2].mean():.3f} / {values[:, 3].mean():.3f}"],
        ["pose error: mean (median) angle, degrees", f"{values[:, 6].mean():.1f} ({np.median(values[:, 6]):.1f})"],
        ["pose error: mean |pitch| / |yaw| / |roll|, degrees", " / ".join(f"{v:.1f}" for v in values[:, 7:].mean(0))],
        ["seconds per pair (whole pipeline and measuring)", f"{seconds / pairs:.2f}"],
    ]
    print(f"graphics-512 {json.dumps(overrides)} on {faces}; dlib ResNet descriptors, cosine\n")
    print(format_table(["measure", "value"], table))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identity", action="store_true", help="measure identity and pose on the shared photos")
    parser.add_argument("--faces", type=Path, default=FACES, help="the shared faces folder")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls after the first (default 10)")
    parser.add_argument("--threads", type=int, help="torch and OpenCV threads (default: their own)")
    parser.add_argument("--set", action="append", default=[], help="graphics-512 config override key=value")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    if args.identity:
        identity(args.faces, overrides)
    else:
        speed(args.repeats, overrides, args.threads)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER_FLAG:
        print(json.dumps(measure(**json.loads(sys.argv[2]))))
    else:
        main()
