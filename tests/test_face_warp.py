"""The landmark-driven warp on a hand-made face: identity when nothing moves, content follows the moves."""

from __future__ import annotations

import numpy as np
from test_expressions import hand_made_face

from pipelines.face import landmarks as fr
from pipelines.face.action_units import expression_amounts, move_landmarks
from pipelines.face.warp import backward_map, mouth_gap, shade_mouth_cavity, warp_with

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
