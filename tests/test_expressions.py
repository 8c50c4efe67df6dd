"""Expressions on a hand-made face: the measured moves and the sliders move the named landmarks as real faces do."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.face import landmarks as fr
from pipelines.face.action_units import (
    EXPRESSIONS, PARTS, PRESET_EXTRAS, PRESET_UNITS, PRESETS, brow_points, expression_amounts, expression_target,
    face_frame, move_landmarks, relaxed_landmarks,
)

# A schematic frontal face in a 120 x 140 px frame: y grows downwards, the person's right is the image left.
RIGHT_EYE_AT, LEFT_EYE_AT = np.array([40.0, 50.0]), np.array([80.0, 50.0])
MOUTH_AT, MOUTH_HALF_WIDTH = np.array([60.0, 100.0]), 16.0


def _ellipse_loop(indices, centre, half_w, half_h, start_angle=np.pi):
    """Place a closed contour on an ellipse, in tuple order, from `start_angle` (pi = image-left point)."""
    angles = start_angle - np.linspace(0, 2 * np.pi, len(indices), endpoint=False)
    # Going clockwise from the left point in image coordinates passes through the lower half first.
    return {i: centre + (half_w * np.cos(a), -half_h * np.sin(a)) for i, a in zip(indices, angles)}


def _lip_loop(indices, half_h):
    """Lip contours run corner, lower lip, other corner, upper lip: half the points each way."""
    points = {}
    n = len(indices)
    half = n // 2
    for k, index in enumerate(indices):
        if k <= half:
            t = k / half  # lower arc, right corner -> left corner
            x = -MOUTH_HALF_WIDTH * np.cos(np.pi * t)
            points[index] = MOUTH_AT + (x, half_h * np.sin(np.pi * t))
        else:
            t = (k - half) / (n - half)  # upper arc, left corner -> right corner
            x = MOUTH_HALF_WIDTH * np.cos(np.pi * t)
            points[index] = MOUTH_AT + (x, -half_h * np.sin(np.pi * t))
    return points


def hand_made_face() -> np.ndarray:
    points = np.zeros((fr.NUM_LANDMARKS, 2))
    rng = np.random.default_rng(0)
    points[:] = rng.uniform((25, 20), (95, 125), size=(fr.NUM_LANDMARKS, 2))  # mesh filler over the face
    placed = {}
    placed.update(_ellipse_loop(fr.FACE_OVAL, np.array([60.0, 70.0]), 45, 62))
    placed.update(_lip_loop(fr.LIPS_OUTER, 7.0))
    placed.update(_lip_loop(fr.LIPS_INNER, 0.3))  # closed mouth: inner lips touch
    placed.update(_ellipse_loop(fr.RIGHT_EYE, RIGHT_EYE_AT, 9, 4))
    placed.update(_ellipse_loop(fr.LEFT_EYE, LEFT_EYE_AT, 9, 4))
    # Brows: lower edge outer -> inner, then upper edge inner -> outer; "outer" is away from the midline.
    for brow, eye, outward in ((fr.RIGHT_BROW, RIGHT_EYE_AT, -1), (fr.LEFT_BROW, LEFT_EYE_AT, 1)):
        for k, index in enumerate(brow):
            reach = 12 - 24 * k / 4 if k < 5 else -12 + 24 * (k - 5) / 4
            placed[index] = eye + (outward * reach, -14 - 2 * (k >= 5))
    placed[fr.RIGHT_BROW_INNER], placed[fr.LEFT_BROW_INNER] = RIGHT_EYE_AT + (11, -14), LEFT_EYE_AT + (-11, -14)
    for cheek, x in ((fr.RIGHT_CHEEK, 33.0), (fr.LEFT_CHEEK, 87.0)):
        placed.update(_ellipse_loop(cheek, np.array([x, 78.0]), 6, 6))
    for k, index in enumerate(fr.NOSE):
        placed[index] = (60.0 + (k % 3 - 1) * 4, 55.0 + 30 * k / len(fr.NOSE))
    placed[fr.NOSE_TIP] = (60.0, 80.0)
    placed[fr.RIGHT_EYE_UPPER_LID], placed[fr.RIGHT_EYE_LOWER_LID] = RIGHT_EYE_AT + (0, -4), RIGHT_EYE_AT + (0, 4)
    placed[fr.LEFT_EYE_UPPER_LID], placed[fr.LEFT_EYE_LOWER_LID] = LEFT_EYE_AT + (0, -4), LEFT_EYE_AT + (0, 4)
    placed[fr.RIGHT_EYE_CENTER], placed[fr.LEFT_EYE_CENTER] = RIGHT_EYE_AT, LEFT_EYE_AT
    placed[fr.MOUTH_RIGHT_CORNER], placed[fr.MOUTH_LEFT_CORNER] = MOUTH_AT - (MOUTH_HALF_WIDTH, 0), MOUTH_AT + (MOUTH_HALF_WIDTH, 0)
    placed[fr.CHIN] = (60.0, 132.0)
    for index, xy in placed.items():
        points[index] = xy
    return points.astype(np.float32)


FACE = hand_made_face()


def moved(expression, intensity=1.0, **kwargs):
    return move_landmarks(FACE, expression_amounts(expression, intensity, **kwargs)).astype(np.float64) - FACE


def mouth_gap(points):
    return points[fr.LOWER_LIP_INNER, 1] - points[fr.UPPER_LIP_INNER, 1]


def test_lip_split_uses_the_contour_order():
    frame = face_frame(FACE)
    assert fr.LOWER_LIP_BOTTOM in frame.lower_lip and fr.UPPER_LIP_TOP in frame.upper_lip
    assert fr.LOWER_LIP_INNER in frame.lower_lip and fr.UPPER_LIP_INNER in frame.upper_lip
    assert fr.MOUTH_LEFT_CORNER not in frame.upper_lip and fr.MOUTH_LEFT_CORNER not in frame.lower_lip


IOD = float(np.linalg.norm(LEFT_EYE_AT - RIGHT_EYE_AT))  # one face unit in this frame, px
EYES = list(fr.RIGHT_EYE + fr.LEFT_EYE)


def test_joy_lifts_the_lip_corners_more_than_it_widens_them_and_raises_the_cheeks():
    d = moved("joy")
    lift = -d[[fr.MOUTH_RIGHT_CORNER, fr.MOUTH_LEFT_CORNER], 1]
    widen = np.array([-d[fr.MOUTH_RIGHT_CORNER, 0], d[fr.MOUTH_LEFT_CORNER, 0]])
    assert (lift > 0.1 * IOD).all() and (widen > 0.05 * IOD).all() and (lift > 0.8 * widen).all()  # AU12: up, not flat
    assert d[list(fr.RIGHT_CHEEK), 1].mean() < -0.03 * IOD and d[list(fr.LEFT_CHEEK), 1].mean() < -0.03 * IOD  # AU6
    assert d[[fr.RIGHT_EYE_LOWER_LID, fr.LEFT_EYE_LOWER_LID], 1].max() < 0  # the lower lids push up
    assert np.abs(d[list(fr.RIGHT_BROW + fr.LEFT_BROW)]).max() < 0.25 * lift.min()  # the brows stay
    assert mouth_gap(FACE + d) > mouth_gap(FACE) + 0.1 * IOD  # lips part: the teeth show


def test_sadness_lifts_inner_brows_and_pulls_the_corners_down():
    d = moved("sadness")
    assert d[fr.MOUTH_RIGHT_CORNER, 1] > 0.03 * IOD and d[fr.MOUTH_LEFT_CORNER, 1] > 0.03 * IOD
    assert d[fr.RIGHT_BROW_INNER, 1] < -0.02 * IOD and d[fr.LEFT_BROW_INNER, 1] < -0.02 * IOD
    assert d[fr.RIGHT_BROW_INNER, 1] < d[fr.RIGHT_BROW_OUTER, 1]  # the inner end rises more


def test_anger_lowers_the_brows_without_reshaping_the_eyes():
    d = moved("anger")
    assert d[fr.RIGHT_BROW_INNER, 1] > 0.05 * IOD and d[fr.LEFT_BROW_INNER, 1] > 0.05 * IOD  # down
    assert d[fr.RIGHT_BROW_INNER, 1] > d[fr.RIGHT_BROW_OUTER, 1]  # the inner end most: the brows knit
    assert np.linalg.norm(d[EYES], axis=1).max() < 0.03 * IOD  # the eye outlines barely move: same person


def test_surprise_raises_the_brows_opens_the_lids_and_drops_the_jaw():
    d = moved("surprise")
    target = FACE + d
    assert d[list(fr.RIGHT_BROW + fr.LEFT_BROW), 1].max() < -0.02 * IOD
    opening = (target[fr.RIGHT_EYE_LOWER_LID, 1] - target[fr.RIGHT_EYE_UPPER_LID, 1]) - 8  # lids 8 px apart before
    assert opening > 0.02 * IOD
    assert d[fr.CHIN, 1] > 0.1 * IOD
    assert mouth_gap(target) > mouth_gap(FACE) + 0.2 * IOD
    assert abs(d[fr.UPPER_LIP_TOP, 1]) < 0.02 * IOD  # the upper lip stays with the skull


def test_fear_raises_the_inner_brows_and_parts_the_lips():
    d = moved("fear")
    assert d[fr.RIGHT_BROW_INNER, 1] < -0.05 * IOD and d[fr.LEFT_BROW_INNER, 1] < -0.05 * IOD
    assert mouth_gap(FACE + d) > mouth_gap(FACE) + 0.05 * IOD


def test_disgust_raises_the_upper_lip_and_the_nose_wings_and_lowers_the_brows():
    d = moved("disgust")
    assert d[fr.UPPER_LIP_TOP, 1] < -0.1 * IOD  # AU10
    assert d[[98, 327], 1].mean() < -0.05 * IOD  # AU9: the nostril wings rise (the nose wrinkles)
    assert d[fr.RIGHT_BROW_INNER, 1] > 0.03 * IOD


def mean_move(label):
    """The measured move of `label` alone, at amount 1 (no preset strength, no extra parts)."""
    return move_landmarks(FACE, {label: 1.0}).astype(np.float64) - FACE


@pytest.mark.parametrize("label", sorted(PRESET_EXTRAS))
def test_a_preset_lays_parts_of_its_mean_move_on_again_and_the_rest_as_measured(label):
    mean = mean_move(label)
    expected = PRESETS[label][label] * mean
    for name, amount in PRESET_EXTRAS[label].items():
        points = PARTS[name.removeprefix(f"{label}_")](face_frame(FACE))
        expected[points] += amount * mean[points]
    for name, amount in PRESET_UNITS.get(label, {}).items():
        expected += amount * (move_landmarks(FACE, {name: 1.0}).astype(np.float64) - FACE)
    np.testing.assert_allclose(moved(label), expected, atol=1e-3)


def test_sadness_droops_the_upper_lids():
    """AU41: the training people's real sad eyes barely narrow, so the measured move barely does; the preset lowers
    the upper lids over the iris, the lower lids stay."""
    opening = lambda d: np.mean([(FACE + d)[low, 1] - (FACE + d)[up, 1] for up, low in (
        (fr.RIGHT_EYE_UPPER_LID, fr.RIGHT_EYE_LOWER_LID), (fr.LEFT_EYE_UPPER_LID, fr.LEFT_EYE_LOWER_LID))])  # fmt: skip
    sad = moved("sadness")
    assert opening(sad) < opening(mean_move("sadness")) - 0.02 * IOD
    assert sad[[fr.RIGHT_EYE_UPPER_LID, fr.LEFT_EYE_UPPER_LID], 1].min() > 0.02 * IOD


def test_sadness_lifts_the_inner_brows_and_disgust_the_upper_lip_further_than_the_mean_move():
    assert moved("sadness")[fr.RIGHT_BROW_INNER, 1] < mean_move("sadness")[fr.RIGHT_BROW_INNER, 1] - 0.02 * IOD
    assert moved("disgust")[fr.UPPER_LIP_TOP, 1] < mean_move("disgust")[fr.UPPER_LIP_TOP, 1] - 0.04 * IOD
    assert len(brow_points(face_frame(FACE))) > 10 and not set(brow_points(face_frame(FACE))) & set(fr.RIGHT_EYE)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_no_expression_or_slider_moves_the_irises(expression):
    """Eyes open by their lids: a moved iris ring would scale the iris in the warp ("doll eyes")."""
    d = moved(expression, sliders={"eye_open": 1.0, "brow_raise": 1.0})
    np.testing.assert_array_equal(d[fr.NUM_MESH_POINTS :], 0.0)


def test_neutral_leaves_a_face_that_only_looks_squinting_or_frowning_alone():
    """MediaPipe scores 0.2-0.7 eyeSquint/browDown on neutral photos: anatomy, not an expression to undo."""
    scores = {"eyeSquintLeft": 0.6, "eyeSquintRight": 0.6, "browDownLeft": 0.7, "browDownRight": 0.7,
              "mouthSmileLeft": 0.45, "mouthSmileRight": 0.4}  # fmt: skip
    amounts, target = expression_target(FACE, "neutral", blendshapes=scores)
    assert amounts == {}
    np.testing.assert_allclose(target, FACE, atol=1e-5)


def test_intensity_scales_the_move_and_zero_moves_nothing():
    full, half = moved("joy", 1.0), moved("joy", 0.5)
    np.testing.assert_allclose(half, full / 2, atol=1e-3)
    for expression in EXPRESSIONS:
        np.testing.assert_allclose(moved(expression, 0.0), 0, atol=1e-4)


def test_sliders_combine_with_a_preset():
    smile_only = moved("neutral", sliders={"smile": 1.0})
    assert smile_only[fr.MOUTH_RIGHT_CORNER, 1] < -1
    both = moved("surprise", sliders={"smile": 1.0})
    np.testing.assert_allclose(both, moved("surprise") + smile_only, atol=1e-3)  # moves add up
    frown = moved("neutral", sliders={"smile": -1.0})
    assert frown[fr.MOUTH_RIGHT_CORNER, 1] > 1


SMILING = {"mouthSmileLeft": 0.95, "mouthSmileRight": 0.9}  # MediaPipe's scores for a broad smile


def parted(gap: float) -> np.ndarray:
    """The hand-made face with its inner lips `gap` px apart on the midline (the mouth is 32 px wide)."""
    face = FACE.copy()
    for index, xy in _lip_loop(fr.LIPS_INNER, gap / 2).items():
        face[index] = xy
    return face


def test_neutral_relaxes_a_smile_read_from_blendshapes():
    """The measured joy move, reversed: the corners come down and in."""
    d = expression_target(parted(6.0), "neutral", blendshapes=SMILING)[1] - parted(6.0)
    assert d[fr.MOUTH_RIGHT_CORNER, 1] > 1 and d[fr.MOUTH_RIGHT_CORNER, 0] > 1  # the person's right is image-left
    below_dead_zone = {"mouthSmileLeft": 0.4}
    np.testing.assert_allclose(expression_target(FACE, "neutral", blendshapes=below_dead_zone)[1], FACE, atol=1e-5)


def test_neutral_closes_a_smiles_open_mouth_and_keeps_a_relaxed_parting():
    grin = parted(6.0)  # 0.19 of the mouth's width: teeth show
    target = expression_target(grin, "neutral", blendshapes=SMILING)[1]
    assert abs(mouth_gap(target)) < 0.3
    half = expression_target(grin, "neutral", 0.5, blendshapes=SMILING)[1]
    assert 1.0 < mouth_gap(half) < 5.0
    most = expression_target(grin, "neutral", 0.8, blendshapes=SMILING)[1]  # the studio's default intensity
    assert abs(mouth_gap(most)) < 0.05  # closed to less than a relaxed parting: no sliver of teeth
    relaxed = parted(0.8)  # 0.025 of the width: a relaxed mouth may stand this open
    no_smile = {"mouthSmileLeft": 0.1}
    np.testing.assert_allclose(expression_target(relaxed, "neutral", blendshapes=no_smile)[1], relaxed, atol=1e-5)
    talking = parted(8.0)  # an open mouth, no smile: the lower lip comes up, the chin stays
    closed = expression_target(talking, "neutral", blendshapes=no_smile)[1]
    assert abs(mouth_gap(closed)) < 0.3 and closed[fr.LOWER_LIP_INNER, 1] < talking[fr.LOWER_LIP_INNER, 1] - 7
    np.testing.assert_allclose(closed[fr.CHIN], talking[fr.CHIN], atol=1e-4)


def test_a_reversed_smile_never_crosses_lips_that_were_closed():
    """A closed-lip smile: the reversed joy move closes the lips further than they were open; the jaw sets them to
    meet instead of passing through each other (a fold in the warp)."""
    target = expression_target(FACE, "neutral", blendshapes=SMILING)[1]
    assert -0.05 < mouth_gap(target) < 0.3  # reversed alone: -5.2 px


def test_neutral_at_intensity_zero_or_on_lips_already_at_rest_moves_nothing():
    grin = parted(6.0)
    np.testing.assert_allclose(expression_target(grin, "neutral", 0.0, blendshapes=SMILING)[1], grin, atol=1e-4)
    crossed = parted(-0.8)  # MediaPipe sometimes places a closed mouth's lips a little past each other
    no_smile = {"mouthSmileLeft": 0.1}
    np.testing.assert_allclose(expression_target(crossed, "neutral", blendshapes=no_smile)[1], crossed, atol=1e-4)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_every_expression_starts_from_the_face_at_rest(expression):
    """Sadness on a grin is sadness, not a grin with its corners a little lower: the smile is relaxed first, by the
    same intensity, so intensity 0 is still the photo."""
    grin = parted(6.0)
    at_rest = relaxed_landmarks(grin, SMILING)
    target = expression_target(grin, expression, blendshapes=SMILING)[1]
    np.testing.assert_allclose(target, move_landmarks(at_rest, expression_amounts(expression)), atol=1e-3)
    np.testing.assert_allclose(expression_target(grin, expression, 0.0, blendshapes=SMILING)[1], grin, atol=1e-4)


def test_only_neutral_closes_a_mouth_the_smile_did_not_open():
    talking = parted(8.0)
    no_smile = {"mouthSmileLeft": 0.1}
    np.testing.assert_allclose(expression_target(talking, "sadness", blendshapes=no_smile)[1],
                               talking + moved("sadness"), atol=1e-3)  # fmt: skip
    assert abs(mouth_gap(expression_target(talking, "neutral", blendshapes=no_smile)[1])) < 0.3


def test_sadness_on_a_grin_turns_the_corners_down_past_the_grins():
    grin = parted(6.0)
    sad = expression_target(grin, "sadness", blendshapes=SMILING)[1]
    as_it_is = grin + moved("sadness")
    assert sad[fr.MOUTH_RIGHT_CORNER, 1] > as_it_is[fr.MOUTH_RIGHT_CORNER, 1] + 1  # image y grows downwards
    assert abs(mouth_gap(sad)) < 0.3  # the grin's teeth are closed away; sadness does not open the mouth


def test_moves_turn_with_the_head():
    """The same expression on a face rolled by 30 degrees is the rolled expression."""
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([60.0, 70.0])
    rolled = (FACE - centre) @ rotation.T + centre
    expected = (move_landmarks(FACE, expression_amounts("surprise")) - centre) @ rotation.T + centre
    np.testing.assert_allclose(move_landmarks(rolled, expression_amounts("surprise")), expected, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"expression": "smug"}, "Unknown expression"),
        ({"intensity": 1.5}, "intensity"),
        ({"sliders": {"wink": 0.5}}, "Unknown slider"),
        ({"sliders": {"smile": 3}}, "between"),
    ],
)
def test_bad_requests_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        expression_amounts(**{"expression": "joy", **kwargs})


def test_landmarks_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="shape"):
        move_landmarks(np.zeros((68, 2)), expression_amounts("joy"))


def test_a_measured_move_ignores_where_the_head_was_and_how_big_it_was():
    """The expressive photo may be shifted, turned and scaled: only the face's own change is measured."""
    from pipelines.face.expression_moves import landmark_move

    smiling = FACE.astype(np.float64).copy()
    smiling[fr.MOUTH_LEFT_CORNER] += (3.0, -4.0)  # the left corner goes out and up by 5 px = 0.125 face units
    angle, scale, shift = np.deg2rad(12), 1.7, np.array([40.0, -25.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    photo_of_smile = smiling @ rotation.T + shift
    move = landmark_move(FACE, photo_of_smile)
    np.testing.assert_allclose(move[fr.MOUTH_LEFT_CORNER], np.array([3.0, -4.0]) / IOD, atol=1e-9)
    np.testing.assert_allclose(np.delete(move, fr.MOUTH_LEFT_CORNER, axis=0), 0.0, atol=1e-9)


def test_the_mean_move_keeps_the_irises_still_and_drops_jitter():
    from pipelines.face.expression_moves import LIDS, NOISE_FLOOR, mean_move

    rng = np.random.default_rng(1)
    pairs = []
    for _ in range(4):
        expressive = FACE.astype(np.float64).copy()
        expressive += rng.normal(0, 0.2 * NOISE_FLOOR * IOD, expressive.shape)  # MediaPipe-sized jitter
        expressive[fr.UPPER_LIP_TOP, 1] -= 0.1 * IOD  # one real move
        expressive[fr.NUM_MESH_POINTS :] += (2.0, 0.0)  # a glance to the side
        pairs.append((FACE, expressive))
    move = mean_move(pairs)
    assert move[fr.UPPER_LIP_TOP, 1] < -0.08
    np.testing.assert_array_equal(move[fr.NUM_MESH_POINTS :], 0.0)
    # Jitter is dropped everywhere but on the lids, whose small moves are kept whole (tests/test_face_eyes.py).
    lids = [point for eye in LIDS for point in eye]
    assert (np.linalg.norm(np.delete(move, [fr.UPPER_LIP_TOP, *lids], axis=0), axis=1) == 0).mean() > 0.95
