"""A model whose architecture fixes its crop size trains only at that size: any other
``--resolution`` is one line, before anything is built."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from zoo_core import registry
from zoo_core.cli import cli
from zoo_core.errors import ConfigError
from zoo_core.registry import merged_config
from zoo_core.train.engine import Engine, TrainOptions, check_resolution, find_trainer


@pytest.fixture
def plugins():
    import zoo_plugin_cvae_gan
    import zoo_plugin_infoswap
    import zoo_plugin_simswap
    import zoo_plugin_styleface

    for module, name in ((zoo_plugin_simswap, "simswap"), (zoo_plugin_cvae_gan, "cvae-gan"),
                         (zoo_plugin_infoswap, "infoswap"), (zoo_plugin_styleface, "styleface")):
        registry.add_plugin(module, name=name)


def test_cli_refuses_another_resolution_before_building(plugins, tmp_path, monkeypatch):
    from zoo_plugin_infoswap.train import InfoSwapTrainer

    def never(*args, **kwargs):
        raise AssertionError("the trainer was built")

    monkeypatch.setattr(InfoSwapTrainer, "__init__", never)
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--model", "infoswap-512", "--data", str(tmp_path), "--output", str(run),
                                      "--resolution", "64"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("error: infoswap-512 trains only at 512 px") and "--resolution 64" in result.output
    assert not run.exists()


@pytest.mark.parametrize(("model", "overrides", "accepted", "refused"), [
    ("cvae-gan-224", {"image_size": 32}, 32, 64),
    ("styleface-256", {"size": 64}, 64, 128),
    ("infoswap-512", {"identity_input_size": 64}, 256, None),  # None: the variant's resolution
])
def test_resolution_bound_trainers(plugins, tmp_path, model, overrides, accepted, refused):
    options = TrainOptions(model=model, data=tmp_path, output=tmp_path / "run", tracker="none", resolution=refused,
                           model_overrides=overrides)
    with pytest.raises(ConfigError, match=f"{model} trains only at {accepted} px") as caught:
        Engine(options)
    assert ("set --resolution" in str(caught.value)) == (refused is None)
    spec = registry.get_model_spec(model)
    check_resolution(find_trainer(spec), spec, merged_config(spec, overrides), accepted, given=True)


def test_other_trainers_take_any_resolution(plugins):
    spec = registry.get_model_spec("simswap-224")
    for size in (48, 64, 224):
        check_resolution(find_trainer(spec), spec, spec.default_config, size, given=True)
