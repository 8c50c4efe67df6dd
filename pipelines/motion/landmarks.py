"""The 33 BlazePose landmarks by name, and the per-frame landmark track MediaPipe gives us.

Code refers to landmarks by name (`PoseLandmark.LEFT_KNEE`), never by bare index, so a solver reads
like anatomy. The track stores MediaPipe's two views of the body: image landmarks (normalised to the
frame) and world landmarks (metres, origin between the hips, axes aligned with the camera: x right,
y down, z away from the camera).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class PoseLandmark(IntEnum):
    """BlazePose GHUM 3D landmark order, as documented for the MediaPipe Pose Landmarker."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


L = PoseLandmark
NUM_LANDMARKS = len(PoseLandmark)

# Body landmarks (shoulders down): the face points are small and noisy, so fits of body size and
# position use only these.
BODY = tuple(lm for lm in PoseLandmark if lm >= L.LEFT_SHOULDER)

# Segments drawn on the source video in the preview, coloured by side.
CONNECTIONS = (
    (L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_HIP, L.RIGHT_HIP),
    (L.LEFT_SHOULDER, L.LEFT_HIP), (L.RIGHT_SHOULDER, L.RIGHT_HIP),
    (L.LEFT_SHOULDER, L.LEFT_ELBOW), (L.LEFT_ELBOW, L.LEFT_WRIST), (L.LEFT_WRIST, L.LEFT_INDEX),
    (L.RIGHT_SHOULDER, L.RIGHT_ELBOW), (L.RIGHT_ELBOW, L.RIGHT_WRIST), (L.RIGHT_WRIST, L.RIGHT_INDEX),
    (L.LEFT_HIP, L.LEFT_KNEE), (L.LEFT_KNEE, L.LEFT_ANKLE), (L.LEFT_ANKLE, L.LEFT_HEEL),
    (L.LEFT_HEEL, L.LEFT_FOOT_INDEX), (L.LEFT_ANKLE, L.LEFT_FOOT_INDEX),
    (L.RIGHT_HIP, L.RIGHT_KNEE), (L.RIGHT_KNEE, L.RIGHT_ANKLE), (L.RIGHT_ANKLE, L.RIGHT_HEEL),
    (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX), (L.RIGHT_ANKLE, L.RIGHT_FOOT_INDEX),
    (L.LEFT_EAR, L.LEFT_EYE), (L.LEFT_EYE, L.NOSE), (L.NOSE, L.RIGHT_EYE), (L.RIGHT_EYE, L.RIGHT_EAR),
)


@dataclass
class PoseTrack:
    """MediaPipe's landmarks for every processed frame of one video (NaN where no person was found)."""

    fps: float  # frames per second of the processed (constant-rate) frames
    width: int  # pixel size of the frames the landmarker saw
    height: int
    image: np.ndarray  # (T, 33, 3) x, y in [0, 1] of the frame, z relative depth (MediaPipe's scale)
    world: np.ndarray  # (T, 33, 3) metres, hip-centred, camera axes (x right, y down, z away)
    visibility: np.ndarray  # (T, 33) MediaPipe's visibility score in [0, 1]; 0 where no person
    start: float = 0.0  # seconds into the source video of frame 0
    people: int = 1  # distinct people seen in the clip (this track follows one of them)
    person: int = 0  # which of them: 0 is the largest, most central, most present

    @property
    def num_frames(self) -> int:
        return len(self.world)

    @property
    def detected(self) -> np.ndarray:
        """(T,) True where the landmarker found a person."""
        return ~np.isnan(self.world[:, 0, 0])

    def pixels(self) -> np.ndarray:
        """(T, 33, 2) image landmarks in pixels of the processed frames."""
        return self.image[..., :2] * np.array([self.width, self.height], dtype=float)


def world_to_character(points: np.ndarray) -> np.ndarray:
    """MediaPipe camera axes (x right, y down, z away) to character axes (x right, y up, z toward camera).

    A person facing the camera then faces +Z with their left hand at +X, which is the rest pose of
    our skeleton (and the usual Y-up BVH convention). It is a 180-degree turn about x, so handedness
    is kept.
    """
    return points * np.array([1.0, -1.0, -1.0])
