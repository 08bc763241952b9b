"""dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) in PyTorch.

The network is dlib's ``anet_type`` of ``dnn_face_recognition_ex.cpp``: a 7x7/2 convolution
with 32 filters, a per-channel affine (batch norm folded into scale and shift), ReLU and a 3x3/2
max pool; 14 residual blocks of two 3x3 convolutions (29 convolutions in all); a global average
pool and a bias-free fully connected layer to 128 values. Input: 150x150 RGB chips, each pixel
``(value - channel mean) / 256`` with the means stored in the file (dlib's
``input_rgb_image_sized``). Same-person pairs are closer than 0.6 in Euclidean distance (the
``dist_thresh`` of the file's ``loss_metric``).

Padding follows dlib: strided convolutions and pools have none, the others keep the size. A
downsampling block (dlib's ``ares_down``) adds a 2x2/2 average pool of its input to its output,
the smaller tensor zero-padded at the end of the channel, row and column axes (dlib's
``add_prev`` of tensors of different sizes); at 8x8 the block gives 3x3 and the pool 4x4.

:func:`read_dlib_resnet` parses dlib's own serialization without running any code and checks
every layer type, shape and setting against :class:`DlibResNet`; anything else is a one-line
:class:`~zoo_core.errors.WeightsError` naming the file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import WeightsError
from zoo_core.nets.dlib_models import face_recognition_models_dir
from zoo_core.serialization import check_finite

__all__ = [
    "BLOCKS",
    "EMBEDDING_DIM",
    "INPUT_SIZE",
    "MODEL_FILE",
    "Affine",
    "DlibLayer",
    "DlibResNet",
    "ResidualBlock",
    "build_dlib_resnet",
    "dlib_layers",
    "load_dlib_resnet",
    "read_dlib_resnet",
]

INPUT_SIZE = 150
EMBEDDING_DIM = 128
STEM_CHANNELS = 32
BLOCKS: tuple[tuple[int, bool], ...] = (
    *((32, False),) * 3,
    (64, True), *((64, False),) * 3,
    (128, True), *((128, False),) * 2,
    (256, True), *((256, False),) * 2,
    (256, True),
)
"""Residual blocks from input to output, ``(channels, downsamples)``: dlib's alevel4 ... alevel0."""

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
"""The weights file that the PyPI package ``face-recognition-models`` ships."""


class Affine(nn.Module):
    """dlib's ``affine`` layer in convolution mode: ``x * scale[c] + shift[c]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))
        self.shift = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.view(1, -1, 1, 1) + self.shift.view(1, -1, 1, 1)


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int) -> nn.Conv2d:
    """A biased convolution padded as dlib pads: none when strided, else size-preserving."""
    return nn.Conv2d(in_channels, out_channels, kernel, stride, padding=0 if stride > 1 else kernel // 2)


def add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b`` on the larger of each axis, the smaller tensor zero-padded at the end (dlib's add)."""
    size = [max(x, y) for x, y in zip(a.shape, b.shape, strict=True)]

    def pad(t: torch.Tensor) -> torch.Tensor:
        widths = [w for axis in (3, 2, 1, 0) for w in (0, size[axis] - t.shape[axis])]
        return F.pad(t, widths) if any(widths) else t

    return pad(a) + pad(b)


