"""The graphics-512 configuration (pydantic, no torch): what the swap keeps, blends and corrects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GraphicsConfig(BaseModel):
    """Options of the landmark-mesh swap. Lengths are fractions of the face height (nose bridge
    to chin, landmarks 27 and 8), so they scale with the face in the crop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: float = Field(0.6, ge=0.0, le=1.0,
                         description="share of the source's layout of brows, eyes and nose (pose removed) given to the result")
    forehead: float = Field(0.2, ge=0.0, le=0.6, description="how far above the brows the swapped region reaches")
    shrink: float = Field(0.02, ge=0.0, le=0.3, description="how far the region's outline is pulled inside the face contour")
    feather: float = Field(0.1, gt=0.0, le=0.5, description="width of the soft edge inside the outline")
    color: Literal["lab", "none"] = Field("lab", description="Lab mean and std of the skin made the target's (Reinhard), or none")
    blend: Literal["feather", "poisson"] = Field(
        "feather", description="the feathered mask alone, or seamless (Poisson) cloning before it"
    )
    keep_target_mouth: bool = Field(True, description="keep the target's mouth interior when the two mouths are open differently")
    mouth_difference: float = Field(0.04, ge=0.0,
                                    description="difference in lip gap (face heights) above which the mouths count as different")
