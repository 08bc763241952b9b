"""Training data: aligned face crops in identity folders (``root/<identity>/*.png``, the
VGGFace2-HQ / CelebA-HQ layout) or a flat folder (each photo its own identity)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo_core.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


@dataclass(frozen=True)
class FaceFolder:
    """The photos of a dataset grouped by identity, in a fixed (sorted) order."""

    root: Path
    paths: tuple[Path, ...]
    identities: tuple[int, ...]  # identity index of each path
    names: tuple[str, ...]  # identity names

    @classmethod
    def scan(cls, root: str | Path) -> FaceFolder:
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"{root}: no such data folder")
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        paths: list[Path] = []
        identities: list[int] = []
        names: list[str] = []
        if folders:
            for folder in folders:
                images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
                if images:
                    names.append(folder.name)
                    paths += images
                    identities += [len(names) - 1] * len(images)
        else:  # flat folder: every photo is its own identity
            images = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            paths, identities, names = images, list(range(len(images))), [p.stem for p in images]
        if not paths:
            raise InputError(f"{root}: no images (expected root/<identity>/*.jpg or a flat folder of photos)")
        return cls(root, tuple(paths), tuple(identities), tuple(names))

    def __len__(self) -> int:
        return len(self.paths)

    def by_identity(self) -> list[list[int]]:
        """Photo indices of each identity."""
        groups: list[list[int]] = [[] for _ in self.names]
        for index, identity in enumerate(self.identities):
            groups[identity].append(index)
        return groups


def load_crop(path: Path, size: int) -> np.ndarray:
    """An aligned crop as ``(3, size, size)`` float32 in [0, 1] (resized if it is not ``size``)."""
    import cv2

    from zoo_core.faces.io import read_image

    rgb, _ = read_image(path)
    if rgb.shape[0] != size or rgb.shape[1] != size:
        interpolation = cv2.INTER_AREA if rgb.shape[0] > size else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, (size, size), interpolation=interpolation)
    return rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
