"""Fine-tuning the DDPM of an ILVR variant on a face folder (Facke fine-tuned ffhq_10m.pt on
VGGFace2-HQ): the hybrid loss of improved DDPM, ``L_simple + L_vlb`` (Nichol & Dhariwal, 2021,
Sec. 3.1), with the variational term computed on a stopped-gradient mean so that it only trains
the learned variance. Fixed-variance UNets (3 output channels) train on ``L_simple`` alone."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from diffusers import DDPMScheduler, UNet2DModel
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from zoo_core.specs import ModelSpec
from zoo_plugin_ilvr.config import ILVRConfig
from zoo_plugin_ilvr.model import ILVRModel, sampling_settings
from zoo_plugin_ilvr.pipeline import ILVRPipeline


class ILVRTrainConfig(BaseModel):
    """guided-diffusion's training defaults (AdamW, lr 1e-4, no weight decay, EMA 0.9999,
    uniform timesteps); Facke's fine-tuning runs used lr 1e-4 to 5e-6 (survey Table 3)."""

    model_config = ConfigDict(extra="forbid")

    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    ema_decay: float = Field(0.9999, ge=0, lt=1)
    sample_respacing: str = Field("25", description="respaced steps of the swaps in the sample grids")


def normal_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor, logvar2: torch.Tensor) -> torch.Tensor:
    """KL(N(mean1, e^logvar1) || N(mean2, e^logvar2)), elementwise, in nats."""
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def _standard_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def discretized_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log p(x) of images in [-1, 1] quantised to 256 bins under N(mean, e^(2 log_scale)) (DDPM's L_0)."""
    centred = x - mean
    inv_std = torch.exp(-log_scale)
    cdf_plus = _standard_cdf(inv_std * (centred + 1.0 / 255.0))
    cdf_min = _standard_cdf(inv_std * (centred - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


class DiffusionTerms(nn.Module):
    """The schedule's per-timestep constants, as float64 buffers."""

    def __init__(self, scheduler: DDPMScheduler):
        super().__init__()
        betas = scheduler.betas.double()
        alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        previous = torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])
        posterior_variance = betas * (1 - previous) / (1 - alphas_cumprod)
        for name, value in {
            "betas": betas,
            "alphas_cumprod": alphas_cumprod,
            "posterior_log_variance": torch.log(torch.cat([posterior_variance[1:2], posterior_variance[1:]])),
            "mean_coef_x0": betas * previous.sqrt() / (1 - alphas_cumprod),
            "mean_coef_xt": (1 - previous) * (1 - betas).sqrt() / (1 - alphas_cumprod),
        }.items():
            self.register_buffer(name, value, persistent=False)

    def at(self, name: str, t: torch.Tensor) -> torch.Tensor:
        return getattr(self, name)[t].float()[:, None, None, None]


def hybrid_loss(unet: nn.Module, terms: DiffusionTerms, x0: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """``mse`` (L_simple), ``vb`` (L_vlb in bits per dimension, 0 for fixed variance) and ``total``."""
    n = x0.shape[0]
    t = torch.randint(0, terms.betas.shape[0], (n,), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, generator=generator, dtype=x0.dtype)
    alpha_bar = terms.at("alphas_cumprod", t)
    xt = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    output = unet(xt, t).sample
    channels = x0.shape[1]
    mse = ((noise - output[:, :channels]) ** 2).mean(dim=(1, 2, 3))
    if output.shape[1] == channels:
        return {"total": mse.mean(), "mse": mse.mean().detach(), "vb": torch.zeros((), device=x0.device)}
    eps = output[:, :channels].detach()  # the variational term trains only the variance
    fraction = (output[:, channels:] + 1) / 2
    log_variance = fraction * torch.log(terms.at("betas", t)) + (1 - fraction) * terms.at("posterior_log_variance", t)
    predicted_x0 = (xt - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
    mean = terms.at("mean_coef_x0", t) * predicted_x0 + terms.at("mean_coef_xt", t) * xt
    true_mean = terms.at("mean_coef_x0", t) * x0 + terms.at("mean_coef_xt", t) * xt
    kl = normal_kl(true_mean, terms.at("posterior_log_variance", t), mean, log_variance).mean(dim=(1, 2, 3))
    nll = -discretized_gaussian_log_likelihood(x0, mean, 0.5 * log_variance).mean(dim=(1, 2, 3))
    vb = torch.where(t == 0, nll, kl) / math.log(2.0)
    return {"total": (mse + vb).mean(), "mse": mse.mean().detach(), "vb": vb.mean().detach()}


class ILVRTrainer:
    """One "denoiser" phase on the source images of each batch (Facke's fine-tuning uses them alone)."""

    config_schema = ILVRTrainConfig
    phases = ("denoiser",)
    sampler = "random"
    sampler_options: Mapping[str, Any] = {}

    def __init__(self, spec: ModelSpec, model_config: dict[str, Any], config: ILVRTrainConfig):
        self.spec, self.config = spec, config
        self.model_config = ILVRConfig(**model_config)
        self.ema = {"unet": config.ema_decay}
        self.scheduler = DDPMScheduler(**self.model_config.scheduler)
        self.terms = DiffusionTerms(self.scheduler)

    def build_networks(self) -> dict[str, nn.Module]:
        return {"unet": UNet2DModel(**self.model_config.unet)}

    def build_optimizers(self, networks: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        return {"denoiser": torch.optim.AdamW(networks["unet"].parameters(), lr=self.config.lr,
                                              weight_decay=self.config.weight_decay)}

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {}

    def step(self, phase: str, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module],
             step: int) -> dict[str, torch.Tensor]:
        x0 = batch["source"] * 2 - 1
        return hybrid_loss(networks["unet"], self.terms.to(x0.device), x0)

    def sample_grid(self, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module]) -> torch.Tensor:
        unet = getattr(networks["unet"], "module", networks["unet"])
        pipeline = ILVRPipeline(unet, self.scheduler, **sampling_settings(self.model_config))
        pipeline.set_progress_bar_config(disable=True)
        swapped = pipeline(batch["target"], batch["source"], timestep_respacing=self.config.sample_respacing).images
        rows = [torch.cat([s, t, w], dim=2) for s, t, w in zip(batch["source"], batch["target"], swapped, strict=True)]
        return torch.cat(rows, dim=1)

    def export(self, networks: Mapping[str, nn.Module]) -> ILVRModel:
        unet = getattr(networks["unet"], "module", networks["unet"])
        pipeline = ILVRPipeline(unet, DDPMScheduler(**self.model_config.scheduler), **sampling_settings(self.model_config))
        pipeline.set_progress_bar_config(disable=True)
        return ILVRModel(self.spec, self.model_config, pipeline)
