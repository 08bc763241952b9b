"""InfoSwap (Gao et al., CVPR 2021): the frozen IR-SE50, the IIB, the U-Net decoder and the AII.

State dict: ``identity_encoder.backbone.*`` (official ``model_128_ir_se50.pth`` keys),
``iib.iba_<i>.*`` (``ckpt[_ks]_I.pth``), ``decoder.*`` (``ckpt[_ks]_E.pth``), ``generator.*``
(``ckpt[_ks]_G.pth``) and ``stats.{mean,std,active}<i>`` (the readout statistics of R_1..R_11,
``readout_layer<i>.pth``).

Inference as the paper (Eq. 4, 7, 13-15) and the official ``inference_demo.py``: both crops go
through the IR-SE50 once (centre [37:475] of the 512 crop, bilinear to 128); the compressed
source identity averages the ten embeddings with one bottleneck inserted at a time; the
target's perceptual features replace lambda^t-weighted areas with noise drawn from the source
features' statistics; the decoder and the AII produce the swap. Noise comes from a
``torch.Generator`` (or torch's global one), so results are reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.nets.identity import IdentityEncoder, IRSEBackbone, build_identity_encoder
from zoo_core.nets.identity_config import IDENTITY_ENCODER_PRESETS
from zoo_core.protocols import swap_identity
from zoo_core.specs import ModelSpec
from zoo_plugin_infoswap.aii import AII, init_weights
from zoo_plugin_infoswap.config import IRSE50_UNITS, IRSE50_WIDTHS, InfoSwapConfig
from zoo_plugin_infoswap.decoder import UnetDecoder
from zoo_plugin_infoswap.iib import IIB, Noise, compress, standard_normal

IDENTITY_PRESET = "infoswap-irse50"
NUM_READOUT = 11
LOGIT_BOUND = 5.0
"""The official ``IBLayer`` clamps r_i to [-5, 5] before the sigmoid; the released weights were
trained with it, so it is kept."""


class ReadoutStats(nn.Module):
    """Per-position mean and std of R_1..R_11 over N photos, and the active-neuron masks."""

    def __init__(self, config: InfoSwapConfig) -> None:
        super().__init__()
        for i, (channels, size) in enumerate(zip(config.feature_channels, config.feature_sizes, strict=True)):
            shape = (channels, size, size)
            self.register_buffer(f"mean{i}", torch.zeros(shape))
            self.register_buffer(f"std{i}", torch.ones(shape))
            self.register_buffer(f"active{i}", torch.ones(shape))

    def get(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return getattr(self, f"mean{i}"), getattr(self, f"std{i}"), getattr(self, f"active{i}")


class InfoSwap(nn.Module):
    """``swap`` / ``identity`` on [0, 1] RGB crops aligned with the ``infoswap-512`` template."""

    def __init__(self, spec: ModelSpec | None, config: InfoSwapConfig) -> None:
        super().__init__()
        self.spec, self.config = spec, config
        self.identity_encoder = build_recognizer(config)
        high_res = config.resolution == 1024
        self.iib = IIB(config.feature_channels, config.num_bottlenecks, config.smooth, config.smooth_kernel,
                       config.lambda_init_logit, LOGIT_BOUND)
        self.decoder = UnetDecoder(config.channels, high_res, config.identity_widths)
        self.generator = AII(config.channels, high_res, stem_ups=2 if config.identity_input_size == 128 else 1)
        self.decoder.apply(init_weights)
        self.generator.apply(init_weights)
        self.stats = ReadoutStats(config)

    def train(self, mode: bool = True) -> InfoSwap:
        """The IR-SE50 stays in eval mode (frozen, paper Sec. 3)."""
        super().train(mode)
        self.identity_encoder.eval()
        return self

    # --- the frozen recognition network f(.) ---------------------------------------------------

    def to_network(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB -> the generator's input convention ([-1, 1], BGR with ``bgr_input``)."""
        x = x * 2 - 1
        return x.flip(1) if self.config.bgr_input else x

    def from_network(self, y: torch.Tensor) -> torch.Tensor:
        """Generator output in [-1, 1] -> [0, 1] RGB."""
        y = y.flip(1) if self.config.bgr_input else y
        return ((y + 1) / 2).clamp(0, 1)

    def recognize(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """f(x) for network-convention crops ([-1, 1]): z_id and R_1..R_11.

        1024 crops are first resized to 512 (antialiased bilinear, as the official 1024 data
        pipeline feeds the recognizer its 512 resize).
        """
        if self.config.resolution == 1024:
            x = F.interpolate(x, size=(x.shape[-2] // 2, x.shape[-1] // 2), mode="bilinear", antialias=True)
        z_id, feats = self.identity_encoder((x + 1) / 2, return_features=True)
        return z_id, feats[:NUM_READOUT]

    def restrict(self, z: torch.Tensor, i: int) -> torch.Tensor:
        """f_IBi: the embedding with R_i replaced by ``z`` (layers after i recomputed), L2-normalised."""
        backbone = self.identity_encoder.backbone
        for unit in backbone.body[i:]:
            z = unit(z)
        return F.normalize(backbone.head(z), dim=1)

    # --- IIB -------------------------------------------------------------------------------------

    def readout(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """(R_i - mu_i) / max(sigma_i, min_readout_std): the input of every bottleneck."""
        out = []
        for i, f in enumerate(feats):
            mean, std, _ = self.stats.get(i)
            out.append((f - mean) / std.clamp_min(self.config.min_readout_std))
        return out

    def controllers(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """lambda_1..lambda_m (Eq. 3)."""
        return self.iib.controllers(self.readout(feats), self.config.feature_sizes)

    def compress(self, i: int, r: torch.Tensor, lam: torch.Tensor, generator: Noise) -> tuple[torch.Tensor, torch.Tensor]:
        """Z_i = lambda R + (1 - lambda) eps, eps ~ N(mu_Ri, sigma_Ri^2) (Eq. 4), masked to the
        active neurons, and the per-sample information I[Z_i, R_i] (Eq. 6, mean over elements)."""
        z, info = compress(r, lam, *self.stats.get(i), generator)
        return z, info.flatten(1).mean(1)

    def source_noise(self, source_r: torch.Tensor, like: torch.Tensor, generator: Noise) -> torch.Tensor:
        """eps^s ~ N(mu_{R^s}, sigma^2_{R^s}) (Eq. 13), statistics over the source batch.

        ``official_noise``: the official code's std equal to the mean, kept for parity only.
        """
        mean = source_r.mean(0)
        std = mean if self.config.official_noise else source_r.std(0, unbiased=False)
        return standard_normal(like, generator, like.shape[0]) * std + mean

    @staticmethod
    def perceptual(r: torch.Tensor, lam: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """f_i = lambda eps + (1 - lambda) R (Eq. 13)."""
        return r * (1 - lam) + lam * eps

    # --- generation ------------------------------------------------------------------------------

    def generate(self, z_id: torch.Tensor, perceptual: Sequence[torch.Tensor], lambdas: Sequence[torch.Tensor],
                 target: torch.Tensor) -> torch.Tensor:
        """AII(z~_id, dec(f), dec(lambda)) (Eq. 14-15) in [-1, 1]. ``target``: the network-convention
        target crop (replaces f_1 at 512, the extra image input at 1024)."""
        feats = list(perceptual)
        if self.config.resolution == 512:
            feats[0] = target
            attrs = self.decoder.features(feats)
        else:
            attrs = self.decoder.features(feats, image=target)
        return self.generator(z_id, attrs, self.decoder.controllers(lambdas))

    def _swap_pair(self, source_feats: Sequence[torch.Tensor], target: torch.Tensor, generator: Noise) -> torch.Tensor:
        """The official inference on one batch of pairs (noise drawn in the official order) from
        the sources' R_1..R_11 and the network-convention targets. Sources and targets go
        through f(.) apart (the official code batches them; the same per sample), so a
        precomputed source gives exactly the same swap."""
        b = source_feats[0].shape[0]
        _, target_feats = self.recognize(target)
        feats = [torch.cat(pair) for pair in zip(source_feats, target_feats, strict=True)]
        lambdas = self.controllers(feats)
        z_id, perceptual = 0.0, []
        for i, lam in enumerate(lambdas):
            z, _ = self.compress(i, feats[i], lam, generator)
            z_id = z_id + self.restrict(z[:b], i)
            eps = self.source_noise(feats[i][:b], feats[i][b:], generator)
            perceptual.append(self.perceptual(feats[i][b:], lam[b:], eps))
        z_id = z_id / len(lambdas)
        return self.generate(z_id, perceptual, [lam[b:] for lam in lambdas], target)

    def swap(self, source: torch.Tensor, target: torch.Tensor, generator: Noise = None, *,
             identity: torch.Tensor | None = None) -> torch.Tensor:
        """Put the identity of ``source`` into ``target``; pairs are computed one at a time, so a
        result never depends on the rest of the batch (eps^s uses the source's statistics).
        ``identity``: a precomputed ``self.identity(source)`` (f(.) then runs on the targets only)."""
        self._check(source, "source")
        self._check(target, "target")
        if source.shape[0] != target.shape[0]:
            raise ValueError(f"source and target batch sizes differ: {source.shape[0]} and {target.shape[0]}")
        readouts = swap_identity(self, source, target, identity)
        outs = [self._swap_pair(self.readouts(code[None]), self.to_network(t[None]), generator)
                for code, t in zip(readouts, target, strict=True)]
        return self.from_network(torch.cat(outs))

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        """The source's readouts R_1..R_11 of f(.), flattened and concatenated ``(N, D)``: all
        the swap derives from the source with the recognizer before Eq. 4 draws fresh noise in
        every swap (jointly with the target's, in the official order). The compressed code
        ``z~_id`` is stochastic, so it is not what is reused; see ``compressed_identity``."""
        self._check(source, "source")
        _, feats = self.recognize(self.to_network(source))
        return torch.cat([f.flatten(1) for f in feats], dim=1)

    def readouts(self, identity: torch.Tensor) -> list[torch.Tensor]:
        """``identity()``'s concatenation split back into R_1..R_11 ``(N, C_i, S_i, S_i)``."""
        channels, sizes = self.config.feature_channels, self.config.feature_sizes
        parts = identity.split([c * s * s for c, s in zip(channels, sizes, strict=True)], dim=1)
        return [p.view(-1, c, s, s) for p, c, s in zip(parts, channels, sizes, strict=True)]

    def compressed_identity(self, source: torch.Tensor, generator: Noise = None) -> torch.Tensor:
        """The compressed identity z~_id (Eq. 7), L2-normalised."""
        self._check(source, "source")
        _, feats = self.recognize(self.to_network(source))
        lambdas = self.controllers(feats)
        total = 0.0
        for i, lam in enumerate(lambdas):
            z, _ = self.compress(i, feats[i], lam, generator)
            total = total + self.restrict(z, i)
        return F.normalize(total / len(lambdas), dim=1)

    def lambda_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """lambda_1..lambda_m of [0, 1] crops, averaged over channels: (N, H_i, W_i) each (Fig. 6)."""
        self._check(images, "images")
        _, feats = self.recognize(self.to_network(images))
        return [lam.mean(1) for lam in self.controllers(feats)]

    def _check(self, x: torch.Tensor, name: str) -> None:
        size = self.config.output_size
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (size, size):
            raise ValueError(f"{name} must be (N, 3, {size}, {size}) in [0, 1], got {tuple(x.shape)}")


def build_recognizer(config: InfoSwapConfig) -> IdentityEncoder:
    """The frozen ``infoswap-irse50`` encoder (narrower / shorter only in test configurations)."""
    preset = IDENTITY_ENCODER_PRESETS[IDENTITY_PRESET]
    default = config.identity_widths == IRSE50_WIDTHS and config.identity_units == IRSE50_UNITS
    encoder = build_identity_encoder(preset.model_copy(update={"input_size": config.identity_input_size}))
    if not default:
        encoder.backbone = IRSEBackbone(preset.depth, "ir_se", config.identity_input_size, preset.head_name,
                                        widths=config.identity_widths, stage_units=config.identity_units)
    return encoder.requires_grad_(False)


def build(spec: ModelSpec | None, config: dict[str, Any] | InfoSwapConfig) -> InfoSwap:
    """Builder of ``infoswap-512`` / ``infoswap-1024`` (``ModelSpec.builder``)."""
    if not isinstance(config, InfoSwapConfig):
        config = InfoSwapConfig(**config)
    return InfoSwap(spec, config)
