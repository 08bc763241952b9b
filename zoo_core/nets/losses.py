"""Losses shared by the zoo's face-swap models: adversarial losses and penalties, feature
matching, identity losses and the reconstruction form SimSwap/StyleFace use.

Discriminator outputs (``Logits``) may be one tensor or the multi-scale output of
:class:`zoo_core.nets.discriminators.MultiscaleDiscriminator`: a list over scales whose items are
a logits tensor or a list of feature maps ending with the logits (only the last entry is used).
A flat list of tensors is therefore read as one logits tensor *per scale*; pass ``[features]``
for the feature list of a single :class:`~zoo_core.nets.discriminators.NLayerDiscriminator`.

Each adversarial loss averages over all elements of a scale's logits (batch and patches), then
reduces over scales with ``scale_reduction``: ``"mean"`` is the default, as in SimSwap's
``GANLoss`` (its ``models/networks.py``, which divides the sum by the number of scales);
``"sum"`` is pix2pixHD's ``GANLoss`` and the default of the LSGAN losses only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "IdentityKeyBank",
    "Logits",
    "ScaleReduction",
    "feature_matching_loss",
    "final_logits",
    "gradient_penalty",
    "hinge_d_loss",
    "hinge_g_loss",
    "identity_contrastive_loss",
    "identity_loss",
    "info_nce_loss",
    "lsgan_d_loss",
    "lsgan_g_loss",
    "masked_reconstruction_loss",
    "nonsaturating_d_loss",
    "nonsaturating_g_loss",
    "r1_penalty",
    "relativistic_d_loss",
    "relativistic_g_loss",
    "weak_feature_matching_loss",
]

Logits = Tensor | Sequence[Tensor | Sequence[Tensor]]
Features = Sequence[Tensor] | Sequence[Sequence[Tensor]]
ScaleReduction = Literal["mean", "sum"]


# --------------------------------------------------------------------------- helpers


def final_logits(pred: Logits) -> list[Tensor]:
    """The logits tensor of every scale of a discriminator output (see the module docstring)."""
    if isinstance(pred, Tensor):
        return [pred]
    logits = [p if isinstance(p, Tensor) else p[-1] for p in pred]
    for t in logits:
        if t.dim() == 4 and t.shape[1] != 1:
            raise ValueError(
                f"a logits map must have one channel, got shape {tuple(t.shape)}; a flat list is "
                "read as one logits tensor per scale, wrap one scale's feature list as [features]"
            )
    return logits


def _reduce_scales(values: list[Tensor], how: ScaleReduction) -> Tensor:
    total = torch.stack(values).sum()
    if how == "sum":
        return total
    if how == "mean":
        return total / len(values)
    raise ValueError(f"scale_reduction must be 'mean' or 'sum', got {how!r}")


def _per_scale(pred: Logits, fn: Callable[[Tensor], Tensor], how: ScaleReduction) -> Tensor:
    return _reduce_scales([fn(t) for t in final_logits(pred)], how)


def _paired_scales(
    real: Logits, fake: Logits, fn: Callable[[Tensor, Tensor], Tensor], how: ScaleReduction
) -> Tensor:
    real_l, fake_l = final_logits(real), final_logits(fake)
    if len(real_l) != len(fake_l):
        raise ValueError(f"real has {len(real_l)} scales, fake has {len(fake_l)}")
    return _reduce_scales([fn(r, f) for r, f in zip(real_l, fake_l, strict=True)], how)


def _sum_of_logits(pred: Logits) -> Tensor:
    """Sum of every logit of every scale; its input gradient is D's per-sample gradient as long
    as samples do not interact (no train-mode BatchNorm)."""
    return torch.stack([t.sum() for t in final_logits(pred)]).sum()


# --------------------------------------------------------------------------- adversarial


def hinge_d_loss(
    real_logits: Logits, fake_logits: Logits, *, scale_reduction: ScaleReduction = "mean"
) -> Tensor:
    """Hinge loss of the discriminator (Lim & Ye 2017; BigGAN; SimSwap via Facke Eq. 5).

    ``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]``.
    """
    real = _per_scale(real_logits, lambda t: F.relu(1.0 - t).mean(), scale_reduction)
    fake = _per_scale(fake_logits, lambda t: F.relu(1.0 + t).mean(), scale_reduction)
    return real + fake


def hinge_g_loss(fake_logits: Logits, *, scale_reduction: ScaleReduction = "mean") -> Tensor:
    """Hinge loss of the generator (Facke Eq. 6): ``-E[D(G(z))]``."""
    return _per_scale(fake_logits, lambda t: -t.mean(), scale_reduction)


def _relativistic(first: Tensor, second: Tensor, average: bool) -> Tensor:
    """Relativistic loss pushing ``first`` above ``second`` (RaSGAN if ``average``, else RSGAN)."""
    if average:  # -log s(first - E[second]) - log(1 - s(second - E[first]))
        toward = F.softplus(-(first - second.mean())).mean()
        return toward + F.softplus(second - first.mean()).mean()
    if first.shape != second.shape:
        raise ValueError(
            "pairwise relativistic loss needs matched logits, got "
            f"{tuple(first.shape)} and {tuple(second.shape)}"
        )
    return F.softplus(second - first).mean()  # -log s(first - second)


def relativistic_d_loss(
    real_logits: Logits,
    fake_logits: Logits,
    *,
    average: bool = True,
    scale_reduction: ScaleReduction = "mean",
) -> Tensor:
    """Relativistic discriminator loss (Jolicoeur-Martineau, ICLR 2019).

    ``average=True`` is RaGAN (RaSGAN): ``-E_r[log s(C(x_r) - E_f C(x_f))] -
    E_f[log(1 - s(C(x_f) - E_r C(x_r)))]``, the inner expectations taken over every logit of
    the scale (batch and patches). ``average=False`` is the pairwise RSGAN form of InfoSwap
    Eq. 16, ``-E[log s(D(X_s) - D(Y_st))]``, which needs the logits of matched pairs (InfoSwap
    pairs each swap with its *source* image as the real sample).
    """
    return _paired_scales(
        real_logits, fake_logits, lambda r, f: _relativistic(r, f, average), scale_reduction
    )


def relativistic_g_loss(
    real_logits: Logits,
    fake_logits: Logits,
    *,
    average: bool = True,
    scale_reduction: ScaleReduction = "mean",
) -> Tensor:
    """Relativistic generator loss: :func:`relativistic_d_loss` with real and fake swapped.

    ``average=False`` gives InfoSwap Eq. 16, ``L_adv^G = -E[log s(D(Y_st) - D(X_s))]``.
    """
    return _paired_scales(
        real_logits, fake_logits, lambda r, f: _relativistic(f, r, average), scale_reduction
    )


def nonsaturating_d_loss(
    real_logits: Logits, fake_logits: Logits, *, scale_reduction: ScaleReduction = "mean"
) -> Tensor:
    """Logistic discriminator loss (Goodfellow et al. 2014; StyleGAN2; MFIM §3.2).

    ``E[softplus(-D(x))] + E[softplus(D(G(z)))]`` = ``-E[log s(D(x))] - E[log(1 - s(D(G(z))))]``.
    """
    real = _per_scale(real_logits, lambda t: F.softplus(-t).mean(), scale_reduction)
    fake = _per_scale(fake_logits, lambda t: F.softplus(t).mean(), scale_reduction)
    return real + fake


def nonsaturating_g_loss(
    fake_logits: Logits, *, scale_reduction: ScaleReduction = "mean"
) -> Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014): ``E[softplus(-D(G(z)))]``."""
    return _per_scale(fake_logits, lambda t: F.softplus(-t).mean(), scale_reduction)


