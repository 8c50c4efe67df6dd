"""Run a SimMIM model on one crop, numpy in and out: what the face pipeline, the eye painter and the benches call.

Kept apart from model.py so that importing the face pipeline does not import torch (the studio starts fast).
"""

from __future__ import annotations

import numpy as np

from pipelines.face.simmim.conditioning import render_condition


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
