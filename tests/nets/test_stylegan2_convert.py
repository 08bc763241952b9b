"""StyleGAN2 converters and layouts: official key names and shapes at the real sizes, clear
errors for checkpoints that do not fit, and a snapshot reader that runs no pickled code."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stylegan2_layout import (  # noqa: E402  (the helper module lives next to this file)
    NVIDIA_DIGESTS,
    OFFICIAL_PARAMETERS,
    ROSINALITY_DIGESTS,
    TINY,
    digest,
    fill,
    layout_of,
    nvidia_layout,
    write_ada_snapshot,
)

from zoo_core.errors import WeightsError  # noqa: E402
from zoo_core.hub import skip_weight_init  # noqa: E402
from zoo_core.nets.stylegan2 import (  # noqa: E402
    StyleGAN2Config,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    default_channels,
    make_kernel,
)
from zoo_core.nets.stylegan2_convert import (  # noqa: E402
    nvidia_discriminator,
    nvidia_generator,
    read_stylegan2_ada_pickle,
    rosinality_generator,
)

CONFIG = StyleGAN2Config(**TINY)


def nvidia_state(size: int, channels: dict[int, int], **dims: int) -> tuple[dict, dict]:
    """Official (G, D) state dicts: real FIR filters, other tensors random (finite, as loading checks)."""
    out = []
    g = torch.Generator().manual_seed(size)
    for layout in nvidia_layout(size, channels, **dims):
        out.append({key: make_kernel((1, 3, 3, 1)) if key.endswith("resample_filter")
                    else torch.randn(shape, generator=g) for key, shape in layout.items()})
    return out[0], out[1]


@pytest.mark.real_config
@pytest.mark.parametrize("size", [256, 1024])
def test_real_config_layouts_and_parameter_counts(size: int) -> None:
    config = StyleGAN2Config(size=size)
    with skip_weight_init():  # uninitialised: only names and shapes matter here
        g, d = StyleGAN2Generator(config), StyleGAN2Discriminator(config)
    assert digest(layout_of(g)) == ROSINALITY_DIGESTS["G", size]
    assert digest(layout_of(d)) == ROSINALITY_DIGESTS["D", size]
    assert sum(p.numel() for p in g.parameters()) == OFFICIAL_PARAMETERS["G", size]
    assert sum(p.numel() for p in d.parameters()) == OFFICIAL_PARAMETERS["D", size]
    g_layout, d_layout = nvidia_layout(size, default_channels(2))
    assert digest(g_layout) == NVIDIA_DIGESTS["G", size]
    assert digest(d_layout) == NVIDIA_DIGESTS["D", size]
    # every official key is mapped, onto every one of ours
    g_state, d_state = nvidia_state(size, default_channels(2))
    assert set(nvidia_generator(g_state, config)) == set(layout_of(g))
    assert set(nvidia_discriminator(d_state, config)) == set(layout_of(d))
    assert g.n_latent == {256: 14, 1024: 18}[size]


def test_tiny_layouts_match_the_official_modules() -> None:
    g, d = StyleGAN2Generator(CONFIG), StyleGAN2Discriminator(CONFIG)
    assert digest(layout_of(g)) == ROSINALITY_DIGESTS["G", "tiny"]
    assert digest(layout_of(d)) == ROSINALITY_DIGESTS["D", "tiny"]
    assert sum(p.numel() for p in g.parameters()) == OFFICIAL_PARAMETERS["G", "tiny"]
    g_layout, d_layout = nvidia_layout(32, TINY["channels"], style_dim=32, n_mlp=2)
    assert digest(g_layout) == NVIDIA_DIGESTS["G", "tiny"]
    assert digest(d_layout) == NVIDIA_DIGESTS["D", "tiny"]


def rosinality_state() -> dict[str, torch.Tensor]:
    g = StyleGAN2Generator(CONFIG)
    return {f"g_ema.{k}": v for k, v in {**g.state_dict(), **fill(layout_of(g))}.items()}


def test_rosinality_accepts_bare_generators_and_dict_configs() -> None:
    state = rosinality_state()
    bare = {key.removeprefix("g_ema."): value for key, value in state.items()}
    out = rosinality_generator(bare, dict(TINY))
    assert all(torch.equal(out[k], bare[k]) for k in bare)


def test_rosinality_errors_name_the_problem() -> None:
    state = rosinality_state()
    with pytest.raises(WeightsError, match=r"generator checkpoint has no 'g_ema\.' network.*latent_avg"):
        rosinality_generator({"latent_avg": torch.zeros(32), "d.x": torch.zeros(1)}, CONFIG)
    missing = {k: v for k, v in state.items() if k != "g_ema.convs.3.noise.weight"}
    with pytest.raises(WeightsError, match=r"missing official keys: convs\.3\.noise\.weight"):
        rosinality_generator(missing, CONFIG)
    with pytest.raises(WeightsError, match=r"'style\.1\.weight' has shape \(32, 32\), expected \(512, 512\)"):
        rosinality_generator(state, {**TINY, "style_dim": 512})
    with pytest.raises(WeightsError, match=r"size 16\).*unexpected keys: convs\.4\.conv\.weight"):
        rosinality_generator(state, {**TINY, "size": 16})
    blurred = {**state, "g_ema.convs.0.conv.blur.kernel": make_kernel((1, 2, 1)).new_ones(4, 4)}
    with pytest.raises(WeightsError, match=r"FIR filter 'convs\.0\.conv\.blur\.kernel' does not match blur_kernel"):
        rosinality_generator(blurred, CONFIG)


def test_nvidia_errors_name_the_problem() -> None:
    g_state, d_state = nvidia_state(32, TINY["channels"], style_dim=32, n_mlp=2)
    assert set(nvidia_generator(g_state, CONFIG)) == set(StyleGAN2Generator(CONFIG).state_dict())
    conditional = {**g_state, "mapping.embed.weight": torch.zeros(32, 10), "mapping.embed.bias": torch.zeros(32)}
    with pytest.raises(WeightsError, match=r"conditional \(c_dim > 0\).*unexpected keys: mapping\.embed"):
        nvidia_generator(conditional, CONFIG)
    other_filter = {**d_state, "b32.conv1.resample_filter": make_kernel((1, 1))}
    with pytest.raises(WeightsError, match=r"FIR filter 'b32\.conv1\.resample_filter'"):
        nvidia_discriminator(other_filter, CONFIG)
    with pytest.raises(WeightsError, match=r"no 'G_ema\.' network"):
        nvidia_generator({"D.b4.out.weight": torch.zeros(1, 16)}, CONFIG)
    with pytest.raises(WeightsError, match="architecture 'resnet'"):
        nvidia_discriminator({k: v for k, v in d_state.items() if ".skip." not in k}, CONFIG)


def test_snapshot_reader_reads_tensors_without_running_pickled_code(tmp_path: Path) -> None:
    g_state, _ = nvidia_state(32, TINY["channels"], style_dim=32, n_mlp=2)
    g_state = {**g_state, **fill(nvidia_layout(32, TINY["channels"], style_dim=32, n_mlp=2)[0])}
    path = tmp_path / "snapshot.pkl"
    write_ada_snapshot(path, {"G_ema": g_state})
    state = read_stylegan2_ada_pickle(path)
    assert set(state) == {f"G_ema.{k}" for k in g_state}
    assert all(torch.equal(state[f"G_ema.{k}"], v) for k, v in g_state.items())


class _Marker:
    """Pickles as a call of ``pathlib.Path.touch`` on a marker file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.path,))


