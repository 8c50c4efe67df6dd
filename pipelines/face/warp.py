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

ANCHOR_RING_SCALE = 1.45  # fixed points on the face oval blown up by this factor: the warp dies out before them
ANCHOR_RING_POINTS = 48
FIELD_SMOOTH = 0.012  # Gaussian sigma of the displacement smoothing, as a fraction of the image size
LIP_EDGE_INSET = 3.0  # px: a lip closing over the mouth is read from this far inside its edge (the edge mixes in teeth)
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


def _inner_edges(points: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inner lips' upper and lower edge (y) at each of `xs`, from the inner contour of `points` (an upright face:
    the aligned crops)."""
    edges = []
    for arc in split_lip_loop(fr.LIPS_INNER, points, fr.LOWER_LIP_INNER):
        arc = sorted(arc, key=lambda i: points[i, 0])
        edges.append(np.interp(xs, points[arc, 0], points[arc, 1]))
    return edges[0], edges[1]


def lips_read_lips(mapping: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """A photo's `backward_map` with no pixel outside the target's mouth opening reading inside the source's, where
    the target's mouth is the narrower: such a pixel lies on a lip that closed over what the mouth showed (teeth),
    and reads its own lip instead, from inside its edge outwards (`_spread_over_lip`), the upper lip above the line
    the target's lips meet on, the lower below. The smoothed field spreads the jump across that line over a band, and the lips' triangles over a
    sawtooth, which read the teeth: a mouth closed from a grin kept a row of them (38 % of a closed synthetic grin's
    lip pixels)."""
    height, width = mapping.shape[:2]
    left, right = src[list(fr.LIPS_INNER), 0].min(), src[list(fr.LIPS_INNER), 0].max()
    lips = dst[list(fr.LIPS_OUTER)]
    (x0, y0), (x1, y1) = np.floor(lips.min(axis=0)).astype(int) - 2, np.ceil(lips.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1)
    if x1 <= x0 or y1 <= y0:
        return mapping
    ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
    read = mapping[y0 : y1 + 1, x0 : x1 + 1]
    src_upper, src_lower = _inner_edges(src, read[..., 0].ravel())
    src_upper, src_lower = src_upper.reshape(xs.shape), src_lower.reshape(xs.shape)
    dst_upper, dst_lower = _inner_edges(dst, xs.ravel().astype(np.float64))
    dst_upper, dst_lower = dst_upper.reshape(xs.shape), dst_lower.reshape(xs.shape)
    margin = LIP_EDGE_INSET  # the opening's edge pixels mix in what lies inside
    reads_inside = (left - margin < read[..., 0]) & (read[..., 0] < right + margin) & (
        src_upper - margin < read[..., 1]) & (read[..., 1] < src_lower + margin)  # fmt: skip
    on_lips = (ys < dst_upper) | (ys > dst_lower) | (xs <= dst[list(fr.LIPS_INNER), 0].min()) | (
        xs >= dst[list(fr.LIPS_INNER), 0].max())  # fmt: skip
    closing = dst_lower - dst_upper < src_lower - src_upper - 0.5  # the target's mouth is narrower than the source's
    fix = reads_inside & on_lips & closing
    if not fix.any():
        return mapping
    upper_side = ys < (dst_upper + dst_lower) / 2
    edge = np.where(upper_side, src_upper - LIP_EDGE_INSET, src_lower + LIP_EDGE_INSET)
    reads = read[..., 1].copy()
    for side, outward in ((fix & upper_side, -1), (fix & ~upper_side, 1)):
        reads = np.where(side, _spread_over_lip(side, read[..., 1], edge, outward), reads)
    mapping = mapping.copy()
    mapping[y0 : y1 + 1, x0 : x1 + 1, 1] = reads
    return mapping


def _spread_over_lip(fixed: np.ndarray, read: np.ndarray, edge: np.ndarray, outward: int) -> np.ndarray:
    """New read rows (y) for one lip's `fixed` pixels (a run per column, from the line the lips meet on outwards:
    `outward` -1 up, 1 down): evenly from the lip's own edge (`edge`) at the meeting line to the row the column
    reads just past the run, so the lip's shading runs on rather than its edge row repeating (a streak)."""
    rows = np.arange(fixed.shape[0])[:, None]
    count = fixed.sum(axis=0)
    if outward > 0:
        first = np.argmax(fixed, axis=0)
        beyond = np.minimum(first + count, fixed.shape[0] - 1)
        step = rows - first
    else:
        last = fixed.shape[0] - 1 - np.argmax(fixed[::-1], axis=0)
        beyond = np.maximum(last - count, 0)
        step = last - rows
    columns = np.arange(fixed.shape[1])
    t = (step + 0.5) / np.maximum(count, 1)
    return edge * (1 - t) + read[beyond, columns][None, :] * t


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
