"""MediaPipe face landmarks and blendshapes in the pixel coordinates of the image given.

One thin adapter over MediaPipe's Tasks API, so the rest of the code deals in plain numpy arrays:
(478, 3) landmarks in pixels (the 468-point face mesh plus 10 iris points) and the 52 ARKit-style
blendshape scores. The studio shares one instance between users, so `detect` takes a lock: a
MediaPipe task is not safe to call from several threads at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.errors import InputError
from pipelines.weights import WeightSpec, resolve

FACE_LANDMARKER = WeightSpec(
    "face_landmarker.task",
    how_to_get="Download face_landmarker.task from https://storage.googleapis.com/mediapipe-models/face_landmarker/"
    "face_landmarker/float16/1/face_landmarker.task into weights/.",
)
NUM_LANDMARKS = 478  # MediaPipe face mesh (468) + two irises (5 each)
MAX_FACES = 5  # group photos: enough to pick the main face without paying for crowds


@dataclass
class FaceDetection:
    """One face: landmarks (478, 3) float32 in pixels (z on the x pixel scale), blendshapes, bounding box."""

    landmarks: np.ndarray
    blendshapes: dict[str, float] = field(default_factory=dict)
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # x0, y0, x1, y1 over all landmarks

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


class FaceLandmarker:
    """MediaPipe FaceLandmarker (IMAGE mode) with blendshapes; use as a context manager or call `close()`."""

    def __init__(self, task_path: Path | str, num_faces: int = MAX_FACES, min_confidence: float = 0.5):
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(task_path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=num_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            output_face_blendshapes=True,
        )
        self._task = vision.FaceLandmarker.create_from_options(options)
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, path: Path | str | None = None, **kwargs) -> "FaceLandmarker":
        """Load `path`, or weights/face_landmarker.task through the shared resolver."""
        return cls(Path(path) if path is not None else resolve(FACE_LANDMARKER), **kwargs)

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """Faces in an (H, W, 3) uint8 RGB image, largest first; an empty list when there is none."""
        if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
            raise InputError("detect() needs an (H, W, 3) uint8 RGB array; use pipelines.image_io.load_image first.")
        import mediapipe as mp

        height, width = image.shape[:2]
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        with self._lock:
            if self._task is None:
                raise InputError("This FaceLandmarker was closed.")
            result = self._task.detect(mp_image)
        faces = []
        for index, points in enumerate(result.face_landmarks):
            xyz = np.array([(p.x * width, p.y * height, p.z * width) for p in points], dtype=np.float32)
            scores = {}
            if result.face_blendshapes and index < len(result.face_blendshapes):
                scores = {c.category_name: float(c.score) for c in result.face_blendshapes[index]}
            box = (float(xyz[:, 0].min()), float(xyz[:, 1].min()), float(xyz[:, 0].max()), float(xyz[:, 1].max()))
            faces.append(FaceDetection(landmarks=xyz, blendshapes=scores, box=box))
        faces.sort(key=lambda face: face.area, reverse=True)
        return faces

    def close(self) -> None:
        with self._lock:
            if self._task is not None:
                self._task.close()
                self._task = None

    def __enter__(self) -> "FaceLandmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
