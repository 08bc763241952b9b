"""Test isolation for the whole tree (tests/ and every plugins/*/tests/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zoo_core import registry


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with only the core's built-ins: no installed entry point leaks in."""
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "")
    monkeypatch.delenv("ZOO_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("ZOO_DEBUG", raising=False)
    registry.reset()
    yield
    registry.reset()


@pytest.fixture
def assert_same_run():
    """``assert_same_run(a, b, step)``: two training run folders end with bit-identical networks
    (every checkpointed network at ``step``) and bit-identical exported models."""

    def check(a: Path, b: Path, step: int) -> None:
        import torch
        from safetensors.torch import load_file

        import zoo_core

        first, second = (run / "checkpoints" / f"step-{step:08d}" for run in (a, b))
        networks = sorted(p.name for p in first.glob("network-*.safetensors"))
        assert networks and networks == sorted(p.name for p in second.glob("network-*.safetensors"))
        for weights in networks:
            x, y = load_file(first / weights), load_file(second / weights)
            assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), weights
        x = zoo_core.load(f"local-dir:{a / 'final'}").state_dict()
        y = zoo_core.load(f"local-dir:{b / 'final'}").state_dict()
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)

    return check
