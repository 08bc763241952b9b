"""The example's Trainer for the core engine: reconstruction on same-identity pairs plus an
identity loss, one "generator" phase (a real plugin adds a discriminator phase)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn
from torch.nn import functional as F

from zoo_core.specs import ModelSpec
from zoo_plugin_example.model import ExampleConfig, ExampleSwapper


class ExampleTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lr: float = 1e-3
    lambda_rec: float = 10.0
    lambda_id: float = 1.0
    sampler: str = "alternating"


class ExampleTrainer:
    config_schema = ExampleTrainConfig
    phases = ("generator",)
    ema: Mapping[str, float] = {}

    def __init__(self, spec: ModelSpec, model_config: dict[str, Any], config: ExampleTrainConfig):
        self.spec, self.model_config, self.config = spec, model_config, config
        self.sampler = config.sampler
        self.sampler_options: dict[str, Any] = {}

    def build_networks(self) -> dict[str, nn.Module]:
        return {"swapper": ExampleSwapper(self.spec, ExampleConfig(**self.model_config))}

    def build_optimizers(self, networks: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        return {"generator": torch.optim.Adam(networks["swapper"].parameters(), lr=self.config.lr, betas=(0.5, 0.999))}

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {}

    def step(self, phase: str, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module], step: int) -> dict[str, torch.Tensor]:
        swapper = networks["swapper"]
        model = getattr(swapper, "module", swapper)  # DDP wraps it
        swapped = model.swap(batch["source"], batch["target"])
        same = batch["same"].float()
        per_pair = (swapped - batch["target"]).abs().mean(dim=(1, 2, 3))
        reconstruction = (per_pair * same).sum() / same.sum().clamp(min=1)
        identity = 1 - F.cosine_similarity(model.identity(swapped), model.identity(batch["source"]).detach()).mean()
        total = self.config.lambda_rec * reconstruction + self.config.lambda_id * identity
        return {"total": total, "reconstruction": reconstruction.detach(), "identity": identity.detach()}

    def sample_grid(self, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module]) -> torch.Tensor:
        swapped = networks["swapper"].swap(batch["source"], batch["target"])
        rows = [torch.cat([s, t, w], dim=2) for s, t, w in zip(batch["source"], batch["target"], swapped, strict=True)]
        return torch.cat(rows, dim=1)

    def export(self, networks: Mapping[str, nn.Module]) -> ExampleSwapper:
        return networks["swapper"]
