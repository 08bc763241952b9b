"""``swap(..., identity=)``: ILVR's "identity" is the source pixels, so a precomputed one gives
exactly the swap of the source, one row broadcast to every target."""

from __future__ import annotations

import torch
from ilvr_official_layout import images


def test_a_precomputed_identity_is_the_source_swap(tiny_ddpm):
    source, target = (images(2, 32, 1.0) + 1) / 2, (images(2, 32, 2.0) + 1) / 2
    swap = lambda s, **kw: tiny_ddpm.swap(s, target, generator=torch.Generator().manual_seed(4), **kw)  # noqa: E731
    code = tiny_ddpm.identity(source)
    assert code.shape == (2, 3 * 32 * 32) and torch.equal(code[1], source[1].flatten())
    assert torch.equal(swap(source, identity=code), swap(source))
    # the code, not the pixels passed beside it, is what the swap uses
    assert torch.equal(swap(torch.zeros_like(source), identity=code), swap(source))
    one = tiny_ddpm.identity(source[:1])
    assert torch.equal(swap(source[:1], identity=one), swap(source[:1].expand(2, -1, -1, -1)))
