"""StyleGAN2 (Karras et al., CVPR 2020), config-f generator and discriminator in pure PyTorch.

Shared by the families that invert, edit or swap in StyleGAN2's latent spaces. Module and
state-dict names follow rosinality/stylegan2-pytorch (``style.{1..n_mlp}``, ``input.input``,
``conv1``, ``to_rgb1``, ``convs.N``, ``to_rgbs.N``, ``noises.noise_N``; discriminator
``convs.N``, ``final_conv``, ``final_linear``), so its checkpoints load without renaming; NVIDIA
stylegan2-ada-pytorch pickles go through :mod:`zoo_core.nets.stylegan2_convert`.

Everything is native PyTorch: :func:`upfirdn2d` is a zero-insertion / pad / depthwise FIR
(a strided transposed convolution when it upsamples), the fused bias + leaky ReLU is
``leaky_relu(x + b, 0.2) * sqrt(2)``. Modulated convolutions scale the input by the style and
the output by the demodulation coefficients around one shared-weight convolution, which is
the same operation as the per-sample (grouped) weights of the paper's Eq. 1-3 and faster on CPU.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import Tensor, nn

from zoo_core.errors import ConfigError, describe_validation
from zoo_core.nets.stylegan2_config import StyleGAN2Config, default_channels

__all__ = [
    "StyleGAN2Config",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "build_generator",
    "default_channels",
    "fused_leaky_relu",
    "make_kernel",
    "upfirdn2d",
]

_LRELU_SLOPE = 0.2
_LRELU_GAIN = math.sqrt(2.0)
_EPS = 1e-8


# --------------------------------------------------------------------------- native ops


def make_kernel(taps: Sequence[float]) -> Tensor:
    """The normalised 2-D FIR filter (outer product of the 1-D taps, summing to 1)."""
    k = torch.tensor(list(taps), dtype=torch.float32)
    k = torch.outer(k, k) if k.dim() == 1 else k
    return k / k.sum()


def upfirdn2d(x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)) -> Tensor:
    """Upsample by zero insertion, pad, convolve with ``kernel`` (true convolution), downsample.

    Same definition as the official ``upfirdn2d`` with ``pad = (pad0, pad1)`` on both axes.
    Every channel is filtered independently.
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    pad0, pad1 = pad
    weight = kernel.to(x.dtype)
    padding = (kh - 1 - pad0, kw - 1 - pad0)
    output_padding = pad1 - pad0 + up - 1
    if up > 1 and down == 1 and min(padding) >= 0 and 0 <= output_padding < up:
        # zero insertion + FIR as one strided transposed convolution: no work on the zeros
        return F.conv_transpose2d(x, weight.expand(c, 1, kh, kw), stride=up, padding=padding,
                                  output_padding=output_padding, groups=c)
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
    x = x[:, :, max(-pad0, 0): x.shape[2] - max(-pad1, 0), max(-pad0, 0): x.shape[3] - max(-pad1, 0)]
    x = F.conv2d(x, weight.flip([0, 1]).expand(c, 1, kh, kw), groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def fused_leaky_relu(x: Tensor, bias: Tensor | None = None) -> Tensor:
    """``leaky_relu(x + bias, 0.2) * sqrt(2)``, the bias broadcast over the channel axis 1."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.dim() - 2)))
    return F.leaky_relu(x, _LRELU_SLOPE) * _LRELU_GAIN


# --------------------------------------------------------------------------- layers


class PixelNorm(nn.Module):
    """Normalise each vector to unit mean square over the feature axis."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + _EPS)


class Blur(nn.Module):
    """FIR filter with padding (``upfirdn2d`` with up = down = 1); ``gain`` scales the kernel."""

    def __init__(self, taps: Sequence[int], pad: tuple[int, int], gain: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * gain)
        self.pad = pad

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling of the toRGB skip path."""

    def __init__(self, taps: Sequence[int], factor: int = 2) -> None:
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * factor**2)
        p = len(taps) - factor
        self.factor = factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: weight ~ N(0, 1/lr_mul^2), runtime gain
    ``lr_mul / sqrt(in)``, bias times ``lr_mul``; optionally followed by the fused leaky ReLU."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        nn.init.normal_(self.weight, std=1.0 / lr_mul)
        self.bias = nn.Parameter(torch.empty(out_dim))
        nn.init.constant_(self.bias, bias_init)
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_mul
        if self.activate:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias)


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate (runtime gain ``1 / sqrt(fan_in)``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.normal_(self.weight)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """Per-channel bias + leaky ReLU (slope 0.2) + gain sqrt(2)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return fused_leaky_relu(x, self.bias)


class ModulatedConv2d(nn.Module):
    """Modulated (and demodulated) convolution, StyleGAN2 Eq. 1-3.

    ``modulation`` maps w to the S-space style (bias initialised to 1); :meth:`forward` takes
    that style, so S-space edits bypass the affine layer. Upsampling is a stride-2 transposed
    convolution followed by the FIR blur (pad ``(1, 1)`` for 3x3 and 4 taps), as officially.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False, blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, out_channels, in_channels, kernel_size, kernel_size))
        nn.init.normal_(self.weight)
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.upsample = upsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), gain=factor**2)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        """``x`` (N, in, H, W) modulated by ``style`` (N, in), the S-space code."""
        weight = self.weight[0] * self.scale  # (out, in, k, k)
        x = x * style.view(*style.shape, 1, 1).to(x.dtype)
        if self.upsample:
            out = self.blur(F.conv_transpose2d(x, weight.transpose(0, 1), stride=2))
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # sum over (in, k, k) of (w * s)^2 = (sum_kk w^2) @ s^2
            demod = torch.rsqrt(style.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t() + _EPS)
            out = out * demod.view(*demod.shape, 1, 1).to(out.dtype)
        return out


class NoiseInjection(nn.Module):
    """Adds per-pixel noise scaled by a learned scalar (fresh N(0, 1) noise when none is given)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        return x + self.weight * noise


class ConstantInput(nn.Module):
    """The learned 4x4 constant the synthesis network starts from."""

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.empty(1, channels, size, size))
        nn.init.normal_(self.input)

    def forward(self, batch: int) -> Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyledConv(nn.Module):
    """Modulated 3x3 conv, noise, bias + leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, upsample: bool = False,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x: Tensor, style: Tensor, noise: Tensor | None = None) -> Tensor:
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    """Modulated 1x1 conv to RGB (no demodulation) + bias, added to the upsampled skip image."""

    def __init__(self, in_channels: int, style_dim: int, upsample: bool = True,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, style: Tensor, skip: Tensor | None = None) -> Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


# --------------------------------------------------------------------------- generator


class StyleGAN2Generator(nn.Module):
    """Mapping network + synthesis network with toRGB skips (StyleGAN2 config-f)."""

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__()
        self.config = config
        dim, taps, ch = config.style_dim, config.blur_kernel, config.channel_map
        self.style = nn.Sequential(
            PixelNorm(),
            *(EqualLinear(dim, dim, lr_mul=config.lr_mlp, activate=True) for _ in range(config.n_mlp)),
        )
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], dim, blur_kernel=taps)
        self.to_rgb1 = ToRGB(ch[4], dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.conv_resolutions = [4]
        self.conv_channels = [ch[4]]
        self.style_layers: list[tuple[str, int, int]] = [("conv1", 4, ch[4]), ("to_rgb1", 4, ch[4])]
        in_ch = ch[4]
        for k, res in enumerate(config.resolutions[1:]):
            out_ch = ch[res]
            self.convs.append(StyledConv(in_ch, out_ch, dim, upsample=True, blur_kernel=taps))
            self.convs.append(StyledConv(out_ch, out_ch, dim, blur_kernel=taps))
            self.to_rgbs.append(ToRGB(out_ch, dim, blur_kernel=taps))
            self.conv_resolutions += [res, res]
            self.conv_channels += [out_ch, out_ch]
            self.style_layers += [(f"convs.{2 * k}", res, in_ch), (f"convs.{2 * k + 1}", res, out_ch),
                                  (f"to_rgbs.{k}", res, out_ch)]
            in_ch = out_ch
        self.num_layers = len(self.conv_resolutions)
        self.n_latent = 2 * config.log_size - 2
        self.noises = nn.Module()
        for i, res in enumerate(self.conv_resolutions):
            buffer = torch.empty(1, 1, res, res)
            nn.init.normal_(buffer)
            self.noises.register_buffer(f"noise_{i}", buffer)
        # w+ index of every entry of style_layers: conv1 w0, to_rgb1 w1, then per resolution
        # k: up-conv w(2k+1), conv w(2k+2), toRGB w(2k+3) (the up-conv shares w with the
        # previous toRGB, as in the official generator)
        self.style_latent_index = [0, 1] + [2 * k + j for k in range(len(self.to_rgbs)) for j in (1, 2, 3)]

    # ---- latent spaces

    def mapping(self, z: Tensor) -> Tensor:
        """z (N, style_dim) -> w (N, style_dim): pixel norm + ``n_mlp`` EqualLinear + lrelu."""
        return self.style(z)

    def mean_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """The mean w of ``n`` random z, (1, style_dim); the truncation centre."""
        device = self.input.input.device
        z = torch.randn(n, self.config.style_dim, generator=generator, device=device)
        return self.mapping(z).mean(0, keepdim=True)

    def make_noise(self, batch: int = 1, generator: torch.Generator | None = None) -> list[Tensor]:
        """Fresh N(0, 1) noise maps, one (batch, 1, r, r) per noise input."""
        device = self.input.input.device
        return [torch.randn(batch, 1, r, r, generator=generator, device=device) for r in self.conv_resolutions]

    def _layers(self) -> list[nn.Module]:
        """Modulated layers in synthesis (= style_layers) order."""
        layers: list[nn.Module] = [self.conv1, self.to_rgb1]
        for k, to_rgb in enumerate(self.to_rgbs):
            layers += [self.convs[2 * k], self.convs[2 * k + 1], to_rgb]
        return layers

    def w_to_styles(self, w_plus: Tensor) -> list[Tensor]:
        """w+ (N, n_latent, style_dim) -> S space: the modulation outputs, one (N, in_ch) per
        entry of :attr:`style_layers`."""
        self._check_w_plus(w_plus)
        return [layer.conv.modulation(w_plus[:, i]) for layer, i in zip(self._layers(), self.style_latent_index, strict=True)]

    def _check_w_plus(self, w_plus: Tensor) -> None:
        expected = (self.n_latent, self.config.style_dim)
        if w_plus.dim() != 3 or tuple(w_plus.shape[1:]) != expected:
            raise ValueError(f"w_plus must have shape (N, {expected[0]}, {expected[1]}), got {tuple(w_plus.shape)}")

    # ---- synthesis

    def synthesis(
        self,
        w_plus: Tensor | None = None,
        *,
        styles: list[Tensor] | None = None,
        noise: Sequence[Tensor | None] | None = None,
        randomize_noise: bool = True,
        feature_hook: Callable[[int, Tensor], Tensor] | None = None,
        hook_point: Literal["output", "modulated"] = "output",
    ) -> Tensor:
        """Render (N, 3, size, size) images from w+ or from S-space ``styles``.

        ``noise``: one tensor (or None for fresh noise) per noise input, broadcastable to the
        layer's (N, C, r, r); when omitted, the stored ``noises`` buffers are used unless
        ``randomize_noise``. ``feature_hook(i, h)`` replaces the output of the i-th StyledConv
        (``hook_point="output"``) or, with ``"modulated"``, the output of its modulated conv,
        before the noise, bias and activation that follow it.
        """
        if (w_plus is None) == (styles is None):
            raise ValueError("synthesis takes exactly one of w_plus or styles")
        if hook_point not in ("output", "modulated"):
            raise ValueError(f"hook_point must be 'output' or 'modulated', got {hook_point!r}")
        if styles is None:
            styles = self.w_to_styles(w_plus)
        if len(styles) != len(self.style_layers):
            raise ValueError(f"styles must hold {len(self.style_layers)} tensors (one per style layer), got {len(styles)}")
        noise = self._noise_inputs(noise, randomize_noise)
        layers = self._layers()
        out = self.input(styles[0].shape[0])
        out = self._styled(0, out, styles[0], noise[0], feature_hook, hook_point)
        skip = self.to_rgb1(out, styles[1])
        for k in range(len(self.to_rgbs)):
            s = 2 + 3 * k
            out = self._styled(2 * k + 1, out, styles[s], noise[2 * k + 1], feature_hook, hook_point)
            out = self._styled(2 * k + 2, out, styles[s + 1], noise[2 * k + 2], feature_hook, hook_point)
            skip = layers[s + 2](out, styles[s + 2], skip)
        return skip

    def _styled(self, i: int, x: Tensor, style: Tensor, noise: Tensor | None,
                hook: Callable[[int, Tensor], Tensor] | None, hook_point: str) -> Tensor:
        layer = self.conv1 if i == 0 else self.convs[i - 1]
        if hook is None:
            return layer(x, style, noise)
        if hook_point == "modulated":
            return layer.activate(layer.noise(hook(i, layer.conv(x, style)), noise))
        return hook(i, layer(x, style, noise))

    def _noise_inputs(self, noise: Sequence[Tensor | None] | None, randomize: bool) -> list[Tensor | None]:
        if noise is None:
            if randomize:
                return [None] * self.num_layers
            return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        if len(noise) != self.num_layers:
            raise ValueError(f"noise must hold {self.num_layers} tensors (one per noise input), got {len(noise)}")
        return list(noise)

    def forward(
        self,
        styles: list[Tensor],
        return_latents: bool = False,
        inject_index: int | None = None,
        truncation: float = 1.0,
        truncation_latent: Tensor | None = None,
        input_is_latent: bool = False,
        noise: Sequence[Tensor | None] | None = None,
        randomize_noise: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """rosinality's ``Generator.forward``: one or two codes (z, or w with
        ``input_is_latent``), style mixing at ``inject_index`` (random when two codes and None),
        truncation towards ``truncation_latent``. Returns ``(image, w+ or None)``."""
        if not input_is_latent:
            styles = [self.mapping(s) for s in styles]
        if truncation < 1:
            if truncation_latent is None:
                raise ValueError("truncation < 1 needs truncation_latent (e.g. mean_latent(4096))")
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]
        if len(styles) < 2:
            latent = styles[0] if styles[0].dim() == 3 else styles[0].unsqueeze(1).repeat(1, self.n_latent, 1)
        else:
            if inject_index is None:
                inject_index = random.randint(1, self.n_latent - 1)
            latent = torch.cat([styles[0].unsqueeze(1).repeat(1, inject_index, 1),
                                styles[1].unsqueeze(1).repeat(1, self.n_latent - inject_index, 1)], 1)
        image = self.synthesis(latent, noise=noise, randomize_noise=randomize_noise)
        return image, (latent if return_latents else None)


def build_generator(config: Mapping[str, Any]) -> StyleGAN2Generator:
    """Component builder (``zoo_core.registry.create_component``) of the generator."""
    try:
        return StyleGAN2Generator(StyleGAN2Config.model_validate(dict(config)))
    except ValidationError as error:
        raise ConfigError(f"invalid StyleGAN2 config: {describe_validation(error)}") from error


# --------------------------------------------------------------------------- discriminator


class ConvLayer(nn.Sequential):
    """[Blur] + EqualConv2d (stride 2 when downsampling) + [FusedLeakyReLU]; indices as official.

    With ``activate`` the bias lives in the activation; without it, in the conv if ``bias``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), activate: bool = True, bias: bool = True) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
        layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride=2 if downsample else 1,
                                  padding=0 if downsample else kernel_size // 2, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual discriminator block: two 3x3 convs (the second downsamples) + 1x1 skip, / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int, blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, blur_kernel=blur_kernel)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, blur_kernel=blur_kernel,
                              activate=False, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