def lsgan_d_loss(
    real_logits: Logits, fake_logits: Logits, *, scale_reduction: ScaleReduction = "sum"
) -> Tensor:
    """Least-squares discriminator loss (Mao et al. 2017), pix2pixHD's default GAN loss.

    ``E[(D(x) - 1)^2] + E[D(G(z))^2]``, summed over scales by default like pix2pixHD's
    ``GANLoss`` (whose ``train.py`` then halves the real + fake sum).
    """
    real = _per_scale(real_logits, lambda t: (t - 1.0).pow(2).mean(), scale_reduction)
    fake = _per_scale(fake_logits, lambda t: t.pow(2).mean(), scale_reduction)
    return real + fake


def lsgan_g_loss(fake_logits: Logits, *, scale_reduction: ScaleReduction = "sum") -> Tensor:
    """Least-squares generator loss (Mao et al. 2017): ``E[(D(G(z)) - 1)^2]``."""
    return _per_scale(fake_logits, lambda t: (t - 1.0).pow(2).mean(), scale_reduction)


# --------------------------------------------------------------------------- penalties


def r1_penalty(
    real_logits: Logits, real_images: Tensor, *, gamma: float = 10.0, scale: float = 1.0
) -> Tensor:
    """R1 regularisation (Mescheder et al. 2018, Eq. 9), StyleGAN2 form; MFIM's L_R1.

    ``scale * gamma / 2 * E_x[||grad_x D(x)||^2]``. ``real_images`` must have had
    ``requires_grad_(True)`` before the discriminator forward that produced ``real_logits``. For
    StyleGAN2's lazy regularisation, call it every ``k`` D steps with ``scale=k``. The gradient is
    that of the sum of all logits (all patches, all scales) with respect to the input.
    """
    if not real_images.requires_grad:
        raise ValueError("r1_penalty needs real_images.requires_grad_(True) before D's forward")
    (grad,) = torch.autograd.grad(_sum_of_logits(real_logits), real_images, create_graph=True)
    return scale * 0.5 * gamma * grad.pow(2).flatten(1).sum(dim=1).mean()


