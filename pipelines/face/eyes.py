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
3. `guided_upsample`: the 64 px paint is enlarged to the eye's size in the photo (3-6 times on a portrait) along
   the edges of the same drawing at that size, so the new lid's edge and the iris's rim are as sharp as the photo's.
   Round it, the white takes the paint's light: the shadow of the old lid lifts, the photo's detail stays. The iris
   top it paints takes the colour of the person's visible iris, no lighter and only a little darker (`in_iris_light`).

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
from pipelines.face.expression_texture import SCLERA_MIN_LIGHT, luminance, outside_iris
from pipelines.face.simmim.inpaint import ModelView, inpaint
from pipelines.face.simmim.masks import patches_to_pixels, region_mask, soft_polygon
from pipelines.face.warp import identity_map

EYE_OPEN_MIN = 0.01  # of the eye window's side (0.6 px of the 64 px model): a lid that rises less needs no paint
# Sizes below marked "window px" are pixels of a WINDOW-px eye window (the shipped model's); a model of another size
# (a 128 px one trained on a lent GPU) gets them scaled to its own window by `window_px`.
WINDOW = 64
# Window px: the paint reaches this far round the band, over the old lid's margin. Drawn at the photo's resolution, so
# a fraction of a model pixel: at 2 the enlarged paint also covered the photo's lashes and the catchlight at the top of
# the iris (1350 px portraits: opened eyes kept 0.50 of the photo's Laplacian energy, 0.67 at 0.5).
LID_EDGE = 0.5
LID_BLUR = 0.8  # window px: the Gaussian edge of the paint's reach
# Window px: beyond the paint, out to this far round the band, the photo takes the paint's light and colour (their
# difference blurred by LIGHT_BLUR) and keeps its own detail: the shadow the old lid cast on the eyeball lifts with it.
# Not on the iris: the model's iris is a shade off the photo's, and the iris does not move. Without this light the
# judges read the opened eyes less (fer's fear on P001-P007 +0.25 against +0.31 with, surprise +0.63 against +0.65);
# the sharpness ratio is the same (1350 px portraits: 0.83 / 0.85 without, 0.83 / 0.86 with).
LIGHT_EDGE = 3.0
LIGHT_BLUR = 2.0
GUIDE_RADIUS = 1  # window px: the guided filter averages over (2r + 1)^2 pixels
GUIDE_EPS = 1e-3  # the guided filter's regulariser ((0-1 colour)^2): smaller keeps more of the drawing's edges
GAMUT_REACH = 6.0  # window px round the eye opening: the lids, lashes and skin whose colours the paint may take
WHITE_RANGE = (0.87, 1.07)  # the uncovered white's brightness over the eye's visible white, as in real wide eyes
WHITE_MIN_PX = 12  # window px: fewer visible (or painted) eye-white pixels say nothing of the eye's light
# An eye white is at least this much lighter than the median of the iris it surrounds (or about as light as the
# skin: expression_texture.SCLERA_MIN_LIGHT). Eyes of a GENKI-4K tuning draw: mostly 1.3-6.6 where a white shows,
# 0.9-1.25 in a squint, behind sunglasses or tinted lenses and under a cap's shade (light irises in an overexposed
# face 1.1-1.3, but there the white is as light as the skin).
WHITE_OVER_IRIS = 1.3
# The uncovered top of a real iris is this much darker than the rest of it at the most: openpeople P001-P010's surprised
# and scared photos, the iris above 0.4 of its radius against below, median luminance without the catchlight: median
# 0.95, 10th percentile 0.82 (40 eyes; the same part of their neutral eyes, under the lid: 0.54).
IRIS_TOP_SHADE = 0.82
IRIS_MIN_PX = 20  # crop px: fewer visible (or painted) iris pixels say nothing of the iris's light
_LID_CENTRE = (2, 3, 4, 5, 6)  # the middle five of the nine upper-lid arc points (fr.RIGHT_UPPER_LID)


def window_px(value: float, size: int, area: bool = False) -> float:
    """`value` window px (a length, or with `area` a pixel count) in the pixels of a `size`-px window."""
    return value * (size / WINDOW) ** (2 if area else 1)


@dataclass
class EyePaint:
    """What the eye model did to one edit crop, and its view of the first eye it painted (for the Teach view)."""

    image: np.ndarray  # (E, E, 3) float32, the crop with the uncovered eyeballs painted
    alpha: np.ndarray  # (E, E) float32, where the paint went (0 = the input's own pixel)
    reach: np.ndarray  # (E, E) float32, where the input changed at all (the paint and its light round it)
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


