"""SimSwap's Trainer for the core engine (Chen et al. 2020; the survey's §2.1.3, Eq. 1-8).

L = λ_Id L_Id + λ_Recon L_Recon + L_Adv + λ_GP L_GP + λ_wFM L_wFM with λ_Id = 30,
λ_Recon = 10, λ_GP = 1e-5, λ_wFM = 10 (survey Eq. 1). Hinge adversarial loss with two
discriminators at two scales (SimSwap's D1 on the image, D2 on its 3x3 average-pooled half:
``MultiscaleDiscriminator(num_d=2, n_layers=4, padding=1)``, the official layout).
Reconstruction only on same-identity pairs; batches alternate same- and cross-identity
(official train.py), or follow Facke's identity grouping (``sampler="identity-group"``).
Optimizers: Adam(lr 4e-4, betas (0, 0.999)) for both, as the official train options.
Feature-matching variants of the survey's Table 2 are selectable.

The identity encoder (of the code and of L_Id) stays frozen and must be pretrained: SimSwap's
ArcFace with ``identity_weights`` (its ``arcface_checkpoint.tar``), or another registered
encoder named by ``identity_encoder`` (``dlib-resnet-128``: dlib's verification network, whose
128-d code then sets the model's latent size). Neither given is refused: an identity loss
against a random recognizer teaches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from zoo_core.errors import ConfigError, WeightsError
from zoo_core.faces.chip_identity import build_crop_identity_encoder, embedding_size
from zoo_core.nets.discriminators import MultiscaleDiscriminator
from zoo_core.nets.identity import IdentityEncoder
from zoo_core.nets.losses import (
    feature_matching_loss,
    gradient_penalty,
    hinge_d_loss,
    hinge_g_loss,
    identity_loss,
    masked_reconstruction_loss,
)
from zoo_core.specs import ModelSpec
from zoo_core.train.grid import swap_grid, unwrap
from zoo_plugin_simswap.config import IDENTITY_PRESET, SimSwapConfig
from zoo_plugin_simswap.model import SimSwap

# Which discriminator levels (0 = first conv ... n_layers + 1 = logits) each variant matches.
# wFM: SimSwap's weak FM, the last layers (the first dropped, Facke's feat_mode "w");
# oFM: all but the logits (pix2pixHD); wFM_bar: the first layers (the last dropped; our reading
# of the survey's "keep the first few layers ... removing the last few"); nFM: none.
FEATURE_MATCHING = {"wFM": slice(1, -1), "oFM": slice(0, -1), "wFM_bar": slice(0, -2), "nFM": None}


class SimSwapTrainConfig(BaseModel):
    """Hyperparameters: the survey's Eq. 1 weights and the official training options."""

    model_config = ConfigDict(extra="forbid")

    lr: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.999
    lambda_id: float = 30.0
    lambda_rec: float = 10.0
    lambda_gp: float = 1e-5
    lambda_fm: float = 10.0
    feature_matching: Literal["wFM", "oFM", "wFM_bar", "nFM"] = "wFM"
    d_channels: int = Field(64, ge=1)
    d_layers: int = Field(4, ge=1)
    sampler: Literal["alternating", "identity-group"] = "alternating"
    identity_group: int = Field(2, ge=2)
    identity_encoder: str | None = Field(None, description="registered identity encoder of the code and L_Id, "
                                         "e.g. dlib-resnet-128 (None: the model config's, SimSwap's ArcFace)")
    identity_weights: str | None = Field(None, description="SimSwap's arcface_checkpoint.tar (either release) "
                                         "for its ArcFace")