def gradient_penalty(
    critic: Callable[[Tensor], Logits],
    real: Tensor,
    fake: Tensor,
    *,
    alpha: Tensor | None = None,
    target_norm: float = 1.0,
) -> Tensor:
    """WGAN-GP gradient penalty (Gulrajani et al. 2017; SimSwap's L_GP, Facke Eq. 7).

    ``E[(||grad D(x_hat)||_2 - target_norm)^2]`` at ``x_hat = alpha * x + (1 - alpha) * x_fake``
    with ``alpha ~ U[0, 1]`` per sample (Facke prints the interpolation with a minus sign, a typo:
    SimSwap's code adds). ``alpha`` may be given (shape (N,) or broadcastable) for reproducibility.
    Both inputs are detached: this is a discriminator-side term. For a multi-scale ``critic`` the
    gradient is that of the sum of every scale's logits.
    """
    if alpha is None:
        alpha = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    if alpha.dim() == 1:
        alpha = alpha.reshape(-1, *([1] * (real.dim() - 1)))
    x_hat = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(_sum_of_logits(critic(x_hat)), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - target_norm).pow(2).mean()


# --------------------------------------------------------------------------- feature matching


def _as_scales(features: Features) -> list[Sequence[Tensor]]:
    """A flat list of tensors is one scale's features; otherwise a list over scales."""
    if all(isinstance(f, Tensor) for f in features):
        return [cast(Sequence[Tensor], features)]
    return [cast(Sequence[Tensor], f) for f in features]


def _weights(weights: float | Sequence[float] | None, count: int, default: float) -> list[float]:
    if weights is None:
        return [default] * count
    if isinstance(weights, int | float):
        return [float(weights)] * count
    if len(weights) != count:
        raise ValueError(f"expected {count} weights, got {len(weights)}")
    return [float(w) for w in weights]


