"""Align a face to a canonical square crop (eyes and mouth at fixed spots) and map points between frames.

The inpainting model is trained on, and applied to, crops made by this one function, so a face looks
the same to the model in training and in use: same scale, same position, upright. A similarity
transform (rotation, uniform scale, shift; no shear) is fitted in the least-squares sense to three
anchors: the two iris centres and the mouth centre.

A *region* is a fixed window of that canonical face frame (`REGION_BOXES`): the mouth model reads
the same aligned face, only cut closer, so one alignment serves every model and the pipeline can cut
a region out of the face crop it already has.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipelines.errors import InputError
from pipelines.face.landmarks import (
    LEFT_EYE_CENTER,
    LOWER_LIP_BOTTOM,
    MOUTH_LEFT_CORNER,
    MOUTH_RIGHT_CORNER,
    RIGHT_EYE_CENTER,
    UPPER_LIP_TOP,
)

# Where the anchors land, as fractions of the crop side. Eyes 0.27 apart and the mouth 0.30 below them
# leaves the brows and forehead above and the chin (about 0.16 below the mouth) inside with margin.
CANONICAL_RIGHT_EYE = (0.365, 0.40)  # the person's right eye, on the image left
CANONICAL_LEFT_EYE = (0.635, 0.40)
CANONICAL_MOUTH = (0.50, 0.70)
# Windows of the canonical face crop, as (left, top, side) fractions of its side. The mouth window holds
# the widest measured smile (corners 1.15 eye distances apart) and a dropped jaw (lower lip 0.3 eye
# distances down), with the nose's base above for context. The eye window is centred on the person's right eye
# (image left) with the lids and the brow's lower edge inside; the left eye is painted in the mirrored face.
REGION_BOXES: dict[str, tuple[float, float, float]] = {
    "face": (0.0, 0.0, 1.0), "mouth": (0.30, 0.53, 0.40), "eye": (0.255, 0.29, 0.22),
}


@dataclass
class AlignedFace:
    """An aligned crop, the affine map image->crop, the landmarks in crop pixels and which crop pixels are real."""

    crop: np.ndarray  # (S, S, 3) uint8
    matrix: np.ndarray  # (2, 3) float64, image pixel -> crop pixel
    landmarks: np.ndarray  # (478, 2) float32, crop pixels
    valid: np.ndarray | None = None  # (S, S) bool, False where the crop reaches outside the photo (edge-filled)


def anchor_points(landmarks_xy: np.ndarray) -> np.ndarray:
    """(3, 2): right eye centre, left eye centre, mouth centre (mean of corners and lip edges)."""
    points = np.asarray(landmarks_xy, dtype=np.float64)[:, :2]
    mouth = points[[MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER, UPPER_LIP_TOP, LOWER_LIP_BOTTOM]].mean(axis=0)
    return np.stack([points[RIGHT_EYE_CENTER], points[LEFT_EYE_CENTER], mouth])


def canonical_points(size: int, region: str = "face") -> np.ndarray:
    """Where the three anchors land in a `size` px crop of `region` (outside the crop for a small region)."""
    left, top, side = region_box(region)
    anchors = np.array([CANONICAL_RIGHT_EYE, CANONICAL_LEFT_EYE, CANONICAL_MOUTH], dtype=np.float64)
    return (anchors - (left, top)) / side * size


def region_box(region: str) -> tuple[float, float, float]:
    """(left, top, side) of `region` as fractions of the face crop's side."""
    if region not in REGION_BOXES:
        raise InputError(f"Unknown face region {region!r}; choose one of {', '.join(REGION_BOXES)}.")
    return REGION_BOXES[region]


def region_slice(region: str, face_size: int) -> tuple[slice, slice]:
    """The (rows, columns) of `region` in a `face_size` px face crop (rounded to whole pixels)."""
    left, top, side = region_box(region)
    x0, y0, width = round(left * face_size), round(top * face_size), round(side * face_size)
    return slice(y0, y0 + width), slice(x0, x0 + width)


def similarity_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + shift taking `source` (N,2) onto `target` (N,2), as (2,3)."""
    src_mean, dst_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - src_mean, target - dst_mean
    # With points as complex numbers z, the best similarity is w = a*z, a = sum(conj(z) w) / sum(|z|^2).
    z = src[:, 0] + 1j * src[:, 1]
    w = dst[:, 0] + 1j * dst[:, 1]
    denom = float(np.sum(np.abs(z) ** 2))
    if denom < 1e-9:
        raise InputError("The face landmarks are degenerate (eyes and mouth at one point); cannot align the face.")
    a = np.sum(np.conj(z) * w) / denom
    linear = np.array([[a.real, -a.imag], [a.imag, a.real]])
    shift = dst_mean - linear @ src_mean
    return np.hstack([linear, shift[:, None]])


def align_face(image: np.ndarray, landmarks_xy: np.ndarray, size: int, region: str = "face") -> AlignedFace:
    """Warp `image` so the face's eyes and mouth sit at the canonical spots of a `size` x `size` crop of `region`."""
    landmarks = np.asarray(landmarks_xy, dtype=np.float64)[:, :2]
    matrix = similarity_matrix(anchor_points(landmarks), canonical_points(size, region))
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA if _scale(matrix) < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    inside = np.full(image.shape[:2], 255, dtype=np.uint8)
    valid = cv2.warpAffine(inside, matrix, (size, size), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    return AlignedFace(crop=crop, matrix=matrix, landmarks=transform_points(landmarks, matrix).astype(np.float32),
                       valid=valid)  # fmt: skip


def _scale(matrix: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def invert(matrix: np.ndarray) -> np.ndarray:
    """The (2,3) affine map going the other way (crop -> image)."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2,3) affine map to (N,2) points (extra columns such as z are ignored); returns (N,2) float64."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    return xy @ np.asarray(matrix, dtype=np.float64)[:, :2].T + np.asarray(matrix, dtype=np.float64)[:, 2]
