from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.nets.discriminators import MultiscaleDiscriminator
from zoo_core.nets.losses import (
    IdentityKeyBank,
    feature_matching_loss,
    final_logits,
    gradient_penalty,
    hinge_d_loss,
    hinge_g_loss,
    identity_contrastive_loss,
    identity_loss,
    info_nce_loss,
    lsgan_d_loss,
    lsgan_g_loss,
    masked_reconstruction_loss,
    nonsaturating_d_loss,
    nonsaturating_g_loss,
    r1_penalty,
    relativistic_d_loss,
    relativistic_g_loss,
    weak_feature_matching_loss,
)


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# --------------------------------------------------------------------------- logits handling


def test_final_logits_takes_last_entry_of_each_scale() -> None:
    feature, logits_a, logits_b = torch.randn(2, 8, 4, 4), torch.randn(2, 1, 4, 4), t(1.0)
    assert final_logits(logits_b) == [logits_b]
    got = final_logits([[feature, logits_a], [feature, logits_b]])
    assert got[0] is logits_a and got[1] is logits_b
    assert final_logits([logits_a, logits_b])[1] is logits_b


def test_flat_feature_list_is_rejected_as_per_scale_logits() -> None:
    features = [torch.randn(2, 8, 4, 4), torch.randn(2, 1, 3, 3)]
    with pytest.raises(ValueError, match="one channel"):
        hinge_g_loss(features)
    assert hinge_g_loss([features]) == pytest.approx(-features[1].mean().item())


# --------------------------------------------------------------------------- adversarial


def test_hinge_losses_hand_computed() -> None:
    real, fake = t(2.0, 0.5, -1.0), t(-2.0, 0.0, 1.0)
    # relu(1 - real) = [0, 0.5, 2] -> 5/6; relu(1 + fake) = [0, 1, 2] -> 1
    assert hinge_d_loss(real, fake).item() == pytest.approx(5 / 6 + 1.0)
    assert hinge_g_loss(fake).item() == pytest.approx(1 / 3)


def test_multiscale_reduction_mean_or_sum() -> None:
    noise = torch.randn(2, 16, 4, 4) * 100  # features must be ignored
    fake = [[noise, t(1.0, 3.0)], [noise, t(-3.0, -5.0)]]
    # per scale -mean: -2 and 4
    assert hinge_g_loss(fake).item() == pytest.approx(1.0)
    assert hinge_g_loss(fake, scale_reduction="sum").item() == pytest.approx(2.0)
    real = [t(0.0), t(2.0)]  # relu(1 - r): 1 and 0
    fake_logits = [t(0.0), t(-3.0)]  # relu(1 + f): 1 and 0
    assert hinge_d_loss(real, fake_logits).item() == pytest.approx(0.5 + 0.5)
    assert hinge_d_loss(real, fake_logits, scale_reduction="sum").item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="scale_reduction"):
        hinge_g_loss(fake, scale_reduction="max")  # type: ignore[arg-type]


def test_ragan_hand_computed() -> None:
    real, fake = t(1.0, 3.0), t(0.0, 2.0)  # means 2 and 1
    # D: mean sp(-(r - 1)) + mean sp(f - 2) = [sp(0) + sp(-2)] / 2 * 2
    assert relativistic_d_loss(real, fake).item() == pytest.approx(softplus(0) + softplus(-2))
    # G: mean sp(-(f - 2)) + mean sp(r - 1) = [sp(2) + sp(0)] / 2 * 2
    assert relativistic_g_loss(real, fake).item() == pytest.approx(softplus(2) + softplus(0))


def test_infoswap_pairwise_relativistic_hand_computed() -> None:
    real, fake = t(1.0, 3.0), t(0.0, 2.0)  # every pair differs by 1
    d = relativistic_d_loss(real, fake, average=False)
    g = relativistic_g_loss(real, fake, average=False)
    assert d.item() == pytest.approx(softplus(-1))  # -log sigmoid(D(X_s) - D(Y))
    assert g.item() == pytest.approx(softplus(1))  # -log sigmoid(D(Y) - D(X_s))
    with pytest.raises(ValueError, match="matched"):
        relativistic_d_loss(t(1.0, 2.0), t(1.0), average=False)


def test_relativistic_multiscale_needs_same_number_of_scales() -> None:
    with pytest.raises(ValueError, match="scales"):
        relativistic_d_loss([t(1.0), t(2.0)], [t(1.0)])


def test_nonsaturating_losses() -> None:
    zero = torch.zeros(3)
    assert nonsaturating_d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert nonsaturating_g_loss(zero).item() == pytest.approx(math.log(2))
    torch.manual_seed(0)
    real, fake = torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3)
    bce = F.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
    assert torch.allclose(nonsaturating_d_loss(real, fake), expected)
    assert torch.allclose(nonsaturating_g_loss(fake), bce(fake, torch.ones_like(fake)))


