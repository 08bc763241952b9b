"""What every test tree (tests/ and every plugins/*/tests/) shares: registry isolation, the real
face photos, the bit-exact comparison of training runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoo_core import registry

FACES = Path(os.environ.get("ZOO_TEST_FACES", Path(__file__).resolve().parent.parent / "shared" / "faces"))
"""The real face photos (../shared/faces beside the checkout, or ZOO_TEST_FACES)."""


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


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The real-face test photos (../shared/faces, or ZOO_TEST_FACES); skips when absent."""
    if not (FACES / "manifest.csv").is_file():
        pytest.skip(f"real face photos not found at {FACES} (set ZOO_TEST_FACES)")
    return FACES


@pytest.fixture(scope="session")
def pip_install_plugin(tmp_path_factory: pytest.TempPathFactory):
    """``pip_install_plugin(PLUGIN_ROOT) -> site folder``: a plugin really installed with pip into
    a folder (entry points need a distribution), built from a copy so that no build/ or
    egg-info appears in the tree; its dependencies come from the test environment."""
    import shutil
    import subprocess
    import sys

    def install(root: Path) -> Path:
        package = next(path for path in root.glob("zoo_plugin_*") if path.is_dir() and not path.name.endswith(".egg-info"))
        source = tmp_path_factory.mktemp("src") / root.name
        source.mkdir()
        shutil.copy(root / "pyproject.toml", source)
        shutil.copytree(package, source / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        target = tmp_path_factory.mktemp("site")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--no-index", "--target", str(target), str(source)],
            check=True, capture_output=True,
        )
        return target

    return install
