"""pix2pixHD PatchGAN discriminators: ``NLayerDiscriminator`` and ``MultiscaleDiscriminator``.

Architecture and module names follow NVIDIA pix2pixHD ``models/networks.py`` (Wang et al.,
CVPR 2018), which SimSwap copies into its own ``models/networks.py``. The two copies differ in
one number only, the convolution padding: pix2pixHD uses ``ceil((4 - 1) / 2) = 2``, SimSwap's
copy and SimSwap's released two-scale discriminator (``fs_networks.Discriminator``, weights
``latest_net_D1.pth`` / ``latest_net_D2.pth``) use 1. Padding changes the patch grid, never the
parameters, so it is the ``padding`` argument here: the default 2 is pix2pixHD's, SimSwap needs 1.

State-dict keys, identical to pix2pixHD's:

* ``NLayerDiscriminator``: ``model.{k}.*`` (one flat ``nn.Sequential``) or, with
  ``get_interm_feat=True``, ``model{j}.{k}.*`` with one ``nn.Sequential`` per feature level.
* ``MultiscaleDiscriminator``: ``layer{i}.{k}.*`` or, with ``get_interm_feat=True``,
  ``scale{i}_layer{j}.{k}.*``. Scale ``i = num_d - 1`` sees the full-resolution input and
  ``i = 0`` the coarsest one (pix2pixHD's ordering).

SimSwap's released ``Discriminator`` (``down1``..``down4``, ``conv1``, ``conv2``) is this network
with ``n_layers=4, ndf=64, norm_layer="batch", padding=1, get_interm_feat=True``: its six
sub-modules are ``model0``..``model5`` in order, with the same inner indices; ``D1`` (full
resolution) maps to ``scale1_*`` and ``D2`` (input downsampled once) to ``scale0_*`` of a
``num_d=2`` :class:`MultiscaleDiscriminator`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

from torch import Tensor, nn

__all__ = [
    "MultiscaleDiscriminator",
    "NLayerDiscriminator",
    "NormLayer",
    "NormName",
    "get_norm_layer",
]

NormName = Literal["batch", "instance", "none"]
NormLayer = Callable[[int], nn.Module]

_KERNEL = 4
_MAX_CHANNELS = 512


def get_norm_layer(norm: NormName | NormLayer) -> NormLayer:
    """A factory ``channels -> nn.Module`` for a norm name, or ``norm`` itself if callable.

    ``"batch"`` is an affine ``BatchNorm2d`` and ``"instance"`` a non-affine ``InstanceNorm2d``
    (pix2pixHD's ``get_norm_layer``); ``"none"`` is ``nn.Identity``, which keeps the module
    indices (and so the state-dict keys) of the normalised layout.
    """
    if not isinstance(norm, str):
        return norm
    if norm == "batch":
        return partial(nn.BatchNorm2d, affine=True)
    if norm == "instance":
        return partial(nn.InstanceNorm2d, affine=False)
    if norm == "none":
        return lambda _channels: nn.Identity()
    raise ValueError(f"unknown norm layer {norm!r}; expected 'batch', 'instance' or 'none'")


def _nlayer_blocks(
    input_nc: int,
    ndf: int,
    n_layers: int,
    norm_layer: NormLayer,
    use_sigmoid: bool,
    padding: int,
) -> list[list[nn.Module]]:
    """The ``n_layers + 2`` feature levels of a pix2pixHD PatchGAN, each a list of modules."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")

    def conv(c_in: int, c_out: int, stride: int) -> nn.Conv2d:
        return nn.Conv2d(c_in, c_out, kernel_size=_KERNEL, stride=stride, padding=padding)

    def act() -> nn.LeakyReLU:
        return nn.LeakyReLU(0.2)

    blocks: list[list[nn.Module]] = [[conv(input_nc, ndf, 2), act()]]
    nf = ndf
    for _ in range(1, n_layers):  # stride-2 levels
        nf_prev, nf = nf, min(nf * 2, _MAX_CHANNELS)
        blocks.append([conv(nf_prev, nf, 2), norm_layer(nf), act()])
    nf_prev, nf = nf, min(nf * 2, _MAX_CHANNELS)
    blocks.append([conv(nf_prev, nf, 1), norm_layer(nf), act()])
    head: list[nn.Module] = [conv(nf, 1, 1)]
    if use_sigmoid:
        head.append(nn.Sigmoid())
    blocks.append(head)
    return blocks