def test_lsgan_hand_computed_and_sums_scales() -> None:
    real, fake = t(1.0, 3.0), t(0.0, 1.0)
    assert lsgan_d_loss(real, fake).item() == pytest.approx(2.0 + 0.5)
    assert lsgan_g_loss(fake).item() == pytest.approx(0.5)
    two_scales = [[torch.randn(1, 4, 2, 2), t(0.0, 1.0)], [t(3.0)]]  # 0.5 and 4
    assert lsgan_g_loss(two_scales).item() == pytest.approx(4.5)
    assert lsgan_g_loss(two_scales, scale_reduction="mean").item() == pytest.approx(2.25)


# --------------------------------------------------------------------------- penalties


def test_r1_of_linear_discriminator_is_closed_form() -> None:
    torch.manual_seed(0)
    w = torch.randn(3, 4, 4, requires_grad=True)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (x * w).flatten(1).sum(dim=1)  # D(x) = <w, x>, grad_x D = w for every sample
    penalty = r1_penalty(logits, x, gamma=10.0, scale=4.0)
    expected = 4.0 * 10.0 / 2 * w.pow(2).sum()
    assert torch.allclose(penalty, expected)
    penalty.backward()  # create_graph: d/dw [scale * gamma/2 * |w|^2] = scale * gamma * w
    assert w.grad is not None
    assert torch.allclose(w.grad, 4.0 * 10.0 * w.detach())


def test_r1_of_quadratic_discriminator_averages_over_batch() -> None:
    x = torch.stack([torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 2.0)])
    x.requires_grad_(True)
    logits = 0.5 * x.pow(2).flatten(1).sum(dim=1)  # grad = x: |grad|^2 = 4 and 16
    assert r1_penalty(logits, x, gamma=1.0).item() == pytest.approx(0.5 * (4 + 16) / 2)


def _has_grad(p: torch.Tensor) -> bool:
    # Input gradients of a conv + LeakyReLU net depend on the conv weights only (biases just
    # move the piecewise-linear regions), so penalties train the weights.
    return p.grad is not None and bool(p.grad.abs().sum() > 0)


def test_r1_requires_grad_on_images_and_accepts_multiscale() -> None:
    d = MultiscaleDiscriminator(3, ndf=4, n_layers=1, norm_layer="none", num_d=2)
    x = torch.randn(2, 3, 16, 16)
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(d(x), x)
    x.requires_grad_(True)
    penalty = r1_penalty(d(x), x)
    assert penalty.item() > 0
    penalty.backward()
    assert all(_has_grad(p) for name, p in d.named_parameters() if name.endswith("weight"))


def test_gradient_penalty_of_linear_critic() -> None:
    w = torch.zeros(1, 2, 2)
    w[0, 0, 0], w[0, 1, 1] = 2.0, math.sqrt(5.0)  # |w| = 3

    def critic(x: torch.Tensor) -> torch.Tensor:
        return (x * w).flatten(1).sum(dim=1)

    real, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx((3.0 - 1.0) ** 2)


def test_gradient_penalty_interpolates_between_real_and_fake() -> None:
    def critic(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).flatten(1).sum(dim=1)  # grad = x_hat

    real, fake = torch.full((2, 1, 2, 2), 2.0), torch.zeros(2, 1, 2, 2)
    # x_hat = 0.5 and 1.0 everywhere: norms sqrt(4 * 0.25) = 1 and sqrt(4) = 2
    gp = gradient_penalty(critic, real, fake, alpha=t(0.25, 0.5))
    assert gp.item() == pytest.approx((0.0 + 1.0) / 2)


def test_gradient_penalty_trains_critic_not_generator() -> None:
    torch.manual_seed(0)
    d = MultiscaleDiscriminator(3, ndf=4, n_layers=1, norm_layer="none", num_d=2)
    real = torch.randn(2, 3, 16, 16)
    fake = torch.randn(2, 3, 16, 16, requires_grad=True)
    gp = gradient_penalty(d, real, fake * 1.0)
    gp.backward()
    assert fake.grad is None
    assert all(_has_grad(p) for name, p in d.named_parameters() if name.endswith("weight"))


# --------------------------------------------------------------------------- feature matching


def _features(values: list[list[float]], logits: float = 0.0) -> list[list[torch.Tensor]]:
    return [
        [torch.full((2, 3, 4, 4), v) for v in scale] + [torch.full((2, 1, 2, 2), logits)]
        for scale in values
    ]


def test_feature_matching_pix2pixhd_weights() -> None:
    fake = _features([[1.0, 2.0], [3.0, 5.0]], logits=100.0)
    real = _features([[0.0, 0.0], [0.0, 0.0]])
    # w_scale = 1/2, w_layer = 4/2: (1 + 2 + 3 + 5) * 0.5 * 2; logits are not matched
    assert feature_matching_loss(fake, real).item() == pytest.approx(11.0)