class ResidualBlock(nn.Module):
    """dlib's ``ares`` (identity shortcut) or ``ares_down`` (stride 2, average-pooled shortcut)."""

    def __init__(self, in_channels: int, channels: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = _conv(in_channels, channels, 3, 2 if downsample else 1)
        self.affine1 = Affine(channels)
        self.conv2 = _conv(channels, channels, 3, 1)
        self.affine2 = Affine(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(add_padded(y, shortcut))


class DlibResNet(nn.Module):
    """The 128-d face descriptor network; input ``(N, 3, 150, 150)`` float RGB in [0, 1]."""

    mean: torch.Tensor
    distance_threshold: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(3))  # per-channel means in 0..255, from the file
        self.register_buffer("distance_threshold", torch.zeros(()))  # the file's loss_metric dist_thresh
        self.conv = _conv(3, STEM_CHANNELS, 7, 2)
        self.affine = Affine(STEM_CHANNELS)
        widths = [STEM_CHANNELS] + [channels for channels, _ in BLOCKS]
        self.blocks = nn.ModuleList(
            ResidualBlock(widths[i], channels, down) for i, (channels, down) in enumerate(BLOCKS)
        )
        self.fc = nn.Linear(widths[-1], EMBEDDING_DIM, bias=False)

    def residual_blocks(self) -> list[ResidualBlock]:
        return [block for block in self.blocks if isinstance(block, ResidualBlock)]

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB -> dlib's input: ``(255 x - mean) / 256`` per channel."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"expected an (N, 3, {INPUT_SIZE}, {INPUT_SIZE}) tensor, got {tuple(x.shape)}")
        return (x * 255.0 - self.mean.view(1, 3, 1, 1)) / 256.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.affine(self.conv(self.normalise(x)))), 3, 2)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean((2, 3)))

    @torch.inference_mode()
    def embed_chips(self, chips: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """``(N, 128)`` descriptors of ``(N, 150, 150, 3) uint8`` RGB chips, run in batches on the
        module's device."""
        device = self.fc.weight.device
        out = [np.zeros((0, EMBEDDING_DIM), np.float32)]
        for start in range(0, len(chips), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(chips[start:start + batch_size])).to(device)
            out.append(self(batch.permute(0, 3, 1, 2).float() / 255.0).cpu().numpy())
        return np.concatenate(out)


# --- dlib's serialization --------------------------------------------------------------------


@dataclass(frozen=True)
class DlibLayer:
    """One layer as dlib stores it: its type, the state-dict key it fills, and what must match."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc, or the parameter-free tag, skip
    key: str = ""
    shape: tuple[int, ...] = ()  # con: filter shape; affine: (channels,); fc: (outputs, inputs)
    window: tuple[int, ...] = ()  # con, pools: (rows, cols, stride_y, stride_x, padding_y, padding_x)


def _window(module: nn.Conv2d) -> tuple[int, ...]:
    return (*module.kernel_size, *module.stride, *module.padding)


def _block_layers(key: str, block: ResidualBlock) -> list[DlibLayer]:
    convolutions = [
        [DlibLayer("con", f"{key}.conv{i}", tuple(conv.weight.shape), _window(conv)),
         DlibLayer("affine", f"{key}.affine{i}", (conv.out_channels,))]
        for i, conv in ((1, block.conv1), (2, block.conv2))
    ]
    shortcut = [DlibLayer("tag"), DlibLayer("skip"), DlibLayer("avg_pool", window=(2, 2, 2, 2, 0, 0))]
    return [DlibLayer("tag"), *convolutions[0], DlibLayer("relu"), *convolutions[1],
            *(shortcut if block.downsample else []), DlibLayer("add_prev"), DlibLayer("relu")]


def dlib_layers(net: DlibResNet) -> list[DlibLayer]:
    """``net``'s layers in dlib's order from the input up, tags and skips included."""
    layers = [DlibLayer("con", "conv", tuple(net.conv.weight.shape), _window(net.conv)),
              DlibLayer("affine", "affine", (STEM_CHANNELS,)), DlibLayer("relu"),
              DlibLayer("max_pool", window=(3, 3, 2, 2, 0, 0))]
    for i, block in enumerate(net.residual_blocks()):
        layers += _block_layers(f"blocks.{i}", block)
    return [*layers, DlibLayer("avg_pool", window=(0, 0, 1, 1, 0, 0)),
            DlibLayer("fc", "fc", tuple(net.fc.weight.shape))]


class _Reader:
    """dlib's serialization primitives over the bytes of one file."""

    def __init__(self, data: bytes, origin: str) -> None:
        self.data, self.origin, self.pos = data, origin, 0

    def fail(self, problem: str) -> WeightsError:
        return WeightsError(f"{self.origin}: {problem} at byte {self.pos} (expected dlib's face "
                            f"recognition ResNet, {MODEL_FILE})")

    def take(self, count: int, what: str) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise self.fail(f"truncated file (reading {what})")
        self.pos += count
        return self.data[self.pos - count:self.pos]

    def integer(self, what: str) -> int:
        """dlib's variable-length integer: a control byte (0x80 = negative, low 4 bits = byte
        count 1..8) then that many little-endian bytes."""
        control = self.take(1, what)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte 0x{control:02x} (reading {what})")
        value = int.from_bytes(self.take(size, what), "little")
        return -value if control & 0x80 else value

    def real(self, what: str) -> float:
        """dlib's portable float: an integer mantissa and exponent, ``mantissa * 2**exponent``."""
        mantissa, exponent = self.integer(what), self.integer(what)
        if not -32768 <= exponent < 32000:  # 32000.. mark inf, -inf, NaN
            raise self.fail(f"non-finite or invalid number (reading {what})")
        return math.ldexp(mantissa, exponent)

    def string(self, what: str) -> str:
        raw = self.take(self.integer(what), what)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"unreadable name (reading {what})") from None

    def flag(self, what: str) -> bool:
        raw = self.take(1, what)
        if raw not in (b"0", b"1"):
            raise self.fail(f"bad bool {raw!r} (reading {what})")
        return raw == b"1"

    def version(self, allowed: tuple[int, ...], what: str) -> int:
        found = self.integer(what)
        if found not in allowed:
            raise self.fail(f"unexpected {what} version {found}")
        return found

    def dims(self, what: str) -> tuple[int, ...]:
        return tuple(self.integer(what) for _ in range(4))

    def tensor(self, what: str) -> np.ndarray:
        """A ``resizable_tensor``: version 2, (num, k, nr, nc), then little-endian float32 values."""
        self.version((2,), f"{what} tensor")
        shape = self.dims(what)
        if min(shape) < 0:
            raise self.fail(f"negative tensor size {shape} (reading {what})")
        count = math.prod(shape)
        return np.frombuffer(self.take(4 * count, what), dtype="<f4").astype(np.float32)

    def alias(self, what: str) -> tuple[int, ...]:
        """An ``alias_tensor`` (a shape only): version 1, (num, k, nr, nc)."""
        self.version((1,), f"{what} alias")
        return self.dims(what)

    def name(self, allowed: dict[str, tuple[str, ...]], what: str) -> tuple[str, ...]:
        """A layer's version string; returns the names of the bools that version ends with."""
        found = self.string(what)
        if found not in allowed:
            raise self.fail(f"expected the {what} layer name {' or '.join(map(repr, allowed))}, found {found!r}")
        return allowed[found]

    def expect(self, found: Any, wanted: Any, what: str) -> None:
        if found != wanted:
            raise self.fail(f"{what} is {found}, expected {wanted}")


