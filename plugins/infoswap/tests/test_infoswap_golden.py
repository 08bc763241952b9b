"""Golden checks against the official implementation (GGGHSL/InfoSwap-master at 0484ef5).

The expected numbers were computed once by running the official modules in eval mode on the
weights ``fill`` gives their layouts and on the inputs below: ``IBLayer(24, 8, smooth=True,
kernel_size=1)`` with torch's global generator seeded 5 (the noise of Eq. 4),
``AIIResBlkLambda(8, 4, 6, 512, 3)``, and ``UnetDecoder512`` / ``UnetDecoder1024`` at their
real widths on maps a quarter of the real size. Our modules, loaded through the converter's
key mapping, must match to 1e-5. The whole 512 / 1024 pipelines were compared the same way
at full size (docs/models/infoswap.md gives the differences); that run takes minutes, so it
is not part of the suite.
"""

from __future__ import annotations

import math

import torch
from infoswap_official_layout import fill, hash_uniform
from zoo_plugin_infoswap.aii import IntegrationBlock
from zoo_plugin_infoswap.decoder import UnetDecoder
from zoo_plugin_infoswap.iib import Bottleneck, compress

from zoo_core.hub import skip_weight_init

ATOL = 1e-5

GOLDEN = {
    'iib': {
        'lam': [0.9906904697418213, 0.9878683090209961, 0.9933071732521057, 0.9933071732521057, 0.9910745024681091, 0.9933071732521057, 0.9933071732521057, 0.9933071732521057],
        'z': [0.8664281368255615, -0.26863569021224976, 0.332563579082489, 0.6425560712814331, -0.0, 0.05671432614326477, 0.2519817650318146, 0.6327336430549622],
        'info_mean': 4.445794105529785,
        'z_mean': 0.031374141573905945,
        'lam_mean': 0.9921948313713074,
    },
    'aii_block': {
        'y': [-0.0298173725605011, -0.39184096455574036, -0.7941426038742065, 1.0323028564453125],
        'mean': -0.0540563240647316,
        'std': 0.5500679016113281,
    },
    'decoder512': {
        'attr_mean': [0.08101823180913925, 0.0163644440472126, 0.043335285037755966, 0.06547773629426956, 0.0663285180926323, 0.08047517389059067, 0.06293080002069473, 0.06331324577331543],
        'attr_std': [0.14198920130729675, 0.30721795558929443, 0.37427079677581787, 0.4133254289627075, 0.43489110469818115, 0.34552836418151855, 0.44799527525901794, 0.3042997717857361],
        'lam_mean': [0.0682995393872261, 0.014523502439260483, -0.09985257685184479, 0.06824065744876862, -0.05595817416906357, -0.05142441764473915, -0.004074230324476957, -0.004072725307196379],
        'lam_std': [0.12540611624717712, 0.3646608293056488, 0.4968169331550598, 0.5717478394508362, 0.5491883158683777, 0.5914350152015686, 0.5757169127464294, 0.5366511344909668],
    },
    'decoder1024': {
        'attr_mean': [0.08101823180913925, 0.0163644440472126, 0.043335285037755966, 0.06547773629426956, 0.0663285180926323, 0.08047517389059067, 0.06356590986251831, 0.06910891830921173, 0.06931653618812561],
        'attr_std': [0.14198920130729675, 0.30721795558929443, 0.37427079677581787, 0.4133254289627075, 0.43489110469818115, 0.34552836418151855, 0.4356366693973541, 0.4508296251296997, 0.30708080530166626],
        'lam_mean': [0.0682995393872261, 0.014523502439260483, -0.09985257685184479, 0.06824065744876862, -0.05595817416906357, -0.05142441764473915, -0.004074230324476957, -0.004072725307196379, -0.004072207026183605],
        'lam_std': [0.12540611624717712, 0.3646608293056488, 0.4968169331550598, 0.5717478394508362, 0.5491883158683777, 0.5914350152015686, 0.5757169127464294, 0.5366511344909668, 0.5312809348106384],
    },
}


def t(shape: tuple[int, ...], seed: float, scale: float = 1.0) -> torch.Tensor:
    return (hash_uniform(math.prod(shape), seed).view(shape) * scale).float()


def layout(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def close(actual: torch.Tensor | float | list, expected: float | list) -> None:
    torch.testing.assert_close(torch.as_tensor(actual), torch.tensor(expected), atol=ATOL, rtol=0)


def test_bottleneck_matches_iblayer():
    block = Bottleneck(24, 8, smooth=True, kernel_size=1, init_logit=5.0, logit_bound=5.0).eval()
    block.load_state_dict(fill(layout(block), 3))
    r = t((2, 8, 6, 6), 1.1)
    readout = torch.cat([t((2, 8, 6, 6), 1.2), torch.nn.functional.interpolate(
        t((2, 16, 3, 3), 1.3), size=(6, 6), mode="bilinear", align_corners=True)], dim=1)
    mean, std = t((8, 6, 6), 1.4, 0.2), t((8, 6, 6), 1.5, 0.3).abs() + 0.5
    active = (t((8, 6, 6), 1.6) > -0.8).float()
    expected = GOLDEN["iib"]
    with torch.no_grad():
        lam = block.controller(readout)
        z, info = compress(r, lam, mean, std, active, torch.Generator().manual_seed(5))
    close(lam[0, :, 2, 3], expected["lam"])
    close(z[1, :, 4, 1], expected["z"])
    close(info.mean(), expected["info_mean"])
    close(z.mean(), expected["z_mean"])
    close(lam.mean(), expected["lam_mean"])


def test_integration_block_matches_aiiresblk():
    block = IntegrationBlock(8, 4, 6, 3).eval()
    block.load_state_dict(fill(layout(block), 4))
    with torch.no_grad():
        y = block(t((2, 8, 5, 5), 2.1), t((2, 6, 5, 5), 2.2), t((2, 512), 2.3), t((2, 3, 5, 5), 2.4))
    expected = GOLDEN["aii_block"]
    close(y[1, :, 3, 2], expected["y"])
    close(y.mean(), expected["mean"])
    close(y.std(), expected["std"])


def decoder_inputs(seed: float, first: tuple[int, ...]) -> list[torch.Tensor]:
    shapes = [first, (2, 64, 16, 16), (2, 64, 16, 16), (2, 64, 16, 16), (2, 128, 8, 8), (2, 128, 8, 8),
              (2, 128, 8, 8), (2, 128, 8, 8), (2, 256, 4, 4), (2, 256, 4, 4)]
    return [t(s, seed + k * 0.1) for k, s in enumerate(shapes)]


def test_decoders_match_unetdecoder512_and_1024():
    lambdas = [x.abs() for x in decoder_inputs(4.0, (2, 64, 32, 32))]
    for name, high_res in (("decoder512", False), ("decoder1024", True)):
        with skip_weight_init():  # every parameter is overwritten below
            decoder = UnetDecoder(1024, high_res).eval()
        decoder.load_state_dict(fill(layout(decoder), 5))
        with torch.no_grad():
            if high_res:
                attrs = decoder.features(decoder_inputs(3.0, (2, 64, 32, 32)), image=t((2, 3, 256, 256), 3.9))
            else:
                attrs = decoder.features(decoder_inputs(3.0, (2, 3, 128, 128)))
            lams = decoder.controllers(lambdas)
        expected = GOLDEN[name]
        close([a.mean() for a in attrs], expected["attr_mean"])
        close([a.std() for a in attrs], expected["attr_std"])
        close([a.mean() for a in lams], expected["lam_mean"])
        close([a.std() for a in lams], expected["lam_std"])
