"""Identity encoders (face-recognition backbones) shared by face-swap models.

Three backbone families are provided, each with a state-dict layout equal, key for key, to the
checkpoints of the code base it comes from, so converters can load official weights directly
into :attr:`IdentityEncoder.backbone` with ``strict=True``:

* :class:`IResNet` -- insightface ``arcface_torch`` IResNet (``backbones/iresnet.py``).
* :class:`SimSwapArcFace` -- the SE-ResNet-IR (``IRBlock``) of foamliu/InsightFace-v2 that SimSwap
  ships pickled in ``arcface_checkpoint.tar`` (``models/arcface_models.py``).
* :class:`IRSEBackbone` -- TreB1eN's IR / IR-SE ``Backbone`` as used by pSp (``model_ir_se50.pth``)
  and InfoSwap (``Backbone128``, ``model_128_ir_se50.pth``).

:class:`IdentityEncoder` wraps one backbone with its preprocessing (crop, resize, normalise) and
optional L2 normalisation of the embedding; :data:`IDENTITY_ENCODER_PRESETS` holds the
configurations used by the supported face-swap models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import nn

from zoo_core.errors import ConfigError, describe_validation
from zoo_core.nets.identity_config import (
    IDENTITY_ENCODER_PRESETS,
    IRESNET_LAYERS,
    IRSE_LAYERS,
    SIMSWAP_ARCFACE_LAYERS,
    SMOOTH_MODES,
    IdentityEncoderConfig,
)

__all__ = [
    "EMBEDDING_DIM",
    "IDENTITY_ENCODER_PRESETS",
    "IBasicBlock",
    "IRBlock",
    "IResNet",
    "IRSEBackbone",
    "IRSEUnit",
    "IdentityEncoder",
    "IdentityEncoderConfig",
    "SEBlock",
    "SEModule",
    "SimSwapArcFace",
    "build_identity_encoder",
]

EMBEDDING_DIM = 512

_STAGE_WIDTHS = (64, 128, 256, 512)


def _strided(size: int) -> int:
    """Spatial size after a stride-2 layer with kernel 3 and padding 1 (or kernel 1, padding 0)."""
    return (size - 1) // 2 + 1


def _conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


def _downsample(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    """Projection shortcut: 1x1 conv + BN (keys ``.0.weight``, ``.1.*``)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
    )


def _check_input(x: torch.Tensor, input_size: int) -> None:
    if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (input_size, input_size):
        raise ValueError(
            f"expected a (N, 3, {input_size}, {input_size}) tensor, got {tuple(x.shape)}"
        )


# ------------------------------------------------------------------------------------------------
# insightface arcface_torch IResNet
# ------------------------------------------------------------------------------------------------


class IBasicBlock(nn.Module):
    """Pre-BN residual block: BN, conv3x3, BN, PReLU, conv3x3 (strided), BN, plus shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.conv1 = _conv3x3(in_ch, out_ch)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.prelu = nn.PReLU(out_ch)
        self.conv2 = _conv3x3(out_ch, out_ch, stride)
        self.bn3 = nn.BatchNorm2d(out_ch)
        needs_projection = stride != 1 or in_ch != out_ch
        self.downsample = _downsample(in_ch, out_ch, stride) if needs_projection else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return out + shortcut


class IResNet(nn.Module):
    """insightface ``iresnet{18,34,50,100,200}``: 512-d embedding of a 112x112 face in [-1, 1].

    Keys: ``conv1, bn1, prelu, layer{1..4}.N.{bn1,conv1,bn2,prelu,conv2,bn3,downsample.{0,1}},
    bn2, fc, features``. Every stage downsamples by 2 (layer1 included), so the final map is
    ``input_size / 16`` (7x7 at 112); ``fc`` is sized from it.
    """

    def __init__(self, depth: int = 50, input_size: int = 112, dropout: float = 0.0) -> None:
        super().__init__()
        if depth not in IRESNET_LAYERS:
            raise ValueError(f"iresnet depth must be one of {sorted(IRESNET_LAYERS)}, got {depth}")
        self.input_size = input_size
        self.conv1 = _conv3x3(3, 64)
        self.bn1 = nn.BatchNorm2d(64)
        self.prelu = nn.PReLU(64)
        in_ch, size = 64, input_size
        plan = zip(IRESNET_LAYERS[depth], _STAGE_WIDTHS, strict=True)
        for index, (blocks, width) in enumerate(plan, 1):
            units = [IBasicBlock(in_ch, width, stride=2)]
            units += [IBasicBlock(width, width) for _ in range(blocks - 1)]
            self.add_module(f"layer{index}", nn.Sequential(*units))
            in_ch, size = width, _strided(size)
        self.bn2 = nn.BatchNorm2d(512)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(512 * size * size, EMBEDDING_DIM)
        self.features = nn.BatchNorm1d(EMBEDDING_DIM)

    def stages(self) -> list[nn.Module]:
        """``layer1`` .. ``layer4``."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Embed ``x``; with ``return_features`` also return [stem, layer1, .., layer4] outputs.

        The stem output is ``prelu(bn1(conv1(x)))``; the embedding is not L2-normalised.
        """
        _check_input(x, self.input_size)
        x = self.prelu(self.bn1(self.conv1(x)))
        feats = [x]
        for stage in self.stages():
            x = stage(x)
            feats.append(x)
        # insightface order: bn2, flatten, dropout, fc, features
        x = self.features(self.fc(self.dropout(torch.flatten(self.bn2(x), 1))))
        return (x, feats) if return_features else x


# ------------------------------------------------------------------------------------------------
# SimSwap ArcFace (foamliu/InsightFace-v2 ResNet with IRBlock + SEBlock)
# ------------------------------------------------------------------------------------------------


class SEBlock(nn.Module):
    """Squeeze-excitation with Linear layers: ``fc = [Linear, PReLU(1), Linear, Sigmoid]``."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = channels // reduction
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.PReLU(), nn.Linear(hidden, channels), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.fc(x.mean(dim=(2, 3)))
        return x * weights[:, :, None, None]


