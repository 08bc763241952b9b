"""Reading any image mode, EXIF orientation, clear errors, atomic writes and provenance."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo_core.errors import InputError
from zoo_core.faces.io import (
    make_provenance,
    read_image,
    read_provenance,
    restore_mode,
    write_image,
)

RGB = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)


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
