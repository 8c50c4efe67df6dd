"""Face geometry: named landmarks, alignment, region masks, random masks and condition maps.

Landmarks are placed by hand (a synthetic 478-point face built from the named outlines) so each check
knows the right answer; one test runs MediaPipe on a shipped portrait and is marked `weights`.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.face import landmarks as fr
from pipelines.face.align import (
    CANONICAL_LEFT_EYE,
    CANONICAL_MOUTH,
    CANONICAL_RIGHT_EYE,
    align_face,
    anchor_points,
    invert,
    transform_points,
)
from pipelines.face.simmim.conditioning import CHANNELS, COND_CHANNELS, render_condition
from pipelines.face.simmim.masks import patches_to_pixels, random_mask, region_mask, region_pixel_mask
from tests.conftest import WEIGHTS


def _ellipse(centre, radii, indices, start=0.0):
    angles = start + np.linspace(0, 2 * np.pi, len(indices), endpoint=False)
    return {i: (centre[0] + radii[0] * np.cos(a), centre[1] + radii[1] * np.sin(a)) for i, a in zip(indices, angles)}


def synthetic_face(size: float = 128.0) -> np.ndarray:
    """(478, 2): a cartoon face in a size x size frame, outlines where a real face has them."""
    s = size / 128.0
    points = np.full((fr.NUM_LANDMARKS, 2), 64.0 * s)
    parts = {}
    parts.update(_ellipse((64 * s, 66 * s), (40 * s, 52 * s), fr.FACE_OVAL, start=-np.pi / 2))
    parts.update(_ellipse((46 * s, 52 * s), (8 * s, 3 * s), fr.RIGHT_EYE, start=np.pi))
    parts.update(_ellipse((82 * s, 52 * s), (8 * s, 3 * s), fr.LEFT_EYE))
    parts.update(_ellipse((46 * s, 40 * s), (10 * s, 2 * s), fr.RIGHT_BROW, start=np.pi))
    parts.update(_ellipse((82 * s, 40 * s), (10 * s, 2 * s), fr.LEFT_BROW))
    parts.update(_ellipse((40 * s, 75 * s), (7 * s, 7 * s), fr.RIGHT_CHEEK))
    parts.update(_ellipse((88 * s, 75 * s), (7 * s, 7 * s), fr.LEFT_CHEEK))
    parts.update(_ellipse((64 * s, 90 * s), (14 * s, 5 * s), fr.LIPS_OUTER, start=np.pi))
    parts.update(_ellipse((64 * s, 90 * s), (10 * s, 1 * s), fr.LIPS_INNER, start=np.pi))
    parts.update(_ellipse((46 * s, 52 * s), (2 * s, 2 * s), fr.RIGHT_IRIS))
    parts.update(_ellipse((82 * s, 52 * s), (2 * s, 2 * s), fr.LEFT_IRIS))
    for index, xy in parts.items():
        points[index] = xy
    points[fr.RIGHT_EYE_CENTER] = (46 * s, 52 * s)
    points[fr.LEFT_EYE_CENTER] = (82 * s, 52 * s)
    points[fr.MOUTH_RIGHT_CORNER] = (50 * s, 90 * s)
    points[fr.MOUTH_LEFT_CORNER] = (78 * s, 90 * s)
    points[fr.UPPER_LIP_TOP] = (64 * s, 85 * s)
    points[fr.LOWER_LIP_BOTTOM] = (64 * s, 95 * s)
    return points.astype(np.float32)


def test_named_sets_are_valid_indices_and_mirror_is_an_involution():
    for name in ("LIPS_OUTER", "LIPS_INNER", "LEFT_EYE", "RIGHT_EYE", "LEFT_BROW", "RIGHT_BROW",
                 "LEFT_CHEEK", "RIGHT_CHEEK", "NOSE", "FACE_OVAL"):  # fmt: skip
        indices = getattr(fr, name)
        assert len(set(indices)) == len(indices) and all(0 <= i < fr.NUM_LANDMARKS for i in indices), name
    mirror = np.array(fr.MIRROR)
    assert sorted(mirror.tolist()) == list(range(fr.NUM_LANDMARKS))
    assert np.array_equal(mirror[mirror], np.arange(fr.NUM_LANDMARKS))
    pairs = [(fr.MOUTH_LEFT_CORNER, fr.MOUTH_RIGHT_CORNER), (fr.LEFT_EYE_OUTER, fr.RIGHT_EYE_OUTER),
             (fr.LEFT_EYE_CENTER, fr.RIGHT_EYE_CENTER), (fr.LEFT_BROW_OUTER, fr.RIGHT_BROW_OUTER)]  # fmt: skip
    for a, b in pairs:
        assert mirror[a] == b and mirror[b] == a
    for centre in (fr.CHIN, fr.NOSE_TIP, fr.UPPER_LIP_TOP, fr.FOREHEAD_TOP):
        assert mirror[centre] == centre
    # each eye outline maps onto the other eye's outline
    assert set(mirror[list(fr.LEFT_EYE)]) == set(fr.RIGHT_EYE)
    assert set(mirror[list(fr.LEFT_BROW)]) == set(fr.RIGHT_BROW)
    assert set(fr.REGIONS) >= {"mouth", "eyes", "brows", "cheeks"}


def test_align_puts_anchors_at_canonical_spots_and_round_trips():
    face = synthetic_face(128.0)
    angle = np.deg2rad(20)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * 2.5
    photo_points = face @ rot.T + np.array([300.0, 120.0])  # rotated, scaled, shifted "photo" coordinates
    image = np.random.default_rng(0).integers(0, 255, (700, 700, 3), dtype=np.uint8)
    aligned = align_face(image, photo_points, 96)
    anchors = anchor_points(aligned.landmarks)
    expected = np.array([CANONICAL_RIGHT_EYE, CANONICAL_LEFT_EYE, CANONICAL_MOUTH]) * 96
    assert aligned.crop.shape == (96, 96, 3) and aligned.crop.dtype == np.uint8
    # three points, four degrees of freedom: least squares lands within a pixel of the canonical spots
    assert np.abs(anchors - expected).max() < 1.5
    back = transform_points(aligned.landmarks, invert(aligned.matrix))
    assert np.allclose(back, photo_points, atol=1e-3)
    pixel = transform_points(photo_points[[fr.NOSE_TIP]], aligned.matrix).round().astype(int)[0]
    source = np.round(photo_points[fr.NOSE_TIP]).astype(int)
    assert np.abs(aligned.crop[pixel[1], pixel[0]].astype(int) - image[source[1], source[0]]).max() < 160
    assert aligned.valid is not None and aligned.valid.all()


def test_align_marks_pixels_outside_the_photo_invalid():
    face = synthetic_face(64.0)  # face fills a 64 px photo: the aligned crop reaches beyond it
    aligned = align_face(np.zeros((64, 64, 3), np.uint8), face, 128)
    assert not aligned.valid.all() and aligned.valid[64, 64]


def test_region_mask_covers_the_mouth_patches_only():
    face = synthetic_face()
    mask = region_mask([face], ["mouth"], image_size=128, patch_size=8, dilate_px=2)
    assert mask.shape == (16, 16) and mask.dtype == bool
    lips = face[list(fr.LIPS_OUTER)]
    for x, y in lips:  # every lip outline point falls in a masked patch
        assert mask[int(y) // 8, int(x) // 8]
    rows, cols = np.nonzero(mask)
    assert rows.min() >= (85 - 2) // 8 - 1 and rows.max() <= (95 + 2) // 8
    assert not mask[:8].any()  # nothing above the nose
    moved = face.copy()
    moved[list(fr.LIPS_OUTER)] += (0, 12)  # the target mouth lower: union covers both
    both = region_mask([face, moved], ["mouth"], 128, 8, dilate_px=2)
    assert (both >= mask).all() and both.sum() > mask.sum()


def test_region_pixel_mask_fills_and_dilates():
    face = synthetic_face()
    tight = region_pixel_mask([face], ["eyes"], 128, dilate_px=0)
    assert tight[52, 46] and tight[52, 82] and not tight[52, 64]
    grown = region_pixel_mask([face], ["eyes"], 128, dilate_px=4)
    assert grown.sum() > tight.sum() and grown[52 + 6, 46] and not tight[52 + 6, 46]
    with pytest.raises(ValueError, match="region"):
        region_mask([face], ["ears"], 128, 8)


@pytest.mark.parametrize("ratio", [0.1, 0.33, 0.5, 0.75])
@pytest.mark.parametrize("block", [1, 2])
def test_random_mask_ratio_is_exact(ratio, block):
    mask = random_mask(16, ratio, np.random.default_rng(1), block=block)
    assert mask.shape == (16, 16) and mask.sum() == round(ratio * 256)


def test_random_mask_rejects_bad_ratio_and_patches_round_trip():
    with pytest.raises(ValueError, match="ratio"):
        random_mask(8, 1.5, np.random.default_rng(0))
    mask = random_mask(4, 0.5, np.random.default_rng(0))
    pixels = patches_to_pixels(mask, 8)
    assert pixels.shape == (32, 32) and pixels.sum() == mask.sum() * 64


def test_condition_map_draws_each_feature_in_its_channel():
    face = synthetic_face()
    cond = render_condition(face, 128)
    assert cond.shape == (COND_CHANNELS, 128, 128) and cond.dtype == np.float32
    assert 0.0 <= cond.min() and cond.max() <= 1.0
    names = [c[0] for c in CHANNELS]
    lips, brows, irises = cond[names.index("lips_outer")], cond[names.index("brows")], cond[names.index("irises")]
    assert lips[85, 64] > 0.5 and lips[40, 46] == 0  # upper lip edge inked, brow area not
    assert brows[38, 46] > 0.5 and brows[90, 64] == 0
    assert irises[52, 46] == 1.0  # filled
    moved = face.copy()
    moved[list(fr.LIPS_OUTER)] += (0, 10)
    assert not np.allclose(render_condition(moved, 128)[names.index("lips_outer")], lips)
    with pytest.raises(ValueError, match="478"):
        render_condition(face[:10], 128)


@pytest.mark.weights
@pytest.mark.skipif(not (WEIGHTS / "face_landmarker.task").is_file(), reason="face_landmarker.task missing")
def test_real_face_aligns_upright_with_brows_and_chin_inside(neutral_face):
    from pipelines.face.detector import FaceLandmarker
    from pipelines.image_io import load_image

    image = load_image(neutral_face)
    with FaceLandmarker.from_pretrained() as landmarker:
        faces = landmarker.detect(image)
        flipped = landmarker.detect(np.ascontiguousarray(image[:, ::-1]))
    assert len(faces) == 1 and faces[0].landmarks.shape == (478, 3) and len(faces[0].blendshapes) == 52
    aligned = align_face(image, faces[0].landmarks, 128)
    points = aligned.landmarks
    assert 0 < points[fr.LEFT_BROW_TOP, 1] < points[fr.LEFT_EYE_CENTER, 1] < points[fr.CHIN, 1] < 124
    assert points[fr.RIGHT_EYE_CENTER, 0] < points[fr.LEFT_EYE_CENTER, 0]  # person's right eye on image left
    # MIRROR turns the flipped photo's landmarks back into the original's
    unflipped = flipped[0].landmarks[list(fr.MIRROR), :2].copy()
    unflipped[:, 0] = image.shape[1] - unflipped[:, 0]
    assert np.median(np.linalg.norm(unflipped - faces[0].landmarks[:, :2], axis=1)) < 3.0
