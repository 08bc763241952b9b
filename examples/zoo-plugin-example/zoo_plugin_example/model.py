"""The example architecture: identity encoder -> AdaIN-conditioned encoder/decoder."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn
from torch.nn import functional as F

from zoo_core.protocols import swap_identity
from zoo_core.specs import ModelSpec


class ExampleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: int = 16
    identity_dim: int = 32
    resolution: int = 64


class AdaINBlock(nn.Module):
    """Residual block whose instance-normalised features are modulated by the identity code."""

    def __init__(self, channels: int, identity_dim: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.style = nn.Linear(identity_dim, 2 * channels)

    def forward(self, x: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        scale, bias = self.style(identity)[:, :, None, None].chunk(2, dim=1)
        h = F.instance_norm(self.conv(x))
        return x + F.relu(h * (1 + scale) + bias)


class ExampleSwapper(nn.Module):
    """Implements ``zoo_core.protocols.SwapModel`` on 64 px crops."""

    def __init__(self, spec: ModelSpec, config: ExampleConfig):
        super().__init__()
        self.spec = spec
        self.config = config
        c = config.channels
        self.identity_encoder = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.ReLU(), nn.Conv2d(c, c, 4, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, config.identity_dim),
        )
        self.encoder = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 4, 2, 1))
        self.block = AdaINBlock(c, config.identity_dim)
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c, 3, 3, padding=1))

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.identity_encoder(source * 2 - 1), dim=1)

    def swap(self, source: torch.Tensor, target: torch.Tensor, *, identity: torch.Tensor | None = None) -> torch.Tensor:
        """``identity``: a precomputed ``self.identity(source)``, (N, D) or (1, D); the
        identity encoder then does not run (the protocol's contract)."""
        features = self.block(self.encoder(target * 2 - 1), swap_identity(self, source, target, identity))
        return torch.sigmoid(self.decoder(features))


def build(spec: ModelSpec, config: dict) -> ExampleSwapper:
    """Builder named by the spec: ``zoo_core.create_model("example-64")`` calls it."""
    return ExampleSwapper(spec, ExampleConfig(**config))


def convert_reference_checkpoint(checkpoints: dict[str, dict[str, torch.Tensor]], config: dict) -> dict[str, torch.Tensor]:
    """Converter: the reference code's keys ("net.*" in two files) -> ours (a pure function)."""
    state = {f"identity_encoder.{k}": v for k, v in checkpoints["identity"].items()}
    renames = {"enc.": "encoder.", "res.": "block.", "dec.": "decoder."}
    for key, value in checkpoints["generator"].items():
        prefix = next((p for p in renames if key.startswith(p)), None)
        state[renames[prefix] + key[len(prefix):] if prefix else key] = value
    return state
