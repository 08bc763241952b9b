"""A precomputed source identity (``swap(..., identity=model.identity(source))``) gives exactly
the swap of the source itself, without running the identity encoder."""

from __future__ import annotations

import pytest
import torch
from simswap_official_layout import TINY, images
from torch.nn import functional as F

from zoo_core import registry
from zoo_core.errors import InputError


def refuse(*args, **kwargs):
    raise AssertionError("the identity encoder ran although the identity was given")


@pytest.fixture
def tiny(simswap_plugin):
    torch.manual_seed(0)
    return registry.create_model("simswap-224", **TINY).eval()


def test_precomputed_identity_is_bit_identical_and_skips_the_encoder(tiny, monkeypatch):
    source, target, other = images(1, 64, 1), images(3, 64, 2), images(1, 64, 3)
    with torch.no_grad():
        # the swap before precomputed identities existed: encoder, L2 norm, expand, generator
        expected = tiny.generator(target, F.normalize(tiny.identity_encoder(source), dim=1).expand(3, -1))
        plain = tiny.swap(source, target)
        code, other_code = tiny.identity(source), tiny.identity(other)
        monkeypatch.setattr(tiny.identity_encoder, "forward", refuse)
        reused = tiny.swap(source, target, identity=code)
        per_row = tiny.swap(source.expand(3, -1, -1, -1), target, identity=code.expand(3, -1))
        changed = tiny.swap(source, target, identity=other_code)
    assert torch.equal(plain, expected)
    assert torch.equal(reused, expected) and torch.equal(per_row, expected)
    assert not torch.allclose(changed, expected)  # the given code is the one used
    with pytest.raises(InputError, match="identity batch 2 does not match target batch 3"):
        tiny.swap(source, target, identity=code.expand(2, -1))
