"""Video: PyAV probe/decode/encode, ``FaceSwapper.swap_video``, landmark smoothing, ``zoo swap``.

The clips are made here from real photos (the root conftest's ``faces_dir``; the tests that need
them skip when the folder is absent): 12 frames of 192x240, the photo panning by a few pixels per
frame, one face-free frame, then a cut to another photo. They are tiny so the whole file runs in
seconds on two CPU cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

import zoo_core
from zoo_core.cli import cli
from zoo_core.errors import InputError, NoFaceError
from zoo_core.faces.align import estimate_alignment, get_template
from zoo_core.faces.detect import DlibDetector, Face
from zoo_core.faces.io import read_provenance
from zoo_core.faces.swapper import FaceSwapper
from zoo_core.faces.video import VIDEO_SUFFIXES, LandmarkSmoother, VideoWriter, iter_frames, probe
from zoo_core.provenance import make_provenance

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PLUGIN = REPO / "examples" / "zoo-plugin-example"

WIDTH, HEIGHT = 192, 240
SAMPLE_RATE = 44100
NTSC = Fraction(30000, 1001)
PAL_HALF = Fraction(25, 2)
PHOTOS = ("face_recognition/obama/obama.jpg", "face_recognition/obama/obama2.jpg")
SOURCE_PHOTO = "face_recognition/biden/biden.jpg"
BLANK_FRAME = 5  # index of the face-free frame in the clips

# Video coding is lossy: pixels the swapper copied bit-exactly come back from the output file a
# few levels off (x264 crf 18, 4:2:0 chroma; up to ~4 on average in textured 16 px corners here).
# So "unchanged" means: no further from the input than a plain re-encode of the input by the same
# writer, plus this slack for rate control spending bits differently. A swapped face (random-init
# model) differs by tens of levels.
REENCODE_SLACK = 1.0
CHANGED_MEAN_MIN = 15.0


# --- inputs -----------------------------------------------------------------------------------


def _gradient(width: int, height: int, phase: int = 0) -> np.ndarray:
    """A smooth colour gradient: no face for any detector, cheap to encode."""
    x = np.linspace(0, 255, width)[None, :]
    y = np.linspace(0, 255, height)[:, None]
    red = np.broadcast_to(x, (height, width))
    green = np.broadcast_to(y, (height, width))
    blue = np.full((height, width), (40 + 10 * phase) % 256)
    return np.ascontiguousarray(np.stack([red, green, blue], axis=2).astype(np.uint8))


def _real_frames(faces_dir: Path) -> list[np.ndarray]:
    """12 frames: photo 1 panning (5), a gradient (1), photo 2 panning (6)."""
    canvases = [
        np.asarray(ImageOps.pad(Image.open(faces_dir / name).convert("RGB"), (WIDTH + 16, HEIGHT + 20),
                                color=(128, 128, 128)))
        for name in PHOTOS
    ]
    frames = [canvases[0][i : i + HEIGHT, 2 * i : 2 * i + WIDTH] for i in range(BLANK_FRAME)]
    frames.append(_gradient(WIDTH, HEIGHT))
    frames += [canvases[1][i : i + HEIGHT, 2 * i : 2 * i + WIDTH] for i in range(6)]
    return [np.ascontiguousarray(frame) for frame in frames]


def write_clip(path: Path, frames: list[np.ndarray], fps: Fraction, audio: str | None = None,
               rate: int = SAMPLE_RATE) -> Path:
    """Encode ``frames`` (H.264, crf 10) at ``fps``, with a 440 Hz mono sine in codec ``audio``
    at ``rate`` Hz lasting as long as the video."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "10", "preset": "ultrafast"}
        sound = container.add_stream(audio, rate=rate, layout="mono") if audio else None
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples = round(rate * len(frames) / fps)
            wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / rate)
            pcm = (wave * 32767).astype(np.int16)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(pcm[None, start : start + 1024], format="s16", layout="mono")
                chunk.sample_rate, chunk.pts = rate, start
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