class IRBlock(nn.Module):
    """SimSwap/foamliu ``IRBlock``: keys ``bn0, conv1, bn1, prelu, conv2, bn2, [se], downsample``.

    The first conv keeps the input width, the second (strided) one changes it; one single-slope
    PReLU is applied twice (after ``bn1`` and after the residual sum), as upstream.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, use_se: bool = True) -> None:
        super().__init__()
        self.bn0 = nn.BatchNorm2d(in_ch)
        self.conv1 = _conv3x3(in_ch, in_ch)
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.prelu = nn.PReLU()
        self.conv2 = _conv3x3(in_ch, out_ch, stride)
        self.bn2 = nn.BatchNorm2d(out_ch)
        needs_projection = stride != 1 or in_ch != out_ch
        self.downsample = _downsample(in_ch, out_ch, stride) if needs_projection else None
        self.se = SEBlock(out_ch) if use_se else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(self.bn0(x))))))
        if self.se is not None:
            out = self.se(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.prelu(out + shortcut)


class SimSwapArcFace(nn.Module):
    """SE-ResNet-IR of SimSwap's ArcFace (depth 101 = layers [3, 4, 23, 3]), 512-d output.

    Keys: ``conv1, bn1, prelu, layer{1..4}.N.<IRBlock>, bn2, fc, bn3``. The stem conv has no
    padding and is followed by a 2x2 max-pool; layer1 keeps the resolution, so the final map is
    7x7 at 112 px (112 -> 110 -> 55 -> 28 -> 14 -> 7); ``fc`` is sized from ``input_size``.
    """

    def __init__(
        self, depth: int = 101, input_size: int = 112, use_se: bool = True, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if depth not in SIMSWAP_ARCFACE_LAYERS:
            raise ValueError(
                f"simswap_arcface depth must be one of {sorted(SIMSWAP_ARCFACE_LAYERS)}, got {depth}"
            )
        self.input_size = input_size
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.prelu = nn.PReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        in_ch, size = 64, (input_size - 2) // 2
        plan = zip(SIMSWAP_ARCFACE_LAYERS[depth], _STAGE_WIDTHS, (1, 2, 2, 2), strict=True)
        for index, (blocks, width, stride) in enumerate(plan, 1):
            units = [IRBlock(in_ch, width, stride, use_se)]
            units += [IRBlock(width, width, use_se=use_se) for _ in range(blocks - 1)]
            self.add_module(f"layer{index}", nn.Sequential(*units))
            in_ch, size = width, size if stride == 1 else _strided(size)
        self.bn2 = nn.BatchNorm2d(512)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(512 * size * size, EMBEDDING_DIM)
        self.bn3 = nn.BatchNorm1d(EMBEDDING_DIM)

    def stages(self) -> list[nn.Module]:
        """``layer1`` .. ``layer4``."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Embed ``x``; with ``return_features`` also return [stem, layer1, .., layer4] outputs.

        The stem output is taken after the max-pool; the embedding is not L2-normalised.
        """
        _check_input(x, self.input_size)
        x = self.maxpool(self.prelu(self.bn1(self.conv1(x))))
        feats = [x]
        for stage in self.stages():
            x = stage(x)
            feats.append(x)
        # foamliu order: bn2, dropout, flatten, fc, bn3
        x = self.bn3(self.fc(torch.flatten(self.dropout(self.bn2(x)), 1)))
        return (x, feats) if return_features else x


# ------------------------------------------------------------------------------------------------
# TreB1eN IR / IR-SE Backbone (pSp, InfoSwap)
# ------------------------------------------------------------------------------------------------


class SEModule(nn.Module):
    """Squeeze-excitation with bias-free 1x1 convs ``fc1`` / ``fc2`` and a ReLU in between."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return x * torch.sigmoid(weights)


