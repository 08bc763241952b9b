"""InfoSwap's Trainer for the core engine: Algorithm 1 of the supplement.

Generator phase (IIB, decoder and AII; the IR-SE50 stays frozen):
L_G = L_IB + beta1 L_adv^G + beta2 L_per + beta3 L_cyc, L_IB = alpha L_info + beta (L_recog + L_icl)
with alpha : beta = 1 : 5, beta1 = 1, beta2 = 5, beta3 = 1 (supplement Sec. 1.1). Discriminator
phase: the relativistic loss of Eq. 16 on (X_s, Y_st) pairs, pix2pixHD multi-scale
discriminator. Adam, lr 5e-5, weight decay 2e-5, batch 4.

Choices where the papers differ or are silent (also in docs/models/infoswap.md):

* L_neg uses cos<z~(Y), z~_t> (Eq. 11); Alg. 1 line 27 prints z~_s in its first term, which
  would make L_neg a function of L_pos alone.
* The perceptual features of Y use lambda^t and the same eps^s as f^t (Alg. 1 line 33), not
  lambda^Y of Eq. 17, so both sides of Eq. 18 are filtered alike.
* At 512 the decoder's first input (level 0) is the image (target for f~^t, Y for f~(Y), X_s
  for the cycle), encoded by the learned Conv4x4/2 (supplement Sec. 1.2, official demo).
* L_per compares dec(f(Y)) with dec(f^t) detached, and the decoder's parameters take no
  gradient from it (frozen for that pass, as the AII in the cycle pass of Alg. 1 lines 38-40):
  otherwise the decoder, whose level 0 is a trainable conv on the image, could lower L_per by
  shrinking its features instead of Y moving towards the target. The decoder is still trained
  through the generation of Y by every loss. No official training code exists to follow.
* The recognizer and the readout statistics must be pretrained (``zoo_plugin_infoswap.pretrained``).
* Adam betas default to the printed (0.001, 0.999): a near-zero beta1 is the usual choice of
  GAN face swappers (FaceShifter, SimSwap use 0), so the print is read literally.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from zoo_core.nets.discriminators import MultiscaleDiscriminator
from zoo_core.nets.losses import relativistic_d_loss, relativistic_g_loss
from zoo_core.specs import ModelSpec
from zoo_core.train.grid import swap_grid, unwrap
from zoo_plugin_infoswap.config import InfoSwapConfig
from zoo_plugin_infoswap.model import InfoSwap
from zoo_plugin_infoswap.pretrained import check_sources, prepare


class InfoSwapTrainConfig(BaseModel):
    """Hyperparameters of the supplement's Table 1 and Sec. 1.1."""

    model_config = ConfigDict(extra="forbid")

    lr: float = Field(5e-5, gt=0)
    weight_decay: float = Field(2e-5, ge=0)
    beta1: float = Field(0.001, ge=0, lt=1, description="Adam beta1: the supplement's printed 0.001")
    beta2: float = Field(0.999, ge=0, lt=1)
    alpha: float = Field(1.0, ge=0, description="weight of L_info (alpha : beta = 1 : 5)")
    beta: float = Field(5.0, ge=0, description="weight of L_recog + L_icl")
    beta_adv: float = Field(1.0, ge=0, description="beta1 of Eq. 21")
    beta_per: float = Field(5.0, ge=0, description="beta2 of Eq. 21")
    beta_cyc: float = Field(1.0, ge=0, description="beta3 of Eq. 21")
    d_channels: int = Field(64, ge=1)
    d_layers: int = Field(3, ge=1)
    d_scales: int = Field(3, ge=1)
    init: str | None = Field(None, description="InfoSwap folder to start every network from (zoo convert "
                             "infoswap-512 ... of the official release, or an earlier run's final/)")
    identity_weights: str | None = Field(None, description="infoswap-irse50 component folder (zoo convert "
                                         "infoswap-irse50 identity=model_128_ir_se50.pth -o DIR)")
    readout_stats: str | None = Field(None, description="InfoSwap folder with the readout statistics of that "
                                      "recognizer (zoo infoswap stats --identity-weights DIR ...)")


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a, b, dim=1)