def in_gamut(painted: np.ndarray, window: np.ndarray, hidden: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`painted` with its chroma kept within what the eye window shows of the eye and round it where nothing was
    hidden (1st to 99th percentile of Cr and Cb within `GAMUT_REACH` of the eye opening, `points` in window pixels):
    at the edge of its patches the small model now and then makes a green or blue pixel that no eye or skin has.
    Only round the eye: the window's corners can hold a cap, glasses' rims or the background, and their colours
    let the painted lid line turn blue under a blue cap (GENKI-4K web photos)."""
    size = window.shape[0]
    near = soft_polygon(points[list(fr.RIGHT_EYE)], size, window_px(GAMUT_REACH, size), 0.5) > 0.5
    seen = cv2.cvtColor(window, cv2.COLOR_RGB2YCrCb)[near & ~hidden]
    low, high = np.percentile(seen[:, 1:], 1, axis=0), np.percentile(seen[:, 1:], 99, axis=0)
    ycc = cv2.cvtColor(painted, cv2.COLOR_RGB2YCrCb)
    ycc[..., 1:] = np.clip(ycc[..., 1:], low, high).astype(np.uint8)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def eye_white(window: np.ndarray, points: np.ndarray, skin_light: float) -> float | None:
    """The luminance of the right eye's white in `window` (its brighter half inside the eye opening, outside the
    iris; `points` in window pixels), or None where too little of it shows or what shows is no eye white.

    An eye white is lighter than the iris beside it, or about as light as the skin (`skin_light`, the face's bare
    skin's luminance). In a squint, a cap's shade or behind tinted glasses the "white" is the lashes, a shadow or the
    lens: darker than the skin and hardly lighter than the iris. Taken for the eye's white, it darkened the painted
    white to a brown hole (a GENKI-4K tuning draw: 9 eyes of 6 of its 60 faces fail both tests; 3 of the bench's 40).
    """
    size = window.shape[0]
    opening = soft_polygon(points[list(fr.RIGHT_EYE)], size, 0, 0.5) > 0.9
    away = outside_iris(points, fr.RIGHT_IRIS, fr.RIGHT_EYE_CENTER, size)
    light = luminance(window[opening & away])
    if len(light) < window_px(WHITE_MIN_PX, size, area=True):
        return None
    white = float(light[light >= np.median(light)].mean())
    iris = luminance(window[opening & ~away])
    if white < SCLERA_MIN_LIGHT * skin_light and len(iris) and white < WHITE_OVER_IRIS * float(np.median(iris)):
        return None
    return white


def in_eye_light(painted: np.ndarray, band: np.ndarray, target: np.ndarray, white: float | None) -> np.ndarray:
    """`painted` (the model's window) made brighter or darker so that the white it painted in the uncovered `band`
    (its brightest quarter outside the target iris) is within `WHITE_RANGE` of the eye's visible `white`
    (`eye_white`; None: as painted)."""
    white_of_eye = outside_iris(target, fr.RIGHT_IRIS, fr.RIGHT_EYE_CENTER, painted.shape[0])
    light = luminance(painted[(band > 0.5) & white_of_eye])
    if white is None or len(light) < window_px(WHITE_MIN_PX, painted.shape[0], area=True):
        return painted
    uncovered = float(light[light >= np.percentile(light, 75)].mean())
    wanted = np.clip(uncovered, WHITE_RANGE[0] * white, WHITE_RANGE[1] * white)
    if wanted == uncovered:
        return painted
    return np.clip(painted.astype(np.float32) * (wanted / max(uncovered, 1.0)) + 0.5, 0, 255).astype(np.uint8)


def in_iris_light(back: np.ndarray, before: np.ndarray, iris: np.ndarray, painted: np.ndarray,
                  untouched: np.ndarray) -> np.ndarray:  # fmt: skip
    """`back` (the enlarged paint, float32) with the iris top it paints in the colour of the photo's visible iris,
    no lighter and only a little darker (`IRIS_TOP_SHADE`).

    `iris` is the drawn iris disk (0..1), `painted` the paint's alpha, `untouched` where the photo stays as it is
    (`before`). The model paints an iris top in the colour and light of the irises it learnt from: on the tuning
    portraits a surprise's was greyer and up to 1.7x as light as the rest of the person's dark iris (median
    luminance), a grey dome on it. A real iris is one colour, a little shaded at the top by the lid, so a darker
    painted top stays as dark, down to what real wide eyes show. On web photos the paint was often the darker one,
    down to 0.4x a light or overexposed iris (a GENKI-4K tuning draw: 1.2x on the median eye): a dark dome.
    """
    top, seen = (iris > 0.9) & (painted > 0.5), (iris > 0.9) & untouched
    if top.sum() < IRIS_MIN_PX or seen.sum() < IRIS_MIN_PX:
        return back
    photo, paint = np.median(before[seen], axis=0), np.maximum(np.median(back[top], axis=0), 1.0)
    shade = np.clip(float(luminance(paint) / luminance(photo)), IRIS_TOP_SHADE, 1.0)
    gain = photo / paint * shade  # the photo's colour, at the paint's light kept within the real shade
    return back * (1.0 + iris[..., None] * (gain.astype(np.float32) - 1.0))


def uncovered_band(source: np.ndarray, target: np.ndarray, size: int, patch: int, mask: np.ndarray,
                   side: int | None = None, edge: float = LID_EDGE) -> np.ndarray:  # fmt: skip
    """(side, side) float32 alpha: the band between the right eye's upper lid in `source` and in `target` (model
    pixels), grown by `edge` window px (over the old lid's edge), soft, inside the model's masked patches `mask`:
    what the eye model's paint covers, drawn at `side` px (the eye window in the edit crop; default the model's
    `size`)."""
    side = side or size
    canvas = max(side, size)  # a smaller window (the live preview's) is drawn at the model's size and shrunk
    band = soft_polygon(np.concatenate([_arcs(target)[0], _arcs(source)[0][::-1]]) * (canvas / size), canvas,
                        window_px(edge, canvas), window_px(LID_BLUR, canvas))  # fmt: skip
    hidden = patches_to_pixels(mask, patch).astype(np.uint8)
    band *= hidden if canvas == size else cv2.resize(hidden, (canvas, canvas), interpolation=cv2.INTER_NEAREST)
    return band if canvas == side else cv2.resize(band, (side, side), interpolation=cv2.INTER_AREA)


def eye_drawing(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 2) float32: the right eye's opening (1 inside) and its iris disk inside the opening, drawn from
    `points` ((478, 2), pixels of a `size` window): the edges the painted eye must have."""
    opening = soft_polygon(points[list(fr.RIGHT_EYE)], size, 0, 0.5)
    centre = points[fr.RIGHT_EYE_CENTER]
    radius = np.linalg.norm(points[list(fr.RIGHT_IRIS)] - centre, axis=1).mean()
    ys, xs = np.mgrid[0:size, 0:size]
    disk = np.clip(radius + 0.5 - np.hypot(xs - centre[0], ys - centre[1]), 0, 1)
    return np.stack([opening, opening * disk], axis=-1).astype(np.float32)


def guided_upsample(painted: np.ndarray, drawing: np.ndarray) -> np.ndarray:
    """(D, D, 3) float32: the model's `painted` window (uint8, S px) enlarged to the size of `drawing` ((D, D, 2),
    `eye_drawing` of the target landmarks at that size), with the drawing as the guide.

    A guided filter (He, Sun & Tang, "Guided Image Filtering", 2013; enlarging its coefficients as in He & Sun's
    "Fast Guided Filter", 2015): in each small window the paint is fitted as a linear function of the drawing at the
    model's size, and that fit is applied to the drawing at full size. Where the drawing has an edge (the lids, the
    iris's rim) the paint gets it sharp; elsewhere it is the paint, smoothed. Enlarged by cubic interpolation alone,
    the 64 px paint's lid shadow became a broad grey ring round the white. On 1350 px portraits the opened eyes kept
    0.67 (fear) and 0.75 (surprise) of the photo's Laplacian energy that way, 0.83 and 0.85 this way (P001, P003,
    P005, P007; on P008-P010, held out, 0.40 and 0.46 before either change, 0.67 and 0.74 after both).
    """
    size, side = painted.shape[0], drawing.shape[0]
    guide = cv2.resize(drawing, (size, size), interpolation=cv2.INTER_AREA)
    colour = painted.astype(np.float32) / 255
    window = (2 * max(round(window_px(GUIDE_RADIUS, size)), 1) + 1,) * 2

    def mean(a: np.ndarray) -> np.ndarray:
        return cv2.blur(a, window)

    guide_mean, colour_mean = mean(guide), mean(colour)
    covariance = np.empty((size, size, 2, 2), np.float32)
    for i in range(2):
        for j in range(2):
            covariance[..., i, j] = mean(guide[..., i] * guide[..., j]) - guide_mean[..., i] * guide_mean[..., j]
    cross = np.stack([mean(guide[..., i, None] * colour) - guide_mean[..., i, None] * colour_mean for i in range(2)],
                     axis=-2)  # fmt: skip
    slope = np.linalg.solve(covariance + GUIDE_EPS * np.eye(2, dtype=np.float32), cross)  # (S, S, 2, 3)
    offset = colour_mean - np.einsum("hwi,hwic->hwc", guide_mean, slope)
    slope = cv2.resize(mean(slope.reshape(size, size, 6)), (side, side), interpolation=cv2.INTER_LINEAR)
    offset = cv2.resize(mean(offset), (side, side), interpolation=cv2.INTER_LINEAR)
    out = np.einsum("hwi,hwic->hwc", drawing, slope.reshape(side, side, 2, 3)) + offset
    return np.clip(out * 255, 0, 255).astype(np.float32)


def paint_eyes(model, crop: np.ndarray, image: np.ndarray, source: np.ndarray, target: np.ndarray,
               skin_light: float) -> EyePaint:  # fmt: skip
    """Paint the eyeball each rising upper lid uncovers in `image` ((E, E, 3) float32, the warped `crop`).

    `source` and `target` are the photo's and the expression's (478, 2) landmarks in crop pixels; `skin_light` the
    face's bare skin's luminance (`expression_texture.skin_light`), against which `eye_white` tells an eye white.
    """
    size, patch, edit_size = model.config.image_size, model.config.patch_size, image.shape[0]
    rows, cols = region_slice("eye", edit_size)
    side = rows.stop - rows.start
    to_model = size / side
    offset = np.array([cols.start, rows.start], np.float64)
    result = EyePaint(image.astype(np.float32), *np.zeros((2, edit_size, edit_size), np.float32))
    for mirrored in (False, True):
        src, dst = (mirror_points(source, edit_size), mirror_points(target, edit_size)) if mirrored else (source, target)
        src_m, dst_m = (src - offset) * to_model, (dst - offset) * to_model
        if not _opens(src_m, dst_m, size):
            continue
        canvas = result.image[:, ::-1] if mirrored else result.image
        window = cv2.resize(np.clip(canvas[rows, cols] + 0.5, 0, 255).astype(np.uint8), (size, size),
                            interpolation=cv2.INTER_AREA)  # fmt: skip
        mask = region_mask([src_m, dst_m], ["upper_lids"], size, patch)
        painted = in_gamut(inpaint(model, window, mask, dst_m), window, patches_to_pixels(mask, patch), src_m)
        alpha = uncovered_band(src_m, dst_m, size, patch, mask)  # the model's pixels, for the light
        photo = np.ascontiguousarray((crop[:, ::-1] if mirrored else crop)[rows, cols])
        photo = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
        white = eye_white(photo, src_m, skin_light)
        lit = in_eye_light(painted, alpha, dst_m, white)  # the Teach view shows the model's own
        drawing = eye_drawing(dst_m * (side / size), side)
        back = guided_upsample(lit, drawing)
        alpha_edit = uncovered_band(src_m, dst_m, size, patch, mask, side)
        reach = uncovered_band(src_m, dst_m, size, patch, mask, side, LIGHT_EDGE)
        flip = (slice(None), slice(None, None, -1)) if mirrored else (slice(None), slice(None))
        image_view, alpha_view, reach_view = result.image[flip], result.alpha[flip], result.reach[flip]  # views
        before = image_view[rows, cols].copy()
        back = in_iris_light(back, before, drawing[..., 1], alpha_edit, reach < 0.01)
        light = cv2.GaussianBlur(back - before, (0, 0), window_px(LIGHT_BLUR, side))
        lit_only = np.clip(reach - alpha_edit, 0, 1)[..., None] * (1 - drawing[..., 1:])  # the iris stays the photo's
        image_view[rows, cols] = before + alpha_edit[..., None] * (back - before) + lit_only * light
        alpha_view[rows, cols] = np.maximum(alpha_view[rows, cols], alpha_edit)
        reach_view[rows, cols] = np.maximum(reach_view[rows, cols], reach)  # the band grown further: holds alpha_edit
        if result.view is None:
            result.view = ModelView(photo, window, mask, patch, (rows, cols), painted, mirrored)
    return result
