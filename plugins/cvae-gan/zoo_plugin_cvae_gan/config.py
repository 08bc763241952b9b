"""The CVAE-GAN configuration (pydantic, no torch), shared by the builder and the converter."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ARCFACE_EMBEDDING_DIM = 512
"""Size of the ArcFace identity code (Facke uses SimSwap's ArcFace, survey §2.1.3)."""

N_DOWNSAMPLING = 3
"""Stride-2 stages of Facke's encoder (``down1..down3``) and decoder (``up1..up3``)."""

NoiseKind = Literal["gaussian", "uniform"]


class CVAEGANConfig(BaseModel):
    """Hyper-parameters of Facke's CVAE generator (``models/CVAE/model.py``, ``networks.py``).

    The released CVAE-GAN is ``Merge_Image(512, img_size=224)`` (M1), ``Encoder(in_channels=4)``
    (E), ``Merge_Distribution(512, num_ID_blocks=9)`` (M2) and ``Decoder(512, 3)`` (D). Facke
    hard-codes the widths 64/128/256/512; ``ngf`` and ``max_channels`` shrink them (stage
    widths ``min(ngf * 2**k, max_channels)``) for fast tests only.

    ``noise`` picks the reparameterisation noise: the survey (§2.2.1) samples ``z`` from
    ``N(mu, sigma^2)`` (``"gaussian"``, the default); Facke's ``CVAE.reparameterize`` draws
    ``torch.rand_like`` (``"uniform"`` on [0, 1), also at inference) -- choose it for parity with
    the released code. ``deterministic`` decodes ``z = mu`` without sampling.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    latent_size: int = Field(ARCFACE_EMBEDDING_DIM, description="identity code size (ArcFace: 512)")
    image_size: int = Field(224, ge=8, description="side of the square crops; M1 maps the code to image_size**2")
    n_blocks: int = Field(9, ge=0, description="AdaIN ID blocks on the 2-D latent (M2, survey §2.2.3)")
    ngf: int = Field(64, ge=1, description="width of the first 7x7 layer (Facke: 64)")
    max_channels: int = Field(512, ge=1, description="width cap of the stages and the latent (Facke: 512)")
    noise: NoiseKind = Field(
        "gaussian", description="reparameterisation noise: 'gaussian' (paper) or 'uniform' (Facke's rand_like)"
    )
    deterministic: bool = Field(False, description="decode z = mu instead of sampling (default of swap())")
    identity_depth: Literal[18, 34, 101, 152] = Field(
        101, description="depth of SimSwap's ArcFace IR-SE ResNet (released: 101)"
    )
    identity_input_size: int = Field(
        112, ge=16, description="ArcFace input size (released: 112; smaller only for tests)"
    )

    @model_validator(mode="after")
    def _check(self) -> CVAEGANConfig:
        if self.latent_size != ARCFACE_EMBEDDING_DIM:
            raise ValueError(
                f"latent_size must be {ARCFACE_EMBEDDING_DIM}, the size of SimSwap's ArcFace "
                f"identity code, got {self.latent_size}"
            )
        if self.image_size % self.total_stride:
            raise ValueError(f"image_size must be divisible by {self.total_stride}, got {self.image_size}")
        return self

    @property
    def widths(self) -> tuple[int, ...]:
        """Channels after the first layer and after each stride-2 stage (Facke: 64, 128, 256, 512)."""
        return tuple(min(self.ngf * 2**k, self.max_channels) for k in range(N_DOWNSAMPLING + 1))

    @property
    def total_stride(self) -> int:
        return 2**N_DOWNSAMPLING

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """Shape of the 2-D latent ``z`` of one sample (224: 512 x 28 x 28, survey §2.2.3)."""
        side = self.image_size // self.total_stride
        return (self.widths[-1], side, side)


CONFIG_224 = CVAEGANConfig()