def test_feature_matching_custom_weights_and_single_scale() -> None:
    fake = _features([[1.0, 2.0], [3.0, 5.0]])
    real = _features([[0.0, 0.0], [0.0, 0.0]])
    got = feature_matching_loss(fake, real, layer_weights=[1.0, 10.0], scale_weights=[1.0, 0.0])
    assert got.item() == pytest.approx(1.0 + 20.0)
    assert feature_matching_loss(fake[1], real[1]).item() == pytest.approx(4 / 2 * (3 + 5))
    with pytest.raises(ValueError, match="expected 2 weights"):
        feature_matching_loss(fake, real, layer_weights=[1.0])


def test_weak_feature_matching_drops_first_layer() -> None:
    # SimSwap's discriminator: five feature levels before the logits, two scales.
    fake = _features([[100.0, 1.0, 2.0, 3.0, 4.0], [100.0, 1.0, 1.0, 1.0, 1.0]])
    real = _features([[0.0] * 5, [0.0] * 5])
    # levels 1..4: w_layer = 4/4, w_scale = 1/2 -> (10 + 4) / 2
    assert weak_feature_matching_loss(fake, real).item() == pytest.approx(7.0)
    full = feature_matching_loss(fake, real).item()  # 4/5 * 1/2 * (110 + 104)
    assert full == pytest.approx(0.4 * 214.0)
    assert weak_feature_matching_loss(fake, real, start_layer=0).item() == pytest.approx(full)
    with pytest.raises(ValueError, match="selects 0"):
        weak_feature_matching_loss(fake, real, start_layer=5)


def test_feature_matching_detaches_real_and_is_zero_for_equal_inputs() -> None:
    torch.manual_seed(0)
    d = MultiscaleDiscriminator(
        3, ndf=4, n_layers=2, norm_layer="none", num_d=2, get_interm_feat=True
    )
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    y = torch.randn(2, 3, 32, 32, requires_grad=True)
    assert feature_matching_loss(d(x), d(x)).item() == 0.0
    loss = feature_matching_loss(d(y), d(x))
    assert loss.item() > 0
    loss.backward()
    assert x.grad is None and y.grad is not None and y.grad.abs().sum() > 0


# --------------------------------------------------------------------------- identity


def test_identity_loss_cosine_cases() -> None:
    a = t(1.0, 0.0, 0.0).expand(2, 3)
    assert identity_loss(a, 5.0 * a).item() == pytest.approx(0.0, abs=1e-6)
    assert identity_loss(a, t(0.0, 2.0, 0.0).expand(2, 3)).item() == pytest.approx(1.0)
    assert identity_loss(a, -a).item() == pytest.approx(2.0)
    batch = torch.stack([t(1.0, 0.0), t(0.0, 1.0)])
    assert identity_loss(batch, t(1.0, 0.0).expand(2, 2)).item() == pytest.approx(0.5)


def test_identity_contrastive_loss_hand_computed() -> None:
    e1, e2 = t(1.0, 0.0), t(0.0, 1.0)
    src, tgt = e1.unsqueeze(0), e2.unsqueeze(0)  # cos(s, t) = 0

    def icl(swap: torch.Tensor) -> float:
        return identity_contrastive_loss(swap.unsqueeze(0), src, tgt).item()

    assert icl(e1) == pytest.approx(0.0, abs=1e-6)
    assert icl(e2) == pytest.approx(1.0 + 1.0)  # far from source, as close to target as 1
    mid = (e1 + e2) / math.sqrt(2)  # cos to both = 1/sqrt2
    assert icl(mid) == pytest.approx(1 - 1 / math.sqrt(2) + 0.5)


def test_identity_contrastive_negative_targets_source_target_similarity() -> None:
    src = t(1.0, 0.0, 0.0).unsqueeze(0)
    tgt = t(0.5, math.sqrt(3) / 2, 0.0).unsqueeze(0)  # cos(s, t) = 0.5
    # a swap orthogonal to the target is penalised by (0 - 0.5)^2 beyond its positive term
    swap = t(math.sqrt(3) / 2, -0.5, 0.0).unsqueeze(0)  # cos(y, s) = sqrt3/2, cos(y, t) = 0
    expected = (1 - math.sqrt(3) / 2) + 0.25
    assert identity_contrastive_loss(swap, src, tgt).item() == pytest.approx(expected)
    assert identity_contrastive_loss(src, src, tgt).item() == pytest.approx(0.0, abs=1e-6)


