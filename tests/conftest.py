"""Shared fixtures: the example plugin, real installed test distributions (pip --target) for
entry-point loading, real face photos. Registry isolation is in the root conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo_core import registry

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PLUGIN = REPO / "examples" / "zoo-plugin-example"
TEST_DISTS = Path(__file__).resolve().parent / "fixtures" / "dists"


@pytest.fixture
def example_plugin(monkeypatch: pytest.MonkeyPatch):
    """zoo-plugin-example registered in-process (as llm's tests register plugins)."""
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    import zoo_plugin_example

    registry.add_plugin(zoo_plugin_example, name="example", distribution="zoo-plugin-example")
    return zoo_plugin_example


@pytest.fixture(scope="session")
def installed_dists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin and the test distributions, really installed with pip into a folder."""
    target = tmp_path_factory.mktemp("site")
    dists = [str(EXAMPLE_PLUGIN), *sorted(str(p) for p in TEST_DISTS.iterdir() if p.is_dir())]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), *dists],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture
def zoo_cli():
    """``zoo_cli(*args, env=..., pythonpath=...)`` runs the CLI in a subprocess."""
    return run_zoo


def run_zoo(*args: str, env: dict[str, str] | None = None, pythonpath: Path | None = None,
            python_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``python -m zoo_core ARGS`` in a subprocess with a controlled environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    if pythonpath is not None:
        full_env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *python_args, "-m", "zoo_core", *args],
        env=full_env, capture_output=True, text=True, timeout=300,
    )


def build_hf_cache(cache_dir: Path, repo_id: str, folder: Path, commit: str, ref: str = "main") -> Path:
    """Lay out ``folder``'s files as huggingface_hub's cache does (blobs/, snapshots/, refs/)."""
    import hashlib

    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot


@pytest.fixture
def hf_cache():
    return build_hf_cache


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """skimage's astronaut (public domain): a real face that is always available."""
    from skimage.data import astronaut as load

    return load()


@pytest.fixture(scope="session")
def detector():
    from zoo_core.faces.detect import DlibDetector

    return DlibDetector()
