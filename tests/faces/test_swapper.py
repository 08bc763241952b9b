"""FaceSwapper and ``zoo swap`` on real photos with a tiny random-init model: the face
content is meaningless, the geometry, selection, integrity and provenance are real."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import zoo_core
from zoo_core.cli import cli
from zoo_core.errors import InputError, NoFaceError, ZooError
from zoo_core.faces.io import read_provenance
from zoo_core.faces.swapper import FaceSwapper, Selection


@pytest.fixture
def swapper(example_plugin, detector):
    torch.manual_seed(0)
    return FaceSwapper(zoo_core.create_model("example-64"), detector=detector, seed=1)


def changed_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


def test_swap_image_changes_only_the_face(swapper, astronaut, faces_dir):
    out = swapper.swap_image(faces_dir / "face_recognition/obama/obama.jpg", astronaut)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    changed = changed_mask(out, astronaut)
    x0, y0, x1, y1 = (int(v) for v in swapper.detector.detect(astronaut)[0].box)
    assert changed[y0:y1, x0:x1].mean() > 0.8
    outside = np.ones_like(changed)
    pad = (x1 - x0) // 2
    outside[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = False
    assert not changed[outside].any()


def test_swap_is_deterministic_with_a_seed(swapper, astronaut):
    first = swapper.swap_image(astronaut, astronaut)
    assert np.array_equal(first, swapper.swap_image(astronaut, astronaut))


def test_selection_all_index_and_reference(swapper, faces_dir):
    scene = faces_dir / "face_recognition_scenes/obama_and_biden.jpg"
    source = faces_dir / "face_recognition/alex_lacamoire/img1.jpg"
    image = np.asarray(Image.open(scene).convert("RGB"))
    faces = swapper.detector.detect(image)

    def touched(out):
        return [changed_mask(out, image)[int(f.box[1]):int(f.box[3]), int(f.box[0]):int(f.box[2])].mean() > 0.5 for f in faces]

    assert touched(swapper.swap_image(source, scene)) == [True] + [False] * (len(faces) - 1)
    assert touched(swapper.swap_image(source, scene, Selection(face_index=1)))[:2] == [False, True]
    assert sum(touched(swapper.swap_image(source, scene, Selection(all_faces=True)))) >= 2
    by_biden = touched(swapper.swap_image(source, scene, Selection(reference=faces_dir / "face_recognition/biden/biden.jpg")))
    by_obama = touched(swapper.swap_image(source, scene, Selection(reference=faces_dir / "face_recognition/obama/obama.jpg")))
    assert sum(by_biden) == 1 and sum(by_obama) == 1 and by_biden != by_obama
    with pytest.raises(NoFaceError, match=rf"obama_and_biden.jpg: face index 9 out of range \({len(faces)} faces found"):
        swapper.swap_image(source, scene, Selection(face_index=9))
    with pytest.raises(ZooError, match="at most one"):
        Selection(face_index=0, all_faces=True)


def test_no_face_is_a_clear_error(swapper, tmp_path, astronaut):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    with pytest.raises(NoFaceError, match=f"{blank}: no face found"):
        swapper.swap_image(blank, astronaut)
    with pytest.raises(NoFaceError, match=f"{blank}: no face found"):
        swapper.swap_image(astronaut, blank)


def test_swap_image_file_keeps_mode_and_size_and_writes_provenance(swapper, astronaut, tmp_path):
    rgba = Image.fromarray(astronaut).convert("RGBA")
    rgba.putalpha(200)
    target = tmp_path / "target.png"
    rgba.save(target)
    out = swapper.swap_image_file(target, target, tmp_path / "out.png")
    written = Image.open(out)
    assert written.mode == "RGBA" and written.size == rgba.size
    assert np.all(np.asarray(written)[:, :, 3] == 200)
    data = read_provenance(out)
    assert data["model"] == "example-64" and data["seed"] == 1 and data["synthetic"]


def test_zoo_swap_cli_and_inspect(example_plugin, tmp_path, faces_dir):
    out = tmp_path / "swapped.jpg"
    target = faces_dir / "deepface/id00/img1.jpg"
    result = CliRunner().invoke(cli, ["swap", "--model", "example-64", "--random-init", "--seed", "5",
                                      "--source", str(faces_dir / "face_recognition/biden/biden.jpg"),
                                      "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "random weights" in result.output and Image.open(out).size == Image.open(target).size
    shown = CliRunner().invoke(cli, ["inspect", str(out)])
    assert "model: example-64" in shown.output and "weights: random-init" in shown.output and "seed: 5" in shown.output


def test_zoo_swap_with_saved_weights_records_them(example_plugin, tmp_path, astronaut):
    folder = zoo_core.save_pretrained(zoo_core.create_model("example-64"), tmp_path / "weights")
    source = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(source)
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["swap", "--model", f"local-dir:{folder}", "--source", str(source),
                                      "--target", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    from zoo_core.serialization import sha256_file

    assert read_provenance(out)["weights"] == f"local-dir:{folder} sha256:{sha256_file(folder / 'model.safetensors')}"


def test_failed_swap_writes_nothing(example_plugin, tmp_path, astronaut):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["swap", "--model", "example-64", "--random-init", "--source", str(blank),
                                      "--target", str(blank), "--output", str(out)])
    assert result.exit_code == 1 and f"error: {blank}: no face found" in result.output
    assert not out.exists()


def test_zoo_swap_config_overrides(example_plugin, tmp_path, astronaut):
    source = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(source)
    args = ["swap", "--model", "example-64", "--random-init", "--source", str(source), "--target", str(source)]
    result = CliRunner().invoke(cli, [*args, "--output", str(tmp_path / "a.png"), "--set", "channels=8"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, [*args, "--output", str(tmp_path / "b.png"), "--set", "bogus=1"])
    assert result.exit_code == 1 and "unknown config keys ['bogus']" in result.output
    assert not (tmp_path / "b.png").exists()


# --- outputs that would replace an input, size limits, multi-frame targets, BMP -----------------


@pytest.fixture
def photos(tmp_path, astronaut):
    """Three 256 px copies of the astronaut: source, target and reference."""
    small = Image.fromarray(astronaut).resize((256, 256))
    paths = {name: tmp_path / f"{name}.png" for name in ("source", "target", "reference")}
    for path in paths.values():
        small.save(path)
    return paths


def swap_args(photos, output, *extra):
    return ["swap", "--model", "example-64", "--random-init", "--source", str(photos["source"]),
            "--target", str(photos["target"]), "--output", str(output), *extra]


def spelled(path, how):
    """Another name of ``path``: the same string, a detour through a folder, or a symbolic link."""
    if how == "detour":
        (path.parent / "sub").mkdir(exist_ok=True)
        return path.parent / "sub" / ".." / path.name
    if how == "link":
        link = path.with_name(f"link-{path.name}")
        link.symlink_to(path)
        return link
    return path


@pytest.mark.parametrize("how", ["same", "detour", "link"])
@pytest.mark.parametrize("option", ["--source", "--target", "--reference"])
def test_swap_refuses_to_overwrite_an_input(example_plugin, photos, option, how):
    before = photos[option[2:]].read_bytes()
    output = spelled(photos[option[2:]], how)
    result = CliRunner().invoke(cli, [*swap_args(photos, output), "--reference", str(photos["reference"])])
    assert result.exit_code == 1
    assert result.stderr == (f"error: {output}: this output is the {option} file; choose another output "
                             "or pass --overwrite to replace it\n")
    assert photos[option[2:]].read_bytes() == before


def test_swap_overwrite_replaces_the_target(example_plugin, photos):
    before = photos["target"].read_bytes()
    result = CliRunner().invoke(cli, [*swap_args(photos, photos["target"]), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert photos["target"].read_bytes() != before and read_provenance(photos["target"])["model"] == "example-64"


@pytest.mark.parametrize(("taken", "option"), [("out-1.png", "--target"), ("out-0.png", "--reference"),
                                               ("out.png", None)])
def test_deid_refuses_variant_outputs_that_are_inputs(example_plugin, photos, tmp_path, taken, option):
    photos["target"].rename(tmp_path / taken)
    target = tmp_path / taken if option == "--target" else photos["source"]
    reference = tmp_path / taken if option == "--reference" else photos["reference"]
    args = ["deid", "--model", "example-64", "--random-init", "--target", str(target), "--reference", str(reference),
            "--output", str(tmp_path / "out.png"), "--num", "2"]
    result = CliRunner().invoke(cli, args)
    if option is None:  # out-0.png and out-1.png are free; out.png itself is not written
        assert "this output is" not in result.stderr
    else:
        assert result.stderr.startswith(f"error: {tmp_path / taken}: this output is the {option} file")
    # --overwrite lets it through to the next check (this model cannot de-identify)
    allowed = CliRunner().invoke(cli, [*args, "--overwrite"])
    assert allowed.exit_code == 1 and "no 'deidentify' capability" in allowed.stderr


@pytest.mark.parametrize("option", ["--global", "--local", "--target", "--source-at"])
def test_mix_refuses_to_overwrite_an_input(example_plugin, photos, tmp_path, option):
    extra = tmp_path / "extra.png"
    extra.write_bytes(photos["source"].read_bytes())
    files = {"--global": photos["reference"], "--local": photos["source"], "--target": photos["target"],
             "--source-at": extra}
    args = ["mix", "--model", "example-64", "--random-init", "--global", str(files["--global"]),
            "--local", str(files["--local"]), "--target", str(files["--target"]), "--source-at", f"64={extra}",
            "--output", str(files[option])]
    result = CliRunner().invoke(cli, args)
    named = "--source-at 64" if option == "--source-at" else option
    assert result.exit_code == 1 and f"this output is the {named} file" in result.stderr
    assert result.stderr.count("\n") == 1
    allowed = CliRunner().invoke(cli, [*args, "--overwrite"])
    assert allowed.exit_code == 1 and "cannot mix identities" in allowed.stderr


@pytest.mark.parametrize("big", ["source", "target", "reference"])
def test_max_pixels_applies_to_every_photo(example_plugin, photos, tmp_path, astronaut, big):
    Image.fromarray(astronaut).save(photos[big])  # 512 x 512; the others are 256 x 256
    args = [*swap_args(photos, tmp_path / "out.png"), "--reference", str(photos["reference"])]
    result = CliRunner().invoke(cli, [*args, "--max-pixels", "100000"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (f"error: {photos[big]}: 512x512 is 262,144 pixels, more than the "
                                              "limit of 100,000 (--max-pixels)")
    assert not (tmp_path / "out.png").exists()
    assert CliRunner().invoke(cli, [*args, "--max-pixels", "262144"]).exit_code == 0


def test_mix_reads_every_photo_with_the_limit(example_plugin, photos, detector):
    from zoo_core.cli.faces import mix_photo

    class Mixer:  # the target crop back unchanged: only the reading is under test
        spec = zoo_core.create_model("example-64").spec

        def mix(self, first, second, target):
            return target

    swapper = FaceSwapper(zoo_core.create_model("example-64"), detector=detector, max_pixels=256 * 256 - 1)
    with pytest.raises(InputError, match=rf"{photos['source']}: 256x256 is 65,536 pixels"):
        mix_photo(Mixer(), swapper, photos["source"], photos["target"], photos["target"], 0, [], {})
    swapper.max_pixels = 256 * 256
    out = mix_photo(Mixer(), swapper, photos["source"], photos["reference"], photos["target"], 0, [], {})
    assert out.shape == (256, 256, 3)


def test_multi_frame_target_warns_in_one_line(example_plugin, photos, tmp_path, astronaut):
    frames = [Image.fromarray(np.roll(astronaut, 4 * i, axis=1)).resize((256, 256)).convert("P") for i in range(3)]
    target = tmp_path / "anim.gif"
    frames[0].save(target, save_all=True, append_images=frames[1:])
    photos["target"] = target
    result = CliRunner().invoke(cli, swap_args(photos, tmp_path / "out.png"))
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "frames" in line]
    assert warned == [f"warning: {target}: the image has 3 frames; only the first is used"]
    assert all(line.startswith("warning: ") for line in result.stderr.splitlines())


def test_bmp_output_provenance_for_inspect(example_plugin, photos, tmp_path):
    out = tmp_path / "out.bmp"
    assert CliRunner().invoke(cli, swap_args(photos, out, "--seed", "4")).exit_code == 0
    shown = CliRunner().invoke(cli, ["inspect", str(out)])
    assert shown.exit_code == 0 and {"model: example-64", "seed: 4", "target: target.png"} <= set(shown.stdout.splitlines())