class SimSwapTrainer:
    """Phases: generator, then discriminator (``zoo_core.protocols.Trainer``).

    Subclasses (CVAE-GAN) replace ``model_class``/``model_config_class`` and
    ``generator_losses``; the discriminator side, optimizers and export are shared.
    """

    config_schema: type[BaseModel] = SimSwapTrainConfig
    model_class: type[nn.Module] = SimSwap
    model_config_class: type[BaseModel] = SimSwapConfig
    phases = ("generator", "discriminator")
    ema: Mapping[str, float] = {}

    def __init__(self, spec: ModelSpec, model_config: dict[str, Any], config: Any):
        self.spec = spec
        self.identity_weights: str | None = None
        if isinstance(config, SimSwapTrainConfig):  # CVAE-GAN's config has no identity options
            model_config = {**model_config, **identity_config(spec, model_config, config)}
            self.identity_weights = config.identity_weights
        self.model_config = self.model_config_class(**model_config)
        self.config = config
        sampler = getattr(config, "sampler", "alternating")
        self.sampler = sampler
        self.sampler_options = {"group": config.identity_group} if sampler == "identity-group" else {}
        self._fake: torch.Tensor | None = None

    def build_networks(self) -> dict[str, nn.Module]:
        swapper = self.model_class(self.spec, self.model_config)
        if self.identity_weights is not None:
            load_arcface(swapper, self.identity_weights)
        return {"swapper": swapper, "discriminator": build_discriminator(self.config)}

    def build_optimizers(self, networks: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        betas = (self.config.beta1, self.config.beta2)
        generator = unwrap(networks["swapper"]).generator
        return {
            "generator": torch.optim.Adam(generator.parameters(), lr=self.config.lr, betas=betas),
            "discriminator": torch.optim.Adam(networks["discriminator"].parameters(), lr=self.config.lr, betas=betas),
        }

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {}

    def step(self, phase: str, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module],
             step: int) -> dict[str, torch.Tensor]:
        if phase == "generator":
            losses, fake = self.generator_losses(batch, networks)
            self._fake = fake.detach()
            return losses
        source, target = batch["source"], batch["target"]
        fake = self._fake if self._fake is not None else unwrap(networks["swapper"]).swap(source, target).detach()
        discriminator = networks["discriminator"]
        hinge = hinge_d_loss(discriminator(target), discriminator(fake))
        penalty = gradient_penalty(discriminator, target, fake)
        total = hinge + self.config.lambda_gp * penalty
        return {"total": total, "hinge": hinge.detach(), "gradient_penalty": penalty.detach()}

    def generator_losses(self, batch: Mapping[str, torch.Tensor],
                         networks: Mapping[str, nn.Module]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """SimSwap's generator objective (survey Eq. 1); returns the losses and the swap."""
        source, target = batch["source"], batch["target"]
        model = unwrap(networks["swapper"])
        with torch.no_grad():
            latent = model.identity(source)
        fake = networks["swapper"](target, latent)
        adversarial, matching = self.adversarial_losses(fake, target, networks["discriminator"])
        id_loss = identity_loss(model.identity(fake), latent)
        reconstruction = masked_reconstruction_loss(fake, target, batch["same"])
        total = (adversarial + self.config.lambda_fm * matching + self.config.lambda_id * id_loss
                 + self.config.lambda_rec * reconstruction)
        losses = {"total": total, "adversarial": adversarial.detach(), "feature_matching": matching.detach(),
                  "identity": id_loss.detach(), "reconstruction": reconstruction.detach()}
        return losses, fake

    def adversarial_losses(self, fake: torch.Tensor, target: torch.Tensor,
                           discriminator: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """Hinge generator loss and the configured feature matching (0 for nFM)."""
        fake_out, real_out = discriminator(fake), discriminator(target)
        layers = FEATURE_MATCHING[self.config.feature_matching]
        matching = feature_matching_loss(fake_out, real_out, layers=layers) if layers is not None else fake.new_zeros(())
        return hinge_g_loss(fake_out), matching

    def sample_grid(self, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module]) -> torch.Tensor:
        model = unwrap(networks["swapper"])
        return swap_grid(model, batch["source"], batch["target"], lambda s, t: self.sample_swap(model, s, t))

    def sample_swap(self, model: nn.Module, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return model.swap(source, target)

    def export(self, networks: Mapping[str, nn.Module]) -> nn.Module:
        return unwrap(networks["swapper"])


def build_discriminator(config: Any) -> MultiscaleDiscriminator:
    """SimSwap's two discriminators: D1 on the image, D2 on its average-pooled half."""
    return MultiscaleDiscriminator(input_nc=3, ndf=config.d_channels, n_layers=config.d_layers, norm_layer="batch",
                                   num_d=2, get_interm_feat=True, padding=1)


def identity_config(spec: ModelSpec, model_config: dict[str, Any], config: SimSwapTrainConfig) -> dict[str, Any]:
    """The model config entries of the trainer's identity encoder (its name and code size);
    refuses an encoder without pretrained weights in one line."""
    name = config.identity_encoder or model_config.get("identity_encoder", IDENTITY_PRESET)
    if name == IDENTITY_PRESET:
        if config.identity_weights is None:
            raise ConfigError(f"{spec.name}: SimSwap's ArcFace ({IDENTITY_PRESET}) has random weights here, and "
                              "an identity loss against a random recognizer teaches nothing: --set "
                              "identity_weights=arcface_checkpoint.tar (SimSwap's release) or --set "
                              "identity_encoder=dlib-resnet-128 (dlib's verification network, offline; 128-d code)")
        return {"identity_encoder": name}
    if config.identity_weights is not None:
        raise ConfigError(f"identity_weights is SimSwap's ArcFace checkpoint ({IDENTITY_PRESET}); identity_encoder "
                          f"{name!r} does not take it")
    encoder = build_crop_identity_encoder(name, spec.template).eval()
    if isinstance(encoder, IdentityEncoder):
        raise ConfigError(f"identity_encoder {name!r} is built with random weights (zoo's ArcFace presets carry "
                          "none): use dlib-resnet-128, or SimSwap's ArcFace with identity_weights")
    return {"identity_encoder": name, "latent_size": embedding_size(encoder)}


def load_arcface(model: SimSwap, path: str) -> None:
    """SimSwap's ``arcface_checkpoint.tar`` (either release) into the model's ArcFace."""
    from zoo_core.serialization import check_finite, read_checkpoint
    from zoo_plugin_simswap.convert import arcface_state

    checkpoint = read_checkpoint(path)
    try:
        state = arcface_state(checkpoint, model.config)
    except WeightsError as error:
        raise WeightsError(f"{path}: {error}") from None
    check_finite(state, path)
    model.identity_encoder.load_state_dict({k.removeprefix("identity_encoder."): v for k, v in state.items()})
