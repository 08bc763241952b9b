"""Test isolation for the whole tree (tests/ and every plugins/*/tests/)."""

from __future__ import annotations

from collections.abc import Iterator

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
