"""Configuration of the FLAME-parameter regressor (DECA's coarse encoder ``E_flame``), without
torch, so the core registers it as a component at start-up (``zoo_core.nets.flame_encoder``
builds it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

FLAME_PARAMETER_ORDER = ("shape", "tex", "exp", "pose", "cam", "light")
"""The order of the regressed vector (DECA ``cfg.model.param_list``)."""


class FlameEncoderConfig(BaseModel):
    """A ResNet body (bottleneck blocks, torchvision key layout) and a two-layer regressor to
    the FLAME parameters. Defaults: DECA's released coarse encoder (ResNet-50, 236 outputs,
    224 px crops in [0, 1] RGB without normalisation)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layers: tuple[int, int, int, int] = Field((3, 4, 6, 3), description="bottleneck blocks per stage (ResNet-50)")
    width: int = Field(64, ge=4, description="stem channels; stage i has width * 2**i planes, x4 out")
    hidden: int = Field(1024, ge=1, description="hidden units of the regressor")
    image_size: int = Field(224, ge=32, description="square input crop, pixels")
    n_shape: int = 100
    n_tex: int = 50
    n_exp: int = 50
    n_pose: int = Field(6, description="global rotation (3, axis-angle) then jaw (3)")
    n_cam: int = Field(3, description="orthographic camera: scale, tx, ty")
    n_light: int = Field(27, description="9 spherical-harmonics coefficients x RGB")
    crop_scale: float = Field(1.25, gt=0, description="crop side / (1.1 x mean side of the 68-landmark box)")

    def sizes(self) -> dict[str, int]:
        """Parameter group -> length, in the regressed vector's order."""
        return {name: getattr(self, f"n_{name}") for name in FLAME_PARAMETER_ORDER}

    @property
    def n_params(self) -> int:
        return sum(self.sizes().values())


DECA_COARSE = FlameEncoderConfig()