def icl_losses(z_y: torch.Tensor, z_s: torch.Tensor, z_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L_pos = -cos<z~(Y), z~_s> (Eq. 10), L_neg = [cos<z~(Y), z~_t> - cos<z~_s, z~_t>]^2 (Eq. 11)."""
    pos = -cosine(z_y, z_s).mean()
    neg = ((cosine(z_y, z_t) - cosine(z_s, z_t)) ** 2).mean()
    return pos, neg


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of ``module`` take no gradient inside the block (Alg. 1 lines 38-40)."""
    module.requires_grad_(False)
    try:
        yield
    finally:
        module.requires_grad_(True)


class InfoSwapTrainer:
    """Phases: generator, then discriminator (``zoo_core.protocols.Trainer``)."""

    config_schema: type[BaseModel] = InfoSwapTrainConfig
    phases = ("generator", "discriminator")
    sampler = "random"
    sampler_options: Mapping[str, Any] = {}
    ema: Mapping[str, float] = {}

    def __init__(self, spec: ModelSpec, model_config: dict[str, Any], config: Any):
        self.spec = spec
        self.model_config = InfoSwapConfig(**model_config)
        self.config = config
        self._pair: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def resolutions(cls, spec: ModelSpec, model_config: Mapping[str, Any]) -> tuple[int, ...]:
        """The decoder and AII are sized by the IR-SE input: crops of the output side only."""
        return (InfoSwapConfig(**model_config).output_size,)

    def build_networks(self) -> dict[str, nn.Module]:
        c = self.config
        check_sources(self.spec.name, c.init, c.identity_weights, c.readout_stats)
        swapper = InfoSwap(self.spec, self.model_config)
        prepare(swapper, c.init, c.identity_weights, c.readout_stats)
        swapper.train()  # a module starts in training mode; InfoSwap.train keeps the IR-SE50 in eval (frozen BN)
        discriminator = MultiscaleDiscriminator(input_nc=3, ndf=c.d_channels, n_layers=c.d_layers,
                                                norm_layer="batch", num_d=c.d_scales)
        return {"swapper": swapper, "discriminator": discriminator}

    def build_optimizers(self, networks: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        swapper = unwrap(networks["swapper"])
        trained = [p for part in (swapper.iib, swapper.decoder, swapper.generator) for p in part.parameters()
                   if p.requires_grad]
        options = {"lr": c.lr, "betas": (c.beta1, c.beta2), "weight_decay": c.weight_decay}
        return {"generator": torch.optim.Adam(trained, **options),
                "discriminator": torch.optim.Adam(networks["discriminator"].parameters(), **options)}

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {}

    def step(self, phase: str, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module],
             step: int) -> dict[str, torch.Tensor]:
        if phase == "generator":
            losses, real, fake = self.generator_losses(batch, unwrap(networks["swapper"]), networks["discriminator"])
            self._pair = (real.detach(), fake.detach())
            return losses
        if self._pair is None:
            raise RuntimeError("the discriminator phase needs the generator phase of the same step first")
        real, fake = self._pair
        discriminator = networks["discriminator"]
        loss = relativistic_d_loss(discriminator(real), discriminator(fake), average=False)
        return {"total": loss, "adversarial": loss.detach()}

    def generator_losses(self, batch: Mapping[str, torch.Tensor], model: InfoSwap,
                         discriminator: nn.Module) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Alg. 1 lines 4-44; returns the named losses, X_s and Y_st (network convention)."""
        c = self.config
        xs, xt = model.to_network(batch["source"]), model.to_network(batch["target"])
        b = xs.shape[0]
        # (i) one pass of the frozen recognizer over X_s || X_t
        with torch.no_grad():
            z_id, feats = model.recognize(torch.cat((xs, xt)))
        # (ii) compress every R_i; identity with one bottleneck at a time (Eq. 4-8)
        lambdas = model.controllers(feats)
        z_tilde, info = self._compressed_identity(model, feats, lambdas)
        recog = (1 - cosine(z_tilde, z_id)).mean()
        zs, zt = z_tilde[:b], z_tilde[b:]
        lam_t = [lam[b:] for lam in lambdas]
        # (iii)-(iv) disentangled perceptual features of X_t and the swap (Eq. 13-15)
        eps_s = [model.source_noise(r[:b], r[b:], None) for r in feats[: len(lambdas)]]
        f_t = [model.perceptual(r[b:], lam, eps) for r, lam, eps in zip(feats, lam_t, eps_s, strict=False)]
        attrs_t = self._decode(model, f_t, xt)
        lam_t_dec = model.decoder.controllers(lam_t)
        y = model.generator(zs, attrs_t, lam_t_dec)
        # (v) ICL on the compressed identity of Y (Eq. 9-11)
        _, feats_y = model.recognize(y)
        z_y, _ = self._compressed_identity(model, feats_y, model.controllers(feats_y))
        pos, neg = icl_losses(z_y, zs, zt)
        ib = c.alpha * info + c.beta * (recog + pos + neg)
        # (vi) perceptual loss (Eq. 17-18)
        per = self.perceptual_loss(model, feats_y, y, lam_t, eps_s, attrs_t)
        # (vii) cycle consistency with the AII frozen (Alg. 1 lines 37-41)
        cyc = self.cycle_loss(model, feats, lambdas, xs, z_y, b)
        # (viii) relativistic adversarial loss on (X_s, Y) pairs (Eq. 16)
        adv = relativistic_g_loss(discriminator(xs), discriminator(y), average=False)
        total = ib + c.beta_adv * adv + c.beta_per * per + c.beta_cyc * cyc
        losses = {"total": total, "info": info.detach(), "recog": recog.detach(), "icl_pos": pos.detach(),
                  "icl_neg": neg.detach(), "ib": ib.detach(), "adversarial": adv.detach(),
                  "perceptual": per.detach(), "cycle": cyc.detach()}
        return losses, xs, y

    @staticmethod
    def _compressed_identity(model: InfoSwap, feats: list[torch.Tensor],
                             lambdas: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """z~_id (Eq. 7) and L_info (Eq. 5, the mean over layers of the mean I[Z_i, R_i])."""
        z_sum, info = 0.0, 0.0
        for i, lam in enumerate(lambdas):
            z, layer_info = model.compress(i, feats[i], lam, None)
            z_sum = z_sum + model.restrict(z, i)
            info = info + layer_info.mean()
        return z_sum / len(lambdas), info / len(lambdas)

    @staticmethod
    def _decode(model: InfoSwap, perceptual: list[torch.Tensor], image: torch.Tensor) -> list[torch.Tensor]:
        feats = list(perceptual)
        if model.config.resolution == 512:
            feats[0] = image
            return model.decoder.features(feats)
        return model.decoder.features(feats, image=image)

    def perceptual_loss(self, model: InfoSwap, feats_y: list[torch.Tensor], y: torch.Tensor,
                        lam_t: list[torch.Tensor], eps_s: list[torch.Tensor],
                        attrs_t: list[torch.Tensor]) -> torch.Tensor:
        """L_per (Eq. 18): mean over the decoded levels of the mean squared difference between
        dec(f(Y)) (Alg. 1 line 33) and the target's dec(f^t), detached; the decoder is frozen for
        this pass, so the loss moves Y (and lambda^t), never the decoder's features."""
        f_y = [model.perceptual(r, lam, eps) for r, lam, eps in zip(feats_y, lam_t, eps_s, strict=False)]
        with frozen(model.decoder):
            attrs_y = self._decode(model, f_y, y)
        return sum(F.mse_loss(a, t.detach()) for a, t in zip(attrs_y, attrs_t, strict=True)) / len(attrs_t)

    def cycle_loss(self, model: InfoSwap, feats: list[torch.Tensor], lambdas: list[torch.Tensor],
                   xs: torch.Tensor, z_y: torch.Tensor, b: int) -> torch.Tensor:
        """L_cyc = |X_s - AII(z~(Y), dec(f^s), dec(lambda^s))|_1 (Eq. 19-20): f~^s and lambda~^s
        without gradient (Alg. 1 line 37), the AII frozen (lines 38-40), so the loss reaches the
        networks only through z~(Y)."""
        with torch.no_grad():
            lam_s = [lam[:b] for lam in lambdas]
            eps_t = [model.source_noise(r[b:], r[:b], None) for r in feats[: len(lambdas)]]
            f_s = [model.perceptual(r[:b], lam, eps) for r, lam, eps in zip(feats, lam_s, eps_t, strict=False)]
            attrs_s = self._decode(model, f_s, xs)
            lam_s_dec = model.decoder.controllers(lam_s)
        with frozen(model.generator):
            x_hat = model.generator(z_y, attrs_s, lam_s_dec)
        return F.l1_loss(x_hat, xs)

    def sample_grid(self, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module]) -> torch.Tensor:
        return swap_grid(unwrap(networks["swapper"]), batch["source"], batch["target"])

    def export(self, networks: Mapping[str, nn.Module]) -> nn.Module:
        return unwrap(networks["swapper"])


