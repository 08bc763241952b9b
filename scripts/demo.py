"""The main job of a fresh checkout, offline: a real face swap of two real faces.

The offline default model ``graphics-512`` (the graphics-based FaceSwap of FaceForensics++, no
weights to download) puts the source's face on the target through the whole face pipeline:
detect, align, swap, paste back, write with provenance into ``demo/``. Then dlib's face
recognizer (an independent network, not part of the swap) measures the output's distance to the
source and to the target identity, so the change of identity is a number, not a claim.

Faces: one of the shared test photos (``$ZOO_TEST_FACES``, default ``../shared/faces``) as the
source and another as the target; without that folder, the source is ``skimage.data.astronaut()``
(public domain, always there) and the target its mirror image, which shows the pipeline but
cannot show a change of identity.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
MODEL = "graphics-512"
SOURCE = Path("face_recognition", "obama", "obama.jpg")
TARGET = Path("face_recognition", "biden", "biden.jpg")


def photos(out: Path) -> tuple[Path, Path, bool]:
    """Source and target photos, and whether they show two different people."""
    faces = Path(os.environ.get("ZOO_TEST_FACES", REPO.parent / "shared" / "faces"))
    if (faces / SOURCE).is_file() and (faces / TARGET).is_file():
        return faces / SOURCE, faces / TARGET, True
    from skimage.data import astronaut

    source, target = out / "source_astronaut.png", out / "target_astronaut_mirrored.png"
    Image.fromarray(astronaut()).save(source)
    Image.fromarray(np.ascontiguousarray(astronaut()[:, ::-1])).save(target)
    return source, target, False


def identity_distances(recognizer: object, detector: object, output: Path, source: Path, target: Path) -> dict[str, float]:
    """dlib descriptor distance of the output's face to the source's and to the target's."""
    from zoo_core.faces.io import read_image

    def describe(path: Path) -> np.ndarray:
        rgb, _ = read_image(path)
        return recognizer.describe(rgb, detector.detect(rgb)[0])  # type: ignore[attr-defined]

    swapped = describe(output)
    return {name: float(np.linalg.norm(swapped - describe(path))) for name, path in (("source", source), ("target", target))}


def main() -> None:
    from zoo_core import registry
    from zoo_core.faces.detect import create_detector
    from zoo_core.faces.io import read_provenance
    from zoo_core.faces.recognize import DlibRecognizer
    from zoo_core.faces.swapper import FaceSwapper

    out = REPO / "demo"
    out.mkdir(exist_ok=True)
    source, target, different_people = photos(out)
    detector = create_detector("dlib-hog")
    swapper = FaceSwapper(registry.create_model(MODEL), detector=detector, weights=f"{MODEL} (no weights)")
    written = swapper.swap_image_file(source, target, out / "swap.png")
    print(f"swap ({MODEL}, offline, no downloaded weights): {source.name} -> {target.name}: {written.relative_to(REPO)}")
    print("provenance:", read_provenance(written))
    recognizer = DlibRecognizer()
    distances = identity_distances(recognizer, detector, written, source, target)
    print(f"dlib recognizer distance of the swap to the source {distances['source']:.3f}, "
          f"to the target {distances['target']:.3f} (same person below {recognizer.same_person_distance})")
    if different_people:
        verdict = "closer to the source" if distances["source"] < distances["target"] else "still closer to the target"
        print(f"the swapped face is {verdict}: the identity moved from {target.parent.name} towards {source.parent.name}")


if __name__ == "__main__":
    main()
