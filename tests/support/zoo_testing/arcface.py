"""SimSwap's ArcFace checkpoint as it is found (SimSwap and CVAE-GAN both read SimSwap's
``arcface_checkpoint.tar``): a small stand-in network with the official attribute layout, the
pickle formats the file was released in, and the state-dict wrappings the converters accept."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from zoo_testing.layouts import arcface_layout, fill

StateDicts = Mapping[str, Mapping[str, torch.Tensor]]


def stand_in_arcface(depth: int, input_size: int, seed: int = 4) -> nn.Module:
    """A small ArcFace with the official attribute layout (conv1, bn1, prelu, layer1..4 of IRBlocks
    with bn0/conv1/bn1/prelu/conv2/bn2/se/downsample, bn2, fc, bn3), filled reproducibly."""
    from zoo_core.nets.identity import SimSwapArcFace

    module = SimSwapArcFace(depth=depth, input_size=input_size)
    module.load_state_dict(fill(arcface_layout(depth, input_size), seed=seed))
    return module.eval()


def pre_2023_checkpoint(module: nn.Module) -> dict:
    """foamliu/InsightFace-v2's training dict, as SimSwap released it before 2023-04-25 (the file
    Facke's IDExtractor reads ``['model']`` from)."""
    metric_fc = nn.Linear(512, 8)
    return {
        "epoch": 17,
        "epochs_since_improvement": 0,
        "model": nn.DataParallel(module),
        "metric_fc": nn.DataParallel(metric_fc),
        "optimizer": torch.optim.SGD([*module.parameters(), *metric_fc.parameters()], lr=0.1),
    }


FORMATS: dict[str, Callable[[nn.Module], object]] = {
    "dict-with-DataParallel (pre-2023)": pre_2023_checkpoint,
    "whole module (2023 re-upload)": lambda module: module,
    "bare DataParallel": nn.DataParallel,
}
"""The pickles ``arcface_checkpoint.tar`` was released as, by label."""


def write_checkpoints(module: nn.Module, folder: Path) -> dict[str, Path]:
    """``module`` saved in every format of ``FORMATS`` under ``folder``: label -> file."""
    paths = {}
    for index, (label, wrap) in enumerate(FORMATS.items()):
        paths[label] = folder / f"arcface_checkpoint_{index}.tar"
        torch.save(wrap(module), paths[label])
    return paths


def wrapped_variants(files: StateDicts) -> list[dict[str, dict[str, torch.Tensor]]]:
    """``files`` (role -> official state dict, the ArcFace as ``identity``) as the converters meet
    them: the ArcFace under each prefix of a (DataParallel) training dict, beside its epoch and
    metric_fc entries, and every other role saved from DataParallel (``module.``)."""
    variants = []
    for prefix in ("model.module.", "module.", "model."):
        identity = {f"{prefix}{k}": v for k, v in files["identity"].items()}
        identity.update({"epoch": torch.zeros(()), "metric_fc.module.weight": torch.zeros(8, 512)})
        others = {role: {f"module.{k}": v for k, v in state.items()} for role, state in files.items() if role != "identity"}
        variants.append({**others, "identity": identity})
    return variants


def without_batch_counts(files: StateDicts) -> dict[str, dict[str, torch.Tensor]]:
    """``files`` as written before PyTorch 0.4.1: no num_batches_tracked buffers."""
    return {role: {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")} for role, state in files.items()}


def assert_converts_as_found(convert: Callable[..., Mapping[str, torch.Tensor]], files: StateDicts, config: dict,
                             batch_count: str) -> None:
    """``convert(files, config)`` (a converter of files holding SimSwap's ArcFace as ``identity``)
    gives the same keys for every wrapping of ``wrapped_variants`` and for files without batch
    counts, whose counter ``batch_count`` it sets to 0."""
    reference = convert(files, config)
    for wrapped in wrapped_variants(files):
        assert convert(wrapped, config).keys() == reference.keys()
    state = convert(without_batch_counts(files), config)
    assert state[batch_count].item() == 0
    assert state.keys() == reference.keys()
