"""Pose per frame with the MediaPipe Pose Landmarker (Tasks API, VIDEO mode), following one person.

VIDEO mode tracks bodies from frame to frame instead of detecting them afresh, which is faster and
steadier; it needs strictly increasing timestamps, so each video gets its own landmarker instance.
With several people in view the landmarker returns up to `num_poses` bodies per frame in no fixed
order. We link them over time into person tracks (nearest hip centre, within a gate that widens
while someone is out of sight), then rank the people by how large, central and present they are
over the whole clip; person 0 is the subject unless the user picks another. Ranking with hindsight
means a passer-by who is briefly bigger cannot take over, and when the subject vanishes (a flip, a
tree in front) the clip has a gap, not another person.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from pipelines.motion.landmarks import BODY, NUM_LANDMARKS, PoseLandmark, PoseTrack

L = PoseLandmark
GATE_BODY_SIZES = 0.6  # a person moves at most this many body heights between consecutive sightings...
GATE_GROWTH = 0.9  # ...plus this many per second they were out of sight (about a running pace)
DUPLICATE_BODY_SIZES = 0.25  # two bodies whose hips are closer than this (in body heights) are one person seen twice
MIN_TRACK_SECONDS = 0.15  # shorter tracks are flickers (a false detection), not people


def body_box(image_xy: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Hip centre (2,), bounding-box height and area of one body (33 x 2 normalised image points)."""
    body = image_xy[list(BODY)]
    height = float(np.ptp(body[:, 1]))
    return image_xy[[L.LEFT_HIP, L.RIGHT_HIP]].mean(axis=0), height, height * float(np.ptp(body[:, 0]))


def person_score(image_xy: np.ndarray) -> float:
    """How much a body looks like the subject in one frame: large and near the frame centre."""
    _, _, area = body_box(image_xy)
    off_centre = float(np.linalg.norm(image_xy[list(BODY)].mean(axis=0) - 0.5))
    return area * (1.0 - min(off_centre, 0.7))


def link_people(frames: list[list[np.ndarray]], max_missing: int, fps: float) -> list[dict[int, int]]:
    """Group per-frame bodies into people: each track maps frame index -> body index in that frame.

    frames[t] holds the bodies seen in frame t (each 33 x 2 normalised, `fps` frames a second). A
    body joins the track whose last sighting is nearest, if within the gate (`GATE_BODY_SIZES` body
    heights, widening by `GATE_GROWTH` per second missed); a track unseen for more than `max_missing`
    frames is closed.
    """
    tracks: list[dict[int, int]] = []
    last: list[tuple[int, np.ndarray, float]] = []  # per track: frame, hip centre, body height
    for t, bodies in enumerate(frames):
        boxes = [body_box(b) for b in bodies]
        kept = _drop_duplicates(boxes)
        pairs = []
        for k, (centre, height, _) in [(k, boxes[k]) for k in kept]:
            for n, (seen, previous, size) in enumerate(last):
                missed = t - seen - 1
                if missed <= max_missing:
                    distance = float(np.linalg.norm(centre - previous))
                    if distance <= max(size, height) * (GATE_BODY_SIZES + GATE_GROWTH * missed / fps):
                        pairs.append((distance, k, n))
        used_bodies, used_tracks = set(), set()
        for _, k, n in sorted(pairs):
            if k not in used_bodies and n not in used_tracks:
                tracks[n][t] = k
                last[n] = (t, boxes[k][0], boxes[k][1])
                used_bodies.add(k)
                used_tracks.add(n)
        for k in kept:
            if k not in used_bodies:
                tracks.append({t: k})
                last.append((t, boxes[k][0], boxes[k][1]))
    return tracks


def _drop_duplicates(boxes: list[tuple[np.ndarray, float, float]]) -> list[int]:
    """Indices of the bodies to keep: MediaPipe sometimes returns one person twice, nearly on top
    of each other; keep the larger of such a pair so the copy cannot start a track of its own."""
    kept: list[int] = []
    for k in sorted(range(len(boxes)), key=lambda k: -boxes[k][2]):
        centre, height, _ = boxes[k]
        if all(np.linalg.norm(centre - boxes[j][0]) > DUPLICATE_BODY_SIZES * max(height, boxes[j][1]) for j in kept):
            kept.append(k)
    return sorted(kept)


def rank_people(frames: list[list[np.ndarray]], tracks: list[dict[int, int]], fps: float) -> list[int]:
    """Track indices, best first, by summed `person_score`: the most present, largest, most central
    person leads. Tracks shorter than `MIN_TRACK_SECONDS` are flickers (false detections) and left out."""
    scores = {n: sum(person_score(frames[t][k]) for t, k in track.items()) for n, track in enumerate(tracks)}
    shortest = max(2, int(round(MIN_TRACK_SECONDS * fps)))
    return sorted((n for n in scores if len(tracks[n]) >= shortest), key=lambda n: -scores[n])


def track_poses(
    frames: Iterable[np.ndarray],
    model_path: str | Path,
    fps: float,
    num_frames: int,
    num_poses: int = 2,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[list[PoseTrack], int]:
    """Run the landmarker over `frames` (RGB uint8, constant `fps`): one track per person, best first,
    and the number of frames decoded.

    `num_frames` is the expected count (for progress); tracks cover the frames actually decoded
    (NaN where that person is not seen). `on_frame(i)` is called after each frame. An empty list
    means nobody was found.
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=num_poses,
    )
    seen: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = []  # per frame: (image, world, visibility) per body
    width = height = 0
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for i, frame in enumerate(frames):
            height, width = frame.shape[:2]
            timestamp_ms = int(round(i * 1000.0 / fps))
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame), timestamp_ms)
            seen.append(
                [
                    (
                        np.array([[p.x, p.y, p.z] for p in image]),
                        np.array([[p.x, p.y, p.z] for p in world]),
                        np.array([p.visibility for p in image]),
                    )
                    for image, world in zip(result.pose_landmarks, result.pose_world_landmarks)
                ]
            )
            if on_frame is not None:
                on_frame(i)
    bodies = [[body[0][:, :2] for body in frame] for frame in seen]
    tracks = link_people(bodies, max_missing=int(round(fps)), fps=fps)
    ranked = rank_people(bodies, tracks, fps)
    people = []
    for n in ranked:
        image = np.full((len(seen), NUM_LANDMARKS, 3), np.nan)
        world = np.full((len(seen), NUM_LANDMARKS, 3), np.nan)
        visibility = np.zeros((len(seen), NUM_LANDMARKS))
        for t, k in tracks[n].items():
            image[t], world[t], visibility[t] = seen[t][k]
        people.append(PoseTrack(fps, width, height, image, world, visibility, people=len(ranked), person=len(people)))
    return people, len(seen)
