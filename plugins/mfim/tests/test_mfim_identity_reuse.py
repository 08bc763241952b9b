"""A precomputed source identity (``swap(..., identity=model.identity(source))``) gives exactly
the swap of the source itself; the encoder then reads only the target."""

from __future__ import annotations

import torch


def crops(n: int, seed: int, size: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def refuse(*args, **kwargs):
    raise AssertionError("the source was encoded although its identity was given")


def test_precomputed_identity_is_bit_identical_and_encodes_only_the_target(tiny_model, monkeypatch):
    model = tiny_model.eval()
    source, target, other = crops(1, 0), crops(3, 1), crops(1, 2)
    reads = []
    latent_maps = model.encoder.latent_maps
    with torch.no_grad():
        # the swap before precomputed identities existed: the training path, then E+ blending
        expected = model.finish(model(source, target), target)
        plain = model.swap(source, target)
        code, other_code = model.identity(source), model.identity(other)
        monkeypatch.setattr(model, "encode_identity", refuse)
        monkeypatch.setattr(model.encoder, "latent_maps", lambda x: reads.append(len(x)) or latent_maps(x))
        reused = model.swap(source, target, identity=code)
        per_row = model.swap(source.expand(3, -1, -1, -1), target, identity=code.expand(3, -1))
        changed = model.swap(source, target, identity=other_code)
    assert torch.equal(plain, expected) and torch.equal(reused, expected) and torch.equal(per_row, expected)
    assert reads == [3, 3, 3]  # one encoder pass per swap, on the three targets
    assert not torch.allclose(changed, expected)  # the given code is the one used
