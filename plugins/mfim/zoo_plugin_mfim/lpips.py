"""LPIPS (Zhang et al., CVPR 2018) in native PyTorch, for MFIM's reconstruction loss (Eq. 2).

The ``lpips`` package imports torchvision, which cannot be imported with every torch build, so
its network is defined here: the torchvision ``features`` of AlexNet or VGG16 (same key layout,
``features.K.weight``), the lpips scaling layer, unit normalisation over channels, and the
"lin" 1x1 convolutions (``linK.model.1.weight``) averaged over space and summed over layers:

    d(x, y) = sum_l mean_hw( sum_c w_lc (f_l(x)/|f_l(x)| - f_l(y)/|f_l(y)|)^2 ),

inputs in [-1, 1] (the package's default, ``normalize=False``). Weights: the lin layers from
the lpips wheel (``lpips/weights/v0.1/<net>.pth``, found in an installed ``lpips``
distribution without importing it, or given as a path), the backbone from torchvision's
published ImageNet file (a path, or downloaded into torch's hub cache).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from zoo_core.errors import WeightsError
from zoo_core.serialization import read_checkpoint

__all__ = ["BACKBONE_URLS", "LPIPS", "build_lpips"]

Net = Literal["alex", "vgg"]

BACKBONE_URLS = {
    "alex": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "vgg": "https://download.pytorch.org/models/vgg16-397923af.pth",
}
_TAPS = {"alex": (1, 4, 7, 9, 11), "vgg": (3, 8, 15, 22, 29)}  # the ReLU closing each lpips slice
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def _alexnet_features() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
    )


def _vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 3
    for item in _VGG16:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_ch, int(item), 3, padding=1), nn.ReLU()]
            in_ch = int(item)
    return nn.Sequential(*layers)


class _Lin(nn.Module):
    """lpips ``NetLinLayer``: dropout (index 0, inactive in eval) then a bias-free 1x1 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))
        # before loading: equal weights, the package's un-learned variant (lpips=False) up to scale
        nn.init.constant_(self.model[1].weight, 1.0 / channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class LPIPS(nn.Module):
    """Perceptual distance per image, (N,); inputs (N, 3, H, W) in [-1, 1]. Frozen, eval mode."""

    shift: Tensor
    scale: Tensor

    def __init__(self, net: Net = "alex") -> None:
        super().__init__()
        if net not in _TAPS:
            raise ValueError(f"LPIPS net must be one of {sorted(_TAPS)}, got {net!r}")
        self.net = net
        self.features = _alexnet_features() if net == "alex" else _vgg16_features()
        self.taps = _TAPS[net]
        widths = [self.features[i - 1].out_channels for i in self.taps]
        for k, width in enumerate(widths):
            self.add_module(f"lin{k}", _Lin(width))
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPS:
        return super().train(False)

    def _features(self, x: Tensor) -> list[Tensor]:
        out = []
        x = (x - self.shift) / self.scale
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x / (torch.sqrt((x**2).sum(dim=1, keepdim=True)) + 1e-10))
        return out

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        total = x.new_zeros(x.shape[0])
        for k, (a, b) in enumerate(zip(self._features(x), self._features(y), strict=True)):
            total = total + getattr(self, f"lin{k}")((a - b) ** 2).mean(dim=(1, 2, 3))
        return total


def _installed_lin_weights(net: str) -> Path | None:
    spec = importlib.util.find_spec("lpips")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / f"{net}.pth"
    return path if path.is_file() else None


def _backbone_state(net: str, path: str | Path | None) -> dict[str, Tensor]:
    if path is not None:
        return read_checkpoint(path, allow_module_pickle=False)
    url = BACKBONE_URLS[net]
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", weights_only=True, progress=False)
    except (OSError, RuntimeError) as error:
        raise WeightsError(
            f"LPIPS needs torchvision's ImageNet {net} weights and could not download {url} ({error}); "
            f"download the file elsewhere and pass its path (lpips_backbone=PATH)"
        ) from error


def build_lpips(net: Net = "alex", backbone: str | Path | None = None, lin: str | Path | None = None) -> LPIPS:
    """LPIPS with published weights: ``backbone`` (torchvision file; downloaded when None) and
    ``lin`` (the lpips wheel's ``weights/v0.1/<net>.pth``; found in an installed lpips when None)."""
    model = LPIPS(net)
    lin_path = Path(lin) if lin is not None else _installed_lin_weights(net)
    if lin_path is None:
        raise WeightsError(f"LPIPS lin weights not found: 'pip install lpips' (its wheel ships "
                           f"lpips/weights/v0.1/{net}.pth; it is not imported) or pass lpips_lin=PATH")
    lin_state = read_checkpoint(lin_path, allow_module_pickle=False)
    state = {k: v for k, v in _backbone_state(net, backbone).items() if k.startswith("features.")}
    state.update(lin_state)
    origin = f"backbone {backbone or BACKBONE_URLS[net]}, lin {lin_path}"
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise WeightsError(f"LPIPS ({net}) weights do not fit ({origin}): {str(error).splitlines()[-1].strip()}") from error
    if missing or unexpected:
        raise WeightsError(f"LPIPS ({net}) weights do not fit ({origin}): missing {missing[:4]}, unexpected {unexpected[:4]}")
    return model
