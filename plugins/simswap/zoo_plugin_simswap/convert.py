"""Converter: the official SimSwap checkpoints -> the state dict of :class:`SimSwap`.

Roles (flat ``{key: tensor}`` dicts read by the core's safe readers):

* ``generator``: ``latest_net_G.pth`` (224, ``checkpoints/people``) or ``550000_net_G.pth``
  (512, ``checkpoints/512``), plain state dicts of ``Generator_Adain_Upsample``;
* ``identity``: ``arcface_checkpoint.tar``, a whole-module pickle of the ArcFace ResNet. The
  release before 2023-04-25 pickled foamliu's training dict ``{"model": DataParallel(ResNet),
  "metric_fc": ..., "optimizer": ...}`` (keys ``model.module.*``; the other entries are
  ignored); the 2023 re-upload pickles the ResNet itself (bare keys). A ``module.`` or
  ``model.`` prefix alone is accepted too.

Missing ``num_batches_tracked`` buffers (checkpoints written before PyTorch 0.4.1) are filled
with zeros; they play no part in inference. Any other missing, unexpected or mis-shaped
official key is a :class:`~zoo_core.errors.WeightsError` naming the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from zoo_core.convert import few_keys, rename_checked, strip_wrapper_prefix
from zoo_core.errors import ConfigError, WeightsError
from zoo_plugin_simswap.config import IDENTITY_PRESET, SimSwapConfig
from zoo_plugin_simswap.model import SimSwapGenerator, build_identity

__all__ = [
    "IDENTITY_PREFIXES",
    "arcface_state",
    "convert_official",
    "generator_key_map",
    "official_stage_names",
]

_BATCH_NORM = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_CONV = ("weight", "bias")

IDENTITY_PREFIXES = ("model.module.", "module.", "model.", "")
"""Where the ArcFace keys may sit in ``arcface_checkpoint.tar``, most specific first."""
_IDENTITY_ANCHOR = "conv1.weight"


def official_stage_names(config: SimSwapConfig) -> tuple[list[str], list[str]]:
    """Names of the official down and up stages in execution order.

    fs_networks.py (3 stages): ``down1, down2, down3`` / ``up3, up2, up1``; fs_networks_512.py
    (4 stages): ``down0 .. down3`` / ``up3 .. up0``; ``deep`` adds ``down4`` / ``up4``.
    """
    first = 4 - config.n_downsampling
    down = [f"down{k}" for k in range(first, 4)]
    up = [f"up{k}" for k in range(3, first - 1, -1)]
    if config.deep:
        down.append("down4")
        up.insert(0, "up4")
    return down, up


def generator_key_map(config: SimSwapConfig) -> dict[str, str]:
    """Official ``Generator_Adain_Upsample`` key -> our key (with the ``generator.`` prefix)."""
    mapping: dict[str, str] = {}

    def add(official: str, ours: str, names: tuple[str, ...]) -> None:
        for name in names:
            mapping[f"{official}.{name}"] = f"generator.{ours}.{name}"

    add("first_layer.1", "first_layer.conv", _CONV)  # [ReflectionPad2d, Conv2d, BN, ReLU]
    add("first_layer.2", "first_layer.norm", _BATCH_NORM)
    down, up = official_stage_names(config)
    for index, name in enumerate(down):  # [Conv2d, BN, ReLU]
        add(f"{name}.0", f"down.{index}.conv", _CONV)
        add(f"{name}.1", f"down.{index}.norm", _BATCH_NORM)
    for index in range(config.n_blocks):  # conv{1,2} = [pad, Conv2d, InstanceNorm]
        add(f"BottleNeck.{index}.conv1.1", f"blocks.{index}.conv1", _CONV)
        add(f"BottleNeck.{index}.style1.linear", f"blocks.{index}.adain1.linear", _CONV)
        add(f"BottleNeck.{index}.conv2.1", f"blocks.{index}.conv2", _CONV)
        add(f"BottleNeck.{index}.style2.linear", f"blocks.{index}.adain2.linear", _CONV)
    for index, name in enumerate(up):  # [Upsample, Conv2d, BN, ReLU]
        add(f"{name}.1", f"up.{index}.conv", _CONV)
        add(f"{name}.2", f"up.{index}.norm", _BATCH_NORM)
    add("last_layer.1", "last_layer.conv", _CONV)  # [ReflectionPad2d, Conv2d, Tanh]
    if config.padding_type == "zero":  # no pad module in the block convs: conv1 = [Conv2d, IN]
        mapping = {k.replace(".conv1.1.", ".conv1.0.").replace(".conv2.1.", ".conv2.0."): v
                   for k, v in mapping.items()}
    return mapping


def _generator_hint(config: SimSwapConfig, state: Mapping[str, torch.Tensor]) -> str:
    kind = {3: "224 (fs_networks.py)", 4: "512 (fs_networks_512.py)"}.get(config.n_downsampling, "")
    hint = f"a SimSwap {kind} generator with n_blocks={config.n_blocks}, deep={config.deep}".replace("  ", " ")
    if config.n_downsampling == 3 and "down0.0.weight" in state:
        hint += " (it has down0: a 512 checkpoint; convert it with simswap-512)"
    elif config.n_downsampling == 4 and "first_layer.1.weight" in state and "down0.0.weight" not in state:
        hint += " (it has no down0: a 224 checkpoint; convert it with simswap-224)"
    return hint


def identity_state(
    state: Mapping[str, torch.Tensor], describe: Callable[[Mapping[str, torch.Tensor]], str] | None = None
) -> tuple[str, dict[str, torch.Tensor]]:
    """The ArcFace keys of either ``arcface_checkpoint.tar`` format, with the prefix they were
    found under; ``describe(state)`` says what the file holds instead when there is none."""
    for prefix in IDENTITY_PREFIXES:
        if prefix + _IDENTITY_ANCHOR in state:
            if not prefix:
                return prefix, dict(state)
            return prefix, {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    found = describe(state) if describe else f"found {few_keys(sorted(state), 4)}"
    raise WeightsError(
        "identity checkpoint holds no SimSwap ArcFace: expected 'conv1.weight' (2023 "
        f"arcface_checkpoint.tar) or 'model.module.conv1.weight' (earlier release); {found}"
    )


def arcface_state(checkpoint: Mapping[str, torch.Tensor], config: SimSwapConfig) -> dict[str, torch.Tensor]:
    """SimSwap's ArcFace from ``arcface_checkpoint.tar`` (either release, read flat) as the
    ``identity_encoder.*`` entries of :class:`SimSwap`'s state dict."""
    with torch.device("meta"):  # shapes only: nothing is allocated
        expected = {f"identity_encoder.{k}": v for k, v in build_identity(config).state_dict().items()}
    prefix, identity = identity_state(checkpoint)
    where = f"under '{prefix}'" if prefix else "at the top level"
    hint = f"SimSwap's ArcFace IR-SE ResNet-{config.identity_depth} (keys {where})"
    mapping = {k.removeprefix("identity_encoder.backbone."): k for k in expected}
    return rename_checked("identity", identity, mapping, expected, hint)


def convert_official(
    checkpoints: Mapping[str, Mapping[str, torch.Tensor]], config: Mapping[str, Any] | SimSwapConfig
) -> dict[str, torch.Tensor]:
    """``{"generator": ..., "identity": ...}`` official flat state dicts -> our state dict."""
    cfg = config if isinstance(config, SimSwapConfig) else SimSwapConfig(**config)
    if cfg.identity_encoder != IDENTITY_PRESET:
        raise ConfigError(f"the official SimSwap checkpoints are conditioned on SimSwap's ArcFace "
                          f"({IDENTITY_PRESET}), not on identity_encoder {cfg.identity_encoder!r}")
    with torch.device("meta"):  # shapes only: nothing is allocated
        expected = {f"generator.{k}": v for k, v in SimSwapGenerator(cfg).state_dict().items()}
    generator = strip_wrapper_prefix(checkpoints["generator"])
    state = rename_checked("generator", generator, generator_key_map(cfg), expected, _generator_hint(cfg, generator))
    state.update(arcface_state(checkpoints["identity"], cfg))
    return state
