"""An MP4 preview a browser can play: the source with its landmarks, the source with the clip drawn back on it,
and the retargeted skeleton.

Browsers play H.264 in MP4 only with 4:2:0 chroma (yuv420p), even frame sizes and the index at
the front of the file (+faststart, so playback starts before the download ends). OpenCV's `mp4v`
writer meets none of that, so frames are piped to the libx264 encoder of the ffmpeg that ships
with imageio-ffmpeg. Drawing is plain OpenCV lines on a front (camera) view of the skeleton.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from pipelines.motion.clip import MotionClip
from pipelines.motion.landmarks import CONNECTIONS, PoseTrack, world_to_character

BACKGROUND = (32, 34, 40)
LEFT_COLOUR = (255, 150, 40)  # RGB: the person's left side in orange
RIGHT_COLOUR = (60, 160, 255)  # and their right side in blue
CENTRE_COLOUR = (235, 235, 235)
FLOOR_COLOUR = (90, 95, 105)
MIN_VISIBILITY = 0.5  # landmarks drawn on the source only when MediaPipe is this sure they are in view
FAR = 1e4  # pixels: points further off the canvas are drawn at this distance (OpenCV needs ints that fit)
HEAD_RADIUS = 0.09  # metres, for the mannequin's head
LIMB_WIDTH = 0.045  # metres, mannequin limb thickness


def _colour(name: str) -> tuple[int, int, int]:
    if name.startswith(("Left", "LEFT")):
        return LEFT_COLOUR
    return RIGHT_COLOUR if name.startswith(("Right", "RIGHT")) else CENTRE_COLOUR


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


class SkeletonView:
    """A fixed front view (looking along -Z, like the camera) framing the whole clip."""

    def __init__(self, joints: np.ndarray, ends: np.ndarray, width: int, height: int, margin: float = 0.08):
        points = np.concatenate([joints.reshape(-1, 3), ends.reshape(-1, 3)])
        low = np.minimum(points[:, :2].min(axis=0), [np.inf, 0.0])  # keep the floor (y = 0) in view
        high = points[:, :2].max(axis=0) + HEAD_RADIUS
        span = np.maximum(high - low, 1e-3)
        self.scale = min(width * (1 - 2 * margin) / span[0], height * (1 - 2 * margin) / span[1])
        self.centre = (low + high) / 2
        self.size = (width, height)

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) metres -> (N, 2) integer pixels; +Y up becomes up on screen."""
        xy = (points[:, :2] - self.centre) * self.scale * np.array([1.0, -1.0])
        return np.round(xy + np.array(self.size) / 2).astype(int)


