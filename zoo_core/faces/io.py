"""Image reading and writing: mode conversion, EXIF orientation, atomic writes, provenance.

Everything inside the pipeline is ``(H, W, 3) uint8`` RGB; ``ImageInfo`` remembers what the
file was so the output can be written back in the target's size and mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from zoo_core.errors import InputError
from zoo_core.fileio import atomic_path

PROVENANCE_KEY = "zoo:provenance"
EXIF_IMAGE_DESCRIPTION = 0x010E
EXIF_SOFTWARE = 0x0131
WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}


@dataclass(frozen=True)
class ImageInfo:
    """What an input image was before it became 8-bit RGB."""

    path: str
    mode: str
    size: tuple[int, int]  # (width, height) after EXIF orientation
    format: str | None
    alpha: np.ndarray | None = None  # the original alpha channel, reattached on output


def read_image(path: str | Path) -> tuple[np.ndarray, ImageInfo]:
    """Decode an image to ``(H, W, 3) uint8`` RGB, honouring EXIF orientation.

    RGBA, LA, grayscale, palette, CMYK and 16-bit images are converted, not rejected; the
    alpha channel is kept in the returned ``ImageInfo``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with Image.open(path) as opened:
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


def restore_mode(rgb: np.ndarray, info: ImageInfo | None) -> Image.Image:
    """Turn pipeline RGB back into an image of the input's mode (alpha reattached)."""
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if info is None or info.mode == "RGB":
        return image
    if info.alpha is not None:
        image.putalpha(Image.fromarray(info.alpha, "L"))
        return image.convert(info.mode) if info.mode in {"LA", "PA"} else image
    if info.mode in {"L", "1"}:
        return image.convert(info.mode)
    if info.mode == "P":
        return image.quantize(colors=256)
    if info.mode in {"I;16", "I;16B", "I;16L", "I"}:
        gray = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        return Image.fromarray(gray)  # uint16 -> mode "I;16"
    if info.mode == "CMYK":
        return image.convert("CMYK")
    return image


def make_provenance(model: str, weights: str | None, seed: int | None, **extra: Any) -> dict[str, Any]:
    """The metadata every output carries: it is synthetic, and exactly what produced it."""
    from zoo_core import __version__

    return {
        "synthetic": True,
        "generator": "FaceSwap Zoo",
        "zoo_core_version": __version__,
        "model": model,
        "weights": weights,
        "seed": seed,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def write_image(
    path: str | Path,
    rgb: np.ndarray,
    info: ImageInfo | None = None,
    provenance: dict[str, Any] | None = None,
    quality: int = 95,
) -> Path:
    """Write atomically in the format of ``path``'s suffix, in the input's mode, with provenance
    (PNG text chunk; EXIF ImageDescription and Software for JPEG/WebP/TIFF)."""
    path = Path(path)
    file_format = WRITABLE_SUFFIXES.get(path.suffix.lower())
    if file_format is None:
        raise InputError(f"{path}: unsupported output format; use one of {', '.join(sorted(WRITABLE_SUFFIXES))}")
    image = restore_mode(rgb, info)
    if file_format == "JPEG" and image.mode not in {"RGB", "L", "CMYK"}:
        image = image.convert("RGB")  # JPEG has no alpha or palette
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
    with atomic_path(path) as temp:
        image.save(temp, format=file_format, **options)
    return path


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance a zoo output carries, or None (images and videos)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            text = image.info.get(PROVENANCE_KEY) or image.getexif().get(EXIF_IMAGE_DESCRIPTION)
    except (UnidentifiedImageError, OSError):
        from zoo_core.faces.video import read_video_provenance

        return read_video_provenance(path)
    return parse_provenance(text)


def parse_provenance(text: str | bytes | None) -> dict[str, Any] | None:
    """The provenance dict in a metadata string, or None if it is not zoo provenance."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("synthetic") else None
