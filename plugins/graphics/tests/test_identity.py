"""The swap carries the source's identity, measured by the evaluation recognizer (dlib's 128-d
ResNet) on whole photos through the whole pipeline: FaceSwapper.swap_image, then detection in
the output.

Pairs: one photo of each of the 8 shared identities with the most photos (ties by name), all
56 ordered pairs. An identity is the mean descriptor of its other photos, so the photos that
were swapped are never their own reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo_core import registry
from zoo_core.evaluate.recognizers import cosine_rows
from zoo_core.faces.io import read_image
from zoo_core.faces.recognize import DlibRecognizer
from zoo_core.faces.swapper import FaceSwapper

IDENTITIES = 8


def identity_folders(faces: Path) -> list[Path]:
    folders = [p for root in ("deepface", "face_recognition") for p in sorted((faces / root).iterdir()) if p.is_dir()]
    return sorted(folders, key=lambda p: (-len(list(p.iterdir())), p.name))[:IDENTITIES]


def test_swaps_are_closer_to_the_source_identity(graphics_plugin, faces_dir):
    swapper = FaceSwapper(registry.create_model("graphics-512"))
    recognizer = DlibRecognizer()

    def describe(image: np.ndarray) -> np.ndarray | None:
        faces = swapper.detector.detect(image)
        return recognizer.describe(image, faces[0]) if faces else None

    probes, references = {}, {}
    for folder in identity_folders(faces_dir):
        photos = sorted(folder.iterdir())
        probes[folder.name] = photos[0]
        references[folder.name] = np.mean([describe(read_image(p)[0]) for p in photos[1:]], axis=0)
    closer, no_face = [], 0
    for source, source_photo in probes.items():
        for target, target_photo in probes.items():
            if source == target:
                continue
            found = describe(swapper.swap_image(source_photo, target_photo))
            if found is None:
                no_face += 1
                closer.append(False)
                continue
            closer.append(cosine_rows(found, references[source])[0] > cosine_rows(found, references[target])[0])
    assert len(closer) == IDENTITIES * (IDENTITIES - 1)
    assert no_face == 0
    assert np.mean(closer) >= 0.9, f"{np.mean(closer):.1%} of the swaps are nearer the source's identity"