@pytest.fixture(scope="module")
def clips(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 12 real frames as: mp4 at 30000/1001 fps with AAC, mkv at 12.5 fps with PCM,
    and a silent mp4 at 12.5 fps."""
    folder = tmp_path_factory.mktemp("clips")
    frames = _real_frames(faces_dir)
    return {
        "mp4-aac": write_clip(folder / "ntsc_aac.mp4", frames, NTSC, "aac"),
        "mkv-pcm": write_clip(folder / "half_pal_pcm.mkv", frames, PAL_HALF, "pcm_s16le"),
        "silent": write_clip(folder / "silent.mp4", frames, PAL_HALF),
    }


@pytest.fixture(scope="module")
def faceless_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 gradient frames with AAC audio: no face anywhere."""
    frames = [_gradient(160, 128, phase) for phase in range(8)]
    return write_clip(tmp_path_factory.mktemp("faceless") / "gradient.mp4", frames, NTSC, "aac")


@pytest.fixture(scope="module")
def detector() -> DlibDetector:
    return DlibDetector()


@pytest.fixture
def astronaut() -> np.ndarray:
    """A real face that is always available (public domain, shipped with scikit-image)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture
def swapper(example_plugin, detector: DlibDetector) -> FaceSwapper:
    """The example plugin's tiny random-init model; the dlib detector is shared (loading its
    landmark model takes a second)."""
    import torch

    torch.manual_seed(0)
    return FaceSwapper(zoo_core.create_model("example-64").eval(), detector=detector)


def _leftovers(folder: Path, name: str) -> list[str]:
    """Files at or beside ``name`` in ``folder`` (the output, or an atomic write's temp file)."""
    return sorted(p.name for p in folder.iterdir() if p.name == name or p.name.startswith(f".{name}."))


def _audio_track(path: Path) -> tuple[str, int, int, float]:
    """Codec, sample rate, channels and duration in seconds (from packet timestamps) of the
    first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        context = stream.codec_context
        packets = [(p.pts, p.duration) for p in container.demux(stream) if p.pts is not None]
        start = min(pts for pts, _ in packets)
        end = max(pts + duration for pts, duration in packets)
        return context.name, context.sample_rate, context.layout.nb_channels, float((end - start) * stream.time_base)


# --- probe and decode -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fps"), [("mp4-aac", NTSC), ("mkv-pcm", PAL_HALF), ("silent", PAL_HALF)])
def test_probe_and_iter_frames(clips: dict[str, Path], name: str, fps: Fraction) -> None:
    # Matroska headers carry no frame count: probe must count by decoding.
    info = probe(clips[name])
    assert (info.fps, info.frames, info.width, info.height) == (fps, 12, WIDTH, HEIGHT)
    assert info.has_audio is (name != "silent")
    frames = list(iter_frames(clips[name]))
    assert len(frames) == 12
    assert all(f.shape == (HEIGHT, WIDTH, 3) and f.dtype == np.uint8 for f in frames)
    assert frames[0].std() > 20  # a photo, not a blank decode


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 300], ids=["empty", "garbage"])
def test_non_video_input_raises_input_error_naming_the_file(tmp_path: Path, content: bytes, astronaut: np.ndarray,
                                                            swapper: FaceSwapper) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="broken.mp4"):
        probe(bad)
    with pytest.raises(InputError, match="broken.mp4"):
        list(iter_frames(bad))
    with pytest.raises(InputError, match="broken.mp4"):
        swapper.swap_video(astronaut, bad, tmp_path / "out.mp4", progress=False)
    assert _leftovers(tmp_path, "out.mp4") == []


def test_truncated_video_raises_input_error(faceless_clip: Path, tmp_path: Path) -> None:
    # PyAV writes the mp4 index (moov) last: half a file has a header and no index.
    cut = tmp_path / "cut.mp4"
    data = faceless_clip.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.mp4"):
        probe(cut)


def test_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "tone.mkv"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(InputError, match="tone.mkv.*no video stream"):
        probe(path)


# --- writing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(VIDEO_SUFFIXES))
def test_writer_keeps_fps_frames_and_provenance_in_every_container(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"clip{suffix}"
    provenance = make_provenance("example-64", "random-init", 7)
    with VideoWriter(path, PAL_HALF, 64, 48, provenance=provenance) as writer:
        for phase in range(3):
            writer.write(_gradient(64, 48, phase))
    info = probe(path)
    assert (info.fps, info.frames, info.width, info.height, info.has_audio) == (PAL_HALF, 3, 64, 48, False)
    assert read_provenance(path) == provenance  # Matroska/WebM store tag names upper-cased


def test_unsupported_output_suffix_raises_input_error(faceless_clip: Path, swapper: FaceSwapper,
                                                      tmp_path: Path, astronaut: np.ndarray) -> None:
    with pytest.raises(InputError, match=r"out\.xyz: unsupported video container"):
        swapper.swap_video(astronaut, faceless_clip, tmp_path / "out.xyz", progress=False)
    assert _leftovers(tmp_path, "out.xyz") == []


def test_no_face_in_any_frame_raises_and_leaves_no_output(faceless_clip: Path, swapper: FaceSwapper,
                                                          tmp_path: Path, astronaut: np.ndarray) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(NoFaceError, match=r"gradient\.mp4: no selected face in any of its 8 frames"):
        swapper.swap_video(astronaut, faceless_clip, out, progress=False)
    assert _leftovers(tmp_path, "out.mp4") == []  # neither the output nor the temp file


def test_no_face_keeps_an_existing_output_untouched(faceless_clip: Path, swapper: FaceSwapper,
                                                    tmp_path: Path, astronaut: np.ndarray) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(NoFaceError):
        swapper.swap_video(astronaut, faceless_clip, out, progress=False)
    assert out.read_bytes() == b"previous result"
    assert _leftovers(tmp_path, "out.mp4") == ["out.mp4"]


# --- swapping ---------------------------------------------------------------------------------


def _mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _patch(center: np.ndarray, radius: int) -> tuple[slice, slice]:
    x, y = (int(round(v)) for v in center)
    return slice(max(0, y - radius), y + radius + 1), slice(max(0, x - radius), x + radius + 1)


def _corners_out_of_reach(face: Face, size: int) -> list[tuple[slice, slice]]:
    """The ``size`` px image corners outside the footprint of the face's aligned crop (plus a
    margin for landmark smoothing): ``paste_back`` cannot change them."""
    matrix = estimate_alignment(face.landmarks, get_template("ffhq"), 64)
    square = np.array([[0, 0, 1], [64, 0, 1], [0, 64, 1], [64, 64, 1]], dtype=np.float64)
    footprint = square @ cv2.invertAffineTransform(matrix).T
    (x0, y0), (x1, y1) = footprint.min(0) - 8, footprint.max(0) + 8
    corners = [(0, 0), (WIDTH - size, 0), (0, HEIGHT - size), (WIDTH - size, HEIGHT - size)]
    far = [(slice(y, y + size), slice(x, x + size)) for x, y in corners
           if x + size <= x0 or x >= x1 or y + size <= y0 or y >= y1]
    assert far, "test clip: the face's crop covers every corner"
    return far


def test_swap_video_changes_faces_only(example_plugin, clips: dict[str, Path], faces_dir: Path,
                                       detector: DlibDetector, tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    model = zoo_core.create_model("example-64").eval()
    clip = clips["silent"]
    out = FaceSwapper(model).swap_video(faces_dir / SOURCE_PHOTO, clip, tmp_path / "swapped.mp4", progress=False)
    assert out == tmp_path / "swapped.mp4"

    info_in, info_out = probe(clip), probe(out)
    assert (info_out.fps, info_out.frames, info_out.width, info_out.height) == (PAL_HALF, 12, WIDTH, HEIGHT)
    assert (info_out.fps, info_out.frames) == (info_in.fps, info_in.frames)

    provenance = read_provenance(out)
    assert provenance is not None
    assert provenance["synthetic"] is True
    assert provenance["model"] == "example-64"
    assert (provenance["source"], provenance["target"]) == (Path(SOURCE_PHOTO).name, clip.name)

    frames_in = list(iter_frames(clip))
    frames_out = list(iter_frames(out))
    with VideoWriter(tmp_path / "reencoded.mp4", info_in.fps, WIDTH, HEIGHT) as writer:
        for frame in frames_in:
            writer.write(frame)
    frames_noise = list(iter_frames(tmp_path / "reencoded.mp4"))
    changed = 0
    for index, (before, after, noise) in enumerate(zip(frames_in, frames_out, frames_noise, strict=True)):
        # The swapper runs the same detector on the same decoded frames: same faces.
        faces = detector.detect(before)
        if index == BLANK_FRAME:
            assert faces == []
            assert _mean_diff(after, before) <= _mean_diff(noise, before) + REENCODE_SLACK, "a face-free frame is copied"
            continue
        assert len(faces) == 1, f"test clip frame {index}: expected one face"
        face = faces[0]
        eye_distance = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
        # Nose and cheeks: inside the blend mask's fully opaque core.
        core = _patch(face.landmarks.mean(0), round(0.3 * eye_distance))
        changed += _mean_diff(after[core], before[core]) > CHANGED_MEAN_MIN
        for corner in _corners_out_of_reach(face, 16):
            far, coding = _mean_diff(after[corner], before[corner]), _mean_diff(noise[corner], before[corner])
            assert far <= coding + REENCODE_SLACK, f"frame {index}: a corner changed by {far:.1f} (re-encode: {coding:.1f})"
    # A random-init model paints a meaningless face: every face frame differs there.
    assert changed == len(frames_in) - 1


_CHILD = """
import sys

