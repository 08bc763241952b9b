"""Fixtures of the evaluation tests: fake "models" whose swap returns the source or the target
crop (so the metrics have known answers on real faces), a small identity-folder set of real
photos, and one shared evaluation of the fakes on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zoo_core import registry
from zoo_core.specs import ModelSpec

# Identities of ../shared/faces/deepface with their first two photos: 12 photos, 6 identities.
IDENTITIES = ("id00", "id01", "id02", "id03", "id04", "id09")
NUM_PAIRS = 8
VIRTUAL_FACE = "celebahq_1024/ref_female_015248.jpg"  # an unlabelled person outside the deepface set


class FakeSwapper(torch.nn.Module):
    """swap(source, target) returns the source crop (``mode="source"``) or the target crop;
    mix returns the global or the local source; deidentify returns a fixed other person."""

    def __init__(self, mode: str, capabilities: tuple[str, ...] = ("swap",), mix_from: str = "global",
                 virtual: np.ndarray | None = None, identity_encoder: str | None = None):
        super().__init__()
        self.mode = mode
        self.mix_from = mix_from
        self.spec = ModelSpec(name=f"fake-128.{mode}", family="fake", resolution=128, builder="fake.module:build",
                              capabilities=frozenset(capabilities), template="ffhq",
                              identity_encoder=identity_encoder)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the model a device
        self.register_buffer("virtual", torch.zeros(1, 3, 128, 128) if virtual is None else
                             torch.from_numpy(virtual).permute(2, 0, 1)[None].float() / 255.0)

    def swap(self, source: torch.Tensor, target: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        return (source if self.mode == "source" else target).clone()

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        return source.mean((2, 3))

    def mix(self, global_source: torch.Tensor, local_source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (global_source if self.mix_from == "global" else local_source).clone()

    def deidentify(self, target: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.virtual.expand_as(target).clone()


@pytest.fixture
def fake_model():
    return FakeSwapper


@pytest.fixture(scope="session")
def eval_data(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``DIR/<identity>/*.jpg`` with 2 real photos of each of 6 identities (symlinks)."""
    root = tmp_path_factory.mktemp("identities")
    for identity in IDENTITIES:
        (root / identity).mkdir()
        for photo in sorted((faces_dir / "deepface" / identity).glob("*.jpg"))[:2]:
            (root / identity / photo.name).symlink_to(photo)
    return root


@pytest.fixture(scope="session")
def virtual_face(faces_dir: Path) -> np.ndarray:
    """A 128 px ffhq-aligned crop of a person outside the evaluation set."""
    from zoo_core.faces.align import Template, align_face
    from zoo_core.faces.detect import DlibDetector
    from zoo_core.faces.io import read_image
    from zoo_core.faces.templates import TEMPLATES

    rgb, _ = read_image(faces_dir / VIRTUAL_FACE)
    face = DlibDetector().detect(rgb)[0]
    template = Template("ffhq", np.asarray(TEMPLATES["ffhq"]["points"], dtype=np.float64))
    return align_face(rgb, face.landmarks, template, 128).crop


@pytest.fixture(scope="session")
def three_faces(faces_dir: Path) -> list[np.ndarray]:
    """128 px ffhq-aligned crops of three different people (source, target, a third face)."""
    from zoo_core.faces.align import Template, align_face
    from zoo_core.faces.detect import DlibDetector
    from zoo_core.faces.io import read_image
    from zoo_core.faces.templates import TEMPLATES

    template = Template("ffhq", np.asarray(TEMPLATES["ffhq"]["points"], dtype=np.float64))
    crops = []
    for identity in IDENTITIES[:3]:
        rgb, _ = read_image(sorted((faces_dir / "deepface" / identity).glob("*.jpg"))[0])
        crops.append(align_face(rgb, DlibDetector().detect(rgb)[0].landmarks, template, 128).crop)
    return crops


@pytest.fixture(scope="session")
def fake_run(eval_data: Path, virtual_face: np.ndarray):
    """One evaluation of two fakes on the real photos: (report, photo cache, pair set).

    fake-128.source (swap = source crop, mix = global source, de-identify = another person)
    and fake-128.target (swap = target crop).
    """
    from zoo_core.evaluate.engine import Evaluator, PhotoCache
    from zoo_core.evaluate.pairs import sample_pairs
    from zoo_core.evaluate.recognizers import load_recognizer

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_LOAD_PLUGINS", "")
        registry.reset()
        try:
            pairs = sample_pairs(eval_data, NUM_PAIRS, seed=0)
            evaluator = Evaluator(metric_options={"latency": {"pipeline_photos": 1}}, progress=False)
            cache = PhotoCache(pairs, evaluator.detector, load_recognizer())
            models = [FakeSwapper("source", ("swap", "mix", "deidentify"), virtual=virtual_face),
                      FakeSwapper("target")]
            report = evaluator.evaluate(models, pairs, cache=cache)
        finally:
            registry.reset()
    return report, cache, pairs
