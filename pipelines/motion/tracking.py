"""Pose per frame with the MediaPipe Pose Landmarker (Tasks API, VIDEO mode), following one person.

VIDEO mode tracks the body from frame to frame instead of detecting it afresh, which is faster and
steadier; it needs strictly increasing timestamps, so each video gets its own landmarker instance.
With several people in view the landmarker returns up to `num_poses` bodies in no fixed order; we
follow the largest, most central one from the first frame on, then whoever stays nearest to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from pipelines.motion.landmarks import BODY, NUM_LANDMARKS, PoseLandmark, PoseTrack

L = PoseLandmark


def person_score(image_xy: np.ndarray) -> float:
    """How likely a body (33 x (x, y) normalised) is the subject: large and near the frame centre."""
    body = image_xy[list(BODY)]
    size = float(np.ptp(body[:, 0]) * np.ptp(body[:, 1]))
    off_centre = float(np.linalg.norm(body.mean(axis=0) - 0.5))
    return size * (1.0 - min(off_centre, 0.7))


def pick_person(candidates: list[np.ndarray], previous_centre: np.ndarray | None) -> int:
    """Index of the body to follow among `candidates` (each 33 x 2 normalised image points).

    The first time (no previous centre) it is the largest, most central body; after that the body
    whose hip centre is nearest the one we followed last frame, so the track does not jump to a
    passer-by who happens to be bigger.
    """
    if previous_centre is None:
        return int(np.argmax([person_score(c) for c in candidates]))
    centres = [c[[L.LEFT_HIP, L.RIGHT_HIP]].mean(axis=0) for c in candidates]
    return int(np.argmin([np.linalg.norm(c - previous_centre) for c in centres]))


def track_poses(
    frames: Iterable[np.ndarray],
    model_path: str | Path,
    fps: float,
    num_frames: int,
    num_poses: int = 2,
    on_frame: Callable[[int], None] | None = None,
) -> PoseTrack:
    """Run the landmarker over `frames` (RGB uint8, constant `fps`) and collect one person's landmarks.

    `num_frames` is the expected count (for progress and preallocation); the track is cut to the
    frames actually decoded. `on_frame(i)` is called after each frame.
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=num_poses,
    )
    capacity = max(num_frames, 1)
    image = np.full((capacity, NUM_LANDMARKS, 3), np.nan)
    world = np.full((capacity, NUM_LANDMARKS, 3), np.nan)
    visibility = np.zeros((capacity, NUM_LANDMARKS))
    width = height = 0
    count = 0
    previous_centre = None
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for i, frame in enumerate(frames):
            if i >= capacity:  # ffmpeg gave a frame more than duration x fps predicted
                capacity *= 2
                image, world = (np.concatenate([a, np.full_like(a, np.nan)]) for a in (image, world))
                visibility = np.concatenate([visibility, np.zeros_like(visibility)])
            height, width = frame.shape[:2]
            timestamp_ms = int(round(i * 1000.0 / fps))
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame), timestamp_ms)
            if result.pose_landmarks:
                candidates = [np.array([[p.x, p.y, p.z] for p in pose]) for pose in result.pose_landmarks]
                k = pick_person([c[:, :2] for c in candidates], previous_centre)
                image[i] = candidates[k]
                world[i] = [[p.x, p.y, p.z] for p in result.pose_world_landmarks[k]]
                visibility[i] = [p.visibility for p in result.pose_landmarks[k]]
                previous_centre = candidates[k][[L.LEFT_HIP, L.RIGHT_HIP], :2].mean(axis=0)
            count = i + 1
            if on_frame is not None:
                on_frame(i)
    return PoseTrack(fps, width, height, image[:count], world[:count], visibility[:count])
