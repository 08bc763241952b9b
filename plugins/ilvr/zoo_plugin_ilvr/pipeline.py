"""``ILVRPipeline``: Iterative Latent Variable Refinement (Choi et al., 2021) as a diffusers
pipeline, for face swapping (Facke survey §2.3.2, Algorithm 1) and reference-guided generation.

Each reverse step of an unconditional DDPM is followed by
``x_{t-1} <- phi_N(y_{t-1}) + x'_{t-1} - phi_N(x'_{t-1})`` with ``y_{t-1} ~ q(y_{t-1} | y)``:
the low frequencies of the sample are those of the noised reference ``y`` (the swap target).
``reference_noise="official"`` draws ``y`` as the official code does instead (see
``zoo_plugin_ilvr.config.REFERENCE_NOISE``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers import DDPMScheduler, DiffusionPipeline, UNet2DModel
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from zoo_core.errors import ConfigError
from zoo_plugin_ilvr.config import DOWNSAMPLE_FACTORS, REFERENCE_NOISE
from zoo_plugin_ilvr.resize import LowPass
from zoo_plugin_ilvr.respace import spaced_timesteps

StepCallback = Callable[[int, int, torch.Tensor, torch.Tensor, "torch.Tensor | None"], None]
"""``callback(index, timestep, unconditioned x'_{t-1}, x_{t-1}, y_{t-1} or None)`` after each step."""


@dataclass
class ILVROutput(BaseOutput):
    """``images``: ``(N, 3, R, R)`` in [0, 1] (``output_type="pt"``) or a list of PIL images."""

    images: torch.Tensor | list


class ILVRPipeline(DiffusionPipeline):
    """ILVR on a ``UNet2DModel`` (3 output channels, or 6 with ``variance_type="learned_range"``)
    and a ``DDPMScheduler``; the sampling settings are kept on the pipeline config."""

    model_cpu_offload_seq = "unet"

    def __init__(
        self,
        unet: UNet2DModel,
        scheduler: DDPMScheduler,
        timestep_respacing: str = "100",
        conditioning_range: int = 20,
        downsample_factor: int = 16,
        share_noise: bool = True,
        reference_noise: str = "paper",
    ):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)
        self.register_to_config(
            timestep_respacing=timestep_respacing,
            conditioning_range=conditioning_range,
            downsample_factor=downsample_factor,
            share_noise=share_noise,
            reference_noise=reference_noise,
        )

    @torch.no_grad()
    def __call__(
        self,
        target: torch.Tensor,
        source: torch.Tensor | None = None,
        *,
        num_inference_steps: int | None = None,
        timestep_respacing: str | None = None,
        conditioning_range: int | None = None,
        downsample_factor: int | None = None,
        share_noise: bool | None = None,
        reference_noise: str | None = None,
        generator: torch.Generator | None = None,
        output_type: str = "pt",
        callback: StepCallback | None = None,
        return_dict: bool = True,
    ) -> ILVROutput | tuple:
        """Swap ``source`` into ``target`` (both ``(N, 3, R, R)`` in [0, 1], pair ``i`` being
        ``source[i]``, ``target[i]``), or without ``source`` generate new images whose low
        frequencies are those of the reference ``target``.

        Swap: ``x_T ~ q(x_T | source)``; generation: ``x_T ~ N(0, I)``. Respaced steps with index
        ``> conditioning_range`` are conditioned. ``reference_noise="paper"``: ``y`` at the
        level of the refined sample, ``share_noise`` draws every ``y`` with the noise of ``x_T``
        (survey §2.3.2), otherwise each ``y`` gets fresh noise. ``"official"``: ``y`` at the level
        of the step's input, ``share_noise`` for the first step's ``y`` only (Facke's code).
        ``num_inference_steps=n`` is ``timestep_respacing=str(n)`` (the official even spacing).
        """
        settings = self.config
        if num_inference_steps is not None:
            timestep_respacing = str(num_inference_steps)
        respacing = settings.timestep_respacing if timestep_respacing is None else timestep_respacing
        range_t = settings.conditioning_range if conditioning_range is None else conditioning_range
        factor = settings.downsample_factor if downsample_factor is None else downsample_factor
        shared = settings.share_noise if share_noise is None else share_noise
        convention = settings.reference_noise if reference_noise is None else reference_noise
        if factor not in DOWNSAMPLE_FACTORS:
            raise ConfigError(f"downsample_factor must be one of {DOWNSAMPLE_FACTORS}, got {factor}")
        if convention not in REFERENCE_NOISE:
            raise ConfigError(f"reference_noise must be one of {REFERENCE_NOISE}, got {convention!r}")
        official = convention == "official"
        reference = self._prepare("target", target)
        start = None if source is None else self._prepare("source", source)
        if start is not None and start.shape != reference.shape:
            raise ConfigError(f"source {tuple(start.shape)} and target {tuple(reference.shape)} differ in shape")

        scheduler: DDPMScheduler = self.scheduler
        timesteps = spaced_timesteps(scheduler.config.num_train_timesteps, respacing)
        scheduler.set_timesteps(timesteps=timesteps, device=reference.device)
        alphas = scheduler.alphas_cumprod.to(device=reference.device, dtype=torch.float64)
        lowpass = LowPass(reference.shape[-1], factor).to(reference.device)

        noise = randn_tensor(reference.shape, generator=generator, device=reference.device, dtype=reference.dtype)
        x = noise if start is None else _noised(start, alphas[timesteps[0]], noise)
        for i, t in enumerate(self.progress_bar(timesteps)):
            model_output = self.unet(x, t).sample
            proposal = scheduler.step(model_output, t, x, generator=generator).prev_sample
            y = None
            if len(timesteps) - 1 - i > range_t:  # the official 'i > range_t' on respaced indices
                # official: q_sample(ref_img, t, ...) at the input's level t (ilvr_adm
                # gaussian_diffusion.py L551, Facke L554); paper: y_{t-1}, the refined sample's level
                if official:
                    level = alphas[t]
                else:
                    level = alphas[timesteps[i + 1]] if i + 1 < len(timesteps) else alphas.new_tensor(1.0)
                # Facke pops its shared q_noise in the first loop iteration only (L536): fresh after
                reuse = shared and (i == 0 or not official)
                z = noise if reuse else randn_tensor(
                    reference.shape, generator=generator, device=reference.device, dtype=reference.dtype
                )
                y = _noised(reference, level, z)
                x = proposal - lowpass(proposal) + lowpass(y)
            else:
                x = proposal
            if callback is not None:
                callback(i, t, proposal, x, y)

        images = (x / 2 + 0.5).clamp(0, 1)
        if output_type == "pil":
            images = self.numpy_to_pil(images.permute(0, 2, 3, 1).float().cpu().numpy())
        elif output_type != "pt":
            raise ConfigError(f"output_type must be 'pt' or 'pil', got {output_type!r}")
        return ILVROutput(images=images) if return_dict else (images,)

    def _prepare(self, name: str, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] NCHW -> [-1, 1] on the UNet's device, with checks naming the argument."""
        size = self.unet.config.sample_size
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ConfigError(f"{name}: expected a (N, 3, {size}, {size}) tensor in [0, 1], got {shape}")
        if images.shape[-2:] != (size, size):
            raise ConfigError(f"{name}: the UNet takes {size}x{size} images, got {tuple(images.shape[-2:])}")
        return images.to(device=self.unet.device, dtype=self.unet.dtype) * 2 - 1


def _noised(clean: torch.Tensor, alpha_bar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """A draw of ``q(x_t | x_0)``: ``sqrt(a) x_0 + sqrt(1 - a) eps``."""
    return (alpha_bar.sqrt() * clean.double() + (1 - alpha_bar).sqrt() * noise.double()).to(clean.dtype)
