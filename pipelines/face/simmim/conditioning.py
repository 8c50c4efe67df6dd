"""Render target landmarks as an image-shaped map the model sees next to the masked photo.

The model has to know where the lips, eyes and brows of the *target* expression go, in the same
pixel frame as the crop. Drawing the contours (one feature per channel, anti-aliased lines 1 px wide
at 128 px, the mouth opening and irises filled) keeps that information local: the token of a patch
gets the piece of contour that crosses it, which is exactly what that patch must repaint. Training
and the pipeline both render through `render_condition`, so the model sees in use what it learned on.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.errors import InputError
from pipelines.face.landmarks import (
    FACE_OVAL,
    LEFT_BROW,
    LEFT_EYE,
    LEFT_IRIS,
    LIPS_INNER,
    LIPS_OUTER,
    NOSE_BRIDGE,
    NOSE_WINGS,
    NUM_LANDMARKS,
    RIGHT_BROW,
    RIGHT_EYE,
    RIGHT_IRIS,
)

# Each channel: (name, closed contours, open lines, fill the closed contours?). The order is part of a
# checkpoint's contract: config.cond_channels must match and the channels must mean the same thing.
CHANNELS = (
    ("lips_outer", (LIPS_OUTER,), (), False),
    ("mouth_opening", (LIPS_INNER,), (), True),  # filled: the dark gap / teeth area of an open mouth
    ("eyes", (RIGHT_EYE, LEFT_EYE), (), False),
    ("irises", (RIGHT_IRIS, LEFT_IRIS), (), True),
    ("brows", (RIGHT_BROW, LEFT_BROW), (), False),
    ("nose_oval", (NOSE_WINGS, FACE_OVAL), (NOSE_BRIDGE,), False),  # where the face is: places the rest
)
COND_CHANNELS = len(CHANNELS)
_SUBPIXEL_BITS = 4  # cv2 drawing takes fixed-point coordinates: 1/16 px precision
_REFERENCE_SIZE = 128  # lines are 1 px wide at this crop size and scale with it


def render_condition(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(COND_CHANNELS, size, size) float32 in [0, 1] from (478, 2) landmarks in crop pixels."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] != NUM_LANDMARKS or not np.isfinite(points[:, :2]).all():
        raise InputError(f"render_condition needs ({NUM_LANDMARKS}, 2) finite landmarks, got shape {points.shape}.")
    fixed = np.round(points[:, :2] * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    thickness = max(1, round(size / _REFERENCE_SIZE))
    out = np.zeros((COND_CHANNELS, size, size), dtype=np.float32)
    canvas = np.zeros((size, size), dtype=np.uint8)
    for channel, (_, closed, lines, filled) in enumerate(CHANNELS):
        canvas[:] = 0
        loops = [fixed[list(contour)] for contour in closed]
        if filled:
            cv2.fillPoly(canvas, loops, 255, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
        cv2.polylines(canvas, loops, True, 255, thickness, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
        if lines:
            opened = [fixed[list(line)] for line in lines]
            cv2.polylines(canvas, opened, False, 255, thickness, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
        out[channel] = canvas * (1.0 / 255.0)
    return out
