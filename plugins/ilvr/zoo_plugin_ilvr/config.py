"""ILVR settings and the two UNet layouts as plain data (pydantic, no torch)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

DOWNSAMPLE_FACTORS = (4, 8, 16, 32, 64)
"""Low-pass factors N of phi_N the ILVR paper evaluates."""

ReferenceNoise = Literal["paper", "official"]
REFERENCE_NOISE: tuple[str, ...] = get_args(ReferenceNoise)
"""How each ``y`` is drawn from ``q(y | target)``. ``"paper"`` (survey Eq. 17-18, Algorithm 1
and §2.3.2): ``y_{t-1}`` at the level of the refined sample, and with ``share_noise`` the noise
of ``x_T`` for every ``y``. ``"official"`` (``p_sample_loop_progressive`` of jychoi118/ilvr_adm
and of Ailon-Island/Facke): ``y`` at the level ``t`` of the step's input, and with
``share_noise`` the noise of ``x_T`` for the first reverse step's ``y`` only, fresh noise after."""


class ILVRConfig(BaseModel):
    """A DDPM (``UNet2DModel`` + ``DDPMScheduler`` settings) and the ILVR sampling settings.

    Defaults follow Facke's ILVR swap script (``shell/demo_ILVR.sh``): 100 respaced steps of
    1000, ``down_N = 16``, ``range_t = 20``, clipped x0; the survey (§2.3.2) recommends sharing
    the forward noise between source and target, which is the default here, drawn as the
    survey writes it (``reference_noise="paper"``; ``"official"`` is Facke's code).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    unet: dict[str, Any] = Field(description="diffusers UNet2DModel keyword arguments")
    scheduler: dict[str, Any] = Field(description="diffusers DDPMScheduler keyword arguments")
    timestep_respacing: str = Field(
        "100", description="kept steps, as the official --timestep_respacing: 'N', 'a,b,c' sections or 'ddimN'"
    )
    conditioning_range: int = Field(20, ge=0, description="range_t: respaced steps with index > range_t are conditioned")
    downsample_factor: int = Field(16, description="N of the low-pass filter phi_N")
    share_noise: bool = Field(True, description="one noise for q(x_T | source) and every q(y_t | target) (survey §2.3.2)")
    reference_noise: ReferenceNoise = Field(
        "paper", description="'paper': y_{t-1} at level t-1, share_noise for every y (survey Alg. 1); "
        "'official': y at level t, share_noise for the first y only (Facke's and ILVR's code)"
    )

    @field_validator("timestep_respacing", mode="before")
    @classmethod
    def _steps_as_text(cls, value: Any) -> Any:
        """``--set timestep_respacing=50`` arrives as the number 50."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("downsample_factor")
    @classmethod
    def _factor(cls, value: int) -> int:
        if value not in DOWNSAMPLE_FACTORS:
            raise ValueError(f"downsample_factor must be one of {DOWNSAMPLE_FACTORS}, got {value}")
        return value

    @property
    def resolution(self) -> int:
        return int(self.unet.get("sample_size", 256))


LINEAR_1000 = {
    "num_train_timesteps": 1000,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "clip_sample": True,
    "clip_sample_range": 1.0,
    "prediction_type": "epsilon",
}
"""The linear schedule of DDPM and of the ADM flags ``--diffusion_steps 1000 --noise_schedule linear``."""

CELEBAHQ_UNET = {
    "sample_size": 256,
    "in_channels": 3,
    "out_channels": 3,
    "layers_per_block": 2,
    "block_out_channels": [128, 128, 256, 256, 512, 512],
    "down_block_types": ["DownBlock2D"] * 4 + ["AttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "AttnUpBlock2D"] + ["UpBlock2D"] * 4,
    "attention_head_dim": None,
    "downsample_padding": 0,
    "flip_sin_to_cos": False,
    "freq_shift": 1,
    "norm_eps": 1e-6,
    "norm_num_groups": 32,
    "center_input_sample": False,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "time_embedding_type": "positional",
}
"""``unet/config.json`` of google/ddpm-ema-celebahq-256 (Ho et al.'s CelebA-HQ DDPM)."""


def adm_unet(
    image_size: int = 256,
    model_channels: int = 128,
    channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4, 4),
    num_res_blocks: int = 1,
    attention_resolutions: tuple[int, ...] = (16,),
    num_head_channels: int = 64,
    learn_sigma: bool = True,
) -> dict[str, Any]:
    """``UNet2DModel`` arguments equal to guided-diffusion's ``UNetModel`` with
    ``resblock_updown`` and ``use_scale_shift_norm`` (the ILVR / Facke flags).

    ``attention_resolutions`` are feature-map sizes (the flag ``--attention_resolutions 16``
    means attention where the maps are 16 px, i.e. downsampling rate ``image_size // 16``).
    """
    sizes = [image_size // 2**level for level in range(len(channel_mult))]
    attention = [size in attention_resolutions for size in sizes]
    return {
        "sample_size": image_size,
        "in_channels": 3,
        "out_channels": 6 if learn_sigma else 3,
        "layers_per_block": num_res_blocks,
        "block_out_channels": [model_channels * m for m in channel_mult],
        "down_block_types": ["AttnDownBlock2D" if a else "ResnetDownsampleBlock2D" for a in attention],
        "up_block_types": ["AttnUpBlock2D" if a else "ResnetUpsampleBlock2D" for a in reversed(attention)],
        "attention_head_dim": num_head_channels,
        "resnet_time_scale_shift": "scale_shift",
        "downsample_type": "resnet",
        "upsample_type": "resnet",
        "flip_sin_to_cos": True,  # ADM's timestep_embedding is [cos, sin] with exponent / half
        "freq_shift": 0,
        "norm_eps": 1e-5,
        "norm_num_groups": 32,
        "attn_norm_num_groups": 32,  # ADM's middle attention has a GroupNorm too
        "act_fn": "silu",
        "time_embedding_type": "positional",
    }


FFHQ_UNET = adm_unet()
"""ffhq_10m.pt: 256 px, 128 channels, 1 res block, attention at 16 px with 64 channels per
head, learned sigma, resblock up/down, scale-shift norm (the ILVR README flags)."""


CELEBAHQ = ILVRConfig(unet=CELEBAHQ_UNET, scheduler={**LINEAR_1000, "variance_type": "fixed_small"})
FFHQ = ILVRConfig(unet=FFHQ_UNET, scheduler={**LINEAR_1000, "variance_type": "learned_range"})
