"""Adaptive instance normalisation: the functional form and SimSwap's style-conditioned module.

* :func:`adaptive_instance_norm` is AdaIN as defined by Huang & Belongie (ICCV 2017, Eq. 8):
  ``AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y)`` with statistics taken per sample and
  per channel over the spatial axes.
* :class:`AdaIN` is the learned variant SimSwap injects the identity with (``ApplyStyle`` in
  ``neuralchen/SimSwap`` ``models/fs_networks.py``): a parameter-free instance norm followed by a
  per-channel scale and bias predicted from a latent vector by one ``nn.Linear``.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["AdaIN", "adaptive_instance_norm", "channel_mean_std", "instance_norm"]


def channel_mean_std(x: Tensor, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and std over the spatial axes of ``x`` (N, C, *spatial).

    The variance is the biased (1/HW) one and ``eps`` is added under the square root, as in
    Huang & Belongie's definition of sigma. Both outputs keep singleton spatial axes so they
    broadcast against ``x``.
    """
    if x.dim() < 3:
        raise ValueError(f"expected a (N, C, *spatial) tensor, got shape {tuple(x.shape)}")
    dims = tuple(range(2, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    var = (x - mean).pow(2).mean(dim=dims, keepdim=True)
    return mean, (var + eps).sqrt()


def instance_norm(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Parameter-free instance normalisation: ``(x - mu) / sqrt(var + eps)`` per sample and channel."""
    mean, std = channel_mean_std(x, eps)
    return (x - mean) / std


def _as_channel_stat(stat: Tensor, like: Tensor) -> Tensor:
    """Reshape a (N, C) or already broadcastable statistic to (N, C, 1, ..., 1) for ``like``."""
    if stat.dim() == 2:
        return stat.reshape(*stat.shape, *([1] * (like.dim() - 2)))
    return stat


def adaptive_instance_norm(
    content: Tensor, style_mean: Tensor, style_std: Tensor, eps: float = 1e-5
) -> Tensor:
    """AdaIN (Huang & Belongie 2017, Eq. 8): give ``content`` the channel statistics of a style.

    ``content`` is (N, C, *spatial); ``style_mean`` and ``style_std`` are (N, C) or broadcastable
    to (N, C, 1, ..., 1), e.g. the output of :func:`channel_mean_std` on a style feature map or
    affine parameters predicted from an identity vector. ``eps`` stabilises the content std.
    """
    normalized = instance_norm(content, eps)
    return _as_channel_stat(style_std, content) * normalized + _as_channel_stat(style_mean, content)


class AdaIN(nn.Module):
    """Instance norm followed by a latent-conditioned affine, SimSwap's ``ApplyStyle`` form.

    ``forward(x, latent)`` computes ``IN(x) * (scale + 1) + bias`` where
    ``[scale, bias] = linear(latent)``: the first ``channels`` outputs of the linear layer are the
    scale, the next ``channels`` the bias (SimSwap views the 2*C outputs as (N, 2, C) and takes
    index 0 as scale, 1 as bias). The instance norm has no affine parameters and uses
    ``eps=1e-8`` under the square root, as SimSwap's own ``InstanceNorm`` (which SimSwap places
    at the end of the preceding conv block; the result is the same).

    Parameters: ``linear.weight`` (2C, latent_size) and ``linear.bias`` (2C,), the same names
    and shapes as ``ApplyStyle.linear`` in SimSwap checkpoints (``BottleNeck.{i}.style{1,2}``),
    so a converter maps them 1:1.
    """

    def __init__(self, latent_size: int, channels: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.linear = nn.Linear(latent_size, channels * 2)

    def forward(self, x: Tensor, latent: Tensor) -> Tensor:
        if x.shape[1] != self.channels:
            raise ValueError(f"AdaIN built for {self.channels} channels, got {x.shape[1]}")
        scale, bias = self.linear(latent).chunk(2, dim=1)
        return adaptive_instance_norm(x, bias, scale + 1.0, self.eps)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, eps={self.eps}"
