"""The main job of a fresh checkout, offline: detect, align and swap two real faces.

Writes ``demo/``: the two aligned crops, the swapped photo (with provenance) and prints what
``zoo inspect`` reads back. Faces: ``skimage.data.astronaut()`` (public domain, always there) as
the target and, when the shared test photos are present, one of them as the source.

No trained weights are downloaded here, so the swap model runs with random weights: the
detection, alignment, paste-back and metadata are real, the face content it paints is noise.
The model is the first installed swap plugin's variant, or the example plugin's tiny model.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def pick_model() -> str:
    from zoo_core import registry

    installed = registry.list_models(capability="swap")
    if installed:
        return installed[0]
    sys.path.insert(0, str(REPO / "examples" / "zoo-plugin-example"))
    import zoo_plugin_example

    registry.add_plugin(zoo_plugin_example, name="example", distribution="zoo-plugin-example")
    return "example-64"


def main() -> None:
    from skimage.data import astronaut

    from zoo_core import registry
    from zoo_core.faces.io import read_image, read_provenance
    from zoo_core.faces.swapper import FaceSwapper

    out = REPO / "demo"
    out.mkdir(exist_ok=True)
    target = out / "target_astronaut.png"
    Image.fromarray(astronaut()).save(target)
    faces = Path(os.environ.get("ZOO_TEST_FACES", REPO.parent / "shared" / "faces"))
    source = faces / "face_recognition" / "obama" / "obama.jpg"
    if not source.is_file():
        source = target
    name = pick_model()
    torch.manual_seed(0)
    swapper = FaceSwapper(registry.create_model(name).eval(), weights="random-init", seed=0)
    for label, path in (("source", source), ("target", target)):
        rgb, _ = read_image(path)
        face = swapper.faces(rgb, str(path))[0]
        crop = swapper.align(rgb, face).crop
        Image.fromarray(crop).save(out / f"aligned_{label}.png")
        print(f"{label}: {path} -> face at {tuple(round(v) for v in face.box)}, aligned to {swapper.spec.template} "
              f"{swapper.size}px: {out / f'aligned_{label}.png'}")
    written = swapper.swap_image_file(source, target, out / "swap.png")
    changed = np.any(np.asarray(Image.open(written).convert("RGB")) != astronaut(), axis=2).mean()
    print(f"swap ({name}, random weights): {written}; {changed:.1%} of the pixels changed")
    print("provenance:", read_provenance(written))
    print("No trained weights are installed: the swapped face is noise from a random-init network. "
          "Convert official weights (zoo convert) or load published ones (zoo load) for real swaps.")


if __name__ == "__main__":
    main()
