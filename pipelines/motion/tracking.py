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


TILE_OVERLAP = 1.4  # each tile is this much larger than its share of the frame, so nobody is cut in half everywhere


def _bodies(result) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image, world, visibility) arrays for each body in a landmarker result."""
    return [
        (np.array([[p.x, p.y, p.z] for p in image]), np.array([[p.x, p.y, p.z] for p in world]),
         np.array([p.visibility for p in image]))
        for image, world in zip(result.pose_landmarks, result.pose_world_landmarks)
    ]  # fmt: skip


def _tiles(frame: np.ndarray, grid: int) -> Iterable[tuple[int, int, np.ndarray]]:
    """Overlapping parts of `frame` on a grid x grid layout: (left, top, pixels) each."""
    height, width = frame.shape[:2]
    tile_w, tile_h = min(width, int(width / grid * TILE_OVERLAP)), min(height, int(height / grid * TILE_OVERLAP))
    for row in range(grid):
        for col in range(grid):
            x0 = int(np.clip((col + 0.5) * width / grid - tile_w / 2, 0, width - tile_w))
            y0 = int(np.clip((row + 0.5) * height / grid - tile_h / 2, 0, height - tile_h))
            yield x0, y0, np.ascontiguousarray(frame[y0 : y0 + tile_h, x0 : x0 + tile_w])


def track_poses(
    frames: Iterable[np.ndarray],
    model_path: str | Path,
    fps: float,
    num_frames: int,
    num_poses: int = 2,
    on_frame: Callable[[int], None] | None = None,
    tiles: int = 1,
) -> tuple[list[PoseTrack], int]:
    """Run the landmarker over `frames` (RGB uint8, constant `fps`): one track per person, best first,
    and the number of frames decoded.

    `num_frames` is the expected count (for progress); tracks cover the frames actually decoded
    (NaN where that person is not seen). `on_frame(i)` is called after each frame. An empty list
    means nobody was found. With `tiles` > 1 a frame where nobody is found is searched again in
    tiles x tiles overlapping parts, each enlarged to the landmarker's input: people too small for the
    whole-frame detector are found there.
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    def options(mode):
        return vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)), running_mode=mode, num_poses=num_poses
        )

    seen: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = []  # per frame: (image, world, visibility) per body
    width = height = 0
    with (
        vision.PoseLandmarker.create_from_options(options(vision.RunningMode.VIDEO)) as landmarker,
        vision.PoseLandmarker.create_from_options(options(vision.RunningMode.IMAGE)) as still,
    ):
        for i, frame in enumerate(frames):
            height, width = frame.shape[:2]
            timestamp_ms = int(round(i * 1000.0 / fps))
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame), timestamp_ms)
            bodies = _bodies(result)
            if not bodies and tiles > 1:  # nobody at this scale: look again at parts of the frame, enlarged
                for x0, y0, tile in _tiles(frame, tiles):
                    for image, world, visibility in _bodies(still.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=tile))):
                        image[:, :2] = (image[:, :2] * [tile.shape[1], tile.shape[0]] + [x0, y0]) / [width, height]
                        bodies.append((image, world, visibility))
            seen.append(bodies)
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


CROP_SIZE = 256  # pixels of the square crop the landmarker sees: its own input size, so small people are upscaled
CROP_MARGIN = 1.5  # crop side = this times the body's bounding box (room for the next frame's move)
MIN_CROP = 32  # pixels: smallest crop side, so a person seen as a speck is still searched in a sensible window
RECENTRE = 0.15  # move the crop only when the person drifts this share of its side (the tracker inside needs a steady view)
SEARCH_GROWTH = 1.05  # while the person is lost, the crop widens by this factor per frame


