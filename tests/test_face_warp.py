"""The landmark-driven warp on a hand-made face: identity when nothing moves, content follows the moves."""

from __future__ import annotations

import numpy as np
import cv2
from test_expressions import hand_made_face, parted

from pipelines.face import landmarks as fr
from pipelines.face.action_units import expression_amounts, move_landmarks
from pipelines.face.warp import backward_map, lips_read_lips, mouth_gap, shade_mouth_cavity, warp_with

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


def test_lips_that_close_over_teeth_show_lips_not_teeth():
    """A grin closed by the warp: the target's lips meet on a line; the smoothed move spread its jump over a band that
    read the teeth between the source's lips, and the lips' own triangles a sawtooth of them."""
    scale = 4.0
    grin, closed = parted(6.0).astype(np.float64) * scale, FACE * scale
    shape = (SHAPE[0] * 4, SHAPE[1] * 4)
    image = np.full((*shape, 3), (200, 160, 140), np.uint8)
    polygon = lambda points, loop: np.round(points[list(loop)]).astype(np.int32)  # noqa: E731
    cv2.fillPoly(image, [polygon(grin, fr.LIPS_OUTER)], (180, 60, 70))
    cv2.fillPoly(image, [polygon(grin, fr.LIPS_INNER)], (245, 245, 240))
    warped, _ = warp_with(image, lips_read_lips(backward_map(grin, closed, shape), grin, closed))
    lips = cv2.fillPoly(np.zeros(shape, np.uint8), [polygon(closed, fr.LIPS_OUTER)], 1)
    lips = cv2.fillPoly(lips, [polygon(closed, fr.LIPS_INNER)], 0)  # the sliver the target leaves open may show them
    lips = cv2.erode(lips, np.ones((3, 3), np.uint8)).astype(bool)
    teeth = (warped[lips] > 225).all(axis=1)
    assert lips.sum() > 500 and teeth.mean() < 0.005, teeth.mean()


def test_a_lip_closed_over_teeth_is_squeezed_not_its_edge_row_repeated():
    """The pixels that would read teeth read the lip from its edge outwards, evenly: the lip's shading survives."""
    scale = 4.0
    grin, closed = parted(6.0).astype(np.float64) * scale, FACE * scale
    shape = (SHAPE[0] * 4, SHAPE[1] * 4)
    rows = np.arange(shape[0], dtype=np.float64)[:, None, None]
    image = np.clip(60 + (rows - grin[fr.LOWER_LIP_INNER, 1]) * 6, 0, 255) * np.ones((1, shape[1], 3))  # lip shading
    mapping = lips_read_lips(backward_map(grin, closed, shape), grin, closed)
    warped, _ = warp_with(image.astype(np.uint8), mapping)
    x = int(round(closed[fr.LOWER_LIP_INNER, 0]))
    below = warped[int(closed[fr.LOWER_LIP_INNER, 1]) + 1 :, x, 0][:10].astype(int)  # the run that read teeth
    assert np.all(np.diff(below) >= 0) and len(np.unique(below)) >= 4  # the edge row repeated: one value
