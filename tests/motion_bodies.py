"""A synthetic person for motion tests: hand-placed MediaPipe landmarks of someone walking across a still camera.

No pose model is needed: the track is what MediaPipe would return for a person walking sideways, in its own
conventions (world landmarks in metres, hip-centred, camera axes x right / y down / z away; image landmarks
normalised to the frame). Tests then hide frames or joints to play the failures of real clips.
"""

from __future__ import annotations

import numpy as np

from pipelines.motion.landmarks import NUM_LANDMARKS, PoseLandmark, PoseTrack

L = PoseLandmark

# Standing pose, hip-centred, metres, camera axes (y down): the person faces the camera, their left at +x.
STANDING = {
    L.NOSE: (0.0, -0.62, -0.09),
    L.LEFT_EYE_INNER: (0.015, -0.65, -0.08), L.LEFT_EYE: (0.03, -0.65, -0.08), L.LEFT_EYE_OUTER: (0.045, -0.65, -0.07),
    L.RIGHT_EYE_INNER: (-0.015, -0.65, -0.08), L.RIGHT_EYE: (-0.03, -0.65, -0.08), L.RIGHT_EYE_OUTER: (-0.045, -0.65, -0.07),
    L.LEFT_EAR: (0.07, -0.63, 0.0), L.RIGHT_EAR: (-0.07, -0.63, 0.0),
    L.MOUTH_LEFT: (0.025, -0.58, -0.08), L.MOUTH_RIGHT: (-0.025, -0.58, -0.08),
    L.LEFT_SHOULDER: (0.18, -0.5, 0.0), L.RIGHT_SHOULDER: (-0.18, -0.5, 0.0),
    L.LEFT_ELBOW: (0.21, -0.23, 0.02), L.RIGHT_ELBOW: (-0.21, -0.23, 0.02),
    L.LEFT_WRIST: (0.22, 0.02, -0.03), L.RIGHT_WRIST: (-0.22, 0.02, -0.03),
    L.LEFT_PINKY: (0.23, 0.1, -0.02), L.RIGHT_PINKY: (-0.23, 0.1, -0.02),
    L.LEFT_INDEX: (0.21, 0.11, -0.06), L.RIGHT_INDEX: (-0.21, 0.11, -0.06),
    L.LEFT_THUMB: (0.2, 0.07, -0.06), L.RIGHT_THUMB: (-0.2, 0.07, -0.06),
    L.LEFT_HIP: (0.09, 0.0, 0.0), L.RIGHT_HIP: (-0.09, 0.0, 0.0),
    L.LEFT_KNEE: (0.1, 0.43, -0.03), L.RIGHT_KNEE: (-0.1, 0.43, -0.03),
    L.LEFT_ANKLE: (0.1, 0.85, 0.0), L.RIGHT_ANKLE: (-0.1, 0.85, 0.0),
    L.LEFT_HEEL: (0.1, 0.9, 0.05), L.RIGHT_HEEL: (-0.1, 0.9, 0.05),
    L.LEFT_FOOT_INDEX: (0.11, 0.92, -0.12), L.RIGHT_FOOT_INDEX: (-0.11, 0.92, -0.12),
}  # fmt: skip
LEGS = (L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX,
        L.RIGHT_FOOT_INDEX)  # fmt: skip


def walking_track(frames: int = 30, fps: float = 30.0, width: int = 640, height: int = 360, seed: int = 0) -> PoseTrack:
    """A person walking left to right at 1 m/s, legs and arms swinging at 1 Hz, with a little landmark noise."""
    rng = np.random.default_rng(seed)
    rest = np.array([STANDING[lm] for lm in PoseLandmark], dtype=float)
    t = np.arange(frames) / fps
    world = np.repeat(rest[None], frames, axis=0)
    swing = 0.25 * np.sin(2 * np.pi * t)[:, None]  # metres forward (-z) of the left leg; the right one opposite
    for lm in LEGS:
        side = 1.0 if lm.name.startswith("LEFT") else -1.0
        reach = 1.0 if lm in (L.LEFT_KNEE, L.RIGHT_KNEE) else 2.0
        world[:, lm, 2] += (-side * swing * reach / 2)[:, 0]
    world += rng.normal(scale=0.005, size=world.shape)
    pixels_per_metre = 0.5 * height  # the person is about half the frame tall
    hip_pixels = np.stack([0.2 * width + t * pixels_per_metre, np.full(frames, 0.55 * height)], axis=1)
    image = np.empty_like(world)
    image[..., :2] = (hip_pixels[:, None] + pixels_per_metre * world[..., :2]) / np.array([width, height])
    image[..., 2] = world[..., 2]
    visibility = np.full((frames, NUM_LANDMARKS), 0.95)
    return PoseTrack(fps, width, height, image, world, visibility)


def hide(track: PoseTrack, frames=None, joints=None) -> PoseTrack:
    """A copy of `track` with nobody in `frames` (NaN, visibility 0) and `joints` unseen (visibility 0)."""
    image, world, visibility = track.image.copy(), track.world.copy(), track.visibility.copy()
    if frames is not None:
        image[frames], world[frames], visibility[frames] = np.nan, np.nan, 0.0
    if joints is not None:
        visibility[:, list(joints)] = 0.0
    return PoseTrack(track.fps, track.width, track.height, image, world, visibility)
