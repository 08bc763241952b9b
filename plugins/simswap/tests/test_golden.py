"""Golden check against the official implementation.

Weights: ``fill`` of the official layouts (the released channel widths, one ID block, the
ArcFace with depth 18 at 112 px), mapped through our converter. Inputs: ``images``. The
expected numbers were computed once by running the official neuralchen/SimSwap code
(``models/fs_networks*.py`` ``Generator_Adain_Upsample(3, 3, 512, n_blocks=1)`` and
``ResNet(IRBlock, [2, 2, 2, 2])`` in eval mode, with the preprocessing of
``test_wholeimage_swapsingle.py``) on the same weights and inputs; our forward pass matched it
to 4.2e-7 there. A drift in layers, padding, upsampling, normalisation or key mapping fails.
"""

from __future__ import annotations

import pytest
import torch
from simswap_official_layout import fill, images, official_arcface_layout, official_generator_layout

from zoo_core import registry
from zoo_core.hub import load_state_dict_strict, skip_weight_init

ATOL = 1e-5

# identity codes of images(2, 64, 1): latent[:, :4] (the same ArcFace for both resolutions)
LATENT = [
    [-0.050483424216508865, 0.011750295758247375, 0.05290976166725159, 0.043425604701042175],
    [-0.04671729728579521, -0.009290200658142567, 0.07058548927307129, 0.02645810693502426],
]
GOLDEN = {
    # variant: (target size, fake[0, :, 5, 7], fake[1, :, 20, 11], per-sample mean, per-sample std)
    "simswap-224": (
        32,
        [0.4636600613594055, 0.5390642881393433, 0.37487882375717163],
        [0.439520001411438, 0.4836481809616089, 0.3609939217567444],
        [0.43187427520751953, 0.4335355758666992],
        [0.09382136911153793, 0.09123183786869049],
    ),
    "simswap-512": (
        64,
        [0.5657607316970825, 0.38414791226387024, 0.47840362787246704],
        [0.49052947759628296, 0.48116305470466614, 0.49796363711357117],
        [0.44538795948028564, 0.4517492353916168],
        [0.05607663467526436, 0.05077851563692093],
    ),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_matches_the_official_implementation(simswap_plugin, name):
    from zoo_plugin_simswap.convert import convert_official

    kind = name.split("-")[1]
    overrides = {"n_blocks": 1, "identity_depth": 18}
    official = {
        "generator": fill(official_generator_layout(kind, n_blocks=1), seed=1),
        "identity": fill(official_arcface_layout(18), seed=2),
    }
    config = {**registry.get_model_spec(name).default_config, **overrides}
    with skip_weight_init():  # every parameter is overwritten below
        model = registry.create_model(name, **overrides)
    load_state_dict_strict(model, convert_official(official, config), "golden")
    size, pixel_a, pixel_b, mean, std = GOLDEN[name]
    source, target = images(2, 64, 1), images(2, size, 2)
    with torch.no_grad():
        latent = model.eval().identity(source)
        fake = model.swap(source, target)
    torch.testing.assert_close(latent[:, :4], torch.tensor(LATENT), atol=ATOL, rtol=0)
    torch.testing.assert_close(fake[0, :, 5, 7], torch.tensor(pixel_a), atol=ATOL, rtol=0)
    torch.testing.assert_close(fake[1, :, 20, 11], torch.tensor(pixel_b), atol=ATOL, rtol=0)
    torch.testing.assert_close(fake.mean(dim=(1, 2, 3)), torch.tensor(mean), atol=ATOL, rtol=0)
    torch.testing.assert_close(fake.std(dim=(1, 2, 3)), torch.tensor(std), atol=ATOL, rtol=0)