def draw_skeleton(canvas: np.ndarray, view: SkeletonView, clip: MotionClip, joints: np.ndarray, ends: np.ndarray) -> None:
    """Draw one frame of the skeleton as a simple mannequin: thick limbs, round head, a floor line."""
    skeleton = clip.skeleton
    floor_y = view.project(np.zeros((1, 3)))[0, 1]
    cv2.line(canvas, (0, floor_y), (canvas.shape[1], floor_y), FLOOR_COLOUR, 2, cv2.LINE_AA)
    width = max(2, int(LIMB_WIDTH * view.scale))
    segments = [(j, joints[p], joints[j]) for j, p in enumerate(skeleton.parents) if p >= 0]
    segments += [(skeleton.index(name), joints[skeleton.index(name)], ends[e]) for e, name in enumerate(skeleton.end_sites)]
    # Far segments first (smaller z = farther from the camera) so near limbs cover them.
    for j, a, b in sorted(segments, key=lambda s: s[1][2] + s[2][2]):
        name = skeleton.joints[j]
        if name == "Head":
            centre = (joints[j] + ends[list(skeleton.end_sites).index("Head")]) / 2
            c = view.project(centre[None])[0]
            radius = max(3, int(HEAD_RADIUS * view.scale))
            cv2.circle(canvas, tuple(int(v) for v in c), radius, CENTRE_COLOUR, -1, cv2.LINE_AA)
            continue
        pa, pb = view.project(np.stack([a, b]))
        cv2.line(canvas, tuple(int(v) for v in pa), tuple(int(v) for v in pb), _colour(name), width, cv2.LINE_AA)
    for p in view.project(joints):
        cv2.circle(canvas, tuple(int(v) for v in p), max(2, width // 2), (20, 20, 20), -1, cv2.LINE_AA)


def draw_landmarks(canvas: np.ndarray, pixels: np.ndarray, visibility: np.ndarray) -> None:
    """Draw MediaPipe's image landmarks (33 x 2, already in canvas pixels) on the source frame."""
    pixels = np.clip(pixels, -FAR, FAR)
    for a, b in CONNECTIONS:
        if visibility[a] >= MIN_VISIBILITY and visibility[b] >= MIN_VISIBILITY:
            pa, pb = (tuple(int(v) for v in pixels[k]) for k in (a, b))
            cv2.line(canvas, pa, pb, _colour(b.name), 2, cv2.LINE_AA)
    for k in np.flatnonzero(visibility >= MIN_VISIBILITY):
        cv2.circle(canvas, tuple(int(v) for v in pixels[k]), 3, (255, 255, 255), -1, cv2.LINE_AA)


def _label(canvas: np.ndarray, text: str, y: int = 22, colour: tuple[int, int, int] = (255, 255, 255)) -> None:
    cv2.putText(canvas, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 1, cv2.LINE_AA)


def write_h264(path: str | Path, frames: Iterable[np.ndarray], size: tuple[int, int], fps: float) -> Path:
    """Encode RGB frames of `size` (even width, height) as browser-playable H.264 MP4."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(
        str(path), size, fps=float(fps), codec="libx264", pix_fmt_out="yuv420p", quality=None,
        macro_block_size=1, output_params=["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"],
    )
    writer.send(None)  # start ffmpeg
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()
    return Path(path)


def draw_fit(canvas: np.ndarray, clip: MotionClip, fit: np.ndarray) -> None:
    """Draw the clip's bones (J x 2 joint positions, already in canvas pixels) over the source frame."""
    fit = np.clip(fit, -FAR, FAR)
    for j, parent in enumerate(clip.parents):
        if parent >= 0 and np.isfinite(fit[[j, parent]]).all():
            pa, pb = (tuple(int(v) for v in fit[k]) for k in (parent, j))
            cv2.line(canvas, pa, pb, _colour(clip.joint_names[j]), 3, cv2.LINE_AA)
    for point in fit[np.isfinite(fit).all(axis=1)]:
        cv2.circle(canvas, tuple(int(v) for v in point), 3, (20, 20, 20), -1, cv2.LINE_AA)


def render_preview(
    path: str | Path,
    clip: MotionClip,
    source: Iterable[np.ndarray] | None = None,
    track: PoseTrack | None = None,
    made_up: np.ndarray | None = None,
    height: int = 480,
    fit: np.ndarray | None = None,
) -> Path:
    """Write the preview MP4: skeleton alone, or beside `source` frames with `track`'s landmarks.

    `made_up` (T,) marks frames whose pose was interpolated over a long gap; they are labelled.
    `fit` (T, J, 2; 0-1 image coordinates, see `project_onto_source`) adds a panel with the clip's own
    skeleton drawn over the source, so a user sees where the capture parts from the person.
    """
    clip.check_finite()
    height = _even(height)
    joints, ends = clip.positions()
    if source is not None and track is not None:
        source_width = _even(height * track.width / max(track.height, 1))
    else:
        source_width = 0
    panel_width = max(source_width, _even(height * 0.75))
    view = SkeletonView(joints, ends, panel_width, height)
    fit_width = source_width if fit is not None else 0
    size = (source_width + fit_width + panel_width, height)

    def frames():
        sources = iter(source) if source is not None and track is not None else None
        blank = np.empty((height, max(panel_width, source_width), 3), np.uint8)
        blank[:] = BACKGROUND
        for t in range(clip.num_frames):
            panel = blank[:, :panel_width].copy()
            draw_skeleton(panel, view, clip, joints[t], ends[t])
            _label(panel, f"skeleton {t + 1}/{clip.num_frames}")
            if made_up is not None and t < len(made_up) and made_up[t]:
                _label(panel, "pose interpolated (long gap)", 44, (255, 120, 120))
            if sources is None:
                yield panel
                continue
            frame = next(sources, None)
            if frame is not None:
                left = np.ascontiguousarray(cv2.resize(frame, (source_width, height), interpolation=cv2.INTER_AREA))
            else:  # the decoder gave fewer frames than the clip has
                left = blank[:, :source_width].copy()
            panels = [left]
            if fit is not None:
                fitted = left.copy()
                if t < len(fit):
                    draw_fit(fitted, clip, fit[t] * np.array([source_width, height]))
                _label(fitted, "clip on the source")
                panels.append(fitted)
            if t < track.num_frames and track.detected[t]:
                draw_landmarks(left, track.image[t, :, :2] * np.array([source_width, height]), track.visibility[t])
            else:
                _label(left, "no person found", 44, (255, 120, 120))
            _label(left, "source")
            yield np.hstack([*panels, panel])

    return write_h264(path, frames(), size, clip.fps)


def project_onto_source(
    clip: MotionClip, pixels_per_metre: np.ndarray, origin: np.ndarray, character_scale: float, size: tuple[int, int]
) -> np.ndarray:
    """Where the clip's joints fall on the source frames: (T, J, 2) in 0-1 image coordinates.

    The same weak-perspective map that placed the root (`cleaning.estimate_root`: hip centre at
    `origin` pixels, `pixels_per_metre`) is applied to the skeleton's joints around its hips, turned
    back into camera axes and to the person's own size. Drawn over the video it shows what the clip
    really is: where it parts from the person, the capture went wrong.
    """
    joints, _ = clip.positions()
    hips = joints[:, clip.skeleton.parents.index(-1)]
    around_hips = world_to_character(joints - hips[:, None]) / character_scale  # the axis flip is its own inverse
    pixels = origin[:, None] + pixels_per_metre[:, None, None] * around_hips[..., :2]
    return pixels / np.array(size, dtype=float)