def feature_matching_loss(
    fake_features: Features,
    real_features: Features,
    *,
    layers: slice = slice(None, -1),
    layer_weights: float | Sequence[float] | None = None,
    scale_weights: float | Sequence[float] | None = None,
) -> Tensor:
    """Discriminator feature matching (pix2pixHD, Wang et al. 2018, Eq. 4).

    ``sum_scales sum_layers w_scale * w_layer * mean|D_k^(i)(fake) - D_k^(i)(real)|`` over the
    feature maps ``layers`` selects in each scale's list (default: all but the logits). Defaults
    follow pix2pixHD's code: ``w_layer = 4 / (number of matched layers)`` (its
    ``4 / (n_layers_D + 1)``) and ``w_scale = 1 / num_D``. Real features are detached. Inputs
    are ``MultiscaleDiscriminator`` outputs with ``get_interm_feat=True`` (or one scale's list).
    The ``lambda_feat`` weight (10 in pix2pixHD and SimSwap) is left to the caller.
    """
    fake_scales, real_scales = _as_scales(fake_features), _as_scales(real_features)
    if len(fake_scales) != len(real_scales):
        raise ValueError(f"fake has {len(fake_scales)} scales, real has {len(real_scales)}")
    s_weights = _weights(scale_weights, len(fake_scales), 1.0 / len(fake_scales))
    total = fake_scales[0][0].new_zeros(())
    for w_scale, fake_scale, real_scale in zip(s_weights, fake_scales, real_scales, strict=True):
        fake_sel, real_sel = list(fake_scale[layers]), list(real_scale[layers])
        if not fake_sel or len(fake_sel) != len(real_sel):
            raise ValueError(
                f"layers {layers} selects {len(fake_sel)} fake and {len(real_sel)} real features"
            )
        l_weights = _weights(layer_weights, len(fake_sel), 4.0 / len(fake_sel))
        for w_layer, f, r in zip(l_weights, fake_sel, real_sel, strict=True):
            total = total + w_scale * w_layer * F.l1_loss(f, r.detach())
    return total


def weak_feature_matching_loss(
    fake_features: Features,
    real_features: Features,
    *,
    start_layer: int = 1,
    layer_weights: float | Sequence[float] | None = None,
    scale_weights: float | Sequence[float] | None = None,
) -> Tensor:
    """SimSwap's weak feature matching (Chen et al. 2020; Facke Eq. 8).

    :func:`feature_matching_loss` over layers ``start_layer`` .. last-before-logits only
    (``sum_{i=m}^{M} 1/N_i ||D^(i)(I_R) - D^(i)(I_T)||_1``): dropping the shallow layers keeps
    the attributes of the target without binding the textures that carry its identity. The
    default ``start_layer=1`` (skip only the first layer) is the Facke re-implementation's
    ``feat_mode="w"`` on SimSwap's six-level discriminator, i.e. ``D^(1..4)`` with
    ``w_layer = 4 / 4`` and ``w_scale = 1 / 2``; ``lambda_wFM = 10`` is the caller's. SimSwap's
    released 224 px training script (``fs_model.py``) instead matched every layer but the logits,
    which is ``start_layer=0`` (= :func:`feature_matching_loss`).
    """
    return feature_matching_loss(
        fake_features,
        real_features,
        layers=slice(start_layer, -1),
        layer_weights=layer_weights,
        scale_weights=scale_weights,
    )


# --------------------------------------------------------------------------- identity


def identity_loss(emb_a: Tensor, emb_b: Tensor, eps: float = 1e-8) -> Tensor:
    """Identity cosine loss ``mean_batch(1 - cos(a, b))`` (SimSwap, Facke Eq. 3; MFIM Eq. 1).

    Embeddings are (N, D); they need not be normalised.
    """
    return (1.0 - F.cosine_similarity(emb_a, emb_b, dim=1, eps=eps)).mean()


def identity_contrastive_loss(
    emb_swap: Tensor, emb_source: Tensor, emb_target: Tensor, eps: float = 1e-8
) -> Tensor:
    """Identity Contrastive Loss (InfoSwap Eq. 9-11; StyleFace Eq. 11), mean over the batch.

    ``(1 - cos(z(Y), z(X_s))) + (cos(z(Y), z(X_t)) - cos(z(X_s), z(X_t)))^2``: the swap is
    pulled to the source identity, and its similarity to the target is pushed to the source's
    similarity to the target instead of to zero. There is no temperature and no batch of
    negatives: each sample's only "negative" is its own target.

    Symbols: ``emb_swap`` = InfoSwap ``z~_id(Y_st)`` / StyleFace ``z_id(Y_st)``, ``emb_source`` =
    ``z~_id(X_s)`` / ``z_id(X_s)``, ``emb_target`` = ``z~_id(X_t)`` / ``z_id(X_t)``; InfoSwap
    uses its IIB-compressed identities (Eq. 7), StyleFace the raw 512-d FR features. This is
    StyleFace's form; InfoSwap's Eq. 10 writes ``L_pos = -cos(...)``, i.e. this value minus 1
    (same gradients). We follow Eq. 11's ``cos(z(Y), z(X_t))``; Algorithm 1 of the InfoSwap
    supplement writes ``cos(z(Y), z(X_s))`` there, which contradicts Eq. 11 and StyleFace. Detach
    ``emb_source``/``emb_target`` if their encoder must not receive this gradient.
    """
    cos_ys = F.cosine_similarity(emb_swap, emb_source, dim=1, eps=eps)
    cos_yt = F.cosine_similarity(emb_swap, emb_target, dim=1, eps=eps)
    cos_st = F.cosine_similarity(emb_source, emb_target, dim=1, eps=eps)
    positive = 1.0 - cos_ys  # Eq. 10 (+1)
    negative = (cos_yt - cos_st).pow(2)  # Eq. 11
    return (positive + negative).mean()  # Eq. 9


