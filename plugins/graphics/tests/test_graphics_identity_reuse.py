"""A precomputed source identity (``swap(..., identity=model.identity(source))``) gives exactly
the swap of the source itself; the source's landmarks are then not detected again (its pixels
still give the texture)."""

from __future__ import annotations

import numpy as np
import torch


def as_batch(*crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0


def test_precomputed_identity_is_bit_identical_and_skips_the_source_landmarks(model, astronaut_pair, monkeypatch):
    source, target = astronaut_pair
    sources, targets = as_batch(source, source), as_batch(target, source)
    # the swap before precomputed identities existed: landmarks detected on each pair's crops
    expected = as_batch(*(model.swap_crop(source, t, i) for i, t in enumerate((target, source))))
    plain = model.swap(sources, targets)
    code = model.identity(as_batch(source))
    assert torch.equal(code[0, 136:].reshape(68, 2).double(), torch.from_numpy(model.landmarks(source, "s")))
    seen: list[str] = []
    landmarks = model.landmarks
    monkeypatch.setattr(model, "landmarks", lambda crop, name: seen.append(name) or landmarks(crop, name))
    reused = model.swap(sources, targets, identity=code)
    per_row = model.swap(sources, targets, identity=code.expand(2, -1))
    assert torch.equal(plain, expected) and torch.equal(reused, expected) and torch.equal(per_row, expected)
    assert seen == ["target crop 0", "target crop 1"] * 2  # never a source crop
    moved = code.clone()
    moved[0, 136:] += 6.0  # the source mesh cut 6 px off: the given points are the ones used
    assert not torch.equal(model.swap(sources, targets, identity=moved), expected)
