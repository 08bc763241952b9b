"""What every test tree (tests/ and every plugins/*/tests/) shares: registry isolation, the real
face photos and the check of a swapped photo, the bit-exact comparison of training runs, real pip
installations of plugins."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoo_core import registry

SUPPORT = str(Path(__file__).resolve().parent / "tests" / "support")
if SUPPORT not in sys.path:  # the shared test helpers (zoo_testing), for every test tree
    sys.path.insert(0, SUPPORT)

from zoo_testing.faces import FACES  # noqa: E402  (needs the path set above)


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with only the core's built-ins: no installed entry point leaks in."""
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "")
    monkeypatch.delenv("ZOO_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("ZOO_DEBUG", raising=False)
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # official sources never reach the internet (tests serve them locally)
    monkeypatch.delenv("ZOO_MIRROR", raising=False)
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
def swap_photos(faces_dir: Path) -> tuple[Path, Path]:
    """``(source, target)``: two real single-face photos (Biden onto Obama) for ``zoo swap``."""
    return faces_dir / "face_recognition/biden/biden.jpg", faces_dir / "face_recognition/obama/obama.jpg"


@pytest.fixture
def assert_face_swapped():
    """``assert_face_swapped(target, out, model, most=0.5, border=20) -> provenance``: the written
    photo has the target's size, a face-sized region changed (more than 2% of the pixels, less
    than ``most``), the top and bottom ``border`` rows did not, and its provenance names ``model``."""

    def check(target: Path, out: Path, model: str, most: float = 0.5, border: int = 20) -> dict:
        import numpy as np
        from PIL import Image

        from zoo_core.faces.io import read_provenance

        before, after = np.asarray(Image.open(target).convert("RGB")), np.asarray(Image.open(out))
        assert after.shape == before.shape
        changed = np.any(after != before, axis=2)
        assert 0.02 < changed.mean() < most  # the face region changed, the rest of the photo did not
        assert not changed[:border].any() and not changed[-border:].any()
        provenance = read_provenance(out)
        assert provenance["model"] == model
        return provenance

    return check


@pytest.fixture(scope="session")
def pip_install_plugin(tmp_path_factory: pytest.TempPathFactory):
    """``pip_install_plugin(PLUGIN_ROOT) -> site folder``: a plugin really installed with pip into
    a folder (entry points need a distribution), once per session, built from a copy so that no
    build/ or egg-info appears in the tree; its dependencies come from the test environment."""
    import shutil
    import subprocess

    sites: dict[Path, Path] = {}

    def install(root: Path) -> Path:
        if root in sites:
            return sites[root]
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
        sites[root] = target
        return target

    return install


SHOW_MODULES = (
    "import json, sys\n"
    "from zoo_core.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('MODULES=' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)
"""Runs the CLI, then prints every module the interpreter imported (to stderr)."""


@pytest.fixture(scope="session")
def zoo_start_up():
    """``zoo_start_up(site, plugin, *args) -> (result, modules)``: ``zoo ARGS`` in a fresh
    interpreter that loads only the entry point ``plugin``, from the distributions installed in
    ``site`` (no other ZOO_ variable set), and the set of modules it had imported at the end."""
    import json
    import os
    import subprocess

    def run(site: Path, plugin: str, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
        env.update({"PYTHONPATH": str(site), "ZOO_LOAD_PLUGINS": plugin})
        result = subprocess.run([sys.executable, "-c", SHOW_MODULES, *args], env=env,
                                capture_output=True, text=True, timeout=120)
        assert "MODULES=" in result.stderr, result.stderr
        return result, set(json.loads(result.stderr.split("MODULES=")[-1]))

    return run