class IRSEUnit(nn.Module):
    """TreB1eN ``bottleneck_IR`` (``se=False``) / ``bottleneck_IR_SE`` (``se=True``).

    ``res_layer = [BN, conv3x3, PReLU(C), conv3x3 (strided), BN, (SEModule)]``; the shortcut is a
    strided 1x1 max-pool (no parameters) when the width is kept, else a 1x1 conv + BN.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int, se: bool) -> None:
        super().__init__()
        self.shortcut_layer: nn.Module
        if in_ch == out_ch:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = _downsample(in_ch, out_ch, stride)
        layers: list[nn.Module] = [
            nn.BatchNorm2d(in_ch),
            _conv3x3(in_ch, out_ch),
            nn.PReLU(out_ch),
            _conv3x3(out_ch, out_ch, stride),
            nn.BatchNorm2d(out_ch),
        ]
        if se:
            layers.append(SEModule(out_ch))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSEBackbone(nn.Module):
    """TreB1eN ``Backbone`` (IR-50/100/152, mode ``"ir"`` or ``"ir_se"``), 512-d output.

    Keys: ``input_layer.{0,1,2}``, ``body.K.{shortcut_layer.{0,1}, res_layer.{0..5}}`` (one flat
    ``Sequential`` of units), and ``<head_name>.{0,3,4}`` where the head is ``[BN2d, Dropout,
    Flatten, Linear, BN1d]``. pSp names the head ``output_layer``; InfoSwap's ``Backbone128``
    names it ``output_layer128``. The final map is ``input_size / 16`` (7x7 at 112, 8x8 at 128).
    :attr:`stage_ends` indexes the ``return_features`` list at each stage's last unit
    ((3, 7, 21, 24) for IR-50).
    """

    def __init__(
        self,
        num_layers: int = 50,
        mode: Literal["ir", "ir_se"] = "ir_se",
        input_size: int = 112,
        head_name: str = "output_layer",
        dropout: float = 0.6,
        widths: tuple[int, int, int, int] = _STAGE_WIDTHS,
        stage_units: tuple[int, int, int, int] | None = None,
    ) -> None:
        """``widths`` / ``stage_units`` override the stage widths and unit counts (default: TreB1eN's
        64-512 and ``IRSE_LAYERS[num_layers]``); smaller ones only serve fast tests."""
        super().__init__()
        if num_layers not in IRSE_LAYERS:
            raise ValueError(f"num_layers must be one of {sorted(IRSE_LAYERS)}, got {num_layers}")
        if mode not in ("ir", "ir_se"):
            raise ValueError(f"mode must be 'ir' or 'ir_se', got {mode!r}")
        self.input_size = input_size
        self.head_name = head_name
        stem = widths[0]  # 64: the input layer is as wide as the first stage
        self.input_layer = nn.Sequential(_conv3x3(3, stem), nn.BatchNorm2d(stem), nn.PReLU(stem))
        units: list[nn.Module] = []
        ends: list[int] = []
        in_ch, size = stem, input_size
        for blocks, width in zip(stage_units or IRSE_LAYERS[num_layers], widths, strict=True):
            units.append(IRSEUnit(in_ch, width, 2, se=mode == "ir_se"))
            units += [IRSEUnit(width, width, 1, se=mode == "ir_se") for _ in range(blocks - 1)]
            ends.append(len(units))
            in_ch, size = width, _strided(size)
        self.body = nn.Sequential(*units)
        self.stage_ends: tuple[int, ...] = tuple(ends)
        head = nn.Sequential(
            nn.BatchNorm2d(in_ch),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(in_ch * size * size, EMBEDDING_DIM),
            nn.BatchNorm1d(EMBEDDING_DIM),
        )
        self.add_module(head_name, head)

    @property
    def head(self) -> nn.Sequential:
        """The output head, registered under :attr:`head_name`."""
        return getattr(self, self.head_name)

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Embed ``x``; with ``return_features`` also return every intermediate map.

        ``features[0]`` is the ``input_layer`` output and ``features[k]`` (k >= 1) the output of
        ``body[k - 1]`` -- the tensors InfoSwap caches with ``cache_feats=True``. pSp's encoder
        taps ``body[6]``, ``body[20]``, ``body[23]`` (IR-SE-50), i.e. ``features[i]`` for
        ``i in stage_ends[1:]``. The embedding is not L2-normalised (upstream normalises inside
        ``forward``; here :class:`IdentityEncoder` does it).
        """
        _check_input(x, self.input_size)
        x = self.input_layer(x)
        feats = [x]
        for unit in self.body:
            x = unit(x)
            feats.append(x)
        x = self.head(x)
        return (x, feats) if return_features else x


