"""Render target landmarks as an image-shaped map the model sees next to the masked photo.

The model has to know where the lips, eyes and brows of the *target* expression go, in the same
pixel frame as the crop. Drawing the contours (one feature per channel, anti-aliased lines about
1 px wide at 128 px, the mouth opening and irises filled) keeps that information local: the token of
a patch gets the piece of contour that crosses it, which is exactly what that patch must repaint.
`render_condition_batch` (torch, any device) is what training and `render_condition` (numpy) share.
"""

from __future__ import annotations

import numpy as np
import torch

from pipelines.face_regions import (
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
from pipelines.simmim.raster import distance_to_outline, inside_outline, pixel_centres

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
_REFERENCE_SIZE = 128  # lines are 1 px wide at this crop size and scale with it


def render_condition_batch(landmarks: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 478, 2) crop-pixel landmarks -> (B, COND_CHANNELS, size, size) float32 in [0, 1], on their device."""
    points = landmarks[..., :2].float()
    pixels = pixel_centres(size, points.device)
    half_width = 0.5 * max(1.0, size / _REFERENCE_SIZE)
    channels = []
    for _, closed, lines, filled in CHANNELS:
        distances = [distance_to_outline(points[:, list(c)], pixels, closed=True) for c in closed]
        distances += [distance_to_outline(points[:, list(c)], pixels, closed=False) for c in lines]
        ink = (half_width + 0.5 - torch.stack(distances).amin(dim=0)).clamp(0.0, 1.0)  # 1-px anti-aliased edge
        if filled:
            for contour in closed:
                ink = torch.maximum(ink, inside_outline(points[:, list(contour)], pixels).float())
        channels.append(ink.reshape(-1, size, size))
    return torch.stack(channels, dim=1)


def render_condition(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(COND_CHANNELS, size, size) float32 in [0, 1] from (478, 2) landmarks in crop pixels."""
    points = np.asarray(landmarks, dtype=np.float32)
    if points.ndim != 2 or points.shape[0] != NUM_LANDMARKS or not np.isfinite(points[:, :2]).all():
        raise ValueError(f"render_condition needs ({NUM_LANDMARKS}, 2) finite landmarks, got shape {points.shape}.")
    with torch.no_grad():
        return render_condition_batch(torch.from_numpy(points[None, :, :2].copy()), size)[0].numpy()
