"""Reading any image mode, EXIF orientation, clear errors, atomic writes and provenance."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from zoo_core.errors import InputError, ZooWarning
from zoo_core.faces.io import (
    WRITABLE_SUFFIXES,
    read_image,
    read_provenance,
    restore_mode,
    write_image,
)
from zoo_core.faces.video import VIDEO_SUFFIXES, VideoWriter
from zoo_core.provenance import make_provenance, provenance_sidecar

RGB = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
PROVENANCE = make_provenance("example-64", "random-init", 3, target="in.png")


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16", "CMYK", "1"])
def test_every_mode_is_converted_and_restored(tmp_path, mode):
    image = Image.fromarray(RGB)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)
    elif mode == "RGBA":
        image = image.convert("RGBA")
        image.putalpha(Image.fromarray(np.full((24, 32), 77, np.uint8)))
    else:
        image = image.convert(mode)
    path = tmp_path / ("in.tif" if mode in {"I;16", "CMYK"} else "in.png")
    image.save(path)
    rgb, info = read_image(path)
    assert rgb.shape == (24, 32, 3) and rgb.dtype == np.uint8
    assert info.mode == image.mode and info.size == (32, 24)
    restored = restore_mode(rgb, info)
    assert restored.mode == image.mode and restored.size == image.size
    if mode == "RGBA":
        assert np.all(np.asarray(restored)[:, :, 3] == 77)
    if mode == "I;16":
        assert np.abs(np.asarray(restored, dtype=np.int32) - np.asarray(image, dtype=np.int32)).max() <= 257


def test_exif_orientation_is_honoured(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(RGB).save(path, exif=exif, quality=100)
    rgb, info = read_image(path)
    assert rgb.shape == (32, 24, 3) and info.size == (24, 32)


@pytest.mark.parametrize(("content", "message"), [(b"", "unreadable or corrupt"), (b"not an image at all", "unreadable or corrupt")])
def test_unreadable_images_name_the_file(tmp_path, content, message):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError, match=f"{path}: {message}"):
        read_image(path)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(InputError, match="cut.jpg: unreadable or corrupt"):
        read_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "nope.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_provenance_round_trip(tmp_path, suffix):
    provenance = make_provenance("simswap-224", "hf-hub:org/repo@abc sha256:00", 7, source="a.jpg")
    path = write_image(tmp_path / f"out{suffix}", RGB, provenance=provenance)
    data = read_provenance(path)
    assert data == provenance and data["synthetic"] is True and data["seed"] == 7
    assert data["zoo_core_version"] and data["created"].endswith("+00:00")


def test_plain_images_have_no_provenance(tmp_path):
    path = tmp_path / "plain.png"
    Image.fromarray(RGB).save(path)
    assert read_provenance(path) is None


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def explode(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(OSError):
        write_image(tmp_path / "out.png", RGB)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_output_format(tmp_path):
    with pytest.raises(InputError, match="out.gifx: unsupported output format"):
        write_image(tmp_path / "out.gifx", RGB)


def test_outputs_get_normal_permissions(tmp_path):
    import os
    import stat

    from zoo_core.fileio import _UMASK

    path = write_image(tmp_path / "out.png", RGB)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_UMASK


# --- every output format carries provenance -------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(WRITABLE_SUFFIXES) + sorted(VIDEO_SUFFIXES))
def test_every_accepted_output_suffix_carries_provenance(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    if suffix in VIDEO_SUFFIXES:
        with VideoWriter(path, 25, 32, 24, provenance=PROVENANCE) as writer:
            writer.write(RGB)
            writer.write(RGB[::-1].copy())
    else:
        write_image(path, RGB, provenance=PROVENANCE)
    assert read_provenance(path) == PROVENANCE


def test_bmp_provenance_is_a_sidecar(tmp_path):
    path = write_image(tmp_path / "out.bmp", RGB, provenance=PROVENANCE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bmp", "out.bmp.zoo.json"]
    assert provenance_sidecar(path) == tmp_path / "out.bmp.zoo.json"
    provenance_sidecar(path).unlink()
    assert read_provenance(path) is None
    write_image(path, RGB, provenance=PROVENANCE)
    write_image(path, RGB)  # rewritten without provenance: the old sidecar must not vouch for it
    assert read_provenance(path) is None and not provenance_sidecar(path).exists()


# --- every input mode into every output format ----------------------------------------------


def _gray16() -> np.ndarray:
    return np.asarray(Image.fromarray(RGB).convert("L"), dtype=np.uint16) * 257


def _save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def _palette_with_transparency(path: Path) -> Path:
    image = Image.fromarray(RGB).convert("P")
    return _save(image, path, transparency=0)


INPUTS = {  # mode as read -> how to make such a file
    "RGB": lambda d: _save(Image.fromarray(RGB), d / "in.png"),
    "RGBA": lambda d: _save(Image.fromarray(RGB).convert("RGBA"), d / "in.png"),
    "L": lambda d: _save(Image.fromarray(RGB).convert("L"), d / "in.png"),
    "LA": lambda d: _save(Image.fromarray(RGB).convert("LA"), d / "in.png"),
    "P": lambda d: _save(Image.fromarray(RGB).convert("P"), d / "in.png"),
    "P+transparency": lambda d: _palette_with_transparency(d / "in.png"),
    "PA": lambda d: _save(Image.fromarray(RGB).convert("PA"), d / "in.tif"),
    "1": lambda d: _save(Image.fromarray(RGB).convert("1"), d / "in.png"),
    "I;16": lambda d: _save(Image.fromarray(_gray16()), d / "in.png"),
    "I;16B": lambda d: _save(Image.fromarray(_gray16().astype(">u2")), d / "in.tif"),
    "I": lambda d: _save(Image.fromarray(_gray16().astype(np.int32)), d / "in.tif"),
    "F": lambda d: _save(Image.fromarray(_gray16().astype(np.float32) / 65535), d / "in.tif"),
    "CMYK": lambda d: _save(Image.fromarray(RGB).convert("CMYK"), d / "in.jpg"),
    "YCbCr": lambda d: _save(Image.fromarray(RGB).convert("YCbCr"), d / "in.tif"),
    "LAB": lambda d: _save(Image.fromarray(RGB).convert("LAB"), d / "in.tif"),
}


@pytest.mark.parametrize("suffix", sorted(WRITABLE_SUFFIXES))
@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_every_input_mode_writes_to_every_output_format(tmp_path, kind, suffix):
    source = INPUTS[kind](tmp_path)
    rgb, info = read_image(source)
    assert info.mode == kind.split("+")[0]
    out = write_image(tmp_path / f"out{suffix}", rgb, info, PROVENANCE)
    back, back_info = read_image(out)
    assert back.shape == rgb.shape and back_info.size == info.size
    assert read_provenance(out) == PROVENANCE


@pytest.mark.parametrize(("kind", "suffix", "mode"), [
    ("CMYK", ".png", "RGB"), ("CMYK", ".jpg", "CMYK"), ("CMYK", ".tif", "CMYK"),
    ("I;16", ".png", "I;16"), ("I;16", ".tif", "I;16"), ("I;16", ".bmp", "L"), ("I;16", ".jpg", "L"),
    ("I", ".png", "I;16"), ("F", ".png", "L"), ("1", ".jpg", "L"),
    ("LA", ".png", "LA"), ("LA", ".jpg", "L"), ("PA", ".png", "RGBA"), ("PA", ".tif", "PA"),
])
def test_outputs_take_the_nearest_mode_the_format_holds(tmp_path, kind, suffix, mode):
    rgb, info = read_image(INPUTS[kind](tmp_path))
    out = write_image(tmp_path / f"out{suffix}", rgb, info)
    with Image.open(out) as written:
        assert written.mode == mode
        if mode == "I;16":  # 16 bits kept, not squeezed into 8
            assert np.asarray(written).max() > 255


def test_alpha_survives_into_formats_that_hold_it(tmp_path):
    image = Image.fromarray(RGB).convert("LA")
    image.putalpha(90)
    rgb, info = read_image(_save(image, tmp_path / "in.png"))
    for suffix in (".png", ".tif", ".webp"):
        with Image.open(write_image(tmp_path / f"out{suffix}", rgb, info)) as written:
            assert np.all(np.asarray(written.getchannel("A")) == 90), suffix


# --- multi-frame images ---------------------------------------------------------------------


def _frames(count: int) -> list[Image.Image]:
    return [Image.fromarray(np.roll(RGB, 5 * i, axis=1)) for i in range(count)]


@pytest.mark.parametrize("suffix", [".gif", ".tif"])
def test_multi_frame_images_warn_that_only_the_first_frame_is_used(tmp_path, suffix):
    first, *rest = _frames(3)
    path = tmp_path / f"anim{suffix}"
    first.save(path, save_all=True, append_images=rest)
    with pytest.warns(ZooWarning, match=rf"anim{suffix}: the image has 3 frames; only the first is used"):
        rgb, _ = read_image(path)
    assert np.array_equal(rgb, read_image_quietly(path))


def read_image_quietly(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_image(path)[0]


def test_single_frame_images_do_not_warn(tmp_path):
    path = _save(_frames(1)[0], tmp_path / "one.gif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(path)


# --- size limit before decoding -------------------------------------------------------------


def blank_png(path: Path, width: int, height: int) -> Path:
    """A valid black 1-bit PNG of any size, made without allocating its pixels (a few KB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    return blank_png(tmp_path_factory.mktemp("huge") / "huge.png", 12000, 12000)


def test_too_many_pixels_is_refused_before_decoding(huge_png, monkeypatch):
    def no_decoding(self):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    started = time.perf_counter()
    with pytest.raises(InputError, match=rf"{huge_png}: 12000x12000 is 144,000,000 pixels, more than the limit "
                                         r"of 100,000,000 \(--max-pixels\)"):
        read_image(huge_png)
    with pytest.raises(InputError, match="small.png: 32x24 is 768 pixels, more than the limit of 700 "):
        read_image(_save(Image.fromarray(RGB), huge_png.with_name("small.png")), max_pixels=700)
    assert time.perf_counter() - started < 2


def test_too_many_pixels_takes_little_memory(huge_png):
    child = (
        "import resource, sys\n"
        "from zoo_core.errors import InputError\n"
        "from zoo_core.faces.io import read_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    read_image(sys.argv[1])\nexcept InputError:\n    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    result = subprocess.run([sys.executable, "-c", child, str(huge_png)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 20_000  # KiB; decoding would take 144 MB at least


def test_pillow_bomb_check_neither_fires_first_nor_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would refuse 768 pixels
    path = _save(Image.fromarray(RGB), tmp_path / "in.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor warn about a bomb
        rgb, _ = read_image(path)
        write_image(tmp_path / "out.png", rgb, provenance=PROVENANCE)
        assert read_provenance(tmp_path / "out.png") == PROVENANCE
    assert rgb.shape == RGB.shape and Image.MAX_IMAGE_PIXELS == 100
    with pytest.raises(InputError, match="in.png: 32x24 is 768 pixels"):
        read_image(path, max_pixels=767)
    assert Image.MAX_IMAGE_PIXELS == 100


# --- write errors name the output -----------------------------------------------------------


def test_write_error_names_the_output_not_the_temporary_file(tmp_path):
    (tmp_path / "file").write_text("in the way")
    out = tmp_path / "file" / "out.png"
    with pytest.raises(InputError) as caught:
        write_image(out, RGB, provenance=PROVENANCE)
    assert str(caught.value) == f"{out}: cannot write the file (Not a directory: {tmp_path / 'file'})"
    assert isinstance(caught.value, OSError)


FULL_DISK = """
import resource, signal, sys
import numpy as np
from zoo_core.faces.io import write_image
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    write_image(sys.argv[1], np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
except Exception as error:
    print(type(error).__name__, error)
"""


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_full_disk_error_names_the_output(tmp_path, suffix):
    # Files may not grow past 200 bytes: writing fails as on a full disk.
    out = tmp_path / f"out{suffix}"
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(out)], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == f"WriteError {out}: cannot write the file (File too large)", result.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_huge_photo_in_one_line(example_plugin, huge_png, tmp_path):
    from click.testing import CliRunner

    from zoo_core.cli import cli

    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["swap", "--model", "example-64", "--random-init", "--source", str(huge_png),
                                      "--target", str(huge_png), "--output", str(out)])
    assert result.exit_code == 1 and not out.exists()
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert errors == [f"error: {huge_png}: 12000x12000 is 144,000,000 pixels, more than the limit of 100,000,000 "
                      "(--max-pixels)"]