def info_nce_loss(
    query: Tensor, keys: Tensor, positive_index: Tensor, *, temperature: float = 0.07
) -> Tensor:
    """InfoNCE (Oord et al. 2018) against a key list, StyleFace Eq. 3; mean over the batch.

    ``-log(exp(q.k_pos / tau) / sum_k exp(q.k / tau))`` with ``q`` (N, D) and ``keys`` (K, D)
    L2-normalised here; ``positive_index`` (N,) holds each query's positive row of ``keys``,
    every other row is a negative. ``tau = 0.07`` as in StyleFace and MoCo.
    """
    logits = F.normalize(query, dim=1) @ F.normalize(keys, dim=1).t() / temperature
    return F.cross_entropy(logits, positive_index.long())


class IdentityKeyBank(nn.Module):
    """StyleFace's dynamic list ``K`` (§3.1): one key per training identity for Eq. 3.

    Unlike MoCo's FIFO queue, row ``j`` holds the latest momentum-encoder code of identity
    ``j``. Per step: ``bank.update(labels, w_momentum)`` with ``w^{j'} = P_theta'(X^{j'})``, then
    ``bank(w, labels)`` with ``w^j = P_theta(X^j)`` as queries: ``K[j]`` is the positive and all
    other rows the negatives. StyleFace keeps one bank per latent level (l, m, h). The keys are
    a buffer (saved in the state dict), initialised to random unit vectors.
    """

    keys: Tensor

    def __init__(self, num_identities: int, dim: int = 512, temperature: float = 0.07) -> None:
        super().__init__()
        self.temperature = temperature
        self.register_buffer("keys", F.normalize(torch.randn(num_identities, dim), dim=1))

    @torch.no_grad()
    def update(self, labels: Tensor, new_keys: Tensor) -> None:
        """``K[labels[i]] <- normalize(new_keys[i])``; no gradient flows into the bank.

        If a label repeats within ``labels``, one of its keys is kept.
        """
        self.keys[labels.long()] = F.normalize(new_keys.detach(), dim=1).to(self.keys.dtype)

    def forward(self, query: Tensor, labels: Tensor) -> Tensor:
        return info_nce_loss(query, self.keys, labels, temperature=self.temperature)

    def extra_repr(self) -> str:
        n, d = self.keys.shape
        return f"num_identities={n}, dim={d}, temperature={self.temperature}"


# --------------------------------------------------------------------------- reconstruction


def masked_reconstruction_loss(
    fake: Tensor, target: Tensor, same_identity: Tensor | None = None
) -> Tensor:
    """L1 reconstruction only on same-identity pairs (SimSwap, Facke Eq. 4; StyleFace Eq. 7).

    Mean absolute error over the samples where ``same_identity`` (N,) is true, all samples when
    it is ``None`` (then equal to ``F.l1_loss``). With no same-identity sample it is a zero
    without graph, so it adds nothing to the total loss.
    """
    if same_identity is None:
        return F.l1_loss(fake, target)
    mask = same_identity.to(device=fake.device, dtype=torch.bool)
    if not bool(mask.any()):
        return fake.new_zeros(())
    return F.l1_loss(fake[mask], target[mask])
