"""Eyes that open by moving their lids: the eyeball stays still, the lid rises, the eye model paints what it uncovers.

A landmark warp cannot widen an eye. With the irises pinned, lifting the upper lid drags the top of the iris
and the lid's edge up with it: the iris turns into an oval and no white appears ("doll eyes" when the iris is
scaled instead). A real eye opens because the lid slides over an eyeball that does not move. So, for each eye
whose upper lid rises:

1. `still_eyeballs`: inside the target eye opening the warp reads the photo where it is (no move), so the iris
   and the white keep their shape and place; outside it the warp still carries the lids, lashes and brows;
2. `paint_eyes`: the band the lid uncovered (between its old and new edge, which the still eyeball fills with
   the photo's old lid) is painted by the eye SimMIM model (`weights/simmim-eye`): a 64 px crop round the eye,
   the upper-lid patches of both lid positions hidden, steered by a drawing of the target lids and iris. It
   was trained to paint the top of an eye from that drawing while it sees the rest of the eye, so the white,
   the top of the iris and the new lid edge come in the person's own colours.

The model paints the person's right eye (image left); the left eye is painted in the mirrored crop. Lids that
come down (a squint, a frown) need no paint: the warp's lid covers the eye, as before.

The model's prior is a white eyeball. In a dim or colour-cast web photo it painted the uncovered white up to 1.7x
as bright as the white the eye already shows (GENKI-4K tuning draw: 9 of 38 faces above 1.2x), a glowing
crescent; on studio portraits 0.75-1.10x. `in_eye_light` keeps the painted white within what real eyes do: on the
openpeople surprised and scared photos the white above the iris is 0.87-1.07x as bright as the rest of that
photo's eye white (9 photos, median 0.99).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipelines.face import landmarks as fr
from pipelines.face.align import region_slice
from pipelines.face.expression_texture import luminance, outside_iris
from pipelines.face.simmim.inpaint import ModelView, inpaint
from pipelines.face.simmim.masks import patches_to_pixels, region_mask, soft_polygon
from pipelines.face.warp import identity_map

EYE_OPEN_MIN = 0.01  # of the eye window's side (0.6 px of the 64 px model): a lid that rises less needs no paint
LID_EDGE = 2.0  # model px: the paint reaches this far round the band (the lid's edge and lashes, old and new)
WHITE_RANGE = (0.87, 1.07)  # the uncovered white's brightness over the eye's visible white, as in real wide eyes
WHITE_MIN_PX = 12  # model px: fewer visible (or painted) eye-white pixels say nothing of the eye's light
_LID_CENTRE = (2, 3, 4, 5, 6)  # the middle five of the nine upper-lid arc points (fr.RIGHT_UPPER_LID)


@dataclass
class EyePaint:
    """What the eye model did to one edit crop, and its view of the first eye it painted (for the Teach view)."""

    image: np.ndarray  # (E, E, 3) float32, the crop with the uncovered eyeballs painted
    alpha: np.ndarray  # (E, E) float32, where the paint went (0 = the input's own pixel)
    view: ModelView | None = None  # None: nothing painted; a left eye's frames are cut from the mirrored crop


def mirror_points(points: np.ndarray, width: int) -> np.ndarray:
    """Landmarks of the horizontally flipped image (x -> width - 1 - x, left and right twins swapped)."""
    mirrored = np.array(points, dtype=np.float64)[:, :2]
    mirrored[:, 0] = width - 1 - mirrored[:, 0]
    return mirrored[list(fr.MIRROR)]


def mirrored_face(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo flipped left to right and its landmarks: the person's left eye becomes a right eye."""
    return np.ascontiguousarray(image[:, ::-1]), mirror_points(points, image.shape[1])


