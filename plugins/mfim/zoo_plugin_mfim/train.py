"""MFIM's Trainer for the core engine (Sec. 3.2, Eq. 1-6).

L = λ_id L_id + λ_recon (L1 + LPIPS) + λ_adv L_adv + λ_R1 L_R1 + λ_shape L_shape
    + λ_pose L_pose + λ_exp L_exp.

* L_id = 1 - cos(R(x_swap), R(x_src)) with the registered ``pixel2style2pixel-irse50``
  ArcFace (pSp's IR-SE-50; the paper cites ArcFace), frozen.
* L_recon between x_swap and x_tgt on every pair (Eq. 2 has no same-identity mask): L1 on the
  training crops, LPIPS (:mod:`zoo_plugin_mfim.lpips`, AlexNet as pSp) at ``lpips_size``.
* Non-saturating adversarial loss and R1 on real targets with the StyleGAN2 discriminator
  (``zoo_core.nets.stylegan2``), initialised from the same StyleGAN2 checkpoint as the generator.
* 3DMM losses: L2 norms (not squared, Eq. 3-5) between DECA's FLAME parameters (registered
  ``deca-flame-encoder``) of the swap and of the source (shape) / target (pose, expression),
  on differentiable DECA crops (:mod:`zoo_plugin_mfim.deca_crop`). Only the regressed
  parameters are needed, not the (licence-restricted) FLAME mesh.

The paper's λ values and optimiser are in its unpublished supplementary material: every
default below is our choice, stated in docs/models/mfim.md. ``preset`` selects the ablation
configurations of Table 4 (A: codes only; B: + style maps; C: + L_shape; D: + L_pose; E: + L_exp).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from zoo_core.errors import ConfigError
from zoo_core.nets.identity import build_identity_encoder
from zoo_core.nets.identity_config import IDENTITY_ENCODER_PRESETS
from zoo_core.nets.losses import (
    identity_loss,
    nonsaturating_d_loss,
    nonsaturating_g_loss,
    r1_penalty,
)
from zoo_core.nets.stylegan2 import StyleGAN2Discriminator
from zoo_core.specs import ModelSpec
from zoo_core.train.grid import swap_grid, unwrap
from zoo_plugin_mfim.config import MFIMConfig
from zoo_plugin_mfim.deca_crop import deca_crop_aligned
from zoo_plugin_mfim.lpips import LPIPS, build_lpips
from zoo_plugin_mfim.model import MFIM, generator_config

PRESETS: dict[str, dict[str, bool]] = {
    # Table 4: style maps, L_shape, L_pose, L_exp
    "A": {"style_maps": False, "shape": False, "pose": False, "exp": False},
    "B": {"style_maps": True, "shape": False, "pose": False, "exp": False},
    "C": {"style_maps": True, "shape": True, "pose": False, "exp": False},
    "D": {"style_maps": True, "shape": True, "pose": True, "exp": False},
    "E": {"style_maps": True, "shape": True, "pose": True, "exp": True},
}


class MFIMTrainConfig(BaseModel):
    """Loss weights, optimiser and the frozen networks' weights (all weights: our choices)."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["A", "B", "C", "D", "E"] = Field("E", description="Table 4 configuration")
    lambda_id: float = Field(1.0, ge=0)
    lambda_recon: float = Field(1.0, ge=0)
    lambda_adv: float = Field(0.1, ge=0)
    lambda_r1: float = Field(1.0, ge=0, description="scale of R1 (gamma r1_gamma)")
    r1_gamma: float = Field(10.0, ge=0, description="StyleGAN2 FFHQ-1024 gamma")
    lambda_shape: float = Field(1.0, ge=0)
    lambda_pose: float = Field(1.0, ge=0)
    lambda_exp: float = Field(1.0, ge=0)
    lr: float = Field(1e-4, gt=0, description="encoder (and generator when fine-tuned) learning rate")
    d_lr: float = Field(1e-4, gt=0)
    betas: tuple[float, float] = (0.0, 0.99)
    lpips_net: Literal["alex", "vgg"] = "alex"
    lpips_size: int = Field(256, ge=32, description="LPIPS resolution (pSp compares at 256)")
    lpips_backbone: str | None = Field(None, description="torchvision ImageNet weights file (default: download)")
    lpips_lin: str | None = Field(None, description="lpips lin weights (default: the installed lpips wheel's)")
    lpips_random_init: bool = Field(False, description="random LPIPS (tests only: the loss is then meaningless)")
    stylegan2_checkpoint: str | None = Field(None, description="rosinality StyleGAN2 checkpoint (g_ema, d, latent_avg)")
    identity_preset: str = "pixel2style2pixel-irse50"
    identity_weights: str | None = Field(None, description="IR-SE-50 ArcFace state dict (pSp's model_ir_se50.pth); "
                                         "also initialises the encoder body, as pSp")
    identity_overrides: dict[str, Any] = Field(default_factory=dict, description="identity encoder config overrides")
    flame_weights: str | None = Field(None, description="converted deca-flame-encoder folder (zoo convert)")
    flame_overrides: dict[str, Any] = Field(default_factory=dict, description="deca-flame-encoder config overrides")


