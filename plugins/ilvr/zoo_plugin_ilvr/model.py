"""The zoo model around an ``ILVRPipeline``: builder, loader of diffusers folders, and the
swap / generate / diffusion-settings capabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import DDPMScheduler, UNet2DModel
from torch import nn

from zoo_core.errors import ConfigError, WeightsError
from zoo_core.protocols import swap_identity
from zoo_plugin_ilvr.config import ILVRConfig
from zoo_plugin_ilvr.pipeline import ILVRPipeline
from zoo_plugin_ilvr.respace import spaced_timesteps


class ILVRModel(nn.Module):
    """A zoo model (``spec``, ``config``, ``swap``, ``generate``) holding an ``ILVRPipeline``.

    Its state dict is the UNet's under ``unet.``; ``save_pretrained`` writes the diffusers
    pipeline folder (``model_index.json``, ``unet/``, ``scheduler/``).
    """

    def __init__(self, spec: Any, config: ILVRConfig, pipeline: ILVRPipeline):
        super().__init__()
        self.spec, self.config = spec, config
        self.unet = pipeline.unet
        self.pipeline = pipeline

    @property
    def num_inference_steps(self) -> int:
        return len(spaced_timesteps(self.pipeline.scheduler.config.num_train_timesteps, self.config.timestep_respacing))

    @property
    def conditioning_range(self) -> int:
        return self.config.conditioning_range

    @property
    def downsample_factor(self) -> int:
        return self.config.downsample_factor

    def swap(self, source: torch.Tensor, target: torch.Tensor, *, identity: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """ILVR swap (survey Alg. 1): start from ``q(x_T | source)``, low frequencies of ``target``.

        ``identity``: a precomputed ``self.identity(source)`` (``(N, D)`` or ``(1, D)``), whose
        pixels are then used in place of ``source``'s."""
        pixels = swap_identity(self, source, target, identity).view(target.shape[0], *source.shape[1:])
        return self.pipeline(target, pixels, generator=generator).images

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        """ILVR has no identity encoder: it conditions on the source pixels themselves, returned
        flattened (in [0, 1]) as ``(N, 3 * R * R)``."""
        return source.flatten(1)

    def generate(self, reference: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The original ILVR use: a new face from pure noise sharing ``reference``'s low frequencies
        (fresh noise for every ``y``, as the ILVR paper and code; ``y``'s level per ``reference_noise``)."""
        return self.pipeline(reference, None, share_noise=False, generator=generator).images

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the diffusers pipeline folder (safetensors weights)."""
        self.pipeline.save_pretrained(str(folder), safe_serialization=True)


def sampling_settings(config: ILVRConfig) -> dict[str, Any]:
    """The parameter-free settings kept on the pipeline config."""
    return {
        "timestep_respacing": config.timestep_respacing,
        "conditioning_range": config.conditioning_range,
        "downsample_factor": config.downsample_factor,
        "share_noise": config.share_noise,
        "reference_noise": config.reference_noise,
    }


def _checked(spec: Any, config: dict[str, Any]) -> ILVRConfig:
    parsed = ILVRConfig(**config)
    if parsed.resolution % parsed.downsample_factor:
        raise ConfigError(f"{spec.name}: downsample_factor {parsed.downsample_factor} does not divide {parsed.resolution}")
    return parsed


def build(spec: Any, config: dict[str, Any]) -> ILVRModel:
    """A randomly initialised UNet and the configured scheduler."""
    parsed = _checked(spec, config)
    pipeline = ILVRPipeline(UNet2DModel(**parsed.unet), DDPMScheduler(**parsed.scheduler), **sampling_settings(parsed))
    pipeline.set_progress_bar_config(disable=True)
    return ILVRModel(spec, parsed, pipeline)


def load(spec: Any, folder: Path, config: dict[str, Any]) -> ILVRModel:
    """Load a diffusers folder (``unet/``, ``scheduler/``; safetensors only) with the zoo settings."""
    folder = Path(folder)
    for part in ("unet/config.json", "scheduler/scheduler_config.json"):
        if not (folder / part).is_file():
            raise WeightsError(f"{folder / part}: missing; {folder} is not a diffusers pipeline folder with unet/ and scheduler/")
    try:
        unet = UNet2DModel.from_pretrained(folder, subfolder="unet", use_safetensors=True)
    except OSError as error:
        raise WeightsError(f"{folder / 'unet'}: cannot load safetensors UNet weights ({error})") from error
    scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler")
    parsed = _checked(spec, {**config, "unet": dict(unet.config), "scheduler": _scheduler_settings(scheduler)})
    pipeline = ILVRPipeline(unet, scheduler, **sampling_settings(parsed))
    pipeline.set_progress_bar_config(disable=True)
    return ILVRModel(spec, parsed, pipeline)


def _scheduler_settings(scheduler: DDPMScheduler) -> dict[str, Any]:
    return {key: value for key, value in scheduler.config.items() if not key.startswith("_")}
