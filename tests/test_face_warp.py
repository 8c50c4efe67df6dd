"""The landmark-driven warp on a hand-made face: identity when nothing moves, content follows the moves."""

from __future__ import annotations

import numpy as np
import cv2
from test_expressions import SMILING, hand_made_face, parted

from pipelines.face import landmarks as fr
from pipelines.face.action_units import expression_amounts, expression_target, move_landmarks
from pipelines.face.warp import (
    LIP_SEAM, backward_map, corners_land, face_map, lids_land, lip_edges, lip_seam, lips_read_lips, map_at,
    mouth_gap, shade_mouth_cavity, warp_with,
)

FACE = hand_made_face().astype(np.float64)
SHAPE = (170, 120)  # room below the chin for the jaw to drop


def test_no_move_is_the_identity():
    image = np.random.default_rng(0).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
    warped, moved = warp_with(image, backward_map(FACE, FACE, SHAPE))
    assert np.array_equal(warped, image) and moved.max() < 1e-4


def test_pixels_follow_the_landmarks():
    target = move_landmarks(FACE, expression_amounts("surprise")).astype(np.float64)
    mapping = backward_map(FACE, target, SHAPE)
    # The output pixel at the chin's new place reads the input near the chin's old place.
    x, y = np.round(target[fr.CHIN]).astype(int)
    np.testing.assert_allclose(mapping[y, x], FACE[fr.CHIN], atol=2.0)
    # Far from the face (image corners) nothing moves.
    np.testing.assert_allclose(mapping[0, 0], (0, 0), atol=1e-3)


def test_cavity_only_where_the_mouth_opens():
    image = np.full((*SHAPE, 3), 200, np.uint8)
    same, alpha = shade_mouth_cavity(image, FACE, FACE)
    assert np.array_equal(same, image) and not alpha.any()
    opened = move_landmarks(FACE, expression_amounts("surprise"))
    assert mouth_gap(opened) > mouth_gap(FACE) + 5
    shaded, alpha = shade_mouth_cavity(image, FACE, opened)
    mouth_centre = np.round((opened[fr.UPPER_LIP_INNER] + opened[fr.LOWER_LIP_INNER]) / 2).astype(int)
    assert alpha[mouth_centre[1], mouth_centre[0]] > 0.9
    assert shaded[alpha > 0.9].mean() < 150  # darker inside the mouth
    assert np.array_equal(shaded[alpha == 0], image[alpha == 0])


def closed_grin(image_of_grin) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the grin's image warped closed, the grin's landmarks, the closed target's), 4x the hand-made face."""
    grin, closed = parted(6.0).astype(np.float64) * 4, FACE * 4
    shape = (SHAPE[0] * 4, SHAPE[1] * 4)
    warped, _ = warp_with(image_of_grin(grin, shape), lips_read_lips(backward_map(grin, closed, shape), grin, closed))
    return warped, grin, closed


def polygon(points: np.ndarray, loop: tuple[int, ...]) -> np.ndarray:
    return np.round(points[list(loop)]).astype(np.int32)


def test_lips_that_close_over_teeth_show_lips_not_teeth():
    """A grin closed by the warp: the target's lips meet on a line; the smoothed move spread its jump over a band that
    read the teeth between the source's lips, and the lips' own triangles a sawtooth of them."""

    def lips_and_teeth(grin, shape):
        image = np.full((*shape, 3), (200, 160, 140), np.uint8)
        cv2.fillPoly(image, [polygon(grin, fr.LIPS_OUTER)], (180, 60, 70))
        return cv2.fillPoly(image, [polygon(grin, fr.LIPS_INNER)], (245, 245, 240))

    warped, _, closed = closed_grin(lips_and_teeth)
    lips = cv2.fillPoly(np.zeros(warped.shape[:2], np.uint8), [polygon(closed, fr.LIPS_OUTER)], 1)
    lips = cv2.fillPoly(lips, [polygon(closed, fr.LIPS_INNER)], 0)  # the sliver the target leaves open may show them
    lips = cv2.erode(lips, np.ones((3, 3), np.uint8)).astype(bool)
    teeth = (warped[lips] > 225).all(axis=1)
    assert lips.sum() > 500 and teeth.mean() < 0.005, teeth.mean()


