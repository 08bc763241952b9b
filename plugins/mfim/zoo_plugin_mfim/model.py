"""MFIM (Na et al., ECCV 2022): face swapping and ID mixing by inverting a pretrained StyleGAN2
into StyleSpace codes plus style maps.

The encoder (:mod:`zoo_plugin_mfim.encoder`) reads the 256 px target and source. Codes of the
coarse style layers (4x4 to 16x16 at 1024 px) come from the target (ID-irrelevant: structure,
pose), the finer ones from the source (ID: face shape, eyes, nose, lips); the target's style
maps enter the generator as the noise inputs of matching resolution, the other noise inputs
keep the generator's stored noise maps (pSp's ``randomize_noise=False``), so inference is
deterministic. The generator's output in [-1, 1] is mapped to [0, 1]. No 3DMM at inference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo_core.errors import InputError
from zoo_core.nets.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from zoo_core.protocols import swap_identity
from zoo_core.specs import ModelSpec
from zoo_plugin_mfim.config import MFIMConfig
from zoo_plugin_mfim.encoder import FacialAttributeEncoder

__all__ = ["MFIM", "build", "generator_config", "roi_mask"]


def generator_config(config: MFIMConfig) -> StyleGAN2Config:
    """The StyleGAN2 configuration of an MFIM configuration."""
    return StyleGAN2Config(size=config.size, style_dim=config.style_dim, n_mlp=config.n_mlp,
                           channel_multiplier=config.channel_multiplier, channels=config.generator_channels)


def roi_mask(config: MFIMConfig, size: int, device: Any = None) -> Tensor:
    """E+ region of interest: a feathered ellipse (1 inside, 0 outside) of shape (1, 1, size, size).

    The paper's ROI-only synthesis needs no segmentation label but its details are in the
    unpublished supplementary material; a fixed ellipse over the face of FFHQ-aligned crops is
    our choice (centre, half-axes and feather in ``config``).
    """
    coords = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    (cx, cy), (ax, ay) = config.roi_center, config.roi_axes
    radius = torch.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    edge = config.roi_feather / min(ax, ay)
    return ((1.0 + edge / 2 - radius) / edge).clamp(0, 1)[None, None]


class MFIM(nn.Module):
    """Implements ``SwapModel`` and ``IdentityMixer`` on FFHQ-aligned crops in [0, 1].

    Children: ``encoder`` (:class:`FacialAttributeEncoder`) and ``generator``
    (:class:`~zoo_core.nets.stylegan2.StyleGAN2Generator`, rosinality key layout); buffer
    ``latent_avg`` (the generator's mean w, the origin of the predicted codes).
    """

    latent_avg: Tensor

    def __init__(self, spec: ModelSpec, config: MFIMConfig) -> None:
        super().__init__()
        self.spec = spec
        self.config = config
        self.generator = StyleGAN2Generator(generator_config(config))
        self.encoder = FacialAttributeEncoder(config, self.generator)
        self.register_buffer("latent_avg", torch.zeros(1, config.style_dim))
        resolutions = [res for _, res, _ in self.generator.style_layers]
        self.target_layers = [k for k, res in enumerate(resolutions) if res <= config.coarse_max_resolution]
        self.id_layers = [k for k, res in enumerate(resolutions) if res > config.coarse_max_resolution]
        self.layer_resolutions = resolutions
        if config.freeze_generator:
            self.generator.requires_grad_(False)

    # ---- inputs and codes

    def preprocess(self, x: Tensor) -> Tensor:
        """[0, 1] crops of any size -> [-1, 1] encoder input at ``input_size``."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise InputError(f"{self.spec.name}: expected (N, 3, H, W) RGB crops, got {tuple(x.shape)}")
        size = self.config.input_size
        if tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return x * 2 - 1

    def style_offsets(self) -> list[Tensor]:
        """The S codes of ``latent_avg`` (zeros without ``start_from_latent_avg``)."""
        if not self.config.start_from_latent_avg:
            return [self.latent_avg.new_zeros(1, dim) for _, _, dim in self.generator.style_layers]
        w_plus = self.latent_avg[:, None].expand(1, self.generator.n_latent, -1)
        return self.generator.w_to_styles(w_plus)

    def set_latent_avg(self, w: Tensor) -> None:
        """Set the mean w (e.g. a StyleGAN2 checkpoint's ``latent_avg`` or ``mean_latent(4096)``)."""
        self.latent_avg.copy_(w.reshape(1, -1).to(self.latent_avg))

    def encode_target(self, target: Tensor) -> tuple[dict[int, Tensor], dict[int, Tensor]]:
        """ID-irrelevant codes (style layer -> code) and style maps (noise input -> map) of target crops."""
        maps = self.encoder.latent_maps(self.preprocess(target))
        codes = self.encoder.codes(maps, self.target_layers)
        return {k: codes[k] for k in self.target_layers}, self.encoder.style_maps(maps)

    def encode_identity(self, source: Tensor, layers: Sequence[int] | None = None) -> dict[int, Tensor]:
        """ID codes (style layer -> code) of source crops, for ``layers`` (default: every ID layer)."""
        layers = list(self.id_layers if layers is None else layers)
        codes = self.encoder.codes(self.encoder.latent_maps(self.preprocess(source)), layers)
        return {k: codes[k] for k in layers}

    def identity(self, source: Tensor) -> Tensor:
        """The ID style codes of ``source`` concatenated, (N, D): what the swap conditions on."""
        codes = self.encode_identity(source)
        return torch.cat([codes[k] for k in self.id_layers], dim=1)

    def identity_codes(self, identity: Tensor) -> dict[int, Tensor]:
        """``identity()``'s concatenation split back into ID codes (style layer -> code)."""
        sizes = [self.generator.style_layers[k][2] for k in self.id_layers]
        return dict(zip(self.id_layers, identity.split(sizes, dim=1), strict=True))

    # ---- synthesis

    def synthesize(self, codes: Mapping[int, Tensor], style_maps: Mapping[int, Tensor]) -> Tensor:
        """Generator image in [-1, 1] from codes for every style layer and the style maps."""
        offsets = self.style_offsets()
        batch = max(c.shape[0] for c in codes.values())
        styles = [(codes[k] + offsets[k]).expand(batch, -1) for k in range(len(offsets))]
        noises = [style_maps.get(i, getattr(self.generator.noises, f"noise_{i}"))
                  for i in range(self.generator.num_layers)]
        return self.generator.synthesis(styles=styles, noise=noises)

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        """Training path: swap in [0, 1] at the generator's size, neither clamped nor blended."""
        codes, maps = self.encode_target(target)
        codes.update(self.encode_identity(source))
        return (self.synthesize(codes, maps) + 1) / 2

    def finish(self, image: Tensor, target: Tensor) -> Tensor:
        """Clamp, E+ blend with the target (``roi_synthesis``), resize to the target's size."""
        size = self.config.size
        if self.config.roi_synthesis:
            full = target if tuple(target.shape[-2:]) == (size, size) else F.interpolate(
                target, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
            mask = roi_mask(self.config, size, image.device).to(image.dtype)
            image = mask * image + (1 - mask) * full
        if tuple(image.shape[-2:]) != tuple(target.shape[-2:]):
            image = F.interpolate(image, size=tuple(target.shape[-2:]), mode="bilinear", align_corners=False,
                                  antialias=True)
        return image.clamp(0, 1)

    def _check_batch(self, target: Tensor, *sources: Tensor) -> None:
        for source in sources:
            if source.shape[0] not in (1, target.shape[0]):
                raise InputError(f"{self.spec.name}: source batch {source.shape[0]} does not match target batch "
                                 f"{target.shape[0]} (or 1)")

    def swap(self, source: Tensor, target: Tensor, *, identity: Tensor | None = None) -> Tensor:
        """``target`` with the identity of ``source`` (one source may serve every target);
        ``identity``: a precomputed ``self.identity(source)`` (the encoder then reads only the
        target)."""
        self._check_batch(target, source)
        codes, maps = self.encode_target(target)
        codes.update(self.identity_codes(swap_identity(self, source, target, identity)))
        return self.finish((self.synthesize(codes, maps) + 1) / 2, target)

    # ---- ID mixing (Sec. 3.3)

    @property
    def id_resolutions(self) -> list[int]:
        """Generator resolutions whose style codes carry identity (32 ... size)."""
        return sorted({self.layer_resolutions[k] for k in self.id_layers})

    def level_assignment(self, assignment: Mapping[int, int], sources: int) -> dict[int, int]:
        """ID style layer -> source index from a resolution -> source index assignment.

        ID resolutions missing from ``assignment`` take the last source.
        """
        id_resolutions = self.id_resolutions
        unknown = sorted(set(assignment) - set(id_resolutions))
        if unknown:
            raise InputError(f"{self.spec.name}: resolutions {unknown} carry no ID codes; ID resolutions: {id_resolutions}")
        bad = {res: i for res, i in assignment.items() if not 0 <= i < sources}
        if bad:
            raise InputError(f"{self.spec.name}: source indices {bad} out of range for {sources} sources")
        return {k: assignment.get(self.layer_resolutions[k], sources - 1) for k in self.id_layers}

    def mix_sources(self, sources: Sequence[Tensor], assignment: Mapping[int, int], target: Tensor) -> Tensor:
        """ID mixing with any number of sources: ``assignment`` maps an ID resolution (e.g. 32)
        to the index of the source giving its ID codes; unassigned ones use the last source."""
        if not sources:
            raise InputError(f"{self.spec.name}: ID mixing needs at least one source")
        self._check_batch(target, *sources)
        per_layer = self.level_assignment(assignment, len(sources))
        codes, maps = self.encode_target(target)
        for index, source in enumerate(sources):
            layers = [k for k, i in per_layer.items() if i == index]
            if layers:
                codes.update(self.encode_identity(source, layers))
        return self.finish((self.synthesize(codes, maps) + 1) / 2, target)

    def mix(self, global_source: Tensor, local_source: Tensor, target: Tensor) -> Tensor:
        """Global ID codes (``global_resolutions``, 32x32) from ``global_source``, the finer
        local ones from ``local_source`` (MFIM Fig. 2b)."""
        assignment = {res: 0 for res in self.config.global_resolutions if res in self.layer_resolutions}
        return self.mix_sources([global_source, local_source], assignment, target)


def build(spec: ModelSpec, config: dict[str, Any]) -> MFIM:
    """Builder named by the spec: ``zoo_core.create_model("mfim-1024")`` calls it."""
    return MFIM(spec, MFIMConfig(**config))
