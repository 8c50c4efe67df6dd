"""Run a SimMIM model on one crop, numpy in and out, and keep what it saw and made (`ModelView`): what the face
pipeline, the eye painter and the benches call.

Kept apart from model.py so that importing the face pipeline does not import torch (the studio starts fast).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipelines.face.simmim.conditioning import render_condition


@dataclass
class ModelView:
    """What a painting model saw and made, in its S x S frame: the Teach view's panels."""

    crop: np.ndarray  # (S, S, 3) the source
    warped: np.ndarray  # (S, S, 3) the model's input
    mask: np.ndarray  # (G, G) bool, the patches it repainted
    patch_size: int
    window: tuple[slice, slice]  # where the frame sits in the edit crop
    reconstruction: np.ndarray | None = None  # (S, S, 3) its output; the input when it had nothing to paint
    mirrored: bool = False  # the frame is cut from the mirrored crop (the eye model paints a left eye that way)

    def __post_init__(self):
        if self.reconstruction is None:
            self.reconstruction = self.warped

    def blended_from(self, result: np.ndarray) -> np.ndarray:
        """The frame's window of the final edit crop, at S x S."""
        size = self.crop.shape[0]
        frame = np.ascontiguousarray((result[:, ::-1] if self.mirrored else result)[self.window])
        return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


def inpaint(model, crop: np.ndarray, patch_mask: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Masked patches of `crop` (S, S, 3 uint8) repainted by `model` to follow `target` landmarks (crop pixels)."""
    import torch

    size = model.config.image_size
    device = next(model.parameters()).device
    pixels = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
    condition = torch.from_numpy(render_condition(target, size))[None]
    masked = torch.from_numpy(patch_mask.reshape(1, -1))
    with torch.inference_mode():
        out = model(pixels.to(device), masked.to(device), condition.to(device))
    return ((out[0].permute(1, 2, 0).float().cpu().numpy() + 1.0) * 127.5).clip(0, 255).round().astype(np.uint8)
