"""StyleFace's Trainer for the core engine (Sec. 3.3 and 4.1, Eq. 1-12).

L_total = L_GAN + L_c + L_mask + L_FM + 10 L_rec + 5 L_ICL + 1e-4 L_KL (Eq. 12), StyleGAN2's
non-saturating GAN loss with R1 (gamma 10, lazy every 16 discriminator steps, as StyleGAN2
config-f), Adam betas (0, 0.99), lr 1e-4 for the generator, AAE and AttrInjection, 1e-6 for
the identity projector (ω and the mapping network f: θ of Eq. 2), optional generator
pre-training, then same-identity pairs falling from 100% to 50% over ``warmup_steps``
optimizer steps (the engine's "warmup" sampler, started when swap training starts).

Eq. 3: the queries are the sources' codes w^j; the sampler gives a second photo X^{j'} of each
source's identity, whose momentum code refreshes K[j] before the loss, K[j] being the positive.

Open choices (paper silent, no official code): the discriminator's lr (1e-4, as the
generator's); L_c is the sum of the three levels' Eq. 3; L_mask and L_FM reductions (see
``zoo_plugin_styleface.losses``); L_rec on the generator's [-1, 1] scale (as StyleGAN2's
images); the shallow discriminator layers are those at resolution >= size /
``fm_split_divisor``; pre-training trains the plain generator (z ~ N(0, I) per level, random
noise, GAN + R1 only) with the mapping network at the generator's lr, the momentum projector
following it; no EMA generator.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from zoo_core.errors import ConfigError
from zoo_core.nets.identity import IdentityEncoder
from zoo_core.nets.losses import (
    identity_contrastive_loss,
    masked_reconstruction_loss,
    nonsaturating_d_loss,
    nonsaturating_g_loss,
    r1_penalty,
)
from zoo_core.nets.stylegan2 import StyleGAN2Config, StyleGAN2Discriminator
from zoo_core.registry import get_registry, resolve
from zoo_core.specs import ModelSpec
from zoo_core.train.grid import swap_grid, unwrap
from zoo_plugin_styleface.config import LEVELS, StyleFaceConfig
from zoo_plugin_styleface.losses import (
    KeyBank,
    discriminator_features,
    ellipse_face_mask,
    feature_matching,
    mask_loss,
)
from zoo_plugin_styleface.model import StyleFace
from zoo_plugin_styleface.projector import MomentumProjector, kl_divergence


class StyleFaceTrainConfig(BaseModel):
    """Hyperparameters; defaults are the paper's values (Sec. 3.1, 4.1) or StyleGAN2's."""

    model_config = ConfigDict(extra="forbid")

    lr: float = Field(1e-4, gt=0, description="generator, AAE and AttrInjection")
    lr_projector: float = Field(1e-6, gt=0, description="identity projector: ω and the mapping network f")
    lr_discriminator: float = Field(1e-4, gt=0, description="paper silent: the generator's")
    beta1: float = 0.0
    beta2: float = 0.99
    lambda_gan: float = 1.0
    lambda_c: float = 1.0
    lambda_mask: float = 1.0
    lambda_fm: float = 1.0
    lambda_rec: float = 10.0
    lambda_icl: float = 5.0
    lambda_kl: float = 1e-4
    momentum: float = Field(0.999, ge=0, lt=1, description="m of the momentum projector")
    temperature: float = Field(0.07, gt=0, description="τ of Eq. 3")
    num_identities: int = Field(0, ge=0, description="rows of each key bank; 0: grow with the identities seen")
    r1_gamma: float = 10.0
    r1_every: int = Field(16, ge=1, description="lazy R1: every k discriminator steps, scaled by k")
    fm_split_divisor: int = Field(16, ge=1, description="D features at resolution >= size / this are 'low' (Eq. 8)")
    mask_reduction: Literal["mean", "sum"] = "mean"
    face_parser: str | None = Field(None, description="component (kind 'face_parser') giving M_bg; None: template ellipse")
    warmup_steps: int = Field(10_000, ge=1, description="same-identity share 100% -> 50% over these optimizer "
                              "steps, counted from the end of pre-training")
    pretrain_steps: int = Field(0, ge=0, description="generator pre-training steps first (paper: 20K on FFHQ)")
    stylegan2_checkpoint: str | None = Field(None, description="rosinality StyleGAN2 checkpoint (g_ema, d) to start "
                                             "the generator and discriminator from, instead of pre-training")
    identity_weights: str | None = Field(None, description="state dict of the recognizer's backbone (for the "
                                         "default: insightface arcface_torch iresnet100 backbone.pth)")


class StyleFaceTraining(nn.Module):
    """What the engine trains and checkpoints on the generator side: the model, the momentum
    projector P_θ' and the three key banks K_l, K_m, K_h."""

    def __init__(self, model: StyleFace, config: StyleFaceTrainConfig) -> None:
        super().__init__()
        self.model = model
        self.momentum = MomentumProjector(model.projector, model.generator, config.momentum)
        self.banks = nn.ModuleList(KeyBank(config.num_identities, model.config.style_dim, config.temperature)
                                   for _ in LEVELS)

    def forward(self, source: Tensor, target: Tensor) -> dict[str, Any]:
        return self.model(source, target)


