"""Image reading and writing: mode conversion, EXIF orientation, atomic writes; the provenance
(``zoo_core.provenance``) goes into the file's metadata or a sidecar, and is read back here.

Everything inside the pipeline is ``(H, W, 3) uint8`` RGB; ``ImageInfo`` remembers what the
file was so the output can be written back in the target's size and mode (or the nearest
mode the output format holds).
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from zoo_core.errors import InputError, ZooWarning
from zoo_core.fileio import atomic_path, naming_output, write_json_atomic
from zoo_core.provenance import PROVENANCE_KEY, parse_provenance, provenance_sidecar

EXIF_IMAGE_DESCRIPTION = 0x010E
EXIF_SOFTWARE = 0x0131
WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
DEFAULT_MAX_PIXELS = 100_000_000

# The modes each output format holds, and the nearest ones to fall back to (then RGB).
FORMAT_MODES = {
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "JPEG": {"L", "RGB", "CMYK"},
    "WEBP": {"RGB", "RGBA"},
    "BMP": {"1", "L", "P", "RGB", "RGBA"},
    "TIFF": {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16"},
}
NEAREST_MODES = {"RGBA": ("RGB",), "LA": ("RGBA", "L"), "PA": ("RGBA",), "1": ("L",), "I;16": ("L",)}
_KEPT_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK"}
_WIDE_MODES = {"I;16": "I;16", "I;16B": "I;16", "I;16L": "I;16", "I;16N": "I;16", "I": "I;16", "F": "L"}
_PILLOW_LIMIT_LOCK = threading.Lock()


@dataclass(frozen=True)
class ImageInfo:
    """What an input image was before it became 8-bit RGB."""

    path: str
    mode: str
    size: tuple[int, int]  # (width, height) after EXIF orientation
    format: str | None
    alpha: np.ndarray | None = None  # the original alpha channel, reattached on output


@contextlib.contextmanager
def _own_pixel_limit() -> Iterator[None]:
    """Switch off Pillow's decompression-bomb check inside (``read_image`` checks the size
    itself, naming the file); Pillow's setting is restored on the way out."""
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def check_pixels(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    """An ``InputError`` if an image of ``size`` would decode to more than ``max_pixels``."""
    width, height = size
    if width * height > max_pixels:
        raise InputError(f"{path}: {width}x{height} is {width * height:,} pixels, more than the limit of "
                         f"{max_pixels:,} (--max-pixels)")


def warn_extra_frames(path: Path, image: Image.Image) -> None:
    """Warn that only the first frame of a multi-frame image (GIF, TIFF pages, ...) is used."""
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format != "MPO":  # MPO's extra frames are previews and depth maps
        warnings.warn(f"{path}: the image has {frames} frames; only the first is used", ZooWarning, stacklevel=3)


def read_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, ImageInfo]:
    """Decode an image to ``(H, W, 3) uint8`` RGB, honouring EXIF orientation.

    RGBA, LA, grayscale, palette, CMYK and 16-bit images are converted, not rejected; the
    alpha channel is kept in the returned ``ImageInfo``. An image larger than ``max_pixels``
    is refused before it is decoded; of a multi-frame image only the first frame is read (a
    ``ZooWarning`` says so).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with _own_pixel_limit(), Image.open(path) as opened:
            check_pixels(path, opened.size, max_pixels)
            warn_extra_frames(path, opened)
            opened.load()
            image = ImageOps.exif_transpose(opened)
            file_format = opened.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: unreadable or corrupt image ({error})") from error
    mode = image.mode
    alpha = None
    if mode in {"RGBA", "LA", "PA"} or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba)[:, :, 3].copy()
        image = rgba
    rgb = _to_rgb8(image)
    return rgb, ImageInfo(str(path), mode, image.size, file_format, alpha)


def _to_rgb8(image: Image.Image) -> np.ndarray:
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:
        data = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or data.max() > 255 else 255.0
        gray = np.clip(np.round(data / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode == "F":
        data = np.asarray(image, dtype=np.float64)
        gray = np.clip(np.round(data * (255.0 if data.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def stored_mode(info: ImageInfo) -> str:
    """The mode an output of this input is written in where the format allows: the input's,
    RGBA for a palette with transparency, 16-bit grayscale for wider integers, L for float."""
    if info.alpha is not None and info.mode not in {"LA", "PA"}:
        return "RGBA"
    if info.mode in _WIDE_MODES:
        return _WIDE_MODES[info.mode]
    return info.mode if info.mode in _KEPT_MODES else "RGB"


def output_mode(info: ImageInfo | None, file_format: str) -> str:
    """The mode nearest to the input's that ``file_format`` holds."""
    wanted = "RGB" if info is None else stored_mode(info)
    for mode in (wanted, *NEAREST_MODES.get(wanted, ())):
        if mode in FORMAT_MODES[file_format]:
            return mode
    return "RGB"


