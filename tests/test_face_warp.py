"""The landmark-driven warp on a hand-made face: identity when nothing moves, content follows the moves."""

from __future__ import annotations

import cv2
import numpy as np
from test_expressions import hand_made_face

from pipelines.face import landmarks as fr
from pipelines.face.action_units import expression_amounts, move_landmarks
from pipelines.face.warp import backward_map, mouth_gap, shade_mouth_cavity, warp_image

FACE = hand_made_face().astype(np.float64)
SHAPE = (170, 120)  # room below the chin for the jaw to drop


def test_no_move_is_the_identity():
    image = np.random.default_rng(0).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
    warped, moved = warp_image(image, FACE, FACE)
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


def test_a_smile_that_opens_shows_real_teeth_and_a_jaw_drop_shows_a_dark_mouth():
    """The opening is filled from real open mouths of that expression: bright teeth for joy, shadow for surprise."""
    image = np.full((*SHAPE, 3), 150, np.uint8)
    opened = move_landmarks(FACE, expression_amounts("surprise"))
    looks = {}
    for expression in ("joy", "surprise"):
        shaded, alpha = shade_mouth_cavity(image, FACE, opened, expression)
        inside = shaded[alpha > 0.9].astype(np.float64).mean(axis=1)
        looks[expression] = (np.percentile(inside, 90), inside.mean())
    assert looks["joy"][0] > 1.3 * looks["surprise"][0]  # teeth: the brightest tenth of the opening is far brighter
    assert looks["surprise"][1] < 100  # a dark interior


def test_the_donor_lands_on_the_target_lips():
    """Target lips shaped exactly like a donor's: the donor's own pixels come back inside the opening."""
    from pipelines.face.mouth_interiors import CANVAS, interior, pick_donor, shipped_donors

    donors = shipped_donors()
    index = pick_donor(donors, "happy", donors.inner[0])
    assert donors.labels[index] == "happy"
    landmarks = np.zeros((478, 2))
    inner = donors.inner[index].astype(np.float64)
    landmarks[list(fr.LIPS_INNER)] = inner
    centre = inner.mean(axis=0)
    landmarks[list(fr.LIPS_OUTER)] = centre + 1.6 * (inner - centre)  # lips around the opening
    canvas = np.full((*CANVAS, 3), donors.lip_tone[index], np.uint8)  # lit like the donor: no brightness change
    filled = interior(canvas, landmarks, "joy", donors)
    opening = np.zeros(CANVAS, np.uint8)
    cv2.fillPoly(opening, [np.round(inner).astype(np.int32)], 1)
    cv2.erode(opening, np.ones((3, 3), np.uint8), dst=opening)
    grey = filled.mean(axis=2)  # toning the colour down keeps each pixel's grey level
    error = np.abs(grey[opening > 0] - donors.pixels[index].astype(np.float64).mean(axis=2)[opening > 0]).mean()
    assert error < 6.0
