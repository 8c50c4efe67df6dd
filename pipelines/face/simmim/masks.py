"""Which patches the model must repaint: random patch masks for training, face-region masks from landmarks.

Masks are (G, G) bool grids over the model's patches (True = masked). A region mask is the union of
the region's outlines over *every* landmark set given, so when a face changes expression both where
the lips are now and where they will be are repainted.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.errors import InputError
from pipelines.face.landmarks import REGION_PARTS

REGION_NAMES = tuple(REGION_PARTS)
DILATE_FRACTION = 0.03  # default growth of a region outline, as a fraction of the crop side (about 4 px at 128)
_SUBPIXEL_BITS = 2
_SUBPIXEL = 1 << _SUBPIXEL_BITS


def region_pixel_mask(
    landmark_sets: list[np.ndarray], regions: list[str], image_size: int, dilate_px: float | None = None
) -> np.ndarray:
    """(S, S) bool: the filled, dilated outlines of `regions` for every (478, 2) landmark set (their union)."""
    _check_regions(regions)
    if not len(landmark_sets):
        raise InputError("region_mask needs at least one landmark set.")
    canvas = np.zeros((image_size, image_size), dtype=np.uint8)
    for landmarks in landmark_sets:
        points = np.asarray(landmarks, dtype=np.float64)[:, :2]
        for name in regions:
            for outline in REGION_PARTS[name]:
                hull = cv2.convexHull(np.round(points[list(outline)] * _SUBPIXEL).astype(np.int32))
                cv2.fillConvexPoly(canvas, hull, 1, shift=_SUBPIXEL_BITS)
    grow = round(DILATE_FRACTION * image_size if dilate_px is None else float(dilate_px))
    if grow > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        canvas = cv2.dilate(canvas, kernel)
    return canvas.astype(bool)


def soft_polygon(polygon: np.ndarray, size: int, grow_px: float, blur: float) -> np.ndarray:
    """(size, size) float32 alpha: 1 inside the (N, 2) `polygon` (anti-aliased, 1/16 px precision), grown by
    `grow_px` (rounded up), with a Gaussian edge of `blur` px: where a paint goes, soft-edged."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    fixed = np.round(np.asarray(polygon, dtype=np.float64)[:, :2] * 16).astype(np.int32)
    cv2.fillPoly(canvas, [fixed], 255, lineType=cv2.LINE_AA, shift=4)
    grow = int(np.ceil(grow_px))
    if grow > 0:
        canvas = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return cv2.GaussianBlur(canvas.astype(np.float32) / 255, (0, 0), blur)


def _check_regions(regions) -> None:
    unknown = [name for name in regions if name not in REGION_PARTS]
    if unknown or not len(regions):
        raise InputError(f"Unknown or no face region(s) {list(regions)}; choose from {list(REGION_NAMES)}.")


def pixels_to_patches(pixel_mask: np.ndarray, patch_size: int) -> np.ndarray:
    """(S, S) bool -> (G, G) bool: a patch is masked when any of its pixels is."""
    size = pixel_mask.shape[0]
    if size % patch_size:
        raise InputError(f"image size {size} is not a multiple of the patch size {patch_size}.")
    grid = size // patch_size
    return pixel_mask.reshape(grid, patch_size, grid, patch_size).any(axis=(1, 3))


def patches_to_pixels(patch_mask: np.ndarray, patch_size: int) -> np.ndarray:
    """(G, G) bool -> (G*p, G*p) bool."""
    return np.kron(np.asarray(patch_mask, dtype=np.uint8), np.ones((patch_size, patch_size), np.uint8)).astype(bool)


def region_mask(
    landmark_sets: list[np.ndarray],
    regions: list[str],
    image_size: int,
    patch_size: int,
    dilate_px: float | None = None,
) -> np.ndarray:
    """(G, G) bool, True = patch to repaint: every patch touched by a dilated region outline of any landmark set."""
    return pixels_to_patches(region_pixel_mask(landmark_sets, regions, image_size, dilate_px), patch_size)


def random_mask(grid: int, ratio: float, rng: np.random.Generator, block: int = 1) -> np.ndarray:
    """(grid, grid) bool with round(ratio * grid^2) patches masked, chosen in `block` x `block` squares.

    Blocks (SimMIM masks 32 px squares) make the task harder than isolated patches, whose neighbours
    would give the answer away; the count is exact to the patch, so `ratio` is what the model sees.
    """
    if not 0.0 <= ratio <= 1.0:
        raise InputError(f"mask ratio must be in [0, 1], got {ratio}.")
    if block < 1 or grid % block:
        raise InputError(f"block {block} must divide the grid {grid}.")
    coarse = grid // block
    target = round(ratio * grid * grid)
    order = rng.permutation(coarse * coarse)
    mask = np.zeros(coarse * coarse, dtype=bool)
    mask[order[: target // (block * block)]] = True
    fine = np.kron(mask.reshape(coarse, coarse), np.ones((block, block), dtype=bool))
    remainder = target - int(fine.sum())  # a ratio that is not a whole number of blocks: top up single patches
    if remainder > 0:
        free = np.flatnonzero(~fine.ravel())
        fine.ravel()[rng.choice(free, size=remainder, replace=False)] = True
    return fine
