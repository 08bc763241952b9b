"""``reference_noise``: the survey's draw of ``y`` ("paper") against Facke's / ILVR's code
("official"), each reverse step recomputed by hand from the formulas, and the option's way from
the config (``--set``) to the pipeline."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from ilvr_official_layout import images, tiny_config
from zoo_plugin_ilvr.resize import LowPass

from zoo_core import hub, registry
from zoo_core.cli import cli
from zoo_core.cli.options import config_overrides
from zoo_core.factory import load_model

SHAPE = (1, 3, 32, 32)
STEPS = [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]  # tiny_ddpm: "10" of 1000

# (reference_noise, share_noise) -> which draw of the generator is z of step 0 and of step 1. The
# draws come in this order: eps of x_T, then per step the DDPM variance noise and, when y needs
# fresh noise, z. Draw 0 is eps itself: the survey reuses it for every y; Facke's code for the
# first step's y only (its q_noise is popped once); without sharing every y has its own draw.
Z_DRAWS = {
    ("paper", True): (0, 0),
    ("official", True): (0, 3),
    ("paper", False): (2, 4),
    ("official", False): (2, 4),
}


def _level(convention: str, index: int) -> int:
    """The timestep whose alpha_bar noises y at reverse step ``index``: the survey's y_{t-1} is at
    the level of the refined sample; the official q_sample(ref_img, t) at the step's input level."""
    return STEPS[index] if convention == "official" else STEPS[index + 1]


def _draws(seed: int, count: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(SHAPE, generator=generator) for _ in range(count)]


def _run(model, source, target, seed: int = 7, **settings) -> list[tuple]:
    steps: list[tuple] = []
    model.pipeline(target, source, generator=torch.Generator().manual_seed(seed),
                   callback=lambda i, t, proposal, x, y: steps.append((proposal, x, y)), **settings)
    return steps


def _hand_step0(model, src: torch.Tensor, eps: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x_T ~ q(x_T | source) and x'_{T-1} ~ p(x | x_T), DDPM Eq. 6-7 with the clipped x0 and
    the fixed small variance, respaced from t = 999 to 888."""
    ab = model.pipeline.scheduler.alphas_cumprod.double()
    ab_t, ab_prev = ab[999], ab[888]
    beta = 1 - ab_t / ab_prev
    x_t = ab_t.sqrt() * src.double() + (1 - ab_t).sqrt() * eps.double()
    eps_hat = model.unet(x_t.float(), 999).sample.double()
    x0 = ((x_t - (1 - ab_t).sqrt() * eps_hat) / ab_t.sqrt()).clamp(-1, 1)
    mean = ab_prev.sqrt() * beta / (1 - ab_t) * x0 + (1 - beta).sqrt() * (1 - ab_prev) / (1 - ab_t) * x_t
    variance = (1 - ab_prev) / (1 - ab_t) * beta
    return x_t, mean + variance.sqrt() * noise.double()


@pytest.mark.parametrize(("convention", "shared"), list(Z_DRAWS))
def test_each_refinement_step_is_the_sources_formula(tiny_ddpm, convention, shared):
    src, ref = images(1, 32, 1.0), images(1, 32, 2.0)  # [-1, 1)
    steps = _run(tiny_ddpm, (src + 1) / 2, (ref + 1) / 2, reference_noise=convention, share_noise=shared)
    draws = _draws(7, 5)
    ab = tiny_ddpm.pipeline.scheduler.alphas_cumprod.double()
    phi = LowPass(32, 4)
    z0, z1 = (draws[k] for k in Z_DRAWS[convention, shared])

    x_t, proposal0 = _hand_step0(tiny_ddpm, src, draws[0], draws[1])
    torch.testing.assert_close(steps[0][0].double(), proposal0, atol=2e-5, rtol=0)
    for index, z, proposal in ((0, z0, proposal0), (1, z1, steps[1][0].double())):
        a = ab[_level(convention, index)]
        y = a.sqrt() * ref.double() + (1 - a).sqrt() * z.double()
        expected = proposal + phi(y.float()).double() - phi(proposal.float()).double()
        torch.testing.assert_close(steps[index][2].double(), y, atol=2e-5, rtol=0)
        torch.testing.assert_close(steps[index][1].double(), expected, atol=2e-5, rtol=0)
    if (convention, shared) == ("official", True):
        # Facke: y_T and x_T share level and noise, so they differ by the images alone
        torch.testing.assert_close(steps[0][2].double() - x_t, ab[999].sqrt() * (ref - src).double(),
                                   atol=2e-5, rtol=0)


def test_the_conventions_differ_only_in_the_conditioned_y(tiny_ddpm):
    source, target = (images(1, 32, 1.0) + 1) / 2, (images(1, 32, 2.0) + 1) / 2
    paper = _run(tiny_ddpm, source, target, reference_noise="paper")
    official = _run(tiny_ddpm, source, target, reference_noise="official")
    assert torch.equal(paper[0][0], official[0][0])  # the same x_T and DDPM step before the first y
    assert not torch.allclose(paper[0][2], official[0][2], atol=1e-3)
    assert not torch.allclose(paper[-1][1], official[-1][1], atol=1e-3)
    unconditioned = [_run(tiny_ddpm, source, target, reference_noise=c, conditioning_range=9)
                     for c in ("paper", "official")]
    assert all(y is None for *_, y in unconditioned[0])
    assert torch.equal(unconditioned[0][-1][1], unconditioned[1][-1][1])


def test_the_option_reaches_the_pipeline_from_the_config(ilvr_plugin, tmp_path, monkeypatch):
    spec = registry.get_model_spec("ilvr-celebahq-256")
    assert spec.default_config["reference_noise"] == "paper"  # the survey's draw by default
    torch.manual_seed(0)
    model = registry.create_model(spec.name, **tiny_config(spec.default_config, downsample_factor=4,
                                                           conditioning_range=0, reference_noise="official"))
    assert model.config.reference_noise == model.pipeline.config.reference_noise == "official"
    source, target = (images(1, 32, 1.0) + 1) / 2, (images(1, 32, 2.0) + 1) / 2
    run = lambda **kw: model.pipeline(target, source, generator=torch.Generator().manual_seed(3), **kw).images  # noqa: E731
    swapped = model.swap(source, target, generator=torch.Generator().manual_seed(3))
    assert torch.equal(swapped, run(reference_noise="official")) and not torch.equal(swapped, run(reference_noise="paper"))

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = hub.save_pretrained(model, tmp_path / "saved")
    assert json.loads((folder / "model_index.json").read_text())["reference_noise"] == "official"
    assert hub.load(f"local-dir:{folder}").pipeline.config.reference_noise == "official"
    overrides = config_overrides(("reference_noise=paper",))  # what `--set reference_noise=paper` gives
    loaded = load_model(f"local-dir:{folder}", config=overrides).model
    assert loaded.config.reference_noise == loaded.pipeline.config.reference_noise == "paper"


def test_an_unknown_convention_is_one_line(ilvr_plugin, tmp_path):
    from zoo_core.errors import ConfigError

    with pytest.raises(ConfigError, match="reference_noise"):
        registry.create_model("ilvr-celebahq-256", reference_noise="survey")
    result = CliRunner().invoke(cli, ["swap", "--model", "ilvr-celebahq-256", "--random-init",
                                      "--set", "reference_noise=survey", "--source", str(tmp_path / "a.png"),
                                      "--target", str(tmp_path / "b.png"), "--output", str(tmp_path / "c.png")])
    assert result.exit_code == 1 and result.output.startswith("error: ") and "reference_noise" in result.output
    assert "Traceback" not in result.output
