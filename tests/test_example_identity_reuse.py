"""The example plugin follows the protocol's precomputed-identity contract."""

from __future__ import annotations

import torch

import zoo_core


def refuse(*args, **kwargs):
    raise AssertionError("the identity encoder ran although the identity was given")


def test_precomputed_identity_is_bit_identical_and_skips_the_encoder(example_plugin, monkeypatch):
    torch.manual_seed(0)
    model = zoo_core.create_model("example-64").eval()
    source, target, other = torch.rand(1, 3, 64, 64), torch.rand(4, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        plain = model.swap(source, target)
        code, other_code = model.identity(source), model.identity(other)
        monkeypatch.setattr(model.identity_encoder, "forward", refuse)
        reused, changed = model.swap(source, target, identity=code), model.swap(source, target, identity=other_code)
    assert torch.equal(reused, plain)
    assert not torch.allclose(changed, plain)
