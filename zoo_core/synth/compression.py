"""The compression levels of FaceForensics++ and what they mean for photos and videos.

Videos: FaceForensics++ encodes with libx264 at constant rate factor 0 (``c0``, lossless), 23
(``c23``, "HQ") and 40 (``c40``, "LQ"); the same crf values are used here. Photos have no crf:
``c0`` is a lossless PNG, ``c23`` a JPEG of quality 85 and ``c40`` a JPEG of quality 45. The
photo mapping is this project's choice (FaceForensics++ has no photos): a light and a heavy
JPEG, in the same order of loss as the video levels.
"""

from __future__ import annotations

from zoo_core.errors import InputError

VIDEO_CRF = {"c0": 0, "c23": 23, "c40": 40}
PHOTO_JPEG_QUALITY = {"c0": None, "c23": 85, "c40": 45}


def check_compression(name: str) -> str:
    if name not in VIDEO_CRF:
        raise InputError(f"--compression {name!r}: expected one of {', '.join(VIDEO_CRF)}")
    return name


def photo_suffix(compression: str) -> str:
    """``.png`` for lossless ``c0``, ``.jpg`` for the JPEG levels."""
    return ".png" if PHOTO_JPEG_QUALITY[compression] is None else ".jpg"


def photo_quality(compression: str) -> int:
    """The JPEG quality of a photo level (``write_image``'s ``quality``; unused for PNG)."""
    return PHOTO_JPEG_QUALITY[compression] or 95