class MFIMTrainer:
    """Phases: generator (the encoder, and the generator unless frozen), then discriminator."""

    config_schema: type[BaseModel] = MFIMTrainConfig
    phases = ("generator", "discriminator")
    sampler = "random"
    sampler_options: Mapping[str, Any] = {}
    ema: Mapping[str, float] = {}

    def __init__(self, spec: ModelSpec, model_config: dict[str, Any], config: Any):
        self.spec = spec
        self.config = config
        self.preset = PRESETS[config.preset]
        self.model_config = MFIMConfig(**{**model_config, "style_maps": self.preset["style_maps"]})
        self.weights = {"shape": config.lambda_shape if self.preset["shape"] else 0.0,
                        "pose": config.lambda_pose if self.preset["pose"] else 0.0,
                        "exp": config.lambda_exp if self.preset["exp"] else 0.0}
        self.identity = build_identity(config)
        self.lpips = self._build_lpips()
        self.flame = self._build_flame() if any(self.weights.values()) else None
        self._fake: torch.Tensor | None = None

    # ---- frozen helpers

    def _build_lpips(self) -> LPIPS:
        if self.config.lpips_random_init:
            warnings.warn("LPIPS has random weights (lpips_random_init): the perceptual loss is meaningless", stacklevel=2)
            return LPIPS(self.config.lpips_net)
        return build_lpips(self.config.lpips_net, self.config.lpips_backbone, self.config.lpips_lin)

    def _build_flame(self) -> nn.Module:
        from zoo_core import registry

        if self.config.flame_weights:
            from zoo_core.component_weights import load_component

            flame = load_component("deca-flame-encoder", self.config.flame_weights)
        else:
            warnings.warn("deca-flame-encoder has random weights (no flame_weights): the 3DMM losses are "
                          "meaningless; convert DECA's deca_model.tar with 'zoo convert deca-flame-encoder'", stacklevel=2)
            flame = registry.create_component("deca-flame-encoder", **self.config.flame_overrides)
        return flame.requires_grad_(False).eval()

    def _frozen(self, device: torch.device) -> None:
        for module in (self.identity, self.lpips, self.flame):
            if module is not None:
                module.to(device)

    # ---- Trainer protocol

    def build_networks(self) -> dict[str, nn.Module]:
        model = MFIM(self.spec, self.model_config)
        discriminator = StyleGAN2Discriminator(generator_config(self.model_config))
        if self.config.stylegan2_checkpoint:
            load_stylegan2(model, discriminator, self.config.stylegan2_checkpoint)
        else:
            warnings.warn("no stylegan2_checkpoint: the generator is random, not the pretrained FFHQ StyleGAN2 "
                          "the method inverts", stacklevel=2)
            with torch.no_grad():
                model.set_latent_avg(model.generator.mean_latent(4096))
        if self.config.identity_weights:
            load_encoder_body(model, self.identity)
        return {"swapper": model, "discriminator": discriminator}

    def build_optimizers(self, networks: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        model = unwrap(networks["swapper"])
        params = [p for p in model.parameters() if p.requires_grad]
        betas = tuple(self.config.betas)
        return {"generator": torch.optim.Adam(params, lr=self.config.lr, betas=betas),
                "discriminator": torch.optim.Adam(networks["discriminator"].parameters(), lr=self.config.d_lr, betas=betas)}

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {}

    def step(self, phase: str, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module],
             step: int) -> dict[str, torch.Tensor]:
        self._frozen(batch["target"].device)
        if phase == "generator":
            losses, fake = self.generator_losses(batch, networks)
            self._fake = fake.detach()
            return losses
        return self.discriminator_losses(batch, networks)

    def generator_losses(self, batch: Mapping[str, torch.Tensor],
                         networks: Mapping[str, nn.Module]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Eq. 6 without the R1 term (which is the discriminator's); returns the losses and the swap."""
        source, target = batch["source"], batch["target"]
        fake = networks["swapper"](source, target)  # [0, 1] at the generator's size
        swap = _resize(fake, target.shape[-1])
        c = self.config
        with torch.no_grad():
            source_id = self.identity(source)
        id_loss = identity_loss(self.identity(swap), source_id)
        l1 = F.l1_loss(swap, target)
        perceptual = self.lpips(_resize(fake, c.lpips_size) * 2 - 1, _resize(target, c.lpips_size) * 2 - 1).mean()
        adversarial = nonsaturating_g_loss(networks["discriminator"](fake * 2 - 1))
        total = c.lambda_id * id_loss + c.lambda_recon * (l1 + perceptual) + c.lambda_adv * adversarial
        losses = {"identity": id_loss, "l1": l1, "lpips": perceptual, "adversarial": adversarial}
        if self.flame is not None:
            for name, value in self.flame_losses(source, target, fake).items():
                total = total + self.weights[name] * value
                losses[name] = value
        out = {"total": total, **{k: v.detach() for k, v in losses.items()}}
        return out, fake

    def flame_losses(self, source: torch.Tensor, target: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 3-5: ||s_swap - s_src||, ||p_swap - p_tgt||, ||e_swap - e_tgt|| (batch means)."""
        size = self.flame.config.image_size
        with torch.no_grad():
            src = self.flame.encode(deca_crop_aligned(source, size))
            tgt = self.flame.encode(deca_crop_aligned(target, size))
        swp = self.flame.encode(deca_crop_aligned(fake, size))
        reference = {"shape": src, "pose": tgt, "exp": tgt}
        return {name: (swp[name] - reference[name][name]).norm(dim=1).mean()
                for name, weight in self.weights.items() if weight > 0}

    def discriminator_losses(self, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
        discriminator = networks["discriminator"]
        fake = self._fake
        if fake is None:
            with torch.no_grad():
                fake = networks["swapper"](batch["source"], batch["target"])
        real = (_resize(batch["target"], self.model_config.size) * 2 - 1).detach().requires_grad_(True)
        real_logits = discriminator(real)
        logistic = nonsaturating_d_loss(real_logits, discriminator(fake * 2 - 1))
        r1 = r1_penalty(real_logits, real, gamma=self.config.r1_gamma)
        total = logistic + self.config.lambda_r1 * r1
        return {"total": total, "logistic": logistic.detach(), "r1": r1.detach()}

    def sample_grid(self, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module]) -> torch.Tensor:
        return swap_grid(unwrap(networks["swapper"]), batch["source"], batch["target"])

    def export(self, networks: Mapping[str, nn.Module]) -> nn.Module:
        return unwrap(networks["swapper"])


def build_identity(config: MFIMTrainConfig) -> nn.Module:
    """The frozen recognizer R of Eq. 1 (random weights, with a warning, without identity_weights)."""
    if config.identity_preset not in IDENTITY_ENCODER_PRESETS:
        raise ConfigError(f"identity_preset {config.identity_preset!r} is not one of {sorted(IDENTITY_ENCODER_PRESETS)}")
    preset = IDENTITY_ENCODER_PRESETS[config.identity_preset].model_dump()
    encoder = build_identity_encoder({**preset, **config.identity_overrides})
    if config.identity_weights:
        from zoo_core.hub import load_state_dict_strict
        from zoo_core.serialization import read_checkpoint

        state = read_checkpoint(config.identity_weights, allow_module_pickle=False)
        load_state_dict_strict(encoder.backbone, state, config.identity_weights)
    else:
        warnings.warn("identity encoder has random weights (no identity_weights): L_id is meaningless", stacklevel=2)
    return encoder.requires_grad_(False).eval()


def load_stylegan2(model: MFIM, discriminator: nn.Module, path: str) -> None:
    """Generator (g_ema), discriminator (d) and latent_avg from a rosinality StyleGAN2 checkpoint."""
    from zoo_core.nets.stylegan2_convert import (
        rosinality_discriminator,
        rosinality_generator,
        rosinality_latent_avg,
    )
    from zoo_core.serialization import read_checkpoint

    state = read_checkpoint(path, allow_module_pickle=False)
    config = generator_config(model.config)
    model.generator.load_state_dict(rosinality_generator(state, config))
    discriminator.load_state_dict(rosinality_discriminator(state, config))
    latent_avg = rosinality_latent_avg(state)
    with torch.no_grad():
        model.set_latent_avg(latent_avg if latent_avg is not None else model.generator.mean_latent(4096))


def load_encoder_body(model: MFIM, identity: nn.Module) -> None:
    """Initialise the encoder's ``input_layer`` and ``body`` from the ArcFace IR-SE-50, as pSp."""
    source = identity.backbone.state_dict()
    own = model.encoder.state_dict()
    shared = {k: v for k, v in source.items() if k.split(".")[0] in ("input_layer", "body")}
    if not shared:
        raise ConfigError("the identity encoder has no IR-SE 'input_layer'/'body' to initialise the encoder from "
                          f"(identity_preset {type(identity.backbone).__name__}); use pixel2style2pixel-irse50")
    unfit = [k for k, v in shared.items() if k not in own or own[k].shape != v.shape]
    if unfit:
        raise ConfigError(f"the encoder body does not match the identity encoder ({len(unfit)} keys differ, e.g. "
                          f"{unfit[:3]}): use the IR-SE-50 encoder_units/encoder_widths")
    model.encoder.load_state_dict(shared, strict=False)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