def _flags(reader: _Reader, names: tuple[str, ...], wanted: dict[str, bool | None], what: str) -> None:
    """Read a layer's trailing bools; each must equal ``wanted[name]`` unless that is None."""
    for flag in names:
        value = reader.flag(f"{what} {flag}")
        if wanted[flag] is not None:
            reader.expect(value, wanted[flag], f"{what} {flag}")


def _params(reader: _Reader, size: int, what: str) -> torch.Tensor:
    values = reader.tensor(f"{what} parameters")
    reader.expect(values.size, size, f"{what} parameter count")
    return torch.from_numpy(values)


def _read_con(reader: _Reader, layer: DlibLayer) -> dict[str, torch.Tensor]:
    names = reader.name({"con_4": (), "con_5": ("use_bias",), "con_6": ("use_bias", "use_relu")}, "con")
    filters, count = layer.shape[0], math.prod(layer.shape)
    params = _params(reader, count + filters, f"{layer.key} con")
    reader.expect(reader.integer("filters"), filters, f"{layer.key} filter count")
    reader.expect(tuple(reader.integer("con window") for _ in range(6)), layer.window,
                  f"{layer.key} (rows, cols, strides, paddings)")
    reader.expect(reader.alias("filters"), layer.shape, f"{layer.key} filter shape")
    reader.expect(reader.alias("biases"), (1, filters, 1, 1), f"{layer.key} bias shape")
    for _ in range(4):
        reader.real("learning-rate multiplier")
    _flags(reader, names, {"use_bias": True, "use_relu": False}, f"{layer.key} con")
    return {f"{layer.key}.weight": params[:count].view(layer.shape), f"{layer.key}.bias": params[count:]}


def _read_affine(reader: _Reader, layer: DlibLayer) -> dict[str, torch.Tensor]:
    names = reader.name({"affine_": (), "affine_2": ("disabled",)}, "affine")
    channels = layer.shape[0]
    params = _params(reader, 2 * channels, f"{layer.key} affine")
    for part in ("gamma", "beta"):
        reader.expect(reader.alias(part), (1, channels, 1, 1), f"{layer.key} {part} shape")
    reader.expect(reader.integer("affine mode"), 0, f"{layer.key} mode (0: per channel)")
    _flags(reader, names, {"disabled": False}, f"{layer.key} affine")
    return {f"{layer.key}.scale": params[:channels], f"{layer.key}.shift": params[channels:]}


def _read_relu(reader: _Reader, layer: DlibLayer) -> dict[str, torch.Tensor]:
    _flags(reader, reader.name({"relu_": (), "relu_2": ("disabled",)}, "relu"), {"disabled": False}, "relu")
    return {}


def _pool_reader(kind: str) -> Callable[[_Reader, DlibLayer], dict[str, torch.Tensor]]:
    def read(reader: _Reader, layer: DlibLayer) -> dict[str, torch.Tensor]:
        reader.name({f"{kind}_2": ()}, kind)
        reader.expect(tuple(reader.integer(kind) for _ in range(6)), layer.window,
                      f"{kind} (rows, cols, strides, paddings)")
        return {}

    return read


def _read_add_prev(reader: _Reader, layer: DlibLayer) -> dict[str, torch.Tensor]:
    reader.name({"add_prev_": ()}, "add_prev")
    return {}