def _run_levels(levels: Sequence[nn.Module], x: Tensor) -> list[Tensor]:
    """Apply ``levels`` in sequence and return every level's output."""
    features = []
    for level in levels:
        x = level(x)
        features.append(x)
    return features


class NLayerDiscriminator(nn.Module):
    """pix2pixHD PatchGAN: 4x4 convs, ``n_layers`` stride-2 levels, then two stride-1 convs.

    Channels double from ``ndf`` up to 512; the first level has no norm; LeakyReLU(0.2) after
    every level but the last, which outputs one logit per patch (through a sigmoid when
    ``use_sigmoid``). ``forward`` always returns a list whose last entry is the logits map: all
    ``n_layers + 2`` level outputs when ``get_interm_feat`` (for feature matching), else just the
    logits.
    """

    def __init__(
        self,
        input_nc: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm_layer: NormName | NormLayer = "batch",
        use_sigmoid: bool = False,
        get_interm_feat: bool = False,
        padding: int = 2,
    ) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.get_interm_feat = get_interm_feat
        blocks = _nlayer_blocks(
            input_nc, ndf, n_layers, get_norm_layer(norm_layer), use_sigmoid, padding
        )
        if get_interm_feat:
            for j, block in enumerate(blocks):
                self.add_module(f"model{j}", nn.Sequential(*block))
        else:
            self.model = nn.Sequential(*(m for block in blocks for m in block))

    def levels(self) -> list[nn.Module]:
        """The modules applied in sequence: one per feature level, or the single flat model."""
        if self.get_interm_feat:
            return [getattr(self, f"model{j}") for j in range(self.n_layers + 2)]
        return [self.model]

    def forward(self, x: Tensor) -> list[Tensor]:
        return _run_levels(self.levels(), x)


class MultiscaleDiscriminator(nn.Module):
    """``num_d`` independent :class:`NLayerDiscriminator` on an image pyramid (pix2pixHD).

    The input is downsampled between scales by ``AvgPool2d(3, stride=2, padding=1,
    count_include_pad=False)``. ``forward`` returns a list over scales, finest first, of lists of
    feature maps whose last entry is that scale's logits map (a one-element list unless
    ``get_interm_feat``). The finest scale is run by the modules named with index ``num_d - 1``.
    """

    def __init__(
        self,
        input_nc: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm_layer: NormName | NormLayer = "batch",
        use_sigmoid: bool = False,
        num_d: int = 3,
        get_interm_feat: bool = False,
        padding: int = 2,
    ) -> None:
        super().__init__()
        if num_d < 1:
            raise ValueError(f"num_d must be >= 1, got {num_d}")
        self.num_d = num_d
        self.n_layers = n_layers
        self.get_interm_feat = get_interm_feat
        norm = get_norm_layer(norm_layer)
        for i in range(num_d):
            blocks = _nlayer_blocks(input_nc, ndf, n_layers, norm, use_sigmoid, padding)
            if get_interm_feat:
                for j, block in enumerate(blocks):
                    self.add_module(f"scale{i}_layer{j}", nn.Sequential(*block))
            else:
                self.add_module(f"layer{i}", nn.Sequential(*(m for b in blocks for m in b)))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def scale_levels(self, i: int) -> list[nn.Module]:
        """The modules of the discriminator named with scale index ``i`` (0 = coarsest input)."""
        if self.get_interm_feat:
            return [getattr(self, f"scale{i}_layer{j}") for j in range(self.n_layers + 2)]
        return [getattr(self, f"layer{i}")]

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        result = []
        for k in range(self.num_d):
            result.append(_run_levels(self.scale_levels(self.num_d - 1 - k), x))
            if k != self.num_d - 1:
                x = self.downsample(x)
        return result