class StyleFaceTrainer:
    """Phases: generator, then discriminator (``zoo_core.protocols.Trainer``)."""

    config_schema: type[BaseModel] = StyleFaceTrainConfig
    phases = ("generator", "discriminator")
    sampler = "warmup"
    ema: Mapping[str, float] = {}

    def __init__(self, spec: ModelSpec, model_config: dict[str, Any], config: StyleFaceTrainConfig):
        self.spec = spec
        self.model_config = StyleFaceConfig(**model_config)
        self.config = config
        # the warm-up starts with swap training, and X^{j'} (Eq. 3) comes with every batch
        self.sampler_options = {"warmup_steps": config.warmup_steps, "start_step": config.pretrain_steps,
                                "positives": True}
        self._fake: Tensor | None = None
        self._parser = self._build_parser(config.face_parser)
        self._projector_group: dict[str, Any] | None = None

    @classmethod
    def resolutions(cls, spec: ModelSpec, model_config: Mapping[str, Any]) -> tuple[int, ...]:
        """The AAE's features meet the generator's at fixed sides: crops of the generator's size only."""
        return (StyleFaceConfig(**model_config).size,)

    @staticmethod
    def _build_parser(name: str | None) -> Any:
        if name is None:
            return None
        components = get_registry().components
        if name not in components or components[name].kind != "face_parser" or components[name].builder is None:
            raise ConfigError(f"face_parser: {name!r} is not a registered 'face_parser' component")
        spec = components[name]
        return resolve(spec.builder, f"face parser {name!r}")(spec.default_config)

    # --- engine hooks -----------------------------------------------------------------------

    def build_networks(self) -> dict[str, nn.Module]:
        model = StyleFace(self.spec, self.model_config)
        discriminator = StyleGAN2Discriminator(StyleGAN2Config(**self.model_config.stylegan2()))
        load_pretrained(model, discriminator, self.config)
        return {"styleface": StyleFaceTraining(model, self.config), "discriminator": discriminator}

    def build_optimizers(self, networks: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        model = unwrap(networks["styleface"]).model
        betas = (self.config.beta1, self.config.beta2)
        projector = [*model.projector.parameters(), *model.generator.style.parameters()]
        chosen = {id(p) for p in projector}
        rest = [p for name, p in model.named_parameters()
                if id(p) not in chosen and not name.startswith("identity_encoder.")]
        generator = torch.optim.Adam([{"params": rest, "lr": self.config.lr},
                                      {"params": projector, "lr": self.config.lr_projector}], betas=betas)
        self._projector_group = generator.param_groups[1]
        discriminator = torch.optim.Adam(networks["discriminator"].parameters(), lr=self.config.lr_discriminator,
                                         betas=betas)
        return {"generator": generator, "discriminator": discriminator}

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {}

    def step(self, phase: str, batch: Mapping[str, Tensor], networks: Mapping[str, nn.Module],
             step: int) -> dict[str, Tensor]:
        pretraining = step < self.config.pretrain_steps
        if phase == "generator":
            if self._projector_group is not None:  # f trains with the generator while pre-training
                self._projector_group["lr"] = self.config.lr if pretraining else self.config.lr_projector
            losses, fake = self.pretrain_losses(batch, networks) if pretraining else self.generator_losses(batch, networks)
            self._fake = fake.detach()
            return losses
        return self.discriminator_losses(batch, networks, step)

    # --- losses -----------------------------------------------------------------------------

    def background(self, target: Tensor) -> Tensor:
        """M_bg: from the face parser when configured, else 1 - the template's face ellipse."""
        if self._parser is not None:
            return self._parser(target)
        from zoo_core.faces.align import get_template

        points = get_template(self.spec.template).points[0]
        return 1.0 - ellipse_face_mask(points, target.shape[-1]).to(target.device, target.dtype)

    def generator_terms(self, batch: Mapping[str, Tensor],
                        networks: Mapping[str, nn.Module]) -> tuple[dict[str, Tensor], Tensor]:
        """The unweighted terms of Eq. 12 (with their graphs) and the swap (in [-1, 1])."""
        c = self.config
        source, target, same = batch["source"], batch["target"], batch["same"]
        training = unwrap(networks["styleface"])
        model = training.model
        training.momentum.update(model.projector, model.generator)
        out = networks["styleface"](source, target)
        fake = out["image"]
        fake_logits, fake_features = discriminator_features(networks["discriminator"], fake)
        with torch.no_grad():
            _, real_features = discriminator_features(networks["discriminator"], target * 2.0 - 1.0)
            target_features = model.recognize(target)
            positive_features = model.recognize(batch["source_positive"])
        low, high = feature_matching(fake_features, real_features, self.background(target),
                                     self.model_config.size // c.fm_split_divisor)
        swapped = (fake + 1.0) / 2.0
        terms = {
            "gan": nonsaturating_g_loss(fake_logits),
            "contrastive": self.contrastive_loss(training, out["w"], positive_features, batch["source_id"]),
            "mask": mask_loss(out["masks"], c.mask_reduction),
            "fm_low": low,
            "fm_high": high,
            "reconstruction": masked_reconstruction_loss(fake, target * 2.0 - 1.0, same),
            "icl": identity_contrastive_loss(model.recognize(swapped), out["features"], target_features),
            "kl": kl_divergence(out["mu"], out["logvar"]),
        }
        return terms, fake

    def generator_losses(self, batch: Mapping[str, Tensor],
                         networks: Mapping[str, nn.Module]) -> tuple[dict[str, Tensor], Tensor]:
        """Eq. 12 on one batch; returns the named losses ("total" with its graph) and the swap."""
        c = self.config
        terms, fake = self.generator_terms(batch, networks)
        total = (c.lambda_gan * terms["gan"] + c.lambda_c * terms["contrastive"] + c.lambda_mask * terms["mask"]
                 + c.lambda_fm * (terms["fm_low"] + terms["fm_high"]) + c.lambda_rec * terms["reconstruction"]
                 + c.lambda_icl * terms["icl"] + c.lambda_kl * terms["kl"])
        return {"total": total, **{k: v.detach() for k, v in terms.items()}}, fake

    def contrastive_loss(self, training: StyleFaceTraining, w: Tensor, positive_features: Tensor,
                         source_id: Tensor) -> Tensor:
        """Eq. 3 per level, summed: ``K[j] <- P_θ'(X^{j'})`` from the FR features of the second
        photos of the sources' identities j, then InfoNCE of the sources' ``w^j`` against K with
        ``K[j]`` as the positive."""
        keys = training.momentum(positive_features)
        total = w.new_zeros(())
        for level, bank in enumerate(training.banks):
            bank.grow(int(source_id.max()) + 1)
            bank.update(source_id, keys[:, level])
            total = total + bank(w[:, level], source_id)
        return total

    def pretrain_losses(self, batch: Mapping[str, Tensor],
                        networks: Mapping[str, nn.Module]) -> tuple[dict[str, Tensor], Tensor]:
        """Generator pre-training: the plain StyleGAN2 generator on z ~ N(0, I) per level (the
        momentum copy of the mapping network f follows it)."""
        training = unwrap(networks["styleface"])
        model = training.model
        training.momentum.update(model.projector, model.generator)
        z = torch.randn(batch["target"].shape[0], len(LEVELS), self.model_config.style_dim,
                        device=batch["target"].device)
        fake, _ = model.synthesize(model.mapping(z), None)
        gan = nonsaturating_g_loss(networks["discriminator"](fake))
        return {"total": self.config.lambda_gan * gan, "gan": gan.detach()}, fake

    def discriminator_losses(self, batch: Mapping[str, Tensor], networks: Mapping[str, nn.Module],
                             step: int) -> dict[str, Tensor]:
        """Non-saturating logistic loss, plus lazy R1 on every ``r1_every``-th step."""
        discriminator = networks["discriminator"]
        real = batch["target"] * 2.0 - 1.0
        fake = self._fake
        if fake is None:
            with torch.no_grad():
                fake = networks["styleface"](batch["source"], batch["target"])["image"]
        logistic = nonsaturating_d_loss(discriminator(real), discriminator(fake))
        losses = {"logistic": logistic.detach()}
        total = logistic
        if step % self.config.r1_every == 0:
            real = real.detach().requires_grad_(True)
            r1 = r1_penalty(discriminator(real), real, gamma=self.config.r1_gamma, scale=self.config.r1_every)
            total = total + r1
            losses["r1"] = r1.detach()
        return {"total": total, **losses}

    # --- samples and export -----------------------------------------------------------------

    def sample_grid(self, batch: Mapping[str, Tensor], networks: Mapping[str, nn.Module]) -> Tensor:
        return swap_grid(unwrap(networks["styleface"]).model, batch["source"], batch["target"])

    def export(self, networks: Mapping[str, nn.Module]) -> StyleFace:
        return unwrap(networks["styleface"]).model


def load_pretrained(model: StyleFace, discriminator: nn.Module, config: StyleFaceTrainConfig) -> None:
    """The recognizer's weights and a pretrained StyleGAN2 (generator g_ema and discriminator d
    of a rosinality checkpoint), read with the core's safe readers; warns when a preset
    recognizer stays random (then ICL and the identity codes are meaningless). Registered
    encoders (dlib-resnet-128) come with their weights and take no ``identity_weights``."""
    from zoo_core.hub import load_state_dict_strict
    from zoo_core.serialization import read_checkpoint

    preset = isinstance(model.identity_encoder, IdentityEncoder)
    if config.identity_weights and not preset:
        raise ConfigError(f"identity_weights: the identity encoder {model.config.identity_encoder!r} loads its own "
                          "weights; identity_weights is for the ArcFace-family presets")
    if config.identity_weights:
        state = read_checkpoint(config.identity_weights, allow_module_pickle=False)
        load_state_dict_strict(model.identity_encoder.backbone, state, config.identity_weights)
    elif preset:
        warnings.warn("the recognizer has random weights (no identity_weights): identity codes and L_ICL are "
                      "meaningless", stacklevel=2)
    if config.stylegan2_checkpoint:
        from zoo_core.nets.stylegan2_convert import rosinality_discriminator, rosinality_generator

        state = read_checkpoint(config.stylegan2_checkpoint, allow_module_pickle=False)
        generator_config = model.config.stylegan2()
        model.generator.load_state_dict(rosinality_generator(state, generator_config))
        discriminator.load_state_dict(rosinality_discriminator(state, generator_config))