class StyleGAN2Discriminator(nn.Module):
    """Config-f residual discriminator with minibatch standard deviation (group 4, 1 feature)."""

    stddev_group = 4
    stddev_feat = 1

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__()
        self.config = config
        ch, taps = config.channel_map, config.blur_kernel
        convs: list[nn.Module] = [ConvLayer(3, ch[config.size], 1)]
        in_ch = ch[config.size]
        for res in reversed(config.resolutions[:-1]):
            convs.append(ResBlock(in_ch, ch[res], taps))
            in_ch = ch[res]
        self.convs = nn.Sequential(*convs)
        self.final_conv = ConvLayer(in_ch + self.stddev_feat, ch[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 4 * 4, ch[4], activate=True),
            EqualLinear(ch[4], 1),
        )

    def forward(self, image: Tensor) -> Tensor:
        """(N, 3, size, size) images in [-1, 1] -> (N, 1) real/fake logits."""
        size = self.config.size
        if image.dim() != 4 or tuple(image.shape[1:]) != (3, size, size):
            raise ValueError(f"image must have shape (N, 3, {size}, {size}), got {tuple(image.shape)}")
        out = self.convs(image)
        n, c, h, w = out.shape
        group = min(n, self.stddev_group)
        if n % group:
            raise ValueError(f"the batch size ({n}) must be divisible by the stddev group size {group}")
        y = out.view(group, -1, self.stddev_feat, c // self.stddev_feat, h, w)
        y = torch.sqrt(y.var(0, unbiased=False) + _EPS).mean(dim=(2, 3, 4), keepdim=True).squeeze(2)
        out = torch.cat([out, y.repeat(group, 1, h, w)], 1)
        return self.final_linear(self.final_conv(out).view(n, -1))
