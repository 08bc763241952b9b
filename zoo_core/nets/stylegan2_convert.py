"""Converters from the two public StyleGAN2 weight formats to :mod:`zoo_core.nets.stylegan2`.

* rosinality/stylegan2-pytorch checkpoints (``{"g_ema", "latent_avg", "g", "d", ...}``, e.g.
  ``stylegan2-ffhq-config-f.pt``) already use our key names: the networks are selected by
  prefix and checked key by key, shape by shape, FIR filters by value.
* NVlabs/stylegan2-ada-pytorch snapshots (``network-snapshot-*.pkl``: a plain pickle of
  ``{"G", "D", "G_ema", "augment_pipe", ...}`` whose networks are ``torch_utils.persistence``
  objects) are read by :func:`read_stylegan2_ada_pickle` without importing their classes and
  renamed by :func:`nvidia_generator` / :func:`nvidia_discriminator`.

All converters are pure functions over flat ``{key: tensor}`` dicts and return state dicts
that load strictly into :class:`~zoo_core.nets.stylegan2.StyleGAN2Generator` /
:class:`~zoo_core.nets.stylegan2.StyleGAN2Discriminator` built from the same config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import Tensor

from zoo_core.convert import few_keys, rename_checked
from zoo_core.errors import ConfigError, WeightsError, describe_validation
from zoo_core.hub import skip_weight_init
from zoo_core.nets.stylegan2 import (
    StyleGAN2Config,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    make_kernel,
)
from zoo_core.serialization import read_raw_pickle, to_state_dict

__all__ = [
    "convert_nvidia_pickle",
    "convert_rosinality_checkpoint",
    "nvidia_discriminator",
    "nvidia_generator",
    "nvidia_w_avg",
    "read_stylegan2_ada_pickle",
    "rosinality_discriminator",
    "rosinality_generator",
    "rosinality_latent_avg",
]

ConfigLike = StyleGAN2Config | Mapping[str, Any]

_ROSINALITY_HINT = "a rosinality/stylegan2-pytorch {what} of this configuration"
_NVIDIA_HINT = "a stylegan2-ada-pytorch {what} (c_dim=0) of this configuration"
_NVIDIA_FILTER = "resample_filter"


def _config(config: ConfigLike) -> StyleGAN2Config:
    if isinstance(config, StyleGAN2Config):
        return config
    try:
        return StyleGAN2Config.model_validate(dict(config))
    except ValidationError as error:
        raise ConfigError(f"invalid StyleGAN2 config for the converter: {describe_validation(error)}") from error


def _expected(module: type[StyleGAN2Generator] | type[StyleGAN2Discriminator],
              config: StyleGAN2Config) -> dict[str, Tensor]:
    """Our state dict for ``config``: uninitialised weights, real FIR filter buffers."""
    with skip_weight_init():
        return module(config).state_dict()


def _section(state: Mapping[str, Tensor], prefix: str, role: str, marker: str) -> dict[str, Tensor]:
    """The keys under ``prefix`` (stripped); a state dict already without it (``marker``
    present) is taken as it is."""
    found = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    if found:
        return found
    if marker in state:
        return dict(state)
    tops = sorted({key.split(".", 1)[0] for key in state})
    raise WeightsError(f"{role} checkpoint has no {prefix!r} network; its top-level entries: {few_keys(tops)}")


def _check_filters(role: str, filters: Mapping[str, Tensor], expected: Tensor, taps: tuple[int, ...]) -> None:
    for key, value in filters.items():
        if tuple(value.shape) != tuple(expected.shape) or not torch.allclose(value.float(), expected, atol=1e-6):
            raise WeightsError(
                f"{role} checkpoint's FIR filter {key!r} does not match blur_kernel={list(taps)}; "
                "set blur_kernel to the taps the network was trained with"
            )


def _fit(tensor: Tensor, shape: torch.Size) -> Tensor:
    """Reshape between layouts that differ only by singleton axes (e.g. (C,) vs (1, C, 1, 1))."""
    squeeze = [s for s in tensor.shape if s != 1]
    if tuple(tensor.shape) != tuple(shape) and squeeze == [s for s in shape if s != 1]:
        return tensor.reshape(shape)
    return tensor


# --------------------------------------------------------------------------- rosinality


def rosinality_generator(state: Mapping[str, Tensor], config: ConfigLike, *, network: str = "g_ema",
                         role: str = "generator") -> dict[str, Tensor]:
    """The ``network`` generator (``g_ema`` or ``g``) of a rosinality checkpoint, or a bare
    generator state dict."""
    cfg = _config(config)
    expected = _expected(StyleGAN2Generator, cfg)
    source = _section(state, f"{network}.", role, "input.input")
    hint = _ROSINALITY_HINT.format(what=f"generator (size {cfg.size})")
    out = rename_checked(role, source, {key: key for key in expected}, expected, hint)
    _check_values(role, out, expected, cfg)
    return out


def rosinality_discriminator(state: Mapping[str, Tensor], config: ConfigLike, *,
                             role: str = "discriminator") -> dict[str, Tensor]:
    """The ``d`` network of a rosinality training checkpoint, or a bare discriminator state dict."""
    cfg = _config(config)
    expected = _expected(StyleGAN2Discriminator, cfg)
    source = _section(state, "d.", role, "final_conv.0.weight")
    hint = _ROSINALITY_HINT.format(what=f"discriminator (size {cfg.size})")
    out = rename_checked(role, source, {key: key for key in expected}, expected, hint)
    _check_values(role, out, expected, cfg)
    return out


def convert_rosinality_checkpoint(checkpoints: Mapping[str, Mapping[str, Tensor]],
                                  config: Mapping[str, Any]) -> dict[str, Tensor]:
    """``zoo convert`` entry point: the ``g_ema`` generator of the ``weights`` role."""
    return rosinality_generator(checkpoints["weights"], config, role="weights")


def rosinality_latent_avg(state: Mapping[str, Tensor]) -> Tensor | None:
    """The stored mean w (``latent_avg``, shape (style_dim,)), if the checkpoint has one."""
    return state.get("latent_avg")


def _check_values(role: str, out: Mapping[str, Tensor], expected: Mapping[str, Tensor],
                  cfg: StyleGAN2Config) -> None:
    """Every FIR filter buffer must be the one ``cfg.blur_kernel`` gives."""
    for key, value in expected.items():
        if key.endswith(".kernel"):
            _check_filters(role, {key: out[key]}, value, cfg.blur_kernel)


# --------------------------------------------------------------------------- NVIDIA


def _nvidia_generator_map(cfg: StyleGAN2Config) -> dict[str, str]:
    """stylegan2-ada-pytorch ``G`` key -> ours (FIR filters and ``w_avg`` excluded)."""
    mapping = {}
    for i in range(cfg.n_mlp):
        for p in ("weight", "bias"):
            mapping[f"mapping.fc{i}.{p}"] = f"style.{i + 1}.{p}"

    def layer(official: str, ours: str, noise: int) -> None:
        mapping.update({
            f"{official}.affine.weight": f"{ours}.conv.modulation.weight",
            f"{official}.affine.bias": f"{ours}.conv.modulation.bias",
            f"{official}.weight": f"{ours}.conv.weight",
            f"{official}.noise_strength": f"{ours}.noise.weight",
            f"{official}.bias": f"{ours}.activate.bias",
            f"{official}.noise_const": f"noises.noise_{noise}",
        })

    def to_rgb(official: str, ours: str) -> None:
        mapping.update({
            f"{official}.affine.weight": f"{ours}.conv.modulation.weight",
            f"{official}.affine.bias": f"{ours}.conv.modulation.bias",
            f"{official}.weight": f"{ours}.conv.weight",
            f"{official}.bias": f"{ours}.bias",
        })

    mapping["synthesis.b4.const"] = "input.input"
    layer("synthesis.b4.conv1", "conv1", 0)
    to_rgb("synthesis.b4.torgb", "to_rgb1")
    for k, res in enumerate(cfg.resolutions[1:]):
        layer(f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1)
        layer(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2)
        to_rgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
    return mapping


def _nvidia_discriminator_map(cfg: StyleGAN2Config) -> dict[str, str]:
    """stylegan2-ada-pytorch ``D`` (architecture "resnet") key -> ours (FIR filters excluded)."""
    mapping = {f"b{cfg.size}.fromrgb.weight": "convs.0.0.weight", f"b{cfg.size}.fromrgb.bias": "convs.0.1.bias"}
    for k, res in enumerate(reversed(cfg.resolutions[1:]), start=1):
        mapping.update({
            f"b{res}.conv0.weight": f"convs.{k}.conv1.0.weight",
            f"b{res}.conv0.bias": f"convs.{k}.conv1.1.bias",
            f"b{res}.conv1.weight": f"convs.{k}.conv2.1.weight",
            f"b{res}.conv1.bias": f"convs.{k}.conv2.2.bias",
            f"b{res}.skip.weight": f"convs.{k}.skip.1.weight",
        })
    mapping.update({
        "b4.conv.weight": "final_conv.0.weight", "b4.conv.bias": "final_conv.1.bias",
        "b4.fc.weight": "final_linear.0.weight", "b4.fc.bias": "final_linear.0.bias",
        "b4.out.weight": "final_linear.1.weight", "b4.out.bias": "final_linear.1.bias",
    })
    return mapping


def _nvidia_convert(role: str, source: Mapping[str, Tensor], mapping: Mapping[str, str],
                    expected: Mapping[str, Tensor], cfg: StyleGAN2Config, hint: str) -> dict[str, Tensor]:
    filters = {key: value for key, value in source.items() if key.rsplit(".", 1)[-1] == _NVIDIA_FILTER}
    _check_filters(role, filters, make_kernel(cfg.blur_kernel), cfg.blur_kernel)
    weights = {key: value for key, value in source.items() if key not in filters and key != "mapping.w_avg"}
    fitted = {key: _fit(value, expected[mapping[key]].shape) if key in mapping else value
              for key, value in weights.items()}
    out = rename_checked(role, fitted, mapping, expected, hint,
                         note="conditional (c_dim > 0) networks and other architectures are not supported")
    out.update({key: value for key, value in expected.items() if key.endswith(".kernel")})
    return {key: out[key] for key in expected}


def nvidia_generator(state: Mapping[str, Tensor], config: ConfigLike, *, network: str = "G_ema",
                     role: str = "generator") -> dict[str, Tensor]:
    """The ``network`` generator (``G_ema`` or ``G``) of a stylegan2-ada-pytorch snapshot read
    with :func:`read_stylegan2_ada_pickle`, or a bare ``G`` state dict.

    Const-noise maps become the ``noises`` buffers (``randomize_noise=False`` renders
    ``noise_mode="const"``). The official ``conv_clamp`` (256 in ada-trained snapshots) is not
    applied: it only clips activations beyond +-256 during mixed-precision training.
    """
    cfg = _config(config)
    expected = _expected(StyleGAN2Generator, cfg)
    source = _section(state, f"{network}.", role, "synthesis.b4.const")
    hint = _NVIDIA_HINT.format(what=f"generator (size {cfg.size})")
    return _nvidia_convert(role, source, _nvidia_generator_map(cfg), expected, cfg, hint)


def nvidia_discriminator(state: Mapping[str, Tensor], config: ConfigLike, *, network: str = "D",
                         role: str = "discriminator") -> dict[str, Tensor]:
    """The ``D`` network of a stylegan2-ada-pytorch snapshot, or a bare ``D`` state dict.

    The minibatch-stddev group size is not stored in the weights; ours is 4 (config-f, the
    ``stylegan2`` / ``paper1024`` configurations; ``paper256`` / ``paper512`` trained with 8).
    """
    cfg = _config(config)
    expected = _expected(StyleGAN2Discriminator, cfg)
    source = _section(state, f"{network}.", role, "b4.out.weight")
    hint = _NVIDIA_HINT.format(what=f"discriminator (size {cfg.size}, architecture 'resnet')")
    return _nvidia_convert(role, source, _nvidia_discriminator_map(cfg), expected, cfg, hint)


def convert_nvidia_pickle(checkpoints: Mapping[str, Mapping[str, Tensor]],
                          config: Mapping[str, Any]) -> dict[str, Tensor]:
    """``zoo convert`` entry point: the ``G_ema`` generator of a stylegan2-ada-pytorch snapshot
    (role ``network``, read by the core's raw-pickle reader)."""
    return nvidia_generator(checkpoints["network"], config, role="network")


def nvidia_w_avg(state: Mapping[str, Tensor], network: str = "G_ema") -> Tensor | None:
    """The tracked mean w (``mapping.w_avg``, shape (w_dim,)) of a snapshot's generator."""
    return state.get(f"{network}.mapping.w_avg", state.get("mapping.w_avg"))


# --------------------------------------------------------------------------- reading snapshots


def read_stylegan2_ada_pickle(path: str | Path) -> dict[str, Tensor]:
    """Flat ``{key: tensor}`` of a stylegan2-ada-pytorch pickle (``G_ema.mapping.fc0.weight``,
    ``D.b4.out.bias``, ...), never importing or running pickled code."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    try:
        loaded = read_raw_pickle(path)
    except Exception as error:  # any malformed pickle
        raise WeightsError(f"{path}: not a readable stylegan2-ada-pytorch pickle ({error})") from error
    state = to_state_dict(loaded)
    if not any(key.startswith(("G_ema.", "G.", "D.")) for key in state):
        raise WeightsError(f"{path}: no 'G', 'G_ema' or 'D' network in this pickle "
                           f"(entries: {few_keys(sorted({k.split('.', 1)[0] for k in state}))})")
    return state