import torch

sys.path.insert(0, sys.argv[1])
import zoo_plugin_example

import zoo_core
from zoo_core import registry
from zoo_core.faces.swapper import FaceSwapper

registry.add_plugin(zoo_plugin_example, name="example", distribution="zoo-plugin-example")
torch.manual_seed(0)
swapper = FaceSwapper(zoo_core.create_model("example-64").eval())
for video_in, video_out in zip(sys.argv[3::2], sys.argv[4::2]):
    swapper.swap_video(sys.argv[2], video_in, video_out, progress=False)
"""

AUDIO_CASES = {"mp4-aac": "out_aac.mp4", "mkv-pcm": "out_pcm.mkv"}


@pytest.fixture(scope="module")
def swapped_with_audio(clips: dict[str, Path], faces_dir: Path,
                       tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``swap_video`` on the clips with audio, in a child process: copying audio happens in
    FFmpeg's native code, and a crash there must fail these tests, not kill the test session."""
    folder = tmp_path_factory.mktemp("swapped_audio")
    args = [str(EXAMPLE_PLUGIN), str(faces_dir / SOURCE_PHOTO)]
    for name, out in AUDIO_CASES.items():
        args += [str(clips[name]), str(folder / out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")} | {"ZOO_LOAD_PLUGINS": ""}
    result = subprocess.run([sys.executable, "-X", "faulthandler", "-c", _CHILD, *args],
                            env=env, capture_output=True, text=True, timeout=300)
    return result, folder


@pytest.mark.parametrize("name", sorted(AUDIO_CASES))
def test_swap_video_keeps_audio(clips: dict[str, Path], swapped_with_audio: tuple[subprocess.CompletedProcess[str], Path],
                                name: str) -> None:
    result, folder = swapped_with_audio
    if result.returncode:
        died = f"signal {signal.Signals(-result.returncode).name}" if result.returncode < 0 else f"exit code {result.returncode}"
        pytest.fail(f"swap_video of videos with audio died with {died}:\n{result.stderr[-3000:]}")
    clip, out = clips[name], folder / AUDIO_CASES[name]
    info_in, info_out = probe(clip), probe(out)
    assert (info_out.fps, info_out.frames, info_out.width, info_out.height) == (info_in.fps, 12, WIDTH, HEIGHT)
    assert info_out.has_audio
    codec, rate, channels, seconds = _audio_track(out)
    codec_in, rate_in, channels_in, seconds_in = _audio_track(clip)
    assert (codec, rate, channels) == (codec_in, rate_in, channels_in)  # copied, not re-encoded
    assert seconds == pytest.approx(seconds_in, abs=0.03)
    assert seconds == pytest.approx(12 / info_in.fps, abs=0.05)  # and as long as the video


@pytest.fixture(scope="module")
def sound_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """8 gradient frames at 30000/1001 fps with AAC (mp4) or Opus (mkv) audio."""
    folder = tmp_path_factory.mktemp("sound")
    frames = [_gradient(64, 48, phase) for phase in range(8)]
    return {"aac": write_clip(folder / "aac.mp4", frames, NTSC, "aac"),
            "opus": write_clip(folder / "opus.mkv", frames, NTSC, "libopus", rate=48000)}


@pytest.mark.parametrize(("audio", "suffix", "codec"), [
    ("aac", ".webm", "opus"), ("aac", ".avi", "aac"), ("aac", ".mkv", "aac"), ("aac", ".mov", "aac"),
    ("opus", ".mov", "aac"), ("opus", ".avi", "mp3float"), ("opus", ".webm", "opus"),
])
def test_audio_is_kept_in_every_container(sound_clips: dict[str, Path], tmp_path: Path, audio: str, suffix: str,
                                          codec: str) -> None:
    # Copied where the container holds the codec, re-encoded where it does not (AAC into WebM).
    clip, out = sound_clips[audio], tmp_path / f"out{suffix}"
    with VideoWriter(out, NTSC, 64, 48, audio_from=clip) as writer:
        for frame in iter_frames(clip):
            writer.write(frame)
    info = probe(out)
    assert info.has_audio and (info.fps, info.frames) == (NTSC, 8)
    name, _, channels, seconds = _audio_track(out)
    assert (name, channels) == (codec, 1)
    assert seconds == pytest.approx(_audio_track(clip)[3], abs=0.05)  # MP3 pads to 1152-sample frames
    with av.open(str(out)) as container:  # the audio leaves the video's timing alone: frame k at k / fps
        stream = container.streams.video[0]
        stamps = sorted(p.pts * stream.time_base for p in container.demux(stream) if p.pts is not None)
    assert [round((stamp - stamps[0]) * NTSC) for stamp in stamps] == list(range(8))


def test_video_write_error_names_the_output(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    out = tmp_path / "file" / "out.mp4"
    with pytest.raises(InputError, match=rf"^{out}: cannot write the file \(Not a directory: {tmp_path / 'file'}\)$"):
        VideoWriter(out, PAL_HALF, 64, 48)


FULL_DISK = """
import resource, signal, sys
import numpy as np
from zoo_core.faces.video import VideoWriter
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
frames = np.random.default_rng(0).integers(0, 255, (10, 48, 64, 3), dtype=np.uint8)
try:
    with VideoWriter(sys.argv[1], 25, 64, 48) as writer:
        for frame in frames:
            writer.write(frame)
except Exception as error:
    print(type(error).__name__, error)
"""


@pytest.mark.parametrize("suffix", sorted(VIDEO_SUFFIXES))
def test_full_disk_error_names_the_output(tmp_path: Path, suffix: str) -> None:
    # Files may not grow past 2000 bytes: writing fails as on a full disk.
    out = tmp_path / f"out{suffix}"
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(out)], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == f"WriteError {out}: cannot write the file (File too large)", result.stderr
    assert list(tmp_path.iterdir()) == []


# --- landmark smoothing -----------------------------------------------------------------------


FIVE = np.array([[80.0, 100.0], [120.0, 100.0], [100.0, 125.0], [85.0, 145.0], [115.0, 145.0]])


def test_smoother_reduces_jitter_without_bias() -> None:
    rng = np.random.default_rng(0)
    noisy = FIVE + rng.normal(0.0, 1.5, size=(300, 5, 2))
    smoother = LandmarkSmoother(alpha=0.5)
    smoothed = np.stack([smoother(points) for points in noisy])
    assert smoothed.dtype == np.float32
    raw_jitter = np.diff(noisy, axis=0).std()
    smooth_jitter = np.diff(smoothed, axis=0).std()
    # Exponential smoothing with alpha 0.5: std of steps shrinks by sqrt(1/6) ~ 0.41.
    assert smooth_jitter < 0.55 * raw_jitter
    assert np.abs(smoothed[20:].mean(0) - FIVE).max() < 0.5


def test_smoother_follows_small_moves_and_resets_on_jumps() -> None:
    smoother = LandmarkSmoother(alpha=0.5, reset=0.35)  # eye distance 40: reset beyond 14 px
    np.testing.assert_allclose(smoother(FIVE), FIVE)  # the first detection is taken as is
    np.testing.assert_allclose(smoother(FIVE + 10.0), FIVE + 5.0)  # small move: halfway
    np.testing.assert_allclose(smoother(FIVE + 80.0), FIVE + 80.0)  # a cut: restart, no drag
    np.testing.assert_allclose(smoother(FIVE + 84.0), FIVE + 82.0)  # smoothing resumes from there
    unsmoothed = LandmarkSmoother(alpha=1.0)
    for shift in (0.0, 3.0, -2.0):
        np.testing.assert_allclose(unsmoothed(FIVE + shift), FIVE + shift)


# --- command line -----------------------------------------------------------------------------


def test_cli_swap_video_then_inspect(example_plugin, clips: dict[str, Path], faces_dir: Path, tmp_path: Path) -> None:
    # The silent clip: an in-process run with audio would take the test session down with it
    # while copying audio crashes (see test_swap_video_keeps_audio).
    out = tmp_path / "out.mp4"
    runner = CliRunner()
    result = runner.invoke(cli, ["swap", "--model", "example-64", "--random-init", "--source", str(faces_dir / SOURCE_PHOTO),
                                 "--target", str(clips["silent"]), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    assert "random weights" in result.stderr
    info = probe(out)
    assert (info.fps, info.frames, info.width, info.height) == (PAL_HALF, 12, WIDTH, HEIGHT)

    shown = runner.invoke(cli, ["inspect", str(out)])
    assert shown.exit_code == 0, shown.output
    lines = set(shown.stdout.splitlines())
    assert {"synthetic: True", "model: example-64", "weights: random-init", f"target: {clips['silent'].name}"} <= lines


def test_cli_video_error_is_its_own_line(example_plugin, clips: dict[str, Path], faces_dir: Path, tmp_path: Path) -> None:
    # The CLI promises one "error: ..." line; a progress bar left open would prefix it.
    out = tmp_path / "out.xyz"
    result = CliRunner().invoke(cli, ["swap", "--model", "example-64", "--random-init", "--source", str(faces_dir / SOURCE_PHOTO),
                                      "--target", str(clips["silent"]), "--output", str(out)])
    assert result.exit_code == 1
    assert f"error: {out}: unsupported video container" in result.stderr
    assert not out.exists()
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert [line.startswith("error:") for line in errors] == [True], repr(result.stderr)
