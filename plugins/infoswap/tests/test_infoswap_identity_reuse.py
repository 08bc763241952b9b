"""A precomputed source identity (``swap(..., identity=model.identity(source))``, the source's
readouts R_1..R_11) gives exactly the swap of the source itself; the recognizer f(.) then runs
on the targets only."""

from __future__ import annotations

import torch
from zoo_plugin_infoswap.config import TINY
from zoo_plugin_infoswap.model import build


def test_precomputed_identity_is_bit_identical_and_encodes_only_the_targets(monkeypatch):
    torch.manual_seed(0)
    model = build(None, TINY).eval()
    images = torch.rand(4, 3, 256, 256, generator=torch.Generator().manual_seed(3))
    source, targets, other = images[:1], images[1:3], images[3:]

    def swap(sources, targets, **kwargs):
        return model.swap(sources, targets, torch.Generator().manual_seed(5), **kwargs)

    with torch.no_grad():
        _, feats = model.recognize(model.to_network(source))
        code, other_code = model.identity(source), model.identity(other)
        assert code.shape == (1, sum(f[0].numel() for f in feats))
        assert all(torch.equal(a, b) for a, b in zip(model.readouts(code), feats, strict=True))
        plain = swap(source, targets[:1])
        batches: list[int] = []
        forward = model.identity_encoder.forward
        monkeypatch.setattr(model.identity_encoder, "forward",
                            lambda x, **kwargs: batches.append(len(x)) or forward(x, **kwargs))
        # one source row serves both targets; pairs run in order, so the first pair draws the
        # same noise as ``plain``
        reused = swap(source.expand(2, -1, -1, -1), targets, identity=code)
        changed = swap(source, targets[:1], identity=other_code)
    assert torch.equal(reused[:1], plain)
    assert batches == [1, 1, 1]  # one target per pair, never the source
    assert not torch.allclose(changed, plain)  # the given readouts are the ones used
