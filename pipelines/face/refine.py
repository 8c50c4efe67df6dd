"""Optional GPU polish: a diffusers inpainting pass over the same mask, started from the SimMIM result.

SimMIM plus the warp keeps the person's identity but can look soft; a latent-diffusion inpainting
model (Stable Diffusion 2 or SDXL inpainting) adds skin texture, teeth and eyelid detail. Started
from our result with a moderate `strength`, it keeps the geometry and only re-renders detail, and
outside the mask the input is kept exactly. It is off by default: on a CPU one pass takes minutes.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from pipelines.errors import InputError
from pipelines.weights import weights_dir

DEFAULT_INPAINT_MODEL = "stabilityai/stable-diffusion-2-inpainting"
# Its last published commit: the snapshot name public projects' hub caches show for it (not checked online here).
# Stability AI withdrew the repo in late 2025; a local folder or a mirror (sd2-community/...) with `revision=` works too.
DEFAULT_INPAINT_REVISION = "81a84f49b15956b60b4272a405ad3daef3da4590"
NEGATIVE_PROMPT = "blurry, deformed, distorted face, extra teeth, cartoon, painting, text, watermark"
GUIDANCE_SCALE = 6.0  # moderate: follow the prompt, but let the starting image lead


class FaceRefiner:
    """Wraps a diffusers inpainting pipeline; call it with a face crop, a mask and a prompt."""

    def __init__(self, pipe, seed: int = 0):
        self.pipe = pipe  # diffusers StableDiffusion(XL)InpaintPipeline or AutoPipelineForInpainting result
        self.seed = seed
        self.size = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)  # the resolution it was trained at

    @classmethod
    def from_pretrained(cls, model: str | Path = DEFAULT_INPAINT_MODEL, device: str = "auto",
                        revision: str | None = None) -> "FaceRefiner":  # fmt: skip
        """Load a local folder (or weights/<name>) first, else the hub id at a pinned revision."""
        import torch
        from diffusers import AutoPipelineForInpainting

        from pipelines.device import pick_device

        device = pick_device(device)
        local = Path(model)
        if not local.is_dir() and (weights_dir() / local.name).is_dir():
            local = weights_dir() / local.name
        source = str(local) if local.is_dir() else str(model)
        if source == DEFAULT_INPAINT_MODEL and revision is None:
            revision = DEFAULT_INPAINT_REVISION
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        try:
            pipe = AutoPipelineForInpainting.from_pretrained(source, revision=revision, torch_dtype=dtype,
                                                             use_safetensors=True)  # fmt: skip
        except OSError as err:  # not local, and no network or no such repo
            raise FileNotFoundError(f"Could not load the inpainting model {source!r}: {err}") from err
        pipe.set_progress_bar_config(disable=True)
        return cls(pipe.to(device))

    def __call__(self, image: np.ndarray, mask: np.ndarray, prompt: str, strength: float = 0.35,
                 steps: int = 25) -> np.ndarray:  # fmt: skip
        """Re-render the masked part of `image` ((S,S,3) uint8, mask (S,S) bool); unmasked pixels come back unchanged."""
        import torch
        from PIL import Image

        if image.ndim != 3 or image.shape[0] != image.shape[1] or mask.shape != image.shape[:2]:
            raise InputError("FaceRefiner needs a square (S, S, 3) crop and an (S, S) mask of the same size.")
        if not 0.0 < strength <= 1.0:
            raise InputError(f"strength must be in (0, 1], got {strength}.")
        if not mask.any():
            return image.copy()
        steps = max(int(steps), math.ceil(1.0 / strength))  # diffusers runs steps * strength of them: keep >= 1
        side = image.shape[0]
        work = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA if side > self.size else cv2.INTER_CUBIC)
        work_mask = cv2.resize(mask.astype(np.uint8) * 255, (self.size, self.size), interpolation=cv2.INTER_NEAREST)
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        result = self.pipe(
            prompt=prompt, negative_prompt=NEGATIVE_PROMPT, image=Image.fromarray(work), mask_image=Image.fromarray(work_mask),
            height=self.size, width=self.size, strength=strength, num_inference_steps=steps,
            guidance_scale=GUIDANCE_SCALE, generator=generator, output_type="np",
        ).images[0]  # fmt: skip
        result = (np.clip(result, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
        result = cv2.resize(result, (side, side), interpolation=cv2.INTER_AREA if self.size > side else cv2.INTER_CUBIC)
        out = image.copy()
        out[mask] = result[mask]  # the VAE round trip shifts colours slightly: keep it to the mask
        return out