def _arcs(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The right eye's (image left) upper-lid arc (inner corner -> outer) and lower-lid arc (outer -> inner)."""
    return points[list(fr.RIGHT_UPPER_LID)], points[list(fr.RIGHT_LOWER_LID)]


def lid_rise(source: np.ndarray, target: np.ndarray) -> float:
    """How far the right eye's upper lid rises from `source` to `target` (pixels of their frame; < 0: it drops)."""
    centre = list(np.array(fr.RIGHT_UPPER_LID)[list(_LID_CENTRE)])
    return float(np.mean(source[centre, 1] - target[centre, 1]))


def _opens(source: np.ndarray, target: np.ndarray, window_side: float) -> bool:
    """Whether the right eye opens enough to paint; the same answer in the crop's and the model's pixels."""
    return lid_rise(source, target) >= EYE_OPEN_MIN * window_side


def still_eyeballs(mapping: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The warp's backward map with no move inside each eye whose upper lid rises (crop pixels, both eyes)."""
    size = mapping.shape[0]
    identity = identity_map(size)
    out = mapping
    for mirrored in (False, True):
        src, dst = (mirror_points(source, size), mirror_points(target, size)) if mirrored else (source, target)
        if not _opens(src, dst, _window_side(size)):
            continue
        upper, _ = _arcs(dst)
        _, lower = _arcs(src)  # the lower lid stays where the photo has it: no eyeball below it to show
        still = soft_polygon(np.concatenate([upper, lower]), size, 0, 0.7)
        still = (still[:, ::-1] if mirrored else still)[..., None]
        out = out * (1 - still) + identity * still
    return out.astype(np.float32)


def _window_side(size: int) -> int:
    rows, _ = region_slice("eye", size)
    return rows.stop - rows.start


def in_gamut(painted: np.ndarray, window: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """`painted` with its chroma kept within what the eye window shows where nothing was hidden (1st to 99th
    percentile of Cr and Cb): at the edge of its patches the small model now and then makes a green or blue pixel
    that no eye or skin has."""
    seen = cv2.cvtColor(window, cv2.COLOR_RGB2YCrCb)[~hidden]
    low, high = np.percentile(seen[:, 1:], 1, axis=0), np.percentile(seen[:, 1:], 99, axis=0)
    ycc = cv2.cvtColor(painted, cv2.COLOR_RGB2YCrCb)
    ycc[..., 1:] = np.clip(ycc[..., 1:], low, high).astype(np.uint8)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def eye_white(window: np.ndarray, points: np.ndarray) -> float | None:
    """The luminance of the right eye's white in `window` (its brighter half inside the eye opening, outside the
    iris; `points` in window pixels), or None where too little of it shows."""
    size = window.shape[0]
    opening = soft_polygon(points[list(fr.RIGHT_EYE)], size, 0, 0.5) > 0.9
    light = luminance(window[opening & outside_iris(points, fr.RIGHT_IRIS, fr.RIGHT_EYE_CENTER, size)])
    if len(light) < WHITE_MIN_PX:
        return None
    return float(light[light >= np.median(light)].mean())


def in_eye_light(painted: np.ndarray, band: np.ndarray, target: np.ndarray, white: float | None) -> np.ndarray:
    """`painted` (the model's window) made brighter or darker so that the white it painted in the uncovered `band`
    (its brightest quarter outside the target iris) is within `WHITE_RANGE` of the eye's visible `white`
    (`eye_white`; None: as painted)."""
    white_of_eye = outside_iris(target, fr.RIGHT_IRIS, fr.RIGHT_EYE_CENTER, painted.shape[0])
    light = luminance(painted[(band > 0.5) & white_of_eye])
    if white is None or len(light) < WHITE_MIN_PX:
        return painted
    uncovered = float(light[light >= np.percentile(light, 75)].mean())
    wanted = np.clip(uncovered, WHITE_RANGE[0] * white, WHITE_RANGE[1] * white)
    if wanted == uncovered:
        return painted
    return np.clip(painted.astype(np.float32) * (wanted / max(uncovered, 1.0)) + 0.5, 0, 255).astype(np.uint8)


def uncovered_band(source: np.ndarray, target: np.ndarray, size: int, patch: int, mask: np.ndarray) -> np.ndarray:
    """(size, size) float32 alpha: the band between the right eye's upper lid in `source` and in `target`, grown
    over both lid edges (lashes), soft, inside the model's masked patches `mask`: what the eye model's paint covers."""
    band = soft_polygon(np.concatenate([_arcs(target)[0], _arcs(source)[0][::-1]]), size, LID_EDGE, 0.8)
    return band * patches_to_pixels(mask, patch)


def paint_eyes(model, crop: np.ndarray, image: np.ndarray, source: np.ndarray, target: np.ndarray) -> EyePaint:
    """Paint the eyeball each rising upper lid uncovers in `image` ((E, E, 3) float32, the warped `crop`).

    `source` and `target` are the photo's and the expression's (478, 2) landmarks in crop pixels.
    """
    size, patch, edit_size = model.config.image_size, model.config.patch_size, image.shape[0]
    rows, cols = region_slice("eye", edit_size)
    side = rows.stop - rows.start
    to_model = size / side
    offset = np.array([cols.start, rows.start], np.float64)
    result = EyePaint(image.astype(np.float32), np.zeros((edit_size, edit_size), np.float32))
    for mirrored in (False, True):
        src, dst = (mirror_points(source, edit_size), mirror_points(target, edit_size)) if mirrored else (source, target)
        src_m, dst_m = (src - offset) * to_model, (dst - offset) * to_model
        if not _opens(src_m, dst_m, size):
            continue
        canvas = result.image[:, ::-1] if mirrored else result.image
        window = cv2.resize(np.clip(canvas[rows, cols] + 0.5, 0, 255).astype(np.uint8), (size, size),
                            interpolation=cv2.INTER_AREA)  # fmt: skip
        mask = region_mask([src_m, dst_m], ["upper_lids"], size, patch)
        painted = in_gamut(inpaint(model, window, mask, dst_m), window, patches_to_pixels(mask, patch))
        alpha = uncovered_band(src_m, dst_m, size, patch, mask)
        photo = np.ascontiguousarray((crop[:, ::-1] if mirrored else crop)[rows, cols])
        photo = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
        lit = in_eye_light(painted, alpha, dst_m, eye_white(photo, src_m))  # the Teach view shows the model's own
        back = cv2.resize(lit, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        alpha_edit = cv2.resize(alpha, (side, side), interpolation=cv2.INTER_LINEAR)
        flip = (slice(None), slice(None, None, -1)) if mirrored else (slice(None), slice(None))
        image_view, alpha_view = result.image[flip], result.alpha[flip]  # views: writing them writes the crop
        image_view[rows, cols] = image_view[rows, cols] * (1 - alpha_edit[..., None]) + back * alpha_edit[..., None]
        alpha_view[rows, cols] = np.maximum(alpha_view[rows, cols], alpha_edit)
        if result.view is None:
            result.view = ModelView(photo, window, mask, patch, (rows, cols), painted, mirrored)
    return result
