"""StyleFace (Luo et al., ECCV 2022): identity swapping and de-identification on StyleGAN2.

The identity of a face is a latent variable in Z+ (three 512-d codes for the low, middle and
high generator layers): the frozen face-recognition network's features go through the
projector ω to a mean and log-variance (``z_real``), or a virtual identity is sampled as
``z_gen ~ N(0, I)``. The mapping network f turns each code into w; every modulated conv and
toRGB of the generator takes the w of its resolution's level (through the S-space codes of
``StyleGAN2Generator.w_to_styles``, so each layer gets exactly the level of the resolution it
works at). The target's attributes come from the Adaptive Attribute Extractor and enter at
the output h of every modulated conv through AttrInjection (Eq. 4-5, Fig. 2c), in place of the
noise input and before the bias and activation (the generator's ``feature_hook`` at
``hook_point="modulated"``).

Open choices (the paper is silent; no official code exists): the StyleGAN2 noise inputs are
zero whenever attributes are injected (f_att takes their place, so swaps are deterministic
given the identity); a real identity is embedded with the mean ``mu`` at inference (sampling is
used in training); outputs are clamped to [0, 1]; ArcFace-family recognizers see the ArcFace
template's part of the FFHQ crop (``StyleFaceConfig.identity_crop_box``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from zoo_core.errors import ConfigError
from zoo_core.nets.identity import build_identity_encoder
from zoo_core.nets.identity_config import IDENTITY_ENCODER_PRESETS
from zoo_core.nets.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from zoo_core.protocols import swap_identity
from zoo_core.specs import ModelSpec
from zoo_plugin_styleface.aae import AttributeExtractor, AttrInjection
from zoo_plugin_styleface.config import LEVELS, StyleFaceConfig
from zoo_plugin_styleface.projector import IdentityProjector, reparameterize

__all__ = ["StyleFace", "build", "parse_levels"]


def parse_levels(levels: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"low,mid"`` or ``("low", "mid")`` -> checked level names (``None``: all three)."""
    if levels is None:
        return LEVELS
    names = [part.strip() for part in levels.split(",")] if isinstance(levels, str) else list(levels)
    unknown = [name for name in names if name not in LEVELS]
    if unknown or not names:
        raise ConfigError(f"levels must be a non-empty subset of {','.join(LEVELS)}, got {levels!r}")
    return tuple(name for name in LEVELS if name in names)


def build_identity(config: StyleFaceConfig, template: str) -> nn.Module:
    """The frozen face-recognition network FR on crops aligned to ``template``: a zoo_core preset
    (ArcFace family: ``identity_crop_box`` of the crop, resized to its input), or a registered
    identity encoder component (``dlib-resnet-128``: dlib's chip cut from the crop)."""
    if config.identity_encoder in IDENTITY_ENCODER_PRESETS:
        preset = IDENTITY_ENCODER_PRESETS[config.identity_encoder].model_dump()
        depth = preset["depth"] if config.identity_depth is None else config.identity_depth
        return build_identity_encoder({**preset, "depth": depth, "input_size": config.identity_input_size,
                                       "crop_box": config.identity_crop_box, "crop_units": "fraction"})
    # the face pipeline (the [faces] extra) serves only encoders other than the presets
    from zoo_core.faces.chip_identity import build_crop_identity_encoder, embedding_size

    encoder = build_crop_identity_encoder(config.identity_encoder, template).eval()
    size = embedding_size(encoder)
    if size != config.identity_dim:
        raise ConfigError(f"identity_dim must be {size}, the size of {config.identity_encoder}'s features, "
                          f"got {config.identity_dim}")
    return encoder


