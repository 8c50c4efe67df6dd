"""Reading a user's video robustly: any container or codec ffmpeg knows, rotation applied, constant rate.

We decode with the ffmpeg binary that ships inside the `imageio-ffmpeg` wheel rather than OpenCV:
it reads every common container and codec (the sample walk is VP9 in MP4), applies the rotation
metadata of phone videos by default, and its `fps` filter turns a variable-frame-rate recording into
evenly spaced frames by timestamp, which is what a BVH file (one fixed frame time) needs. Its
`scale` filter shrinks frames before they cross the pipe, so a 4K clip costs no more than 640p.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from pipelines.errors import InputError

# Containers that hold a single still image; ffmpeg happily "plays" them as a one-frame video.
IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "gif_pipe", "jpegls_pipe")
# The only demuxers ffmpeg may use on an upload: self-contained video files, plus single-image pipes so a
# photo gets a plain "that is a still image". Playlists (hls, dash), concat lists, image sequences (image2)
# and devices would make ffmpeg open other files named inside the upload, so they are never even probed.
VIDEO_FORMATS = ("mov", "matroska", "avi", "flv", "mpegts", "mpeg", "ogg", "asf", "mxf", "nut", "gif", "h264", "hevc",
                 "m4v", *IMAGE_FORMATS[1:])  # fmt: skip
# Options put before every `-i` of an upload: read local files only, with the demuxers above only.
SAFE_INPUT = ["-protocol_whitelist", "file", "-format_whitelist", ",".join(VIDEO_FORMATS)]
PROBE_SECONDS = 30.0  # a probe that takes longer is a hostile or broken file, not a video
DECODE_CPU_SECONDS = 600  # ffmpeg's own -timelimit on one decode: far above a 60 s clip's needs
MIN_FRAMES = 2  # fewer decoded frames than this is not motion


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a file before decoding it."""

    path: Path
    container: str  # ffmpeg's demuxer name(s), e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str  # e.g. "h264", "vp9"
    width: int  # display size, after rotation metadata is applied
    height: int
    fps: float  # average frame rate the container reports (0 when unknown)
    duration: float  # seconds (0 when unknown)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: str | Path) -> VideoInfo:
    """Inspect `path` with ffmpeg, raising InputError with a plain reason when it is not a usable video.

    Only the demuxers in `VIDEO_FORMATS` may open it (`SAFE_INPUT`), and the probe has `PROBE_SECONDS`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Video file not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"The file {path.name} is empty (0 bytes); upload the video again.")
    command = [_ffmpeg(), "-hide_banner", *SAFE_INPUT, "-i", str(path)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=PROBE_SECONDS)
    except subprocess.TimeoutExpired:
        raise InputError(f"{path.name} took more than {PROBE_SECONDS:g} s just to open; it is not a usable video.") from None
    text = proc.stderr
    container = re.search(r"Input #0, (.+?), from", text)
    if container is None:
        reason = text.strip().splitlines()[-1] if text.strip() else "ffmpeg gave no reason"
        raise InputError(
            f"{path.name} could not be read as a video: it may be damaged, cut off or not a video ({reason})."
        )
    container = container.group(1)
    if container.split(",")[0] not in VIDEO_FORMATS:  # the whitelist should make this impossible; never trust one layer
        raise InputError(f"{path.name} is a {container} file, which is not a video format motion capture reads.")
    video = re.search(r"Stream #0:\d+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5}).*", text)
    if video is None or "(attached pic)" in video.group(0):  # an mp3's cover art is not a video
        kind = "an audio-only file" if re.search(r"Stream #0:\d+.*?: Audio:", text) else "not a video"
        raise InputError(f"{path.name} has no video track ({kind}); upload a video of a person moving.")
    if container in IMAGE_FORMATS:
        raise InputError(f"{path.name} is a still image, not a video; motion capture needs a video of a person moving.")
    codec, width, height = video.group(1), int(video.group(2)), int(video.group(3))
    rotation = re.search(r"rotation of (-?[\d.]+) degrees", text)
    if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
        width, height = height, width
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    seconds = int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3)) if duration else 0.0
    return VideoInfo(path, container, codec, width, height, frame_rate(video.group(0)), seconds)


def frame_rate(stream_line: str) -> float:
    """Frames per second from ffmpeg's description of a video stream; 0 when it gives none.

    ffmpeg prints the average rate as "29.97 fps" and falls back to "tbr", which can read "1k tbr"
    for browser recordings (WebM from MediaRecorder): the k must not be dropped.
    """
    found = re.search(r"([\d.]+)(k?) fps", stream_line) or re.search(r"([\d.]+)(k?) tbr", stream_line)
    if not found:
        return 0.0
    return float(found.group(1)) * (1000.0 if found.group(2) else 1.0)


def output_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Frame size after shrinking so the long side is at most `max_side`; both sides even (ffmpeg's scale=-2)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


class _SizeNoteFilter(logging.Filter):
    """imageio-ffmpeg warns that the read size differs from the source size; we scale on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


logging.getLogger("imageio_ffmpeg").addFilter(_SizeNoteFilter())


def read_frames(
    path: str | Path, fps: float, size: tuple[int, int], start: float = 0.0, duration: float | None = None
) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames of `size` (width, height) at a constant `fps` (see `output_size`).

    `start`/`duration` (seconds) select a range; ffmpeg seeks to the exact frame (accurate seek), so
    the first frame is the one at `start`, as in the source's own timeline.
    """
    import imageio_ffmpeg

    input_params = ["-timelimit", str(DECODE_CPU_SECONDS), *SAFE_INPUT, *(["-ss", f"{start:.3f}"] if start > 0 else [])]
    output_params = ["-an", "-vf", f"fps={fps:.6f},scale={size[0]}:{size[1]}"]
    if duration is not None:
        output_params = ["-t", f"{duration:.3f}", *output_params]
    frames = imageio_ffmpeg.read_frames(str(path), input_params=input_params, output_params=output_params)
    try:
        meta = next(frames)
    except OSError as err:
        raise InputError(f"{Path(path).name} could not be decoded: {str(err).strip().splitlines()[-1]}") from err
    width, height = meta["size"]
    try:
        for raw in frames:
            yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
    except RuntimeError as err:  # truncated or corrupt data mid-stream: stop at the last good frame
        logging.getLogger(__name__).warning("decoding stopped early: %s", str(err).splitlines()[0])
    finally:
        frames.close()
