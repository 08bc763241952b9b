"""A precomputed source identity (``swap(..., identity=model.identity(source))``) gives exactly
the swap of the source itself, without running the identity encoder."""

from __future__ import annotations

import pytest
import torch
from cvae_gan_official_layout import TINY, images

from zoo_core import registry

SIZE = TINY["image_size"]


def refuse(*args, **kwargs):
    raise AssertionError("the identity encoder ran although the identity was given")


@pytest.fixture
def tiny(cvae_gan_plugin):
    torch.manual_seed(0)
    return registry.create_model("cvae-gan-224", **TINY).eval()


@pytest.mark.parametrize("deterministic", [True, False])
def test_precomputed_identity_is_bit_identical_and_skips_the_encoder(tiny, monkeypatch, deterministic):
    source, target, other = images(1, SIZE, 1), images(3, SIZE, 2), images(1, SIZE, 3)

    def swap(**kwargs):
        return tiny.swap(source, target, generator=torch.Generator().manual_seed(7), deterministic=deterministic, **kwargs)

    with torch.no_grad():
        # the swap before precomputed identities existed: ArcFace code expanded, then the CVAE
        expected = tiny.generator(target, tiny.identity_encoder(source).expand(3, -1),
                                  generator=torch.Generator().manual_seed(7), deterministic=deterministic)
        plain = swap()
        code, other_code = tiny.identity(source), tiny.identity(other)
        monkeypatch.setattr(tiny.identity_encoder, "forward", refuse)
        reused, changed = swap(identity=code), swap(identity=other_code)
    assert torch.equal(plain, expected) and torch.equal(reused, expected)
    assert not torch.allclose(changed, expected)  # the given code is the one used
