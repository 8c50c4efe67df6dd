"""A live preview of an expression: the landmark warp and texture, on a small crop, fast enough to follow a slider.

The full edit (`FaceExpressionPipeline.__call__`) warps, shades, masks, paints and pastes back at the photo's
resolution, which takes a few hundred milliseconds on a CPU. While a visitor drags the intensity or a fine-tune
slider the studio shows this instead: the same target landmarks, the same warp and expression texture (which
carry what an expression looks like), on a `size`-pixel face crop, with no paste-back and no mouth model (a
drawn mouth cavity); eyes that open do as in the full edit, the eyeball still and the small eye model painting
what the lid uncovers, when the pipeline has one (without it the warp would stretch the iris into an oval).
bench/preview.py measures it. The full edit runs when the slider is released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from pipelines.face.action_units import expression_target, smile_share
from pipelines.face.align import align_face
from pipelines.face.expression_texture import add_texture, interior_scale, skin_light, smile_fold_lift
from pipelines.face.eyes import paint_eyes, still_eyeballs
from pipelines.face.sharpness import soften
from pipelines.face.warp import (
    face_map, lip_seam, seam_softening, shade_mouth_cavity, warp_with,
)

PREVIEW_SIZE = 160  # side of the preview crop in pixels: bench/preview.py keeps it under 150 ms on a 2-core CPU


@dataclass
class PreviewFace:
    """What a preview needs of a found face, small enough to keep per visitor: the crop, not the photo."""

    crop: np.ndarray  # (size, size, 3) uint8, the aligned face
    landmarks: np.ndarray  # (478, 2) float64, in crop pixels
    blendshapes: dict[str, float]  # MediaPipe's scores: every expression starts from the face at rest
    interior_scale: np.ndarray  # (3,) the measured mouth interior at this face's brightness and light
    texture_strength: float  # the pipeline's (`FaceExpressionConfig.texture_scale`): the preview shades alike
    skin_light: float  # the luminance of the face's bare skin, what the eye paint tells an eye white from
    blur: float = 0.0  # px in this crop: what the preview adds is softened like the full edit's (`sharpness`)

    @classmethod
    def from_face(cls, face, texture_strength: float, size: int = PREVIEW_SIZE) -> "PreviewFace":
        """From a face the pipeline found (`FaceExpressionPipeline.find_face`) and its texture strength."""
        aligned = align_face(face.image, face.landmarks, size)
        landmarks = aligned.landmarks.astype(np.float64)
        blur = face.blur * size / face.aligned.crop.shape[0]  # the edit crop's blur, at this crop's scale
        return cls(aligned.crop, landmarks, dict(face.blendshapes), interior_scale(aligned.crop, landmarks),
                   texture_strength, skin_light(aligned.crop, landmarks), blur)  # fmt: skip


def render_preview(face: PreviewFace, expression: str, intensity: float, sliders: Mapping[str, float] | None = None,
                   eye_model=None) -> np.ndarray:  # fmt: skip
    """The face crop with its landmarks moved to `expression`, the pixels warped along and the expression's texture
    laid on: (size, size, 3) uint8. `eye_model`: the pipeline's `eye_painter` (None: the warp alone opens eyes)."""
    amounts, target = expression_target(face.landmarks, expression, intensity, sliders, face.blendshapes)
    target = target.astype(np.float64)  # landmarks move the same in any pixel frame
    mapping = face_map(face.landmarks, target, face.crop.shape[:2])
    if eye_model is not None:
        mapping = still_eyeballs(mapping, face.landmarks, target)
    warped, _ = warp_with(face.crop, mapping)
    seam = lip_seam(face.landmarks, target, face.crop.shape[:2], face.blur)  # lips the warp closed meet on a line
    lift = smile_fold_lift(warped, target, smile_share(face.blendshapes) * intensity * face.texture_strength)
    warped, _, interior = add_texture(warped, face.interior_scale, target, amounts, face.texture_strength, face.blur,
                                      seam, lift)  # fmt: skip
    warped, cavity = shade_mouth_cavity(warped, face.landmarks, target, interior)
    painted, painted_alpha = warped.astype(np.float32), cavity
    if eye_model is not None:
        eyes = paint_eyes(eye_model, face.crop, painted, face.landmarks, target, face.skin_light)
        painted, painted_alpha = eyes.image, np.maximum(cavity, eyes.alpha)
    painted = soften(painted, face.blur, np.maximum(painted_alpha, seam_softening(seam)))
    return np.clip(painted + 0.5, 0, 255).astype(np.uint8)