# ------------------------------------------------------------------------------------------------
# Configuration, preprocessing wrapper, presets
# ------------------------------------------------------------------------------------------------

def _build_backbone(config: IdentityEncoderConfig) -> nn.Module:
    if config.arch == "iresnet":
        return IResNet(config.depth, config.input_size)
    if config.arch == "simswap_arcface":
        return SimSwapArcFace(config.depth, config.input_size, use_se=config.se)
    mode: Literal["ir", "ir_se"] = "ir_se" if config.se else "ir"
    return IRSEBackbone(config.depth, mode, config.input_size, config.head_name)


class IdentityEncoder(nn.Module):
    """Crop, resize, normalise, embed and (optionally) L2-normalise face crops.

    Input: ``(N, 3, H, W)`` float RGB in [0, 1], any ``H, W``. Output: ``(N, 512)`` embeddings.
    The state dict is ``backbone.<official key>``; mean/std are non-persistent buffers, so
    ``encoder.backbone.load_state_dict(official_sd, strict=True)`` is all a converter needs.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: IdentityEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = _build_backbone(config)
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``config.crop_box`` (a no-op without one)."""
        box = self.config.crop_box
        if box is None:
            return x
        height, width = x.shape[-2:]
        top, left, bottom, right = box
        if self.config.crop_units == "fraction":
            top, bottom = round(top * height), round(bottom * height)
            left, right = round(left * width), round(right * width)
            if bottom <= top or right <= left:
                raise ValueError(f"crop_box {box} is empty on a {height}x{width} input")
        elif bottom > height or right > width:
            raise ValueError(f"crop_box {box} exceeds the {height}x{width} input")
        return x[..., int(top) : int(bottom), int(left) : int(right)]

    def resize(self, x: torch.Tensor) -> torch.Tensor:
        """Resize to ``input_size`` with the configured interpolation (skipped if already there)."""
        size = self.config.input_size
        if tuple(x.shape[-2:]) == (size, size):
            return x
        mode = self.config.interpolation
        # align_corners must stay None for "nearest"/"area"; the config guarantees it is False.
        align_corners = self.config.align_corners if mode in SMOOTH_MODES else None
        return F.interpolate(
            x,
            size=(size, size),
            mode=mode,
            align_corners=align_corners,
            antialias=self.config.antialias,
        )

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB of any size -> normalised backbone input of ``input_size``."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an (N, 3, H, W) RGB tensor, got {tuple(x.shape)}")
        return (self.resize(self.crop(x)) - self.mean) / self.std

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Embed ``x``; with ``return_features`` also return the backbone's feature list.

        The feature list is the backbone's own (see its ``forward``); it is never normalised.
        """
        x = self.preprocess(x)
        # features are only collected on request: holding them all raises peak memory
        if return_features:
            embedding, feats = self.backbone(x, return_features=True)
        else:
            embedding, feats = self.backbone(x), None
        if self.config.normalize_output:
            embedding = F.normalize(embedding, dim=1)
        return embedding if feats is None else (embedding, feats)


def build_identity_encoder(
    config: IdentityEncoderConfig | Mapping[str, Any] | str,
) -> IdentityEncoder:
    """Build an :class:`IdentityEncoder` from a config, a config mapping or a preset name."""
    if isinstance(config, str):
        if config not in IDENTITY_ENCODER_PRESETS:
            raise ConfigError(
                f"unknown identity encoder preset {config!r}; "
                f"choose one of {sorted(IDENTITY_ENCODER_PRESETS)}"
            )
        config = IDENTITY_ENCODER_PRESETS[config]
    elif not isinstance(config, IdentityEncoderConfig):
        try:
            config = IdentityEncoderConfig.model_validate(dict(config))
        except ValidationError as error:
            raise ConfigError(f"invalid identity encoder config: {describe_validation(error)}") from error
    return IdentityEncoder(config)


def convert_insightface_backbone(checkpoints: Mapping[str, dict[str, torch.Tensor]], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """insightface arcface_torch ``backbone.pth`` (an iresnet state dict, keys as its
    ``backbones/iresnet.py``) -> the identity encoder's state dict (the same keys under ``backbone.``)."""
    from zoo_core.convert import strip_wrapper_prefix

    return {f"backbone.{key}": tensor for key, tensor in strip_wrapper_prefix(checkpoints["backbone"]).items()}