def crop_window(image_xy: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (2,) and side of the square crop around one body (33 x 2, frame pixels)."""
    body = image_xy[list(BODY)]
    low, high = body.min(axis=0), body.max(axis=0)
    return (low + high) / 2, max(float((high - low).max()) * CROP_MARGIN, MIN_CROP)


def cut_crop(frame: np.ndarray, centre: np.ndarray, side: float) -> np.ndarray:
    """The `CROP_SIZE` square of `frame` centred on `centre` with `side` frame pixels (black beyond the edges)."""
    import cv2

    scale = CROP_SIZE / side
    warp = np.array([[scale, 0, CROP_SIZE / 2 - scale * centre[0]], [0, scale, CROP_SIZE / 2 - scale * centre[1]]])
    return cv2.warpAffine(frame, warp, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def follow_person(
    frames: Iterable[np.ndarray],
    model_path: str | Path,
    fps: float,
    anchors: PoseTrack,
    step: int,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[PoseTrack, int]:
    """Follow one person through every frame by running the landmarker on a crop around them.

    BlazePose's own idea (detect once, then track a region of interest), applied to one chosen
    person: `anchors` is that person's track from the detection pass, which saw every `step`-th frame
    of the full-frame video. Each frame is cropped around where the person was last seen, scaled so
    the crop fills the landmarker's input (a far, small person is enlarged), and the landmarks are
    mapped back. The anchors keep the identity: whenever the detection pass saw the person somewhere
    else than the crop is looking, the crop jumps there, so a passer-by who crosses in front can hold
    the crop for at most `step` frames. Frames where the crop finds nobody keep the detection pass's
    landmarks when it has them. Returns the track (frame pixels of `frames`) and the frames decoded.
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)), running_mode=vision.RunningMode.VIDEO, num_poses=1
    )
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []
    window: tuple[np.ndarray, float] | None = None
    width = height = 0
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for t, frame in enumerate(frames):
            height, width = frame.shape[:2]
            size = np.array([width, height], dtype=float)
            k, on_grid = divmod(t, step)
            anchor = None
            if on_grid == 0 and k < anchors.num_frames and anchors.detected[k]:
                anchor = crop_window(anchors.image[k, :, :2] * size)
                if window is None or np.linalg.norm(anchor[0] - window[0]) > RECENTRE * window[1]:
                    window = anchor  # first sighting, or the crop drifted off the person the detection pass sees
            if window is None:
                rows.append(None)
            else:
                centre, side = window
                crop = np.ascontiguousarray(cut_crop(frame, centre, side))
                result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop),
                                                     int(round(t * 1000.0 / fps)))  # fmt: skip
                if result.pose_landmarks:
                    image = np.array([[p.x, p.y, p.z] for p in result.pose_landmarks[0]])
                    image[:, :2] = (centre - side / 2 + image[:, :2] * side) / size  # crop -> frame, normalised
                    world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks[0]])
                    visibility = np.array([p.visibility for p in result.pose_landmarks[0]])
                    visibility[((image[:, :2] < 0) | (image[:, :2] > 1)).any(axis=1)] = 0.0  # off the picture: unseen
                    rows.append((image, world, visibility))
                    seen = crop_window(image[:, :2] * size)
                    if np.linalg.norm(seen[0] - centre) > RECENTRE * side or abs(seen[1] / side - 1) > 2 * RECENTRE:
                        window = seen
                elif on_grid == 0 and k < anchors.num_frames and anchors.detected[k]:
                    rows.append((anchors.image[k], anchors.world[k], anchors.visibility[k]))
                else:
                    rows.append(None)
                    window = (centre, min(side * SEARCH_GROWTH, float(max(width, height))))
            if on_frame is not None:
                on_frame(t)
    image = np.full((len(rows), NUM_LANDMARKS, 3), np.nan)
    world = np.full((len(rows), NUM_LANDMARKS, 3), np.nan)
    visibility = np.zeros((len(rows), NUM_LANDMARKS))
    for t, row in enumerate(rows):
        if row is not None:
            image[t], world[t], visibility[t] = row
    track = PoseTrack(fps, width, height, image, world, visibility, people=anchors.people, person=anchors.person)
    return track, len(rows)
