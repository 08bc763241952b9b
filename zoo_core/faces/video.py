"""Video decoding and encoding with PyAV: frame rate and frame count kept, audio copied,
provenance in the container metadata, written atomically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from zoo_core.errors import InputError
from zoo_core.fileio import atomic_path

VIDEO_SUFFIXES = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm"}
_CODECS = {"webm": "libvpx-vp9", "avi": "mpeg4"}
PROVENANCE_TAG = "comment"


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    fps: Fraction
    frames: int
    width: int
    height: int
    has_audio: bool


def _open(path: Path) -> Any:
    import av

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise InputError(f"{path}: unsupported or corrupt video container ({error})") from error
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: the file has no video stream")
    return container


def probe(path: str | Path) -> VideoInfo:
    """Frame rate, frame count (counted by decoding when the header lacks it), size, audio."""
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for _ in container.decode(stream))
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        return VideoInfo(Fraction(fps), int(frames), stream.codec_context.width, stream.codec_context.height,
                         bool(container.streams.audio))
    finally:
        container.close()


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Decode every frame as ``(H, W, 3) uint8`` RGB."""
    import av

    path = Path(path)
    container = _open(path)
    try:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as error:
        raise InputError(f"{path}: corrupt video data ({error})") from error
    finally:
        container.close()


class VideoWriter:
    """Encode RGB frames to ``path`` at ``fps``; on close, copy the audio of ``audio_from`` and
    rename into place. Nothing is left at ``path`` if writing fails."""

    def __init__(self, path: str | Path, fps: Fraction, width: int, height: int,
                 audio_from: str | Path | None = None, provenance: dict[str, Any] | None = None, crf: int = 18):
        import av

        self.path = Path(path)
        container_format = VIDEO_SUFFIXES.get(self.path.suffix.lower())
        if container_format is None:
            raise InputError(f"{self.path}: unsupported video container; use one of {', '.join(sorted(VIDEO_SUFFIXES))}")
        self._atomic = atomic_path(self.path)
        self._temp = self._atomic.__enter__()
        self._container = av.open(str(self._temp), mode="w", format=container_format)
        if provenance is not None:
            self._container.metadata[PROVENANCE_TAG] = json.dumps(provenance, sort_keys=True)
        codec = _CODECS.get(container_format, "libx264")
        self._stream = self._container.add_stream(codec, rate=fps)
        self._stream.width, self._stream.height = width, height
        even = width % 2 == 0 and height % 2 == 0
        self._stream.pix_fmt = "yuv420p" if even or codec != "libx264" else "yuv444p"
        if codec == "libx264":
            self._stream.options = {"crf": str(crf)}
        # The audio stream must exist before the first packet is muxed (the header is written then).
        self._audio_source, self._audio_in, self._audio_out = None, None, None
        if audio_from is not None:
            self._add_audio_stream(Path(audio_from))
        self.frames = 0

    def _add_audio_stream(self, audio_from: Path) -> None:
        import av

        source = av.open(str(audio_from))
        if source.streams.audio:
            try:
                self._audio_out = self._container.add_stream_from_template(source.streams.audio[0])
                self._audio_source, self._audio_in = source, source.streams.audio[0]
                return
            except (ValueError, av.error.FFmpegError):
                pass  # the output container cannot hold this codec: video only
        source.close()

    def write(self, frame: np.ndarray) -> None:
        import av

        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames += 1

    def _copy_audio(self) -> None:
        if self._audio_source is None:
            return
        for packet in self._audio_source.demux(self._audio_in):
            if packet.dts is None:
                continue
            packet.stream = self._audio_out
            self._container.mux(packet)

    def _close_audio_source(self) -> None:
        if self._audio_source is not None:
            self._audio_source.close()
            self._audio_source = None

    def close(self) -> None:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._copy_audio()
            self._container.close()
        except BaseException as error:
            self.abort(error)
            raise
        self._close_audio_source()
        self._atomic.__exit__(None, None, None)

    def abort(self, error: BaseException) -> None:
        try:
            self._close_audio_source()
            self._container.close()
        finally:
            self._atomic.__exit__(type(error), error, error.__traceback__)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if error is None:
            self.close()
        else:
            self.abort(error)


def read_video_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance stored in a video container's metadata, or None."""
    container = _open(Path(path))
    try:  # Matroska stores tag names upper-case
        text = next((v for k, v in container.metadata.items() if k.lower() == PROVENANCE_TAG), None)
    finally:
        container.close()
    from zoo_core.faces.io import parse_provenance

    return parse_provenance(text)


class LandmarkSmoother:
    """Exponential smoothing of one face's landmarks over frames, to reduce jitter (flicker).

    ``alpha`` weighs the new detection; a jump larger than ``reset`` times the eye distance
    (a cut, or another face) restarts the track instead of dragging the crop across the frame.
    """

    def __init__(self, alpha: float = 0.5, reset: float = 0.35):
        self.alpha = alpha
        self.reset = reset
        self._state: np.ndarray | None = None

    def __call__(self, landmarks: np.ndarray) -> np.ndarray:
        points = np.asarray(landmarks, dtype=np.float64)
        if self._state is not None:
            eye_distance = max(np.linalg.norm(self._state[1] - self._state[0]), 1.0)
            if np.abs(points - self._state).max() <= self.reset * eye_distance:
                points = self.alpha * points + (1 - self.alpha) * self._state
        self._state = points
        return points.astype(np.float32)
