"""Native LPIPS: the published formula on real faces, the torchvision / lpips key layouts, and
clear errors when the weights cannot be found."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data
from skimage.filters import gaussian
from zoo_plugin_mfim import lpips as lpips_module
from zoo_plugin_mfim.lpips import LPIPS, build_lpips

from zoo_core.errors import WeightsError

SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)


def face(blur: float = 0.0, size: int = 64) -> torch.Tensor:
    """The astronaut's face (public domain, a real photo), in [-1, 1]."""
    crop = data.astronaut()[20:220, 140:340].astype(np.float64) / 255.0
    if blur:
        crop = gaussian(crop, sigma=blur, channel_axis=-1)
    x = torch.from_numpy(crop).float().permute(2, 0, 1)[None]
    return F.interpolate(x, size=(size, size), mode="area") * 2 - 1


def reference(model: LPIPS, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The published formula written out: scaling layer, ReLU taps, channel unit-normalisation,
    squared difference weighted by lin, spatial mean, sum over layers."""
    def taps(v):
        v = (v - SHIFT) / SCALE
        out = []
        for i, layer in enumerate(model.features):
            v = layer(v)
            if i in model.taps:
                out.append(v / (v.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    total = torch.zeros(x.shape[0])
    for k, (a, b) in enumerate(zip(taps(x), taps(y), strict=True)):
        w = getattr(model, f"lin{k}").model[1].weight.view(1, -1, 1, 1)
        total += ((a - b) ** 2 * w).sum(1).mean(dim=(1, 2))
    return total


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_on_real_faces_follows_the_formula(net):
    torch.manual_seed(0)
    model = LPIPS(net)
    for k in range(5):  # lin weights are non-negative in the published files
        getattr(model, f"lin{k}").model[1].weight.data.uniform_(0, 0.1)
    sharp, blurred, more = face(), face(1.5), face(4.0)
    with torch.no_grad():
        assert model(sharp, sharp).item() == 0.0
        d1, d2 = model(sharp, blurred).item(), model(sharp, more).item()
        assert 0 < d1 < d2
        assert torch.allclose(model(sharp, blurred), reference(model, sharp, blurred), rtol=1e-5)
    assert not any(p.requires_grad for p in model.parameters()) and not model.train().training


def test_loader_reads_torchvision_and_lpips_files(tmp_path):
    torch.manual_seed(1)
    donor = LPIPS("alex")
    backbone = {f"features.{k}": v for k, v in donor.features.state_dict().items()}
    backbone["classifier.1.weight"] = torch.zeros(4, 4)  # torchvision's file has the classifier too
    lin = {f"lin{k}.model.1.weight": torch.rand(1, getattr(donor, f"lin{k}").model[1].in_channels, 1, 1)
           for k in range(5)}
    torch.save(backbone, tmp_path / "alexnet.pth")
    torch.save(lin, tmp_path / "alex.pth")
    model = build_lpips("alex", tmp_path / "alexnet.pth", tmp_path / "alex.pth")
    assert torch.equal(model.features[3].weight, donor.features[3].weight)
    assert torch.equal(model.lin2.model[1].weight, lin["lin2.model.1.weight"])
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="do not fit"):
        build_lpips("alex", tmp_path / "bad.pth", tmp_path / "alex.pth")


def test_loader_errors_are_clear_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsError, match="pip install lpips"):
        build_lpips("alex")

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    torch.save({"lin0.model.1.weight": torch.ones(1, 64, 1, 1)}, tmp_path / "alex.pth")
    with pytest.raises(WeightsError, match="alexnet-owt-7be5be79.pth.*lpips_backbone=PATH"):
        build_lpips("alex", lin=tmp_path / "alex.pth")
    assert lpips_module.BACKBONE_URLS["vgg"].endswith("vgg16-397923af.pth")
