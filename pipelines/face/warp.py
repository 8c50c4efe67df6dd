"""Keypoint-driven image warping: move a face's pixels so its landmarks land on the target landmarks.

The warp is what makes an expression visible even when the inpainting model is weak: it carries the
person's own lips, eyes and skin to their new places (as LivePortrait does with learned keypoints,
here with the 478 MediaPipe landmarks). The field is piecewise linear over a Delaunay triangulation
of the TARGET landmarks (so it can never fold), pinned to zero by a ring of fixed anchors around the
face, then smoothed so triangle edges leave no creases. Where the mouth opens wider than in the
photo there are no source pixels to carry, so the new gap is shaded as a mouth cavity; the inpainting
model then repaints the masked area on top of this.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator

from pipelines.face import landmarks as fr
from pipelines.face.action_units import split_lip_loop
from pipelines.face.sharpness import soften

ANCHOR_RING_SCALE = 1.45  # fixed points on the face oval blown up by this factor: the warp dies out before them
ANCHOR_RING_POINTS = 48
FIELD_SMOOTH = 0.012  # Gaussian sigma of the displacement smoothing, as a fraction of the image size
LIP_EDGE_INSET = 3.0  # px: a lip closing over the mouth is read from this far inside its edge (the edge mixes in teeth)
LIP_OUTER_FADE = 0.5  # of a lip's thickness from its outer edge: read whole from here inwards (`lips_read_lips`)
# The dark line closed lips meet on (`lip_seam`): its depth (log ratio), sigma and height above the landmarks' meeting
# line (mouth widths). Real neutral mouths in the 320 px edit crops (the tuning people, 5 columns across the
# middle of the mouth each): the seam's darkest point 0.49 of the lips' light (median; 0.16-0.78), 4 px wide at
# half depth (sigma 0.026 of the ~65 px mouth), 1.2 px (0.018) above the landmarks' line. The depth is fitted on
# the same people's smiling photos edited to neutral, measured in the delivered photo: their seams at 0.74 of the
# lips' light without it, 0.53 / 0.48 / 0.44 at depth 0.4 / 0.5 / 0.6 (held out: 0.84 -> 0.56 at 0.5; their real
# neutral seams 0.53).
LIP_SEAM = (0.5, 0.026, 0.018)
LIP_SEAM_GAP = 0.5  # px: target lips closer than this meet; the source's must stand this much further apart
CLOSING_RAMP = 1.0  # px: a lip closes over what the source showed in full once the source stood this much further apart
LIP_SEAM_FADE = 0.05  # of the mouth's width: the seam fades in from each inner corner
# Around each mouth corner the map is mended so the target's corner reads the source's (`corners_land`): the miss,
# fading as a Gaussian of this many mouth widths (or of the miss itself, where that is longer: it cannot fold).
CORNER_REACH = 0.15
# Round each eye the map is mended so the target's lids read the source's (`lids_land`): the miss along the eye's
# outline, fading as a Gaussian of this many eye openings from it (or of the largest miss, where that is longer),
# each pixel taking the misses of the outline near it averaged over LID_SPREAD of that sigma. Narrower, the lids land
# closer but the map folds where neighbouring outline points move apart (0.33: a fold at a scared eye's corner).
LID_REACH = 0.25
LID_SPREAD = 0.5
CAVITY_COLOUR = np.array([52.0, 22.0, 24.0])  # a dark, slightly red mouth interior (RGB), shaded by the lips' tone
CAVITY_MIN_GAP = 0.5  # pixels: a target gap that barely opens needs no cavity
TEETH_COLOUR = np.array([222.0, 214.0, 200.0])  # upper front teeth under the face's light (scaled by the lip tone)
TEETH_SHOW = 0.35  # the upper teeth fill this share of the mouth opening below the upper lip
TEETH_MIN_GAP = 4.0  # pixels: teeth fade in as the mouth opens from this gap to twice it


def _anchors(src: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Points that must not move: a ring around the face and the image border."""
    height, width = shape
    oval = src[list(fr.FACE_OVAL)]
    centre = oval.mean(axis=0)
    radius = np.linalg.norm(oval - centre, axis=1).max() * ANCHOR_RING_SCALE
    angles = np.linspace(0, 2 * np.pi, ANCHOR_RING_POINTS, endpoint=False)
    ring = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    edge = np.linspace(0, 1, 9)
    border = np.concatenate([
        np.stack([edge * (width - 1), np.zeros_like(edge)], 1), np.stack([edge * (width - 1), np.full_like(edge, height - 1)], 1),
        np.stack([np.zeros_like(edge), edge * (height - 1)], 1), np.stack([np.full_like(edge, width - 1), edge * (height - 1)], 1),
    ])  # fmt: skip
    return np.concatenate([ring, border])