def _read_fc(reader: _Reader, layer: DlibLayer) -> dict[str, torch.Tensor]:
    names = reader.name({"fc_2": (), "fc_3": ("use_bias",)}, "fc")
    outputs, inputs = layer.shape
    reader.expect((reader.integer("fc outputs"), reader.integer("fc inputs")), layer.shape, "fc (outputs, inputs)")
    params = _params(reader, inputs * outputs, "fc")
    reader.expect(reader.alias("fc weights"), (inputs, outputs, 1, 1), "fc weight shape")
    reader.expect(reader.alias("fc biases"), (0, 0, 0, 0), "fc bias shape")
    reader.expect(reader.integer("fc bias mode"), 1, "fc bias mode (1: no bias)")
    for _ in range(4):
        reader.real("learning-rate multiplier")
    _flags(reader, names, {"use_bias": None}, "fc")  # fc_no_bias ignores use_bias
    return {f"{layer.key}.weight": params.view(inputs, outputs).t().contiguous()}


_READERS: dict[str, Callable[[_Reader, DlibLayer], dict[str, torch.Tensor]]] = {
    "con": _read_con, "affine": _read_affine, "relu": _read_relu, "max_pool": _pool_reader("max_pool"),
    "avg_pool": _pool_reader("avg_pool"), "add_prev": _read_add_prev, "fc": _read_fc,
}


def _read_loss(reader: _Reader) -> torch.Tensor:
    """``add_loss_layer`` version 1 with ``loss_metric_2`` (margin, distance threshold)."""
    reader.version((1,), "loss layer")
    reader.name({"loss_metric_2": ()}, "loss_metric")
    reader.real("margin")
    return torch.tensor(reader.real("distance threshold"), dtype=torch.float32)


def _read_input(reader: _Reader) -> torch.Tensor:
    """``input_rgb_image_sized``: the channel means, then rows and columns."""
    reader.name({"input_rgb_image_sized": ()}, "input_rgb_image_sized")
    mean = torch.tensor([reader.real("channel mean") for _ in range(3)], dtype=torch.float32)
    reader.expect((reader.integer("rows"), reader.integer("cols")), (INPUT_SIZE, INPUT_SIZE), "input size")
    return mean


def _skip_trailer(reader: _Reader, tensors: int, what: str) -> None:
    """An add_layer's training state after its layer: 3 bools, then gradient/output tensors."""
    for _ in range(3):
        reader.flag(f"{what} state")
    for _ in range(tensors):
        reader.tensor(f"{what} cached")


def _parse(reader: _Reader, layers: list[DlibLayer]) -> dict[str, torch.Tensor]:
    """Walk the file: wrapper versions from the loss down, the input, then each layer's data
    from the input up (dlib writes a layer's subnetwork before the layer itself)."""
    state = {"distance_threshold": _read_loss(reader)}
    versions: dict[int, int] = {}
    for index in range(len(layers) - 1, 0, -1):
        kind = layers[index].kind
        allowed = (1,) if kind in ("tag", "skip") else (1, 2)
        versions[index] = reader.version(allowed, f"{kind} wrapper (layer {len(layers) - index})")
    bottom = reader.version((2, 3), "input wrapper")
    state["mean"] = _read_input(reader)
    state.update(_read_con(reader, layers[0]))
    _skip_trailer(reader, 3, "first layer")
    if bottom == 3:
        reader.integer("sample expansion factor")
    for index in range(1, len(layers)):
        layer = layers[index]
        if layer.kind in _READERS:
            state.update(_READERS[layer.kind](reader, layer))
            _skip_trailer(reader, 3 if versions[index] == 2 else 2, layer.kind)
    if reader.pos != len(reader.data):
        raise reader.fail(f"{len(reader.data) - reader.pos} unexpected bytes after the network")
    return state


def read_dlib_resnet(path: str | Path, net: DlibResNet | None = None) -> dict[str, torch.Tensor]:
    """The state dict of :class:`DlibResNet` read from dlib's ``.dat`` file (no code is run)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WeightsError(f"{path}: cannot read dlib's face recognition ResNet ({error.strerror})") from None
    net = net if net is not None else DlibResNet()
    state = _parse(_Reader(data, str(path)), dlib_layers(net))
    check_finite(state, path)
    return state


def load_dlib_resnet(path: str | Path | None = None) -> DlibResNet:
    """:class:`DlibResNet` in eval mode with weights from ``path`` (default: the
    ``face-recognition-models`` copy of ``dlib_face_recognition_resnet_model_v1.dat``)."""
    path = Path(path).expanduser() if path is not None else face_recognition_models_dir() / MODEL_FILE
    net = DlibResNet()
    net.load_state_dict(read_dlib_resnet(path, net), strict=True)
    return net.eval()


def build_dlib_resnet(config: dict[str, Any]) -> DlibResNet:
    """Component builder: ``{"weights": PATH or None}`` (None: the face-recognition-models file)."""
    return load_dlib_resnet(config.get("weights"))
