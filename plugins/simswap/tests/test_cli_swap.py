"""`zoo swap` end to end on real photos with random-init simswap-224 weights, and `zoo info`."""

from __future__ import annotations

from click.testing import CliRunner

from zoo_core.cli import cli


def test_zoo_swap_end_to_end(simswap_plugin, swap_photos, assert_face_swapped, tmp_path):
    source, target = swap_photos
    out = tmp_path / "swap.png"
    result = CliRunner().invoke(cli, ["swap", "--model", "simswap-224", "--random-init", "--seed", "0",
                                      "--source", str(source), "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert_face_swapped(target, out, "simswap-224")


def test_zoo_info_shows_template_encoder_roles_and_licence(simswap_plugin):
    result = CliRunner().invoke(cli, ["info", "simswap-224"])
    assert result.exit_code == 0, result.output
    for expected in ("template: simswap-224", "identity_encoder: simswap-arcface", "license: cc-by-nc-4.0", "zoo convert simswap-224"):
        assert expected in result.output
