"""A precomputed source identity (``swap(..., identity=model.identity(source))``) gives exactly
the swap of the source itself, without running FR on the source."""

from __future__ import annotations

import pytest
import torch


def images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def refuse(*args, **kwargs):
    raise AssertionError("the identity encoder ran although the identity was given")


def test_precomputed_identity_is_bit_identical_and_skips_the_encoder(tiny_model, monkeypatch):
    source, target, other = images(1, 0), images(3, 1), images(1, 2)
    with torch.no_grad():
        # the swap before precomputed identities existed: z_real = mu of the source, expanded
        expected = tiny_model.generate(tiny_model.embed(source)[0].expand(3, -1, -1), target)
        plain = tiny_model.swap(source, target)
        code, other_code = tiny_model.identity(source), tiny_model.identity(other)
        monkeypatch.setattr(tiny_model.identity_encoder, "forward", refuse)
        reused = tiny_model.swap(source, target, identity=code)
        per_row = tiny_model.swap(source.expand(3, -1, -1, -1), target, identity=code.expand(3, -1))
        changed = tiny_model.swap(source, target, identity=other_code)
    assert torch.equal(plain, expected) and torch.equal(reused, expected) and torch.equal(per_row, expected)
    assert not torch.allclose(changed, expected)  # the given code is the one used


@pytest.mark.parametrize("levels", ["mid", ("low", "high")])
def test_partial_levels_encode_only_the_target(tiny_model, monkeypatch, levels):
    source, target = images(1, 0), images(2, 1)
    calls = []
    forward = tiny_model.identity_encoder.forward
    with torch.no_grad():
        plain = tiny_model.swap(source, target, levels)
        code = tiny_model.identity(source)
        monkeypatch.setattr(tiny_model.identity_encoder, "forward", lambda x: calls.append(len(x)) or forward(x))
        reused = tiny_model.swap(source, target, levels, identity=code)
    assert torch.equal(reused, plain)
    assert calls == [2]  # the targets' own codes for the levels kept; never the source
