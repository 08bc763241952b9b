"""Video decoding and encoding with PyAV: frame rate and frame count kept, audio copied (or
re-encoded when the output container cannot hold its codec), provenance in the container
metadata, written atomically."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from zoo_core.errors import InputError
from zoo_core.fileio import atomic_path, naming_output
from zoo_core.provenance import parse_provenance

VIDEO_SUFFIXES = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm"}
_CODECS = {"webm": "libvpx-vp9", "avi": "mpeg4"}
AUDIO_ENCODERS = {"webm": "libopus", "avi": "libmp3lame"}  # the others: "aac"
AVFMT_TS_NEGATIVE = 0x40000  # FFmpeg's flag of containers that store negative timestamps (mp4, mov)
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


def holds_audio(container_format: str, stream: Any) -> bool:
    """Whether ``container_format`` can hold the codec of audio ``stream`` as it is (FFmpeg
    writes a header with it, in memory)."""
    import av

    trial = av.open(io.BytesIO(), mode="w", format=container_format)
    try:
        trial.add_stream_from_template(stream)
        trial.start_encoding()
    except (ValueError, av.error.FFmpegError):
        return False
    finally:
        trial.close()
    return True


class VideoWriter:
    """Encode RGB frames to ``path`` at ``fps``; on close, add the audio of ``audio_from``
    (copied, or re-encoded to a codec the container holds: Opus for WebM, MP3 for AVI, AAC
    otherwise) and rename into place. Nothing is left at ``path`` if writing fails; write
    errors name ``path``."""

    def __init__(self, path: str | Path, fps: Fraction, width: int, height: int,
                 audio_from: str | Path | None = None, provenance: dict[str, Any] | None = None, crf: int = 18):
        self.path = Path(path)
        self._format = VIDEO_SUFFIXES.get(self.path.suffix.lower())
        if self._format is None:
            raise InputError(f"{self.path}: unsupported video container; use one of {', '.join(sorted(VIDEO_SUFFIXES))}")
        self._atomic = atomic_path(self.path)
        self._temp = self._atomic.__enter__()
        self._container: Any = None
        self._audio_source, self._audio_in, self._audio_out, self._reencode = None, None, None, False
        self.frames = 0
        try:
            self._open(fps, width, height, provenance, crf)
            # The audio stream must exist before the first packet is muxed (the header is written then).
            if audio_from is not None:
                self._add_audio_stream(Path(audio_from))
        except BaseException as error:
            self.abort(error)
            raise

    def _open(self, fps: Fraction, width: int, height: int, provenance: dict[str, Any] | None, crf: int) -> None:
        import av

        with naming_output(self.path):
            self._container = av.open(str(self._temp), mode="w", format=self._format)
        if provenance is not None:
            self._container.metadata[PROVENANCE_TAG] = json.dumps(provenance, sort_keys=True)
        codec = _CODECS.get(self._format, "libx264")
        self._stream = self._container.add_stream(codec, rate=fps)
        self._stream.width, self._stream.height = width, height
        even = width % 2 == 0 and height % 2 == 0
        self._stream.pix_fmt = "yuv420p" if even or codec != "libx264" else "yuv444p"
        if codec == "libx264":
            self._stream.options = {"crf": str(crf)}

    def _add_audio_stream(self, audio_from: Path) -> None:
        import av

        source = av.open(str(audio_from))
        if not source.streams.audio:
            source.close()
            return
        self._audio_source, self._audio_in = source, source.streams.audio[0]
        if holds_audio(self._format, self._audio_in):
            self._audio_out = self._container.add_stream_from_template(self._audio_in)
            return
        encoder = AUDIO_ENCODERS.get(self._format, "aac")
        layout = self._audio_in.layout
        try:
            self._audio_out = self._container.add_stream(
                encoder, rate=_encoder_rate(encoder, self._audio_in.rate),
                layout=layout.name if layout.nb_channels <= 2 else "stereo")
        except (ValueError, av.error.FFmpegError) as error:
            raise InputError(f"{audio_from}: its {self._audio_in.codec_context.name} audio cannot be written "
                             f"to {self.path.suffix} ({error})") from error
        self._reencode = True

    def write(self, frame: np.ndarray) -> None:
        import av

        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        with naming_output(self.path):
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        self.frames += 1

    def _copy_audio(self) -> None:
        if self._audio_source is None:
            return
        packets = self._encoded_audio() if self._reencode else self._audio_source.demux(self._audio_in)
        negative_ok = bool(self._container.format.flags & AVFMT_TS_NEGATIVE)
        shift: int | None = None
        for packet in packets:
            if packet.dts is None:
                continue
            if shift is None:  # start at 0 where the container cannot store the codec's priming delay
                shift = 0 if negative_ok else min(packet.dts, 0)
            packet.dts -= shift
            if packet.pts is not None:
                packet.pts -= shift
            packet.stream = self._audio_out
            self._container.mux(packet)

    def _encoded_audio(self) -> Iterator[Any]:
        """The source audio decoded and encoded with the output stream's codec (PyAV's encoder
        resamples to the codec's sample format, rate and frame size)."""
        for frame in self._audio_source.decode(self._audio_in):
            yield from self._audio_out.encode(frame)
        yield from self._audio_out.encode(None)

    def _close_audio_source(self) -> None:
        if self._audio_source is not None:
            self._audio_source.close()
            self._audio_source = None

    def close(self) -> None:
        try:
            with naming_output(self.path):
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
            if self._container is not None:
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


def _encoder_rate(encoder: str, rate: int) -> int:
    """``rate`` if the audio ``encoder`` takes it, else 48 kHz (Opus takes nothing else) or its highest."""
    import av

    rates = av.Codec(encoder, "w").audio_rates
    if not rates or rate in rates:
        return rate
    return 48000 if 48000 in rates else max(rates)


def read_video_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance stored in a video container's metadata, or None."""
    container = _open(Path(path))
    try:  # Matroska stores tag names upper-case
        text = next((v for k, v in container.metadata.items() if k.lower() == PROVENANCE_TAG), None)
    finally:
        container.close()
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