def shaded_lips(grin: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Lips (and all else) shaded top to bottom only, lighter away from the grin's lower inner lip."""
    rows = np.arange(shape[0], dtype=np.float64)[:, None, None]
    return (np.clip(60 + np.abs(rows - grin[fr.LOWER_LIP_INNER, 1]) * 8, 0, 255) * np.ones((1, shape[1], 3)))\
        .astype(np.uint8)  # fmt: skip


def test_a_lip_closed_over_teeth_is_read_whole_not_its_edge_row_repeated():
    """The pixels that would read teeth read the lip, evenly from inside its edge: the lip's shading survives."""
    warped, _, closed = closed_grin(shaded_lips)
    x = int(round(closed[fr.LOWER_LIP_INNER, 0]))
    below = warped[int(closed[fr.LOWER_LIP_INNER, 1]) + 1 :, x, 0][:10].astype(int)  # the run that read teeth
    assert np.all(np.diff(below) >= 0) and len(np.unique(below)) >= 4  # the edge row repeated: one value


def test_a_lip_closed_over_teeth_has_no_streaks():
    """Shaded top to bottom only, each closed lip must still be even from column to column: a column's mean over
    the lip follows its neighbours'. Mending only the pixels that read teeth stretched each column on its own:
    vertical streaks (the lower lip's columns' second difference up to 10 grey levels, now 4)."""
    warped, _, closed = closed_grin(shaded_lips)
    inner = closed[list(fr.LIPS_INNER), 0]
    xs = np.arange(int(inner.min()) + 4, int(inner.max()) - 4)
    outer_up, outer_low = lip_edges(closed, fr.LIPS_OUTER, fr.LOWER_LIP_BOTTOM, xs.astype(np.float64))
    inner_up, inner_low = lip_edges(closed, fr.LIPS_INNER, fr.LOWER_LIP_INNER, xs.astype(np.float64))
    for top, bottom in ((outer_up + 2, inner_up - 2), (inner_low + 2, outer_low - 2)):
        means = np.array([warped[int(np.ceil(a)) : int(np.floor(b)) + 1, x, 0].mean()
                          for x, a, b in zip(xs, top, bottom)])  # fmt: skip
        assert len(xs) > 60 and np.abs(np.diff(means, 2)).max() < 6, np.abs(np.diff(means, 2)).max()


def test_lips_the_warp_closed_meet_on_a_dark_line_and_no_other_mouth_gets_one():
    grin, closed = parted(6.0).astype(np.float64) * 4, parted(0.0).astype(np.float64) * 4  # lips that meet
    shape = (SHAPE[0] * 4, SHAPE[1] * 4)
    seam = lip_seam(grin, closed, shape)
    x, y = np.round(closed[fr.UPPER_LIP_INNER]).astype(int)
    assert seam[:, x].min() < -0.9 * LIP_SEAM[0] and abs(int(np.argmin(seam[:, x])) - y) <= 3
    assert seam[y + 20 :, x].min() > -0.01 and seam[: y - 20, x].min() > -0.01  # a line, not a band
    assert not seam[:, : int(closed[list(fr.LIPS_INNER), 0].min())].any()  # nothing past the mouth's corners
    assert not lip_seam(closed, closed, shape).any()  # a closed mouth keeps its own
    assert not lip_seam(grin, grin, shape).any()  # an open one stays open


def test_a_relaxed_grins_mouth_corners_read_the_grins_corners():
    """The smoothed field lags the corners, which move most: relaxing this grin, its target corners read 13-16 px
    (4x the hand-made face) from the grin's corners, in the grin's shadowed corners (dark wedges past the closed lips'
    ends on real photos). Mended, each reads its own corner, and the map does not fold around it."""
    grin = parted(6.0).astype(np.float64) * 4
    relaxed = expression_target(parted(6.0), "neutral", blendshapes=SMILING)[1].astype(np.float64) * 4
    shape = (SHAPE[0] * 4, SHAPE[1] * 4)
    smoothed, mended = backward_map(grin, relaxed, shape), face_map(grin, relaxed, shape)
    for corner in (fr.MOUTH_LEFT_CORNER, fr.MOUTH_RIGHT_CORNER):
        assert np.linalg.norm(map_at(smoothed, relaxed[[corner]])[0] - grin[corner]) > 10
        assert np.linalg.norm(map_at(mended, relaxed[[corner]])[0] - grin[corner]) < 0.5
    moved = corners_land(smoothed, grin, relaxed) - smoothed  # the mend alone: with its Jacobian's determinant
    x0, y0 = np.floor(relaxed[[fr.MOUTH_LEFT_CORNER, fr.MOUTH_RIGHT_CORNER]].min(axis=0)).astype(int) - 40
    x1, y1 = np.ceil(relaxed[[fr.MOUTH_LEFT_CORNER, fr.MOUTH_RIGHT_CORNER]].max(axis=0)).astype(int) + 40
    (dxx, dxy), (dyx, dyy) = (np.gradient(moved[y0:y1, x0:x1, k], axis=(1, 0)) for k in (0, 1))  # positive, no fold
    assert ((1 + dxx) * (1 + dyy) - dxy * dyx).min() > 0.2


def test_the_target_eyes_outline_reads_the_sources():
    """The smoothed field averages a lid's move with the skin's beside it: disgust's narrowed eyes read the photo
    about 1.9 px from the source's outline on this face (4x the hand-made one), most of what the target moves them.
    Mended, the outline reads within a third of a pixel of the source's, and the map does not fold round the eyes
    for any expression (a scared eye's lids move apart fastest)."""
    src, shape = FACE * 4, (SHAPE[0] * 4, SHAPE[1] * 4)
    outline = list(fr.RIGHT_EYE + fr.LEFT_EYE)
    for expression in ("disgust", "fear", "surprise", "joy", "anger"):
        dst = expression_target(FACE, expression)[1].astype(np.float64) * 4
        smoothed = corners_land(backward_map(src, dst, shape), src, dst)
        mended = lids_land(smoothed, src, dst)
        miss = {name: np.linalg.norm(map_at(mapping, dst[outline]) - src[outline], axis=1).mean()
                for name, mapping in (("smoothed", smoothed), ("mended", mended))}
        assert miss["mended"] < 0.4 * miss["smoothed"], (expression, miss)
        if expression == "disgust":
            assert miss["smoothed"] > 1.5 and miss["mended"] < 0.35, miss
        (dxx, dxy), (dyx, dyy) = (np.gradient((mended - smoothed)[..., k], axis=(1, 0)) for k in (0, 1))
        assert ((1 + dxx) * (1 + dyy) - dxy * dyx).min() > 0.2, expression


def test_the_seam_deepens_with_how_far_the_lips_were_apart():
    """A mouth parted half a pixel or so (a closed-lip smile) is closed by the warp in some columns and not in their
    neighbours; the seam followed yes or no per column, a dark block between bare columns. It now deepens with the
    source's parting: no step of more than a third of its depth between partings 0.2 px apart."""
    closed = parted(0.0).astype(np.float64)
    x = int(round(closed[fr.UPPER_LIP_INNER, 0]))
    depth = [-lip_seam(parted(gap).astype(np.float64), closed, SHAPE)[:, x].min() for gap in np.arange(0.4, 2.01, 0.2)]
    assert depth[0] == 0 and depth[-1] > 0.8 * LIP_SEAM[0]
    assert np.diff(depth).min() >= 0 and np.diff(depth).max() < LIP_SEAM[0] / 3, np.round(depth, 3)