def test_snapshot_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="no such file"):
        read_stylegan2_ada_pickle(tmp_path / "absent.pkl")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(WeightsError, match="garbage.pkl: not a readable stylegan2-ada-pytorch pickle"):
        read_stylegan2_ada_pickle(garbage)
    marker = tmp_path / "ran"
    hostile = tmp_path / "hostile.pkl"
    hostile.write_bytes(pickle.dumps({"payload": _Marker(marker), "w": torch.ones(2)}))
    with pytest.raises(WeightsError, match=r"no 'G', 'G_ema' or 'D' network in this pickle \(entries: w\)"):
        read_stylegan2_ada_pickle(hostile)
    assert not marker.exists()


def test_converted_discriminator_loads_strictly() -> None:
    _, d_state = nvidia_state(32, TINY["channels"], style_dim=32, n_mlp=2)
    with skip_weight_init():
        d = StyleGAN2Discriminator(CONFIG)
    d.load_state_dict(nvidia_discriminator(d_state, CONFIG), strict=True)


def test_components_default_to_config_f() -> None:
    from zoo_core.registry import create_component, get_component_spec

    for size in (256, 1024):
        spec = get_component_spec(f"stylegan2-{size}")
        assert spec.default_config == StyleGAN2Config(size=size).model_dump(mode="json")
        assert StyleGAN2Config(**spec.default_config).channel_map[size] == {256: 128, 1024: 32}[size]
    with skip_weight_init():
        assert create_component("stylegan2-256").config == StyleGAN2Config(size=256)


def test_zoo_convert_writes_a_loadable_component(tmp_path: Path) -> None:
    from zoo_core.component_weights import load_component
    from zoo_core.convert import convert

    g = StyleGAN2Generator(CONFIG)
    official = {**g.state_dict(), **fill(layout_of(g), seed=7)}
    checkpoint = tmp_path / "550000.pt"
    torch.save({"g_ema": official, "latent_avg": torch.zeros(32), "args": {"size": 32}}, checkpoint)
    folder = convert("stylegan2-256", {"weights": checkpoint}, tmp_path / "out", config_overrides=TINY)
    loaded = load_component("stylegan2-256", folder)
    assert isinstance(loaded, StyleGAN2Generator) and loaded.config == CONFIG
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in official.items())
    with pytest.raises(WeightsError, match=r"weights checkpoint does not match .* \(size 256\)"):
        convert("stylegan2-256", {"weights": checkpoint}, tmp_path / "bad")


def test_invalid_configs_raise_config_errors() -> None:
    from zoo_core.errors import ConfigError
    from zoo_core.nets.stylegan2 import build_generator

    with pytest.raises(ConfigError, match="power of two"):
        rosinality_generator(rosinality_state(), {**TINY, "size": 48})
    with pytest.raises(ConfigError, match="no entry for resolution"):
        build_generator({**TINY, "size": 2048})


def test_zoo_convert_reads_an_nvidia_snapshot(tmp_path: Path) -> None:
    """``zoo convert stylegan2-256 network=snapshot.pkl``: the role picks the NVIDIA converter,
    the core's checkpoint reader falls back to the raw-pickle reader, the converter takes ``G_ema``."""
    from zoo_core.component_weights import load_component
    from zoo_core.convert import convert

    g_state, d_state = nvidia_state(32, TINY["channels"], style_dim=32, n_mlp=2)
    g_state = {**g_state, **fill(nvidia_layout(32, TINY["channels"], style_dim=32, n_mlp=2)[0])}
    path = tmp_path / "network-snapshot-000100.pkl"
    write_ada_snapshot(path, {"G_ema": g_state, "D": d_state})
    folder = convert("stylegan2-256", {"network": path}, tmp_path / "out", config_overrides=TINY)
    loaded = load_component("stylegan2-256", folder)
    expected = nvidia_generator({f"G_ema.{k}": v for k, v in g_state.items()}, CONFIG)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in expected.items())
