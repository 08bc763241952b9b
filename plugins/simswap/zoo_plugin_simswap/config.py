"""The SimSwap configuration (pydantic, no torch), shared by the builder and the converter."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ARCFACE_EMBEDDING_DIM = 512
"""Size of the ArcFace identity code the AdaIN blocks are conditioned on."""

IDENTITY_PRESET = "simswap-arcface"
"""The identity encoder of the released models: SimSwap's ArcFace (a zoo_core preset)."""


class SimSwapConfig(BaseModel):
    """Hyper-parameters of ``Generator_Adain_Upsample`` plus the identity encoder.

    The released models are ``Generator_Adain_Upsample(input_nc=3, output_nc=3, latent_size=512,
    n_blocks=9, deep=False)`` of ``models/fs_networks.py`` (224: ``ngf=64``, three stride-2
    stages ``down1..down3``) and ``models/fs_networks_512.py`` (512: ``ngf=32``, four stages
    ``down0..down3``). Stage widths are ``min(ngf * 2**k, max_channels)``; the released ones
    reach 512 in the bottleneck. Smaller widths are only meant for fast tests.

    ``identity_encoder`` names the registered identity encoder whose code conditions the ID
    blocks: SimSwap's ArcFace (released, 512-d) or another one a model was trained with (e.g.
    ``dlib-resnet-128``, 128-d); ``latent_size`` is that encoder's code size, checked when the
    model is built.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_nc: int = Field(3, ge=1, description="channels of the target image")
    output_nc: int = Field(3, ge=1, description="channels of the generated image")
    latent_size: int = Field(ARCFACE_EMBEDDING_DIM, ge=1, description="identity code size (ArcFace: 512)")
    n_blocks: int = Field(9, ge=0, description="AdaIN ResNet blocks (ID blocks) in the bottleneck")
    deep: bool = Field(False, description="official 'deep' option: one more 512->512 down/up stage")
    ngf: int = Field(64, ge=1, description="width of the first 7x7 layer (64 for 224, 32 for 512)")
    n_downsampling: int = Field(3, ge=1, le=4, description="stride-2 stages (3 for 224, 4 for 512)")
    max_channels: int = Field(512, ge=1, description="width cap of the stages and the bottleneck")
    padding_type: Literal["reflect", "replicate", "zero"] = Field(
        "reflect", description="padding of the ID blocks' 3x3 convs (official default: reflect)"
    )
    identity_encoder: str = Field(
        IDENTITY_PRESET, description="registered identity encoder of the identity code (released: simswap-arcface)"
    )
    identity_depth: Literal[18, 34, 101, 152] = Field(
        101, description="depth of SimSwap's ArcFace IR-SE ResNet (released: 101)"
    )
    identity_input_size: int = Field(
        112, ge=16, description="ArcFace input size (released: 112; smaller only for tests)"
    )

    @model_validator(mode="after")
    def _check(self) -> SimSwapConfig:
        if self.identity_encoder == IDENTITY_PRESET and self.latent_size != ARCFACE_EMBEDDING_DIM:
            raise ValueError(
                f"latent_size must be {ARCFACE_EMBEDDING_DIM}, the size of SimSwap's ArcFace "
                f"identity code, got {self.latent_size}"
            )
        return self

    @property
    def widths(self) -> tuple[int, ...]:
        """Channels after the first layer and after each stride-2 stage (without ``deep``)."""
        return tuple(min(self.ngf * 2**k, self.max_channels) for k in range(self.n_downsampling + 1))

    @property
    def total_stride(self) -> int:
        """Input sides must be divisible by this (each stride-2 stage halves them)."""
        return 2 ** (self.n_downsampling + int(self.deep))


CONFIG_224 = SimSwapConfig()
CONFIG_512 = SimSwapConfig(ngf=32, n_downsampling=4)
