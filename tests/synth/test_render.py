"""The renderer alone: a model error on one row of a batch fails that row only (the batch is
retried row by row), each row's source identity code reaches ``swap(..., identity=)``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from zoo_core.faces.align import Template, align_face
from zoo_core.synth.prepare import Prepared
from zoo_core.synth.render import Renderer

TEMPLATE = Template("t", np.array([[[0.35, 0.4], [0.65, 0.4], [0.5, 0.55], [0.38, 0.7], [0.62, 0.7]]]))
LANDMARKS = np.array([[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]], dtype=np.float64)


class Picky:
    """Swaps by brightening the target; refuses black sources; records the identity codes."""

    spec = SimpleNamespace(name="picky", family="test", license="mit")

    def __init__(self):
        self.codes: list[torch.Tensor] = []

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        return source.mean(dim=(1, 2, 3))[:, None]

    def swap(self, source: torch.Tensor, target: torch.Tensor, *, identity: torch.Tensor | None = None) -> torch.Tensor:
        if bool((source.amax(dim=(1, 2, 3)) == 0).any()):
            raise ValueError("black source")
        self.codes.append(identity)
        return (target + 0.2).clamp(0, 1)


def item(k: int, source_value: int) -> Prepared:
    frame = np.full((128, 128, 3), 100, np.uint8)
    aligned = align_face(frame, LANDMARKS, TEMPLATE, 64)
    row = {"id": f"{k:024x}", "split": "train", "label": "fake", "method": "picky", "model": None, "seed": 0,
           "root": "/nowhere", "source": {"path": f"s{k}.png", "identity": "a"},
           "target": {"path": f"t{k}.png", "identity": "b", "video": False}, "compression": "c0",
           "perturbations": [], "segment": None, "output": f"train/fake/picky/c0/b_a-{k}.png"}
    return Prepared(row, [frame], [aligned], None, None, np.full((64, 64, 3), source_value, np.uint8), [[0, 0, 1, 1]])


def test_a_failing_row_fails_alone_and_codes_reach_the_model(tmp_path):
    model = Picky()
    renderer = Renderer(tmp_path, model, "picky (test)", batch_size=4)
    records = renderer.render([item(0, 200), item(1, 0), item(2, 50)])
    assert [r["status"] for r in records] == ["done", "failed", "done"]
    assert records[1]["reason"] == "ValueError: black source"
    assert (tmp_path / records[0]["output"]).is_file() and not (tmp_path / "train/fake/picky/c0/b_a-1.png").exists()
    # the retried rows got their own source's code: mean of a constant crop is its value
    assert [round(float(c[0, 0]) * 255) for c in model.codes] == [200, 50]


class Conv(torch.nn.Module):
    """A 3x3 convolution swapper that records the dtype and memory format its calls see."""

    spec = SimpleNamespace(name="conv", family="test", license="mit")

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.seen: list[tuple[torch.dtype, bool]] = []

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        return source.mean(dim=(1, 2, 3))[:, None]

    def swap(self, source: torch.Tensor, target: torch.Tensor, *, identity: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(target)
        self.seen.append((out.dtype, target.is_contiguous(memory_format=torch.channels_last)))
        return out.clamp(0, 1)


def test_precision_and_channels_last_reach_the_model_and_the_manifest(tmp_path):
    plain, mixed = Conv(), Conv()
    mixed.load_state_dict(plain.state_dict())
    first = Renderer(tmp_path / "a", plain, "conv (test)").render([item(0, 200)])
    second = Renderer(tmp_path / "b", mixed, "conv (test)", precision="bf16", channels_last=True).render([item(0, 200)])
    assert [dtype for dtype, _ in plain.seen] == [torch.float32] and mixed.seen == [(torch.bfloat16, True)]
    assert mixed.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert (first[0]["precision"], second[0]["precision"]) == ("fp32", "bf16")
    assert first[0]["status"] == second[0]["status"] == "done"