class StyleFace(nn.Module):
    """Implements ``SwapModel`` and ``Deidentifier`` on aligned [0, 1] crops at ``config.size``.

    Children: ``generator`` (StyleGAN2, rosinality key layout), ``projector`` (ω), ``aae``,
    ``injections`` (one AttrInjection per modulated conv, ``generator.conv_resolutions`` order)
    and the frozen ``identity_encoder`` (always in eval mode). ``spec.identity_encoder`` names
    the encoder in use, so evaluation refuses it as recognizer.
    """

    style_levels: list[int]

    def __init__(self, spec: ModelSpec | None, config: StyleFaceConfig) -> None:
        super().__init__()
        self.spec = None if spec is None else spec.model_copy(update={"identity_encoder": config.identity_encoder})
        self.config = config
        generator_config = StyleGAN2Config(**config.stylegan2())
        self.generator = StyleGAN2Generator(generator_config)
        channels = generator_config.channel_map
        self.projector = IdentityProjector(config.identity_dim, config.style_dim)
        self.aae = AttributeExtractor(channels, config.size, config.aae_divisor)
        self.injections = nn.ModuleList(AttrInjection(c, config.mask_kernel) for c in self.generator.conv_channels)
        self.identity_encoder = build_identity(config, "ffhq" if spec is None else spec.template)
        self.identity_encoder.requires_grad_(False)
        self.identity_encoder.eval()
        self.style_levels = [config.level_of(resolution) for _, resolution, _ in self.generator.style_layers]
        self._attribute_index = [self.aae.resolutions.index(r) for r in self.generator.conv_resolutions]

    def train(self, mode: bool = True) -> StyleFace:
        super().train(mode)
        self.identity_encoder.eval()
        return self

    # --- identity ---------------------------------------------------------------------------

    def recognize(self, image: Tensor) -> Tensor:
        """FR features ``(N, identity_dim)`` of [0, 1] crops (gradients flow to the image)."""
        return self.identity_encoder(image)

    def embed(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of the Z+ identity of [0, 1] crops, each ``(N, 3, z_dim)``."""
        return self.projector(self.recognize(image))

    def identity(self, source: Tensor) -> Tensor:
        """The embedded real identity ``z_real`` (the means), flattened to ``(N, 3 * 512)``."""
        return self.embed(source)[0].flatten(1)

    def sample_identity(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Virtual identities ``z_gen ~ N(0, I)``, ``(n, 3, z_dim)``, drawn with ``generator``."""
        device = generator.device if generator is not None else self.projector.omega.weight.device
        z = torch.randn(n, len(LEVELS), self.config.style_dim, generator=generator, device=device)
        return z.to(self.projector.omega.weight.device)

    # --- generation -------------------------------------------------------------------------

    def mapping(self, z: Tensor) -> Tensor:
        """f applied to each level: ``(N, 3, z_dim)`` -> ``(N, 3, style_dim)``."""
        return self.generator.mapping(z.flatten(0, 1)).view(z.shape[0], len(LEVELS), -1)

    def styles(self, w: Tensor) -> list[Tensor]:
        """S-space codes in which every layer takes the w of its resolution's level."""
        n = w.shape[0]
        n_latent = self.generator.n_latent
        per_level = w.transpose(0, 1).unsqueeze(2).expand(-1, -1, n_latent, -1).reshape(-1, n_latent, w.shape[-1])
        codes = self.generator.w_to_styles(per_level)
        return [code.view(len(LEVELS), n, -1)[level] for code, level in zip(codes, self.style_levels, strict=True)]

    def synthesize(self, w: Tensor, target: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        """Image in about [-1, 1] and the control masks (one per modulated conv).

        With ``target`` the AAE features are injected (zero StyleGAN2 noise); without it the
        plain generator runs with random noise (the generator pre-training stage).
        """
        styles = self.styles(w)
        if target is None:
            return self.generator.synthesis(styles=styles, randomize_noise=True), []
        attributes = self.aae(target)
        masks: list[Tensor] = []
        noise = [w.new_zeros(1, 1, r, r) for r in self.generator.conv_resolutions]
        image = self.generator.synthesis(styles=styles, noise=noise, randomize_noise=False,
                                         feature_hook=self._injector(attributes, masks), hook_point="modulated")
        return image, masks

    def _injector(self, attributes: list[Tensor], masks: list[Tensor]) -> Callable[[int, Tensor], Tensor]:
        def hook(index: int, h: Tensor) -> Tensor:
            out, mask = self.injections[index](h, attributes[self._attribute_index[index]])
            masks.append(mask)
            return out

        return hook

    def forward(self, source: Tensor, target: Tensor) -> dict[str, Any]:
        """The training path: embed ``source``, sample ``z = phi(mu, logvar)``, map, inject the
        attributes of ``target``. Returns the source's recognizer ``features``, ``mu``,
        ``logvar``, ``w`` (N, 3, 512), ``image`` in about [-1, 1] and the control ``masks``."""
        with torch.no_grad():
            features = self.recognize(source)
        mu, logvar = self.projector(features)
        w = self.mapping(reparameterize(mu, logvar))
        image, masks = self.synthesize(w, target)
        return {"features": features, "mu": mu, "logvar": logvar, "w": w, "image": image, "masks": masks}

    def generate(self, z: Tensor, target: Tensor) -> Tensor:
        """``target`` with the Z+ identity ``z`` ``(N, 3, z_dim)``, in [0, 1]."""
        image, _ = self.synthesize(self.mapping(z), target)
        return ((image + 1.0) / 2.0).clamp(0.0, 1.0)

    def mix_levels(self, new: Tensor, own: Tensor, levels: Sequence[str]) -> Tensor:
        """Z+ codes taking ``new`` at ``levels`` and ``own`` elsewhere (Fig. 9)."""
        chosen = torch.tensor([name in levels for name in LEVELS], device=new.device).view(1, -1, 1)
        return torch.where(chosen, new, own)

    def _own_identity(self, target: Tensor, levels: Sequence[str]) -> Tensor | None:
        return None if len(levels) == len(LEVELS) else self.embed(target)[0]

    def swap(self, source: Tensor, target: Tensor, levels: str | Sequence[str] | None = None, *,
             identity: Tensor | None = None) -> Tensor:
        """``target`` with the identity of ``source`` (``z_real``); ``levels`` swaps only some
        of the low/mid/high codes, the others keep the target's own. ``identity``: a precomputed
        ``self.identity(source)`` (FR and ω then do not run on the source)."""
        if source.shape[0] not in (1, target.shape[0]):
            raise ValueError(f"source batch {source.shape[0]} does not match target batch {target.shape[0]} (or 1)")
        chosen = parse_levels(levels)
        z = swap_identity(self, source, target, identity).view(target.shape[0], len(LEVELS), -1)
        own = self._own_identity(target, chosen)
        return self.generate(z if own is None else self.mix_levels(z, own, chosen), target)

    def deidentify(self, target: Tensor, generator: torch.Generator | None = None,
                   levels: str | Sequence[str] | None = None, z: Tensor | None = None) -> Tensor:
        """``target`` with a virtual identity ``z_gen ~ N(0, I)`` drawn with ``generator`` (or
        the given ``z``, e.g. one identity kept across video frames); ``levels`` as in ``swap``."""
        chosen = parse_levels(levels)
        z_gen = self.sample_identity(target.shape[0], generator) if z is None else z.expand(target.shape[0], -1, -1)
        own = self._own_identity(target, chosen)
        return self.generate(z_gen if own is None else self.mix_levels(z_gen, own, chosen), target)

    def control_masks(self, source: Tensor, target: Tensor) -> list[tuple[int, Tensor]]:
        """Fig. 10: ``(resolution, mean control mask (N, 1, r, r))`` of every modulated conv of
        the swap of ``source`` into ``target``."""
        _, masks = self.synthesize(self.mapping(self.embed(source)[0].expand(target.shape[0], -1, -1)), target)
        resolutions = self.generator.conv_resolutions
        return [(r, m.mean(dim=1, keepdim=True)) for r, m in zip(resolutions, masks, strict=True)]


def build(spec: ModelSpec, config: dict[str, Any]) -> StyleFace:
    """Builder named by the specs: ``zoo_core.create_model("styleface-1024")`` calls it."""
    return StyleFace(spec, StyleFaceConfig(**config))