def backward_map(src: np.ndarray, dst: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """For each pixel of the output, where to read the input: (H, W, 2) float32 (x, y) for `cv2.remap`.

    `src` and `dst` are (478, 2) pixel landmarks of the input and of the wanted output.
    """
    height, width = shape
    src = np.asarray(src, dtype=np.float64)[:, :2]
    dst = np.asarray(dst, dtype=np.float64)[:, :2]
    anchors = _anchors(src, shape)
    inside = (anchors[:, 0] >= 0) & (anchors[:, 0] <= width - 1) & (anchors[:, 1] >= 0) & (anchors[:, 1] <= height - 1)
    anchors = anchors[inside]
    # Interpolate the move (source minus target) at the target positions: a displacement field over the output.
    points = np.concatenate([dst, anchors])
    moves = np.concatenate([src - dst, np.zeros_like(anchors)])
    interpolate = LinearNDInterpolator(points, moves, fill_value=0.0)
    # Evaluate on a coarse grid and upsample: the field is smooth, and this keeps a 2k crop fast.
    step = max(1, round(max(height, width) / 256))
    ys, xs = np.arange(0, height + step, step), np.arange(0, width + step, step)
    grid_x, grid_y = np.meshgrid(xs.astype(np.float64), ys.astype(np.float64))
    field = interpolate(grid_x, grid_y).astype(np.float32)
    sigma = max(0.5, FIELD_SMOOTH * max(height, width) / step)
    field = cv2.GaussianBlur(field, (0, 0), sigma)
    field = cv2.resize(field, (len(xs) * step, len(ys) * step), interpolation=cv2.INTER_LINEAR)[:height, :width]
    identity_x, identity_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.stack([identity_x + field[..., 0], identity_y + field[..., 1]], axis=-1)


def lip_edges(points: np.ndarray, loop: tuple[int, ...], lower_member: int,
              xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The upper and lower arc of a lip contour (`loop`: the outer or inner one) as y at each of `xs`, from `points`
    (an upright face: the aligned crops)."""
    edges = []
    for arc in split_lip_loop(loop, points, lower_member):
        arc = sorted(arc, key=lambda i: points[i, 0])
        edges.append(np.interp(xs, points[arc, 0], points[arc, 1]))
    return edges[0], edges[1]


def closing_share(source_gap: np.ndarray, target_gap: np.ndarray) -> np.ndarray:
    """0..1 per column: how far the warp closes the lips over what the source's mouth showed (`lips_read_lips`,
    `lip_seam`): 0 unless the source's lips stood `LIP_SEAM_GAP` px further apart than the target's, 1 from
    `CLOSING_RAMP` px more. A yes or no per column cut a closed-lip smile, parted half a pixel, into blocks: a seam in
    some columns and not in their neighbours (london_001's smile relaxed to neutral)."""
    return np.clip((source_gap - target_gap - LIP_SEAM_GAP) / CLOSING_RAMP, 0.0, 1.0)


def from_inner_corners(xs: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """0..1 at each x: 0 at and beyond the target's inner mouth corners, 1 from `LIP_SEAM_FADE` of the mouth's width
    inside them (where `lips_read_lips` and `lip_seam` fade in)."""
    inner = dst[list(fr.LIPS_INNER), 0]
    return np.clip(np.minimum(xs - inner.min(), inner.max() - xs) / (LIP_SEAM_FADE * max(np.ptp(inner), 1e-6)), 0, 1)


def map_at(mapping: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Where `mapping` (a backward map) reads the input at each of `points` ((N, 2) output pixels): (N, 2) float64."""
    where = np.ascontiguousarray(np.asarray(points, dtype=np.float32)[None, :, :2])
    return cv2.remap(mapping, where, None, cv2.INTER_LINEAR)[0].astype(np.float64)


def corners_land(mapping: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """`mapping` (a `backward_map`) mended so that each mouth corner of the target reads the source's corner.

    The smoothed field averages a corner's move with the skin's around it, and the corners move most of all: a grin
    relaxed to neutral had its target corners read 6-8 px below the source's (320 px crop), inside the grin's shadowed
    corners, which came out as dark wedges past the ends of the closed lips. The miss at each corner is added back,
    fading as a Gaussian (`CORNER_REACH`)."""
    height, width = mapping.shape[:2]
    mouth = abs(dst[fr.MOUTH_LEFT_CORNER, 0] - dst[fr.MOUTH_RIGHT_CORNER, 0])
    mapping = mapping.copy()
    for corner in (fr.MOUTH_LEFT_CORNER, fr.MOUTH_RIGHT_CORNER):
        x, y = dst[corner, :2]
        miss = src[corner, :2] - map_at(mapping, dst[[corner]])[0]
        sigma = max(CORNER_REACH * mouth, float(np.hypot(*miss)), 1.0)
        x0, x1 = max(int(x - 3 * sigma), 0), min(int(x + 3 * sigma) + 1, width)
        y0, y1 = max(int(y - 3 * sigma), 0), min(int(y + 3 * sigma) + 1, height)
        if x1 <= x0 or y1 <= y0:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        bump = np.exp(-0.5 * ((xs - x) ** 2 + (ys - y) ** 2) / sigma**2)
        mapping[y0:y1, x0:x1] += (bump[..., None] * miss).astype(np.float32)
    return mapping


def lids_land(mapping: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """`mapping` (a `backward_map`) mended so that each eye's outline in the target reads the source's outline.

    A lid moves a few pixels against the skin a few pixels away, and the smoothed field averages the two: each
    target outline point read the photo 0.55 px from the source's point on average, of the 1.29 px disgust moves them
    (openpeople P001-P007, 373 px crops; fear 0.84 of 2.18 px): disgust's eyes narrowed by 60 % of what the target
    asks, MediaPipe found on the delivered photo. The misses at the outline points, spread along the outline (a
    Gaussian-weighted mean of the nearby points' misses, `LID_SPREAD`), are added back, fading as a Gaussian of the
    distance from the outline (`LID_REACH` of the eye's opening, or the largest miss where that is longer: it
    cannot fold). The outline points then read 0.09 px (fear 0.21 px) from the source's on average."""
    height, width = mapping.shape[:2]
    mapping = mapping.copy()
    for loop, (upper, lower) in ((fr.RIGHT_EYE, (fr.RIGHT_EYE_UPPER_LID, fr.RIGHT_EYE_LOWER_LID)),
                                 (fr.LEFT_EYE, (fr.LEFT_EYE_UPPER_LID, fr.LEFT_EYE_LOWER_LID))):  # fmt: skip
        outline = dst[list(loop), :2]
        miss = src[list(loop), :2] - map_at(mapping, outline)
        opening = max(np.linalg.norm(points[upper, :2] - points[lower, :2]) for points in (src, dst))
        sigma = max(LID_REACH * opening, float(np.linalg.norm(miss, axis=1).max()), 1.0)
        # The closed outline resampled every third of the spread, each sample carrying the miss interpolated along it.
        ring = np.concatenate([outline, miss], axis=1)
        ring = np.concatenate([ring, ring[:1]])
        along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ring[:, :2], axis=0), axis=1))])
        count = max(int(np.ceil(3 * along[-1] / (LID_SPREAD * sigma))), len(loop))
        steps = np.linspace(0.0, along[-1], count, endpoint=False)
        resampled = np.stack([np.interp(steps, along, column) for column in ring.T], axis=1).astype(np.float32)
        samples, sample_miss = resampled[:, :2], resampled[:, 2:]
        x0, y0 = np.maximum(np.floor(outline.min(axis=0) - 3 * sigma), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(outline.max(axis=0) + 3 * sigma) + 1, (width, height)).astype(int)
        if x1 <= x0 or y1 <= y0:
            continue
        # The mend varies no faster than its spread: worked out on a grid half of that apart, then read at every pixel
        # (a 721 px crop's eyes, pixel by pixel, took 99 ms, six times its whole smoothed map; so 19 ms).
        step = max(1.0, LID_SPREAD * sigma / 2)
        ys, xs = np.meshgrid(np.arange(y0, y1 + step, step, dtype=np.float32),
                             np.arange(x0, x1 + step, step, dtype=np.float32), indexing="ij")  # fmt: skip
        squared = (xs[..., None] - samples[:, 0]) ** 2 + (ys[..., None] - samples[:, 1]) ** 2
        nearest = squared.min(axis=-1, keepdims=True)
        weights = np.exp(-0.5 * (squared - nearest) / (LID_SPREAD * sigma) ** 2)
        mend = np.exp(-0.5 * nearest / sigma**2) * (weights @ sample_miss) / weights.sum(axis=-1, keepdims=True)
        fine_y, fine_x = (np.mgrid[0 : y1 - y0, 0 : x1 - x0] / step).astype(np.float32)
        mapping[y0:y1, x0:x1] += cv2.remap(mend.astype(np.float32), fine_x, fine_y, cv2.INTER_LINEAR)
    return mapping


