"""Registry and in-process plugin registration (the way llm's tests register plugins)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from zoo_core import registry
from zoo_core.cli import cli
from zoo_core.errors import PluginError, UnknownModelError, ZooError
from zoo_core.hookspecs import hookimpl
from zoo_core.specs import ComponentSpec, ConverterSpec, MetricSpec, ModelSpec, RoleSpec, TrainerSpec


def model(name: str, **fields) -> ModelSpec:
    family, _, res = name.rpartition("-")
    res = res.split(".")[0]
    base = {"name": name, "family": family, "resolution": int(res), "builder": "zoo_plugin_example.model:build", "template": "ffhq"}
    return ModelSpec(**{**base, **fields})


class ManyModels:
    @hookimpl
    def register_models(self, register):
        for name in ["toy-1024", "toy-64", "toy-256", "other-64", "toy-64.ema"]:
            register(model(name, default_config={"channels": 16, "identity_dim": 32, "resolution": 64}))
        register(model("deid-64", capabilities=frozenset({"swap", "deidentify"})))

    @hookimpl
    def register_components(self, register):
        register(ComponentSpec(name="toy-encoder", kind="identity_encoder", builder="zoo_plugin_example.model:build"))
        register(ComponentSpec(name="toy-template", kind="template", data={"points": [[0.3, 0.4]]}))

    @hookimpl
    def register_trainers(self, register):
        register(TrainerSpec(name="toy", trainer="pkg.train:ToyTrainer"))

    @hookimpl
    def register_metrics(self, register):
        register(MetricSpec(name="toy-metric", builder="pkg.metrics:build", higher_is_better=True))


@pytest.fixture
def many():
    registry.add_plugin(ManyModels(), name="many", distribution="zoo-test-many")
    yield
    registry.remove_plugin("many")


def test_list_models_natural_sort_and_filters(many):
    assert registry.list_models("toy-*") == ["toy-64", "toy-64.ema", "toy-256", "toy-1024"]
    assert registry.list_models(["toy-6*", "other-*"]) == ["other-64", "toy-64", "toy-64.ema"]
    assert registry.list_models("toy-*", exclude_filters="*.ema") == ["toy-64", "toy-256", "toy-1024"]
    assert registry.list_models(capability="deidentify") == ["deid-64"]
    assert registry.list_models(plugin="zoo-test-many")[:2] == ["deid-64", "other-64"]
    assert registry.list_models(plugin="nobody") == []
    assert registry.list_models(pretrained=True) == []


def test_specs_record_their_distribution(many):
    assert registry.get_model_spec("toy-64").plugin == "zoo-test-many"
    assert registry.get_component_spec("toy-encoder").plugin == "zoo-test-many"
    assert registry.list_components(kind="template") == ["arcface-112", "ffhq", "infoswap-512", "simswap-224", "toy-template"]
    assert registry.get_component_spec("ffhq").plugin == "zoo-core"
    assert registry.get_registry().trainers["toy"].plugin == "zoo-test-many"
    assert registry.get_registry().metrics["toy-metric"].higher_is_better


def test_unknown_names_are_clear(many):
    with pytest.raises(UnknownModelError, match="unknown model 'toy-65'.*toy-64"):
        registry.get_model_spec("toy-65")
    assert not registry.is_model("toy-65") and registry.is_model("toy-64")
    with pytest.raises(ZooError, match="data only"):
        registry.create_component("toy-template")


def test_in_process_plugin_appears_in_cli(example_plugin):
    runner = CliRunner()
    listed = runner.invoke(cli, ["list"])
    assert listed.exit_code == 0 and "example-64" in listed.output and "zoo-plugin-example" in listed.output
    info = runner.invoke(cli, ["info", "example-64"])
    assert info.exit_code == 0
    assert "zoo convert example-64 generator=FILE identity=FILE --output DIR" in info.output
    plugins = runner.invoke(cli, ["plugins"])
    assert "zoo-plugin-example" in plugins.output and "register_commands,register_converters,register_models" in plugins.output


def test_create_model_applies_overrides_and_checks_keys(example_plugin):
    m = registry.create_model("example-64", channels=8)
    assert m.config.channels == 8 and m.spec.name == "example-64"
    assert m.block.conv.weight.shape[0] == 8
    with pytest.raises(ZooError, match=r"unknown config keys \['chanels'\]"):
        registry.create_model("example-64", chanels=8)


class SameNameElsewhere:
    @hookimpl
    def register_models(self, register):
        register(model("example-64"))
        register(model("fine-64"))


def test_same_model_name_from_two_distributions(example_plugin):
    registry.add_plugin(SameNameElsewhere(), name="elsewhere", distribution="zoo-test-elsewhere")
    with pytest.raises(PluginError, match="'zoo-plugin-example' and 'zoo-test-elsewhere'"):
        registry.get_model_spec("example-64")
    assert registry.list_models() == ["fine-64"]  # the rest still works
    assert any("example-64" in e for e in registry.get_registry().errors)


def test_strict_mode_raises_on_conflicts(example_plugin, monkeypatch):
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    registry.add_plugin(SameNameElsewhere(), name="elsewhere", distribution="zoo-test-elsewhere")
    with pytest.raises(PluginError, match="registered by both"):
        registry.get_registry()


class Misspelt:
    @hookimpl
    def register_model(self, register):  # not a hook: register_models
        raise AssertionError


def test_misspelt_hook_is_reported_not_ignored():
    registry.add_plugin(Misspelt(), name="misspelt")
    [problem] = registry.get_plugins().problems
    assert "register_model" in problem.error and problem.name == "misspelt"
    assert registry.get_plugins().manager.get_plugin("misspelt") is None


class RaisingHook:
    @hookimpl
    def register_models(self, register):
        raise RuntimeError("boom")


def test_hook_that_raises_is_reported(example_plugin):
    registry.add_plugin(RaisingHook(), name="raising", distribution="zoo-test-raising")
    assert registry.list_models() == ["example-64"]
    assert any("zoo-test-raising" in e and "boom" in e for e in registry.get_registry().errors)


class WrongType:
    @hookimpl
    def register_models(self, register):
        register({"name": "dict-64"})


def test_registering_the_wrong_type_is_reported():
    registry.add_plugin(WrongType(), name="wrong", distribution="zoo-test-wrong")
    assert any("expected ModelSpec" in e for e in registry.get_registry().errors)


class MissingCapability:
    @hookimpl
    def register_models(self, register):
        register(model("nocap-64", capabilities=frozenset({"swap", "deidentify"}),
                       default_config={"channels": 4, "identity_dim": 8, "resolution": 64}))


def test_builder_must_provide_declared_capabilities(example_plugin):
    registry.add_plugin(MissingCapability(), name="nocap")
    with pytest.raises(PluginError, match=r"lacks the declared capabilities \['deidentify'\]"):
        registry.create_model("nocap-64")


def test_builder_import_errors_name_the_model():
    class Bad:
        @hookimpl
        def register_models(self, register):
            register(model("bad-32", builder="zoo_no_such_module:build"))

    registry.add_plugin(Bad(), name="bad")
    with pytest.raises(PluginError, match="cannot import 'zoo_no_such_module:build' of model 'bad-32'"):
        registry.create_model("bad-32")


def test_public_api_is_lazy():
    import subprocess
    import sys

    code = ("import sys, zoo_core; assert 'torch' not in sys.modules; "
            "zoo_core.list_models(); assert 'torch' not in sys.modules; "
            "assert zoo_core.FaceSwapper.__name__ == 'FaceSwapper'; print(sorted(dir(zoo_core))[:3])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"ZOO_LOAD_PLUGINS": "", "PATH": ""})
    assert result.returncode == 0, result.stderr


class OrphanConverter:
    @hookimpl
    def register_converters(self, register):
        register(ConverterSpec(name="orphan", target="nobody-64", function="pkg.convert:run",
                               roles={"generator": RoleSpec(description="G")}))


def test_a_converter_for_an_unregistered_target_is_reported():
    registry.add_plugin(OrphanConverter(), name="orphan", distribution="zoo-test-orphan")
    try:
        assert registry.get_converters("nobody-64") == []
        assert any("'orphan'" in e and "nobody-64" in e for e in registry.get_registry().errors)
    finally:
        registry.remove_plugin("orphan")


def test_plugin_converters_are_found_by_target_with_their_distribution(example_plugin):
    (converter,) = registry.get_converters("example-64")
    assert converter.plugin == "zoo-plugin-example" and set(converter.roles) == {"generator", "identity"}
