"""Golden check against the official implementation.

Weights: ``fill_all`` of Facke's M1/E/M2/D layouts (the released channel widths, 32 px crops,
one ID block) and ``fill`` of the ArcFace with depth 18 at 112 px, mapped through our
converter. Inputs: ``images``. The expected numbers were computed once by running the official
Ailon-Island/Facke code -- ``CVAE.forward`` (``isTrain`` false) over ``networks.Merge_Image(512,
32)``, ``Encoder(4, 512)``, ``Merge_Distribution(512, num_ID_blocks=1)``, ``Decoder(512, 3)`` in
eval mode, and ``utils/IDExtract.IDExtractor`` on the pickled ``ResNet(IRBlock, [2, 2, 2, 2])``,
with the ImageNet normalisation of ``swap.py`` -- on the same weights, inputs and noise:

* ``uniform-seed-0``: Facke's ``torch.rand_like`` after ``torch.manual_seed(0)``; ours with
  ``noise="uniform"`` and ``torch.Generator().manual_seed(0)``;
* ``gaussian-injected``: ``eps = noise(..., uniform=False)`` substituted for ``rand_like``;
  ours with ``eps=eps``;
* ``posterior-mean``: the official code with ``eps = 0``; ours with ``deterministic=True``.

Our forward pass matched it to 6.6e-7 there (and to 4.4e-6 at the full 224 px configuration
with nine blocks and the ResNet-101 ArcFace). A drift in layers, padding, normalisation,
sampling or key mapping fails.
"""

from __future__ import annotations

import pytest
import torch
from cvae_gan_official_layout import (
    fill,
    fill_all,
    images,
    noise,
    official_arcface_layout,
    official_layouts,
)

from zoo_core.hub import load_state_dict_strict, skip_weight_init

ATOL = 1e-5
OVERRIDES = {"image_size": 32, "n_blocks": 1, "identity_depth": 18}
LATENT_SHAPE = (2, 512, 4, 4)

# identity codes of images(2, 64, 1): latent[:, :4]
LATENT = [
    [-0.050483424216508865, 0.011750295758247375, 0.05290976166725159, 0.043425604701042175],
    [-0.04671729728579521, -0.009290200658142567, 0.07058548927307129, 0.02645810693502426],
]
GOLDEN = {
    # case: (fake[0, :, 5, 7], fake[1, :, 20, 11], per-sample mean, per-sample std)
    "uniform-seed-0": (
        [0.7328487038612366, 0.5762958526611328, 0.3209099769592285],
        [0.7025097608566284, 0.39646056294441223, 0.28348666429519653],
        [0.4844849407672882, 0.4741188585758209],
        [0.17713312804698944, 0.1701314002275467],
    ),
    "gaussian-injected": (
        [0.7496724128723145, 0.4175512492656708, 0.2514471411705017],
        [0.8461512327194214, 0.3408765196800232, 0.3209828734397888],
        [0.501181423664093, 0.49368682503700256],
        [0.1758423000574112, 0.1780792623758316],
    ),
    "posterior-mean": (
        [0.6034606695175171, 0.3712765872478485, 0.4077204763889313],
        [0.7343853116035461, 0.3332574665546417, 0.2871204614639282],
        [0.49441584944725037, 0.5062228441238403],
        [0.12721624970436096, 0.1466304510831833],
    ),
}


@pytest.fixture(scope="module")
def golden_model():
    """The model with the official golden weights, built and loaded once (registry-free)."""
    import zoo_plugin_cvae_gan
    from zoo_plugin_cvae_gan.config import CVAEGANConfig
    from zoo_plugin_cvae_gan.convert import convert_official
    from zoo_plugin_cvae_gan.model import CVAEGAN

    specs: list = []
    zoo_plugin_cvae_gan.register_models(specs.append)
    config = CVAEGANConfig(**{**specs[0].default_config, **OVERRIDES})
    weights = fill_all(official_layouts(OVERRIDES["image_size"], OVERRIDES["n_blocks"]), seed=1)
    weights["identity"] = fill(official_arcface_layout(OVERRIDES["identity_depth"]), seed=2)
    with skip_weight_init():  # every parameter is overwritten below
        model = CVAEGAN(specs[0], config)
    load_state_dict_strict(model, convert_official(weights, config), "golden")
    return model.eval()


def run_case(model, case: str, source: torch.Tensor, target: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
    """One golden case; the posterior mean goes through ``swap`` end to end."""
    generator = model.generator
    if case == "uniform-seed-0":
        generator.config = generator.config.model_copy(update={"noise": "uniform"})
        try:
            return generator(target, latent, generator=torch.Generator().manual_seed(0))
        finally:
            generator.config = generator.config.model_copy(update={"noise": "gaussian"})
    if case == "gaussian-injected":
        return generator(target, latent, eps=noise(LATENT_SHAPE, 3, uniform=False))
    return model.swap(source, target, deterministic=True)


@pytest.fixture(scope="module")
def golden_latent(golden_model) -> torch.Tensor:
    """Identity codes of the golden sources, computed once."""
    with torch.no_grad():
        return golden_model.identity(images(2, 64, 1))


def test_identity_matches_the_official_extractor(golden_latent):
    torch.testing.assert_close(golden_latent[:, :4], torch.tensor(LATENT), atol=ATOL, rtol=0)


@pytest.mark.parametrize("case", list(GOLDEN))
def test_matches_the_official_implementation(golden_model, golden_latent, case):
    with torch.no_grad():
        fake = run_case(golden_model, case, images(2, 64, 1), images(2, 32, 2), golden_latent)
    pixel_a, pixel_b, mean, std = GOLDEN[case]
    torch.testing.assert_close(fake[0, :, 5, 7], torch.tensor(pixel_a), atol=ATOL, rtol=0)
    torch.testing.assert_close(fake[1, :, 20, 11], torch.tensor(pixel_b), atol=ATOL, rtol=0)
    torch.testing.assert_close(fake.mean(dim=(1, 2, 3)), torch.tensor(mean), atol=ATOL, rtol=0)
    torch.testing.assert_close(fake.std(dim=(1, 2, 3)), torch.tensor(std), atol=ATOL, rtol=0)