def face_map(src: np.ndarray, dst: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The backward map of a face edit: `backward_map`, its mouth corners and eye outlines landing (`corners_land`,
    `lids_land`) and the lips it closes read whole (`lips_read_lips`)."""
    return lips_read_lips(lids_land(corners_land(backward_map(src, dst, shape), src, dst), src, dst), src, dst)


def lips_read_lips(mapping: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """A photo's `backward_map` where the target's mouth is narrower than the source's (a lip closes over what the
    mouth showed: teeth): each lip is read whole, column by column, its target span from the outer edge to the line
    the lips meet on stretched evenly over the source lip's, from its outer edge to `LIP_EDGE_INSET` (at most half
    the lip) inside its inner edge (the edge mixes in teeth). Towards the outer edge the warp's own read fades back in
    (`LIP_OUTER_FADE`), so lip and skin join as the warp left them; wherever the warp reads the opening it does not.
    Only between the target's inner corners, fading in from them as the seam does: beyond them a column's source
    "lip" ran from its outer edge to the corner's inner edge, often skin, a pale tab at each end of the lower lip.

    The smoothed field spreads the lips' jump across the line they meet on over a band, and the lips' triangles over
    a sawtooth, which read the teeth: a mouth closed from a grin kept a row of them (38 % of a closed synthetic
    grin's lip pixels). Mending only the pixels that read teeth left a lip of columns, each stretched on its own
    (vertical streaks), boxed in where the mending stopped.
    """
    height, width = mapping.shape[:2]
    lips = dst[list(fr.LIPS_OUTER)]
    (x0, y0), (x1, y1) = np.floor(lips.min(axis=0)).astype(int) - 2, np.ceil(lips.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1)
    if x1 <= x0 or y1 <= y0:
        return mapping
    ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(np.float64)
    read = mapping[y0 : y1 + 1, x0 : x1 + 1]
    read_x = read[..., 0].astype(np.float64)
    outer_up, outer_low = lip_edges(dst, fr.LIPS_OUTER, fr.LOWER_LIP_BOTTOM, xs)
    inner_up, inner_low = lip_edges(dst, fr.LIPS_INNER, fr.LOWER_LIP_INNER, xs)
    src_outer_up, src_outer_low = lip_edges(src, fr.LIPS_OUTER, fr.LOWER_LIP_BOTTOM, read_x)
    src_inner_up, src_inner_low = lip_edges(src, fr.LIPS_INNER, fr.LOWER_LIP_INNER, read_x)
    columns = np.arange(xs.shape[1])  # each column closes as a whole, by its share: read where its lips meet
    meet = np.clip(np.round((inner_up[0] + inner_low[0]) / 2 - y0).astype(int), 0, xs.shape[0] - 1)
    src_up_meet, src_low_meet = lip_edges(src, fr.LIPS_INNER, fr.LOWER_LIP_INNER, read_x[meet, columns])
    closing = closing_share(src_low_meet - src_up_meet, inner_low[0] - inner_up[0])[None, :]
    opening = (ys > inner_up) & (ys < inner_low) & (inner_low - inner_up >= 1.0)  # what the target leaves open
    upper = (ys >= outer_up) & (ys < (inner_up + inner_low) / 2) & ~opening
    lower = (ys >= (inner_up + inner_low) / 2) & (ys <= outer_low) & ~opening
    fade_in = from_inner_corners(xs, dst)
    apply = (closing > 0) & (upper | lower) & (fade_in > 0)
    if not apply.any():
        return mapping
    inset_up = np.minimum(LIP_EDGE_INSET, 0.5 * np.maximum(src_inner_up - src_outer_up, 0.0))
    inset_low = np.minimum(LIP_EDGE_INSET, 0.5 * np.maximum(src_outer_low - src_inner_low, 0.0))
    t_up = np.clip((ys - outer_up) / np.maximum(inner_up - outer_up, 1e-6), 0.0, 1.0)
    t_low = np.clip((outer_low - ys) / np.maximum(outer_low - inner_low, 1e-6), 0.0, 1.0)
    stretched = np.where(upper, src_outer_up + t_up * (src_inner_up - inset_up - src_outer_up),
                         src_outer_low - t_low * (src_outer_low - src_inner_low - inset_low))  # fmt: skip
    # How near the warp's own read comes to the opening: 0 two insets from the lip's inner edge, 1 at one inset.
    into = np.where(upper, read[..., 1] - (src_inner_up - 2 * LIP_EDGE_INSET),
                    src_inner_low + 2 * LIP_EDGE_INSET - read[..., 1]) / LIP_EDGE_INSET  # fmt: skip
    from_edge = np.where(upper, t_up, t_low) / LIP_OUTER_FADE  # the warp carries the outer edge: no step there
    weight = np.where(apply, np.clip(np.maximum(from_edge, into), 0.0, 1.0) * fade_in * closing, 0.0)
    mapping = mapping.copy()
    mapping[y0 : y1 + 1, x0 : x1 + 1, 1] = (read[..., 1] * (1 - weight) + stretched * weight).astype(np.float32)
    return mapping


def lip_seam(src: np.ndarray, dst: np.ndarray, shape: tuple[int, int], blur: float = 0.0) -> np.ndarray:
    """(H, W) float32 log ratio: the dark line on which lips meet, where the target's lips meet and the source's were
    apart (a mouth closed by the warp; a closed mouth of the photo keeps its own). Across the line a Gaussian
    (`LIP_SEAM`: its depth, its sigma and how far above the landmarks' meeting line it lies, the last two in mouth
    widths), fading in from the inner corners, blurred by `blur` px as the photo is soft (`sharpness.extra_blur`).
    Lips read from inside their edges (`lips_read_lips`) meet without it: a hard step between the two lips' colours,
    stair-stepped along a slanted line."""
    seam = np.zeros(shape, np.float32)
    left, right = dst[list(fr.LIPS_INNER), 0].min(), dst[list(fr.LIPS_INNER), 0].max()
    src_left, src_right = src[list(fr.LIPS_INNER), 0].min(), src[list(fr.LIPS_INNER), 0].max()
    width = right - left
    depth, sigma, above = LIP_SEAM[0], LIP_SEAM[1] * width, LIP_SEAM[2] * width
    x0, x1 = max(int(np.floor(left)), 0), min(int(np.ceil(right)), shape[1] - 1)
    if width <= 1 or x1 <= x0:
        return seam
    xs = np.arange(x0, x1 + 1, dtype=np.float64)
    upper, lower = lip_edges(dst, fr.LIPS_INNER, fr.LOWER_LIP_INNER, xs)
    src_upper, src_lower = lip_edges(src, fr.LIPS_INNER, fr.LOWER_LIP_INNER,
                                     src_left + (xs - left) / width * (src_right - src_left))  # fmt: skip
    meet = np.clip(2.0 - (lower - upper) / LIP_SEAM_GAP, 0.0, 1.0)  # 1 where they meet, 0 at twice the gap
    along = meet * closing_share(src_lower - src_upper, lower - upper) * from_inner_corners(xs, dst)
    if not along.any():
        return seam
    centre = (upper + lower) / 2 - above
    y0, y1 = max(int(np.floor(centre.min() - 3 * sigma)), 0), min(int(np.ceil(centre.max() + 3 * sigma)), shape[0] - 1)
    ys = np.arange(y0, y1 + 1, dtype=np.float64)[:, None]
    seam[y0 : y1 + 1, x0 : x1 + 1] = -depth * along * np.exp(-0.5 * ((ys - centre) / sigma) ** 2)
    return soften(seam, blur)


def seam_softening(seam: np.ndarray) -> np.ndarray:
    """(H, W) 0..1: how much of a `lip_seam` to soften as the photo is soft (`sharpness.soften`): where the two lips,
    read whole, meet in a hard pixel step that a soft photo does not have (an inked outline on web photos)."""
    return np.clip(-2.0 * seam / LIP_SEAM[0], 0.0, 1.0)


def identity_map(size: int) -> np.ndarray:
    """The backward map that moves nothing: (size, size, 2) float32 (x, y)."""
    xs, ys = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return np.stack([xs, ys], axis=-1)


def warp_with(image: np.ndarray, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp `image` by a `backward_map`; returns (warped image, displacement length in pixels (H, W))."""
    warped = cv2.remap(image, mapping[..., 0], mapping[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    height, width = image.shape[:2]
    identity = np.stack(np.meshgrid(np.arange(width), np.arange(height)), axis=-1).astype(np.float32)
    return warped, np.linalg.norm(mapping - identity, axis=-1)


def _inner_lip_polygon(landmarks: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(landmarks)[list(fr.LIPS_INNER), :2] * 4).astype(np.int32)  # 2 fractional bits


def mouth_gap(landmarks: np.ndarray) -> float:
    """How far the inner lips stand apart on the midline, in pixels."""
    points = np.asarray(landmarks)
    return float(np.linalg.norm(points[fr.LOWER_LIP_INNER, :2] - points[fr.UPPER_LIP_INNER, :2]))


def shade_mouth_cavity(image: np.ndarray, src: np.ndarray, dst: np.ndarray,
                       interior: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Paint the inside of the mouth where `dst` opens it wider than `src`; returns (image, cavity alpha (H, W)).

    A warp can only stretch the closed lips' seam into the new gap; a dark, soft-edged interior tinted by
    the person's lip colour reads as an open mouth, and the inpainting model can build on it. `interior`
    ((H, W, 3) RGB, (H, W) alpha), e.g. real mouths measured by `expression_texture`, replaces the drawn
    interior where its alpha says it is known.
    """
    alpha = np.zeros(image.shape[:2], dtype=np.float32)
    if mouth_gap(dst) - mouth_gap(src) < CAVITY_MIN_GAP:
        return image, alpha
    # Only the mouth's box is drawn (a full-size crop cost ~60 ms per edit): the lips plus the blur's reach.
    lips = np.asarray(dst, np.float64)[list(fr.LIPS_OUTER), :2]
    margin = 4 + 4 * max(0.5, 0.05 * mouth_gap(dst))
    (x0, y0), (x1, y1) = np.floor(lips.min(axis=0) - margin).astype(int), np.ceil(lips.max(axis=0) + margin).astype(int)
    box = (slice(max(0, y0), max(0, y1)), slice(max(0, x0), max(0, x1)))
    if interior is not None:
        interior = (interior[0][box], interior[1][box])
    offset = np.array([box[1].start, box[0].start], np.float64)
    drawn, alpha[box] = _draw_cavity(image[box], np.asarray(dst, np.float64)[:, :2] - offset, interior)
    out = image.copy()
    out[box] = drawn
    return out, alpha


def _draw_cavity(image: np.ndarray, dst: np.ndarray,
                 interior: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`shade_mouth_cavity` inside a box around the mouth (`dst` in the box's pixels)."""
    alpha = np.zeros(image.shape[:2], dtype=np.float32)
    coverage = np.zeros(image.shape[:2], dtype=np.uint8)
    cv2.fillPoly(coverage, [_inner_lip_polygon(dst)], 255, lineType=cv2.LINE_AA, shift=2)
    if not coverage.any():
        return image, alpha
    # A slight blur: the lips' inner edge is a soft shadow, not a cut-out.
    alpha = cv2.GaussianBlur(coverage.astype(np.float32) / 255, (0, 0), max(0.5, 0.05 * mouth_gap(dst)))
    lips = np.zeros(image.shape[:2], dtype=np.uint8)
    cv2.fillPoly(lips, [np.round(np.asarray(dst)[list(fr.LIPS_OUTER), :2]).astype(np.int32)], 1)
    rim = lips.astype(bool) & (alpha == 0)  # lip pixels the cavity does not cover (none on a tiny, wide-open mouth)
    lip_tone = image[rim].mean(axis=0) if rim.any() else CAVITY_COLOUR
    drawn = np.empty(image.shape, np.float32)
    drawn[:] = 0.7 * CAVITY_COLOUR + 0.3 * 0.35 * lip_tone
    teeth = _upper_teeth(dst, image.shape[:2])
    drawn += teeth[..., None] * (TEETH_COLOUR * min(1.0, lip_tone.mean() / 150) - drawn)
    if interior is not None:
        measured, known = interior
        drawn += np.clip(known, 0.0, 1.0)[..., None] * (measured - drawn)
    out = image.astype(np.float32) * (1 - alpha[..., None]) + drawn * alpha[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), alpha


def _upper_teeth(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A soft band under the upper lip where the upper teeth show, fading into shadow towards the corners."""
    from pipelines.face.action_units import face_frame

    points = np.asarray(landmarks, dtype=np.float64)[:, :2]
    frame = face_frame(points)
    inner = set(fr.LIPS_INNER)
    upper = [i for i in frame.upper_lip if i in inner]
    line = points[sorted(upper, key=lambda i: frame.uv[i, 0])]
    canvas = np.full(shape, 255, np.uint8)
    cv2.polylines(canvas, [np.round(line).astype(np.int32)], False, 0, 1, cv2.LINE_8)  # exact zeros for the distance
    distance = cv2.distanceTransform(canvas, cv2.DIST_L2, 5)
    depth = TEETH_SHOW * mouth_gap(points)
    band = cv2.GaussianBlur(np.clip(1.0 - distance / max(depth, 1.0), 0.0, 1.0) ** 0.5, (0, 0), 1.0)
    band *= np.clip((mouth_gap(points) - TEETH_MIN_GAP) / TEETH_MIN_GAP, 0.0, 1.0)  # a slit shows no teeth
    # Teeth recede into the dark towards the mouth corners.
    half_width = (line[:, 0].max() - line[:, 0].min()) / 2
    xs = np.arange(shape[1], dtype=np.float32)
    across = np.clip(1.0 - np.abs(xs - line[:, 0].mean()) / max(half_width, 1.0), 0.0, 1.0) ** 0.6
    return (band * across[None, :]).astype(np.float32)
