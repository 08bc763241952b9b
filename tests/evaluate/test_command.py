"""``zoo evaluate`` through click, wired as cli.py wires it (a ZooGroup), with the example
plugin's tiny random-init model on a few real photos; and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from zoo_core import registry
from zoo_core.cli.evaluate import evaluate_command
from zoo_core.cli.group import ZooGroup
from zoo_core.errors import ZooError
from zoo_core.hookspecs import hookimpl
from zoo_core.specs import ComponentSpec, ModelSpec


@click.group(cls=ZooGroup)
def zoo() -> None:
    """The zoo group, as zoo_core.cli builds it."""


zoo.add_command(evaluate_command)


def run(*args: str):
    return CliRunner().invoke(zoo, ["evaluate", *args])


class SecondExample:
    """An in-process plugin: a second tiny variant, so two models can be compared."""

    @hookimpl
    def register_models(self, register):
        from zoo_plugin_example import EXAMPLE_CONFIG

        register(ModelSpec(name="example-64.b", family="example", resolution=64, template="ffhq",
                           builder="zoo_plugin_example.model:build", default_config=EXAMPLE_CONFIG))

    @hookimpl
    def register_components(self, register):
        register(ComponentSpec(name="arcface-as-recognizer", kind="recognizer", data={"identity_encoder": "simswap-arcface"},
                               builder="zoo_core.faces.recognize:build_dlib_recognizer", default_config={"jitter": 0}))


@pytest.fixture
def second_example(example_plugin):
    registry.add_plugin(SecondExample(), name="second", distribution="zoo-test-second")


def test_data_run_with_the_example_model(example_plugin, eval_data, tmp_path):
    result = run("--model", "example-64", "--random-init", "--data", str(eval_data), "--num-pairs", "3",
                 "--output", str(tmp_path / "out"), "--metric-option", "latency.pipeline_photos=1", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "warning: random weights" in result.stderr
    assert "evaluated 3 pairs (0 skipped; 0 photos without a face)" in result.stdout
    assert "| example-64 |" in result.stdout
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    [model] = data["models"]
    assert model["label"] == "example-64" and model["weights"] == "random-init"
    assert data["setup"]["pairs_from"] == f"--data {eval_data.resolve()}" and data["setup"]["seed"] == 0
    metrics = model["metrics"]
    assert set(metrics) == {"id-similarity", "id-discriminability", "id-retrieval", "identity-mfim", "reconstruction",
                            "r-id", "deid-tar", "latency", "pose-pnp"}
    assert not metrics["r-id"]["applicable"] and not metrics["deid-tar"]["applicable"]
    assert 0 <= metrics["id-retrieval"]["values"]["top1_source"] <= 100
    assert metrics["reconstruction"]["values"]["self"]["l1"]["mean"] > 0.01  # random weights do not reconstruct
    assert metrics["latency"]["values"]["pipeline_ms"]["n"] == 1
    for name in ("report.md", "similarities.png", "discriminability.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_pairs_csv_two_models_and_a_photo_without_a_face(second_example, faces_dir, tmp_path):
    Image.fromarray(np.full((200, 160, 3), 128, dtype=np.uint8)).save(tmp_path / "wall.jpg")
    deepface = faces_dir / "deepface"
    (tmp_path / "pairs.csv").write_text(
        "source,target,source_id,target_id\n"
        f"{deepface}/id00/img1.jpg,{deepface}/id01/img3.jpg,id00,id01\n"
        f"{deepface}/id01/img3.jpg,{deepface}/id02/img8.jpg,id01,id02\n"
        f"wall.jpg,{deepface}/id00/img1.jpg,wall,id00\n")
    result = run("--model", "example-64", "--model", "example-64.b", "--random-init", "--pairs",
                 str(tmp_path / "pairs.csv"), "--metrics", "id-similarity,id-retrieval", "--output",
                 str(tmp_path / "out"), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "evaluated 2 pairs (1 skipped; 1 photos without a face)" in result.stdout
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["setup"]["photos_without_face"] == ["wall.jpg"] and data["setup"]["pairs_skipped"] == 1
    assert [m["label"] for m in data["models"]] == ["example-64", "example-64.b"]
    assert data["setup"]["gallery"] == 3  # the labelled photos with a face
    rows = [line for line in (tmp_path / "out" / "report.md").read_text().splitlines()
            if line.startswith("| example-64") and "random-init" not in line]
    assert len(rows) == 2  # one comparison table, one row per model


def test_errors_are_one_line(example_plugin, eval_data, tmp_path):
    (tmp_path / "empty.csv").write_text("source,target\n")
    empty = run("--model", "example-64", "--random-init", "--pairs", str(tmp_path / "empty.csv"), "-o", str(tmp_path / "o"))
    assert empty.exit_code == 1 and empty.stderr.startswith("error: ") and "no pairs" in empty.stderr
    unknown = run("--model", "example-64", "--random-init", "--data", str(eval_data), "--metrics", "id-similarity,nope",
                  "-o", str(tmp_path / "o"))
    assert unknown.exit_code == 1 and "unknown metric(s) 'nope'" in unknown.stderr
    option = run("--model", "example-64", "--random-init", "--data", str(eval_data), "--metric-option",
                 "latency.nope=1", "-o", str(tmp_path / "o"))
    assert option.exit_code == 1 and "metric 'latency': bad options ['nope']" in option.stderr
    detector = run("--model", "example-64", "--random-init", "--data", str(eval_data), "--recognizer", "dlib-hog",
                   "-o", str(tmp_path / "o"))
    assert detector.exit_code == 1 and "component 'dlib-hog' is a detector, not a recognizer" in detector.stderr
    assert not (tmp_path / "o").exists()  # nothing written on failure


@pytest.mark.parametrize("args", [
    ("--pairs", "p.csv", "--data", "."),
    ("--pairs", "p.csv", "--num-pairs", "3"),
    ("--data", ".", "--metric-option", "fid"),
])
def test_usage_errors_exit_2(example_plugin, args, tmp_path):
    result = run("--model", "example-64", *args, "-o", str(tmp_path / "o"))
    assert result.exit_code == 2


@pytest.mark.parametrize(("option", "value"), [
    ("--num-pairs", "0"), ("--num-pairs", "-5"), ("--seed", "-1"), ("--device", "gpu"), ("--device", "cuda:x"),
])
def test_out_of_range_options_exit_2(example_plugin, tmp_path, option, value):
    result = run("--model", "example-64", "--random-init", "--data", str(tmp_path), option, value,
                 "-o", str(tmp_path / "o"))
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output, result.output


def test_unavailable_device_and_binary_pairs_are_one_line(example_plugin, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)
    cuda = run("--model", "example-64", "--random-init", "--data", str(tmp_path), "--device", "cuda",
               "-o", str(tmp_path / "o"))
    assert cuda.exit_code == 1 and cuda.stderr.count("\n") == 1
    assert cuda.stderr.startswith("error: --device cuda: CUDA is not available in this torch build")
    (tmp_path / "pairs.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    binary = run("--model", "example-64", "--random-init", "--pairs", str(tmp_path / "pairs.csv"), "-o", str(tmp_path / "o"))
    assert binary.exit_code == 1 and binary.stderr.count("\n") == 1
    assert binary.stderr.startswith(f"error: {tmp_path / 'pairs.csv'}: not a UTF-8 text CSV")
    assert not (tmp_path / "o").exists()


def test_report_folder_under_a_file_is_refused_before_any_work(example_plugin, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = run("--model", "example-64", "--random-init", "--data", str(tmp_path), "-o", str(tmp_path / "file" / "o"))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'file' / 'o'}: cannot write the report there")


def test_refuses_the_identity_encoder_as_recognizer(second_example, tmp_path):
    import zoo_plugin_simswap

    registry.add_plugin(zoo_plugin_simswap, name="simswap", distribution="zoo-plugin-simswap")
    (tmp_path / "p.csv").write_text("source,target\n")
    for recognizer in ("simswap-arcface", "arcface-as-recognizer"):
        result = run("--model", "simswap-224", "--random-init", "--recognizer", recognizer, "--pairs",
                     str(tmp_path / "p.csv"), "-o", str(tmp_path / "o"))
        assert result.exit_code == 1
        assert (f"error: recognizer '{recognizer}' is the identity encoder 'simswap-arcface' that simswap-224 "
                "was trained with") in result.stderr


def test_api_refuses_the_identity_encoder_as_recognizer(fake_model):
    from zoo_core.evaluate.engine import Evaluator
    from zoo_core.evaluate.pairs import Pair, PairSet

    model = fake_model("source", identity_encoder="dlib-resnet")
    with pytest.raises(ZooError, match="recognizer 'dlib-resnet' is the identity encoder 'dlib-resnet'"):
        Evaluator(progress=False).evaluate([model], PairSet((Pair(__file__, __file__),)))  # refused before reading


def test_api_refuses_an_unavailable_device(monkeypatch):
    from zoo_core.evaluate.engine import Evaluator

    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)
    with pytest.raises(ZooError, match="--device cuda:1: CUDA is not available in this torch build"):
        Evaluator(progress=False, device="cuda:1")


def test_fid_without_its_requirements_is_one_clear_error(example_plugin, eval_data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    result = run("--model", "example-64", "--random-init", "--data", str(eval_data), "--metrics", "fid",
                 "-o", str(tmp_path / "o"))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: fid needs torch-fidelity") and "weights-inception-2015-12-05" in result.stderr


def test_the_command_module_stays_light():
    code = ("import sys, zoo_core.cli.evaluate, zoo_core.default_plugins.core\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'numpy', 'cv2', 'dlib'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("metric", "hint"), [
    ("pose-styleface", "zoo convert hopenet model=hopenet_robust_alpha1.pkl --output DIR"),
    ("pose-mfim", "zoo convert deca-flame-encoder model=deca_model.tar --output DIR"),
    ("pose-infoswap", "zoo convert deca-flame-encoder model=deca_model.tar --output DIR"),
    ("expression-infoswap", "zoo convert deca-flame-encoder model=deca_model.tar --output DIR"),
])
def test_estimator_metrics_without_weights_are_one_line(example_plugin, eval_data, tmp_path, metric, hint):
    result = run("--model", "example-64", "--random-init", "--data", str(eval_data), "--metrics", metric,
                 "-o", str(tmp_path / "o"))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith(f"error: {metric} needs the weights of ") and hint in result.stderr
    assert f"--metric-option {metric}.weights=DIR" in result.stderr and not (tmp_path / "o").exists()