def test_identity_contrastive_loss_prefers_aligned_pairs() -> None:
    torch.manual_seed(0)
    src, tgt = torch.randn(8, 32), torch.randn(8, 32)
    swap = (src + 0.1 * torch.randn(8, 32)).requires_grad_(True)
    aligned = identity_contrastive_loss(swap, src, tgt)
    shuffled = identity_contrastive_loss(swap, src[torch.roll(torch.arange(8), 1)], tgt)
    assert aligned.item() < shuffled.item()
    aligned.backward()
    assert swap.grad is not None and swap.grad.abs().sum() > 0


def test_info_nce_hand_computed() -> None:
    keys = torch.stack([t(1.0, 0.0), t(0.0, 3.0)])
    query = t(2.0, 0.0).unsqueeze(0)  # normalised: cos 1 with key 0, 0 with key 1
    to_first = info_nce_loss(query, keys, torch.tensor([0]), temperature=0.5)
    to_second = info_nce_loss(query, keys, torch.tensor([1]), temperature=0.5)
    assert to_first.item() == pytest.approx(math.log1p(math.exp(-2.0)))
    assert to_second.item() == pytest.approx(math.log1p(math.exp(2.0)))


def test_info_nce_prefers_aligned_keys() -> None:
    torch.manual_seed(0)
    keys = torch.randn(16, 32)
    query = keys[:4] + 0.05 * torch.randn(4, 32)
    aligned = info_nce_loss(query, keys, torch.arange(4))
    shuffled = info_nce_loss(query, keys, torch.tensor([1, 2, 3, 0]))
    assert aligned.item() < 0.1 < shuffled.item()


def test_identity_key_bank_update_and_loss() -> None:
    torch.manual_seed(0)
    bank = IdentityKeyBank(num_identities=10, dim=8, temperature=0.07)
    assert set(bank.state_dict()) == {"keys"}
    assert torch.allclose(bank.keys.norm(dim=1), torch.ones(10))
    before = bank.keys.clone()
    labels = torch.tensor([3, 7])
    momentum_codes = torch.randn(2, 8) * 4
    bank.update(labels, momentum_codes)
    assert torch.allclose(bank.keys[labels], F.normalize(momentum_codes, dim=1))
    untouched = torch.ones(10, dtype=torch.bool)
    untouched[labels] = False
    assert torch.equal(bank.keys[untouched], before[untouched])

    query = (momentum_codes + 0.1 * torch.randn(2, 8)).requires_grad_(True)
    loss = bank(query, labels)
    assert torch.allclose(loss, info_nce_loss(query, bank.keys, labels, temperature=0.07))
    assert loss.item() < bank(query, labels.flip(0)).item()
    loss.backward()
    assert query.grad is not None and not bank.keys.requires_grad


# --------------------------------------------------------------------------- reconstruction


def test_masked_reconstruction_only_same_identity_pairs() -> None:
    target = torch.zeros(3, 1, 2, 2)
    fake = torch.stack([torch.full((1, 2, 2), v) for v in (1.0, 5.0, -3.0)]).requires_grad_(True)
    assert masked_reconstruction_loss(fake, target).item() == pytest.approx(3.0)
    every = torch.tensor([True, True, True])
    assert masked_reconstruction_loss(fake, target, every).item() == pytest.approx(3.0)
    some = torch.tensor([True, False, True])
    assert masked_reconstruction_loss(fake, target, some).item() == pytest.approx(2.0)
    none = masked_reconstruction_loss(fake, target, torch.zeros(3, dtype=torch.bool))
    assert none.item() == 0.0 and none.grad_fn is None


def test_losses_are_scalars_with_gradients_to_generator_output() -> None:
    fake = torch.randn(2, 1, 4, 4, requires_grad=True)
    real = torch.randn(2, 1, 4, 4)
    for loss in (
        hinge_g_loss(fake),
        nonsaturating_g_loss(fake),
        lsgan_g_loss([fake, fake]),
        relativistic_g_loss(real, fake),
        relativistic_g_loss(real, fake, average=False),
    ):
        assert loss.dim() == 0
        (grad,) = torch.autograd.grad(loss, fake)
        assert grad.abs().sum() > 0


def test_nn_module_discriminator_output_feeds_every_adversarial_loss() -> None:
    torch.manual_seed(0)
    d: nn.Module = MultiscaleDiscriminator(3, ndf=4, n_layers=2, num_d=2, get_interm_feat=True)
    real_out, fake_out = d(torch.randn(2, 3, 32, 32)), d(torch.randn(2, 3, 32, 32))
    for loss in (
        hinge_d_loss(real_out, fake_out),
        nonsaturating_d_loss(real_out, fake_out),
        lsgan_d_loss(real_out, fake_out),
        relativistic_d_loss(real_out, fake_out),
        relativistic_d_loss(real_out, fake_out, average=False),
    ):
        assert loss.dim() == 0 and torch.isfinite(loss)
