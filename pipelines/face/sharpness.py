"""How blurred a photo's face is, so that what the edit adds is no sharper than the photo itself.

The expression texture's lines and the painted mouth and eyes are measured on, and drawn at, the resolution of
sharp studio portraits. A web photo or a small, upscaled face is softer: laid on it, those crisp lines read as ink
drawn over the face (on GENKI-4K web photos the edited region had 1.2-1.6 times the photo's own Laplacian energy,
studio portraits 0.9-1.0). The edit therefore blurs what it adds by the blur the photo has beyond a studio
portrait's.

The blur is estimated by re-blurring (Hu & de Haan, "Low cost robust blur estimator", ICIP 2006): blurring a
step edge of blur s by s0 more scales its gradient energy by r = s / sqrt(s^2 + s0^2), so s = s0 r / sqrt(1 - r^2).
A face is not one edge, but the estimate orders photos by blur and the studio reference is measured with it.
"""

from __future__ import annotations

import cv2
import numpy as np

REBLUR_SIGMA = 2.0  # px: the known blur added to estimate the photo's
# The estimate on the aligned crops of the bench's studio portraits (London set and openpeople, 20 people): 0.70-0.87
# px, one at 1.07; GENKI-4K web photos 0.98-2.34. Up to this, nothing the edit adds is softened.
STUDIO_BLUR = 0.85


def _gradient_energy(grey: np.ndarray, region: np.ndarray) -> float:
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    return float(np.mean((gx * gx + gy * gy)[region]))


def photo_blur(image: np.ndarray, region: np.ndarray) -> float:
    """The blur (Gaussian sigma, px) of `image` (uint8 RGB) inside `region` ((H, W) bool), by re-blurring."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = _gradient_energy(grey, region)
    if energy <= 1e-6:  # a flat region: nothing to match
        return 0.0
    ratio = min(_gradient_energy(cv2.GaussianBlur(grey, (0, 0), REBLUR_SIGMA), region) / energy, 0.999)
    return REBLUR_SIGMA * ratio / float(np.sqrt(1.0 - ratio * ratio))


def extra_blur(image: np.ndarray, region: np.ndarray) -> float:
    """The blur (px) to give what is added to `image` so it is as soft as the photo: the photo's blur beyond a
    studio portrait's (Gaussian blurs add in quadrature)."""
    return float(np.sqrt(max(photo_blur(image, region) ** 2 - STUDIO_BLUR**2, 0.0)))


def soften(image: np.ndarray, sigma: float, where: np.ndarray | None = None) -> np.ndarray:
    """`image` (float32, (H, W) or (H, W, C)) blurred by `sigma` px, only as much as `where` ((H, W) 0..1) says if
    given; the image itself at sigma 0."""
    if sigma <= 0:
        return image
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    if where is None:
        return blurred
    weight = np.clip(where, 0.0, 1.0).astype(np.float32)
    return image + (blurred - image) * (weight[..., None] if image.ndim == 3 else weight)