def restore_mode(rgb: np.ndarray, info: ImageInfo | None, mode: str | None = None) -> Image.Image:
    """Turn pipeline RGB back into an image of the input's mode, or of ``mode`` (the input's
    alpha channel reattached where the mode has one)."""
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if info is None:
        return image
    mode = mode or stored_mode(info)
    if mode in {"RGBA", "LA", "PA"} and info.alpha is not None:
        image.putalpha(Image.fromarray(info.alpha, "L"))
        return image if mode == "RGBA" else image.convert(mode)
    if mode == "P":
        return image.quantize(colors=256)
    if mode == "I;16":
        gray = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        return Image.fromarray(gray)  # uint16 -> mode "I;16"
    return image if mode == "RGB" else image.convert(mode)


def write_image(
    path: str | Path,
    rgb: np.ndarray,
    info: ImageInfo | None = None,
    provenance: dict[str, Any] | None = None,
    quality: int = 95,
) -> Path:
    """Write atomically in the format of ``path``'s suffix, in the input's mode or the nearest
    one the format holds, with provenance (PNG text chunk; EXIF ImageDescription and Software
    for JPEG/WebP/TIFF; a ``.zoo.json`` sidecar for BMP, which holds no metadata)."""
    path = Path(path)
    file_format = WRITABLE_SUFFIXES.get(path.suffix.lower())
    if file_format is None:
        raise InputError(f"{path}: unsupported output format; use one of {', '.join(sorted(WRITABLE_SUFFIXES))}")
    image = restore_mode(rgb, info, output_mode(info, file_format))
    options: dict[str, Any] = {}
    if provenance is not None:
        text = json.dumps(provenance, sort_keys=True)
        if file_format == "PNG":
            png_info = PngImagePlugin.PngInfo()
            png_info.add_text(PROVENANCE_KEY, text)
            png_info.add_text("Software", f"zoo-core {provenance.get('zoo_core_version', '')}".strip())
            options["pnginfo"] = png_info
        elif file_format in {"JPEG", "WEBP", "TIFF"}:
            exif = Image.Exif()
            exif[EXIF_IMAGE_DESCRIPTION] = text
            exif[EXIF_SOFTWARE] = f"zoo-core {provenance.get('zoo_core_version', '')}".strip()
            options["exif"] = exif.tobytes()
    if file_format in {"JPEG", "WEBP"}:
        options["quality"] = quality
    encoded = io.BytesIO()
    with naming_output(path):
        image.save(encoded, format=file_format, **options)  # Pillow's C writer ignores short writes
        with atomic_path(path) as temp:
            temp.write_bytes(encoded.getbuffer())
            if file_format == "BMP":
                _write_sidecar(path, provenance)
    return path


def _write_sidecar(path: Path, provenance: dict[str, Any] | None) -> None:
    sidecar = provenance_sidecar(path)
    if provenance is None:
        sidecar.unlink(missing_ok=True)  # a stale one would claim a new file is ours
    else:
        write_json_atomic(sidecar, provenance)


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance a zoo output carries, or None (images and videos)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with _own_pixel_limit(), Image.open(path) as image:  # the header only: no pixels decoded
            file_format = image.format
            text = image.info.get(PROVENANCE_KEY) or image.getexif().get(EXIF_IMAGE_DESCRIPTION)
    except (UnidentifiedImageError, OSError):
        from zoo_core.faces.video import read_video_provenance

        return read_video_provenance(path)
    if file_format == "BMP":
        sidecar = provenance_sidecar(path)
        text = sidecar.read_text(encoding="utf-8") if sidecar.is_file() else None
    return parse_provenance(text)
