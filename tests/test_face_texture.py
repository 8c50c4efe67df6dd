"""Expression ratio images: the shipped maps, the measuring maths on tiny hand-made faces, and the pipeline's use."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_expressions import hand_made_face

from bench.face_teeth import in_own_light
from pipelines.face import expression_texture as et
from pipelines.face import landmarks as fr
from pipelines.face.action_units import move_landmarks
from pipelines.face.warp import shade_mouth_cavity
from pipelines.labels import LABELS, NEUTRAL

# The hand-made face, scaled into the canonical frame.
FACE = hand_made_face().astype(np.float64) * 1.6 + (30.0, 0.0)


def _photo(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.uniform(90, 200, (et.SIZE, et.SIZE, 3)).astype(np.float32), (0, 0), 3)
    return np.clip(smooth, 0, 255).astype(np.uint8)


def test_every_emotion_ships_a_texture_of_the_documented_shapes():
    textures = et.shipped_textures()
    assert set(textures) == set(LABELS) - {NEUTRAL}
    for texture in textures.values():
        assert texture.shape.shape == (fr.NUM_LANDMARKS, 2) and texture.shape.dtype == np.float64
        assert texture.log_ratio.shape == (et.SIZE, et.SIZE) and texture.log_ratio.dtype == np.float32
        assert texture.interior.shape == (et.SIZE, et.SIZE, 3) and texture.interior_alpha.shape == (et.SIZE, et.SIZE)
        assert np.isfinite(texture.log_ratio).all() and np.isfinite(texture.interior).all()
        low, high = et.LOG_RATIO_RANGE
        assert low - 1e-3 <= texture.log_ratio.min() and texture.log_ratio.max() <= high + 1e-3
        # Nothing outside the face, nothing inside the eyes: the ratio is skin only.
        assert not texture.log_ratio[et.skin_weight(texture.shape, et.SIZE) == 0].any()


def test_the_shipped_mouths_open_only_where_the_expression_opens_the_mouth():
    textures = et.shipped_textures()
    assert textures["joy"].interior_alpha.sum() > 100  # real smiles show teeth
    assert textures["anger"].interior_alpha.sum() < textures["surprise"].interior_alpha.sum()


def test_the_shipped_maps_keep_fine_detail_only_along_lines_and_never_brighten_the_lips():
    """Seven people's pores and stubble left speckle on smooth skin, and misplaced lip edges bright spots around the
    mouth; on pale skin both read as a dirty, yellowish mottle. The old maps, on the smooth skin below the mouth:
    median speckle 0.009-0.017 (now 0.003-0.008); on the lip rim: brightening up to 0.22."""
    for label, texture in et.shipped_textures().items():
        below_mouth = np.arange(et.SIZE)[:, None] > texture.shape[list(fr.LIPS_OUTER), 1].max() + 3
        chin = (et.skin_weight(texture.shape, et.SIZE) == 1) & below_mouth
        speckle = texture.log_ratio - cv2.GaussianBlur(texture.log_ratio, (0, 0), et.DETAIL_SIGMA)
        assert np.median(np.abs(speckle[chin])) < 0.0088, label
        assert texture.log_ratio[et.lip_rim(texture.shape, et.SIZE) > 0.99].max() < 0.01, label


def test_speckle_is_smoothed_and_a_line_is_kept():
    rng = np.random.default_rng(0)
    speckle = rng.normal(0.0, 0.05, (et.SIZE, et.SIZE)).astype(np.float32)
    line = np.zeros((et.SIZE, et.SIZE), np.float32)
    line[60:200, 127:130] = -0.4  # a fold three pixels wide
    kept = et.lines_only(line + speckle)
    assert np.std(et.lines_only(speckle)) < 0.3 * np.std(speckle)
    assert kept[80:180, 127:130].mean() < -0.3


def _fold_shadow_and_light() -> np.ndarray:
    log_ratio = np.zeros((64, 64), np.float32)
    log_ratio[:, 30:32] = -0.2  # a fold
    log_ratio[:, 45:] -= 0.05  # a broad shadow ...
    log_ratio[:12] = 0.1  # ... and broad brightening
    return log_ratio


def test_a_gain_deepens_a_line_and_leaves_broad_shading_and_brightening():
    log_ratio = _fold_shadow_and_light()
    deeper = et.deepened(log_ratio, 3.0)
    assert deeper[32, 30:32].mean() < 2.2 * log_ratio[32, 30:32].mean()
    np.testing.assert_allclose(deeper[32, 56:], log_ratio[32, 56:], atol=1e-3)
    np.testing.assert_allclose(deeper[:4, 4:24], log_ratio[:4, 4:24], atol=1e-3)


def test_a_broad_share_of_zero_keeps_the_lines_and_drops_the_broad_shading():
    lines = et.deepened(_fold_shadow_and_light(), 1.0, broad_share=0.0)
    assert lines[32, 30:32].mean() < -0.12
    assert np.abs(lines[32, 56:]).max() < 0.005 and np.abs(lines[:4, 4:24]).max() < 0.005
    assert set(et.BROAD_SHARE) <= set(et.shipped_textures())


def test_a_photo_against_itself_has_no_texture():
    photo = _photo()
    texture = et.pair_texture(photo, FACE, photo, FACE, FACE)
    assert not texture.log_ratio.any()


def test_a_darker_line_is_kept_and_a_change_of_exposure_is_not():
    neutral = _photo()
    expressive = (neutral * 0.8).astype(np.uint8)  # the second photo is darker overall ...
    brow_gap = np.round((FACE[fr.RIGHT_BROW_INNER] + FACE[fr.LEFT_BROW_INNER]) / 2).astype(int)
    x, y = brow_gap[0], brow_gap[1] + 6
    expressive[y - 8 : y + 8, x - 1 : x + 2] //= 2  # ... and has a vertical line between the brows
    texture = et.pair_texture(neutral, FACE, expressive, FACE, FACE)
    line = texture.log_ratio[y - 6 : y + 6, x]
    away = texture.log_ratio[y - 6 : y + 6, x + 8]
    assert line.mean() < np.log(0.75) and abs(away.mean()) < 0.05
    cheeks = texture.log_ratio[et.skin_weight(FACE, et.SIZE) == 1]
    assert abs(np.median(cheeks)) < 0.01


def test_at_intensity_zero_nothing_is_shaded():
    texture = et.shipped_textures()["anger"]
    photo = _photo()
    for amounts, strength in (({"anger": 0.0}, 1.0), ({}, 1.0), ({"smile": 1.0}, 1.0), ({"anger": 1.0}, 0.0)):
        shaded, log_ratio, interior = et.add_texture(photo, np.full(3, 150.0), texture.shape, amounts, strength)
        assert shaded is photo and not log_ratio.any() and interior is None
    shaded, log_ratio, _ = et.add_texture(photo, np.full(3, 150.0), texture.shape, {"anger": 0.5})
    changed = np.abs(log_ratio) > 1 / 255
    assert changed.any() and not np.array_equal(shaded[changed], photo[changed])
    assert np.array_equal(shaded[log_ratio == 0], photo[log_ratio == 0])


def test_shading_darkens_like_skin_and_never_clips_a_bright_channel():
    image = np.array([[[200, 150, 100], [250, 120, 60], [100, 100, 100]]], np.uint8)
    brighter = et.shade(image, np.full((1, 3), np.log(1.2), np.float32)).astype(float)
    darker = et.shade(image, np.full((1, 3), np.log(0.5), np.float32)).astype(float)
    assert brighter.max() <= 255 and brighter[0, 1, 0] >= 250 - 1  # already bright: brightened only to the top
    np.testing.assert_allclose(brighter[0, 0], [240, 180, 120], atol=1)  # brightening: every channel alike
    red, green, blue = (np.log(darker[0, 2] / 100) / np.log(0.5)).round(2)  # a grey pixel shows each channel's slope
    assert (red, green, blue) == pytest.approx(et.SHADE_CHANNELS, abs=0.02) and red < 1 < green < blue
    # as dark as a grey ratio would make it (a luminance ratio of about 0.5), only warmer
    assert et.luminance(darker[0, 0]) == pytest.approx(0.5 * et.luminance(image[0, 0].astype(float)), rel=0.03)


def test_a_fold_in_overexposed_skin_darkens_the_light_the_camera_clipped():
    """Skin of one hue at growing light, recorded with clipping: a fold shades the light, then the camera clips."""
    hue = np.array([1.25, 0.95, 0.75])
    light = np.linspace(120, 400, 64)[None, :, None] * hue  # left: every channel recorded; right: all three clipped
    photo = np.clip(light + 0.5, 0, 255).astype(np.uint8)
    fold = np.zeros(photo.shape[:2], np.float32)
    fold[0, ::2] = np.log(0.7)
    camera = np.clip(light * np.exp(np.log(0.7) * np.asarray(et.SHADE_CHANNELS)) + 0.5, 0, 255)
    shaded = et.shade(photo, fold).astype(float)
    creased = fold < 0
    seen = creased & (photo < et.CLIP_LEVEL).any(axis=2)  # some channel still recorded: the light is known
    assert 0 < seen.sum() < creased.sum()
    assert np.abs(shaded - camera)[seen].max() <= 2  # a clipped red stays red in the fold: it does not go grey
    record_only = np.clip(photo * np.exp(np.log(0.7) * np.asarray(et.SHADE_CHANNELS)) + 0.5, 0, 255)
    assert np.abs(record_only - camera)[creased].max() > 40  # (darkening the record turned the fold grey-blue)
    assert np.array_equal(shaded[~creased], photo[~creased])  # unshaded pixels keep their record
    # Clipped in every channel: at least the light that clips them all; never darker than a partly clipped neighbour.
    luminance = et.luminance(shaded[creased])
    assert np.all(np.diff(luminance) >= -1)


def test_a_smiles_own_fold_is_lifted_towards_the_skin_around_it_and_nothing_else_changes():
    """A smiling photo's fold, where joy's measured folds lie, drawn on even skin: lifted channel by channel it comes
    back towards the skin's own colour (lifted by luminance alone it stayed redder than the skin, a thin orange
    line), never past the skin (no halo), and skin away from it is left as it is."""
    joy = et.shipped_textures()["joy"]
    folds = et._smile_folds()
    skin = np.array([200.0, 150.0, 130.0], np.float32)
    line = folds > 0.5 * folds.max()
    image = np.ones((et.SIZE, et.SIZE, 3), np.float32) * skin
    image[line] = skin * np.array([0.8, 0.68, 0.62], np.float32)  # darker and redder than the skin: a fold
    image = cv2.GaussianBlur(image, (0, 0), 0.8).astype(np.uint8)
    assert et.smile_fold_lift(image, joy.shape, 0.0) is None
    lifted = et.shade(image, np.zeros(image.shape[:2], np.float32), et.smile_fold_lift(image, joy.shape, 1.0))
    core = cv2.erode(line.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    before, after = image[core].mean(axis=0), lifted[core].mean(axis=0)
    assert core.sum() > 100 and np.all(skin - after < 0.5 * (skin - before)), (before, after)
    assert abs(after[1] / after[0] - skin[1] / skin[0]) < 0.5 * abs(before[1] / before[0] - skin[1] / skin[0])
    assert lifted.astype(int).max(axis=(0, 1)).tolist() <= (skin + 2).astype(int).tolist()
    far = cv2.dilate(line.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    assert np.array_equal(lifted[far], image[far])


def test_the_channels_of_a_warm_fold_are_measured():
    neutral = _photo()
    slopes = np.array([0.8, 1.1, 1.3])
    fold = np.zeros(neutral.shape[:2], np.float32)
    cv2.line(fold, (60, 170), (110, 200), 1.0, 3)  # a fold across the cheek
    fold = cv2.GaussianBlur(fold, (0, 0), 1.5) * np.log(0.6)
    expressive = np.clip(neutral * np.exp(fold[..., None] * slopes), 0, 255).astype(np.uint8)
    measured = et.pair_shading_channels(neutral, FACE, expressive, FACE, FACE)
    np.testing.assert_allclose(measured, slopes, atol=0.08)


def test_on_its_own_geometry_the_map_reads_the_canonical_frame_in_place():
    texture = et.shipped_textures()["surprise"]
    mapping = et.canonical_map(texture, texture.shape * 2, 2 * et.SIZE)  # the same face at twice the size
    ys, xs = np.mgrid[0 : 2 * et.SIZE, 0 : 2 * et.SIZE].astype(np.float32)
    face = et.skin_weight(texture.shape * 2, 2 * et.SIZE) > 0
    assert np.abs(mapping[..., 0] - xs / 2)[face].max() < 0.5 and np.abs(mapping[..., 1] - ys / 2)[face].max() < 0.5


def test_a_measured_mouth_interior_replaces_the_drawn_one_where_it_is_known():
    image = np.full((et.SIZE, et.SIZE, 3), 180, np.uint8)
    opened = move_landmarks(FACE, {"jaw_open": 1.0}).astype(np.float64)
    drawn, alpha = shade_mouth_cavity(image, FACE, opened)
    white = np.full(image.shape, 230.0, np.float32)
    known = np.zeros(image.shape[:2], np.float32)
    known[:, : et.SIZE // 2] = 1.0  # only the left half is known
    measured, same_alpha = shade_mouth_cavity(image, FACE, opened, (white, known))
    assert np.array_equal(alpha, same_alpha)
    inside = alpha > 0.99
    left, right = inside.copy(), inside.copy()
    left[:, et.SIZE // 2 :], right[:, : et.SIZE // 2] = False, False
    assert measured[left].min() >= 229 and np.array_equal(measured[right], drawn[right])


def test_bared_teeth_are_joys_teeth_and_a_dropped_jaw_keeps_its_dark_cavity():
    textures, scale = et.shipped_textures(), np.full(3, 150.0)
    photo = np.full((et.SIZE, et.SIZE, 3), 150, np.uint8)

    def mouth(label):  # the interior a preset lays into its own canonical opening, where it is known
        _, _, (interior, known) = et.add_texture(photo, scale, textures[label].shape, {label: 1.0})
        return interior, known > 0.9

    def own(label):  # the label's own measured interior (the median of seven differently opened mouths)
        texture = textures[label]
        return et.interior_for(texture, et.canonical_map(texture, texture.shape, et.SIZE), scale)

    joy_interior, joy_known = mouth("joy")
    joy = float(et.luminance(joy_interior[joy_known]).mean())
    for label in ("disgust", "fear"):  # a raised lip, a scared grimace: joy's teeth in their light, not a grey band
        bared, known = mouth(label)
        assert float(et.luminance(bared[known]).mean()) > 0.95 * joy
        assert float(et.luminance(bared[known]).mean()) > 1.3 * float(et.luminance(own(label)[0][known]).mean())
    surprise, known = mouth("surprise")
    assert float(et.luminance(surprise[known]).mean()) < 0.5 * joy


def test_teeth_in_another_light_keep_their_detail_dimmed_never_brightened():
    stripes = np.where(np.arange(64) % 4 < 2, 240.0, 160.0).astype(np.float32)  # teeth and the gaps between, mean 200
    teeth = (np.broadcast_to(stripes[None, :, None], (32, 64, 3)).copy(), np.ones((32, 64), np.float32))
    inner = (slice(8, 24), slice(16, 48))
    for level, amplitude in ((80.0, 40.0 * 80 / 200), (250.0, 40.0)):  # darker: detail scaled; brighter: kept
        own = (np.full((32, 64, 3), level, np.float32), np.full((32, 64), 0.7, np.float32))
        colour, alpha = in_own_light(teeth, own, sigma=2.0)
        assert np.array_equal(alpha, own[1])
        assert float(colour[inner].mean()) == pytest.approx(level, abs=1.0)
        assert float(np.abs(colour[inner] - level).mean()) == pytest.approx(amplitude, rel=0.15)


def _teeth_disc(size: int = 64) -> et.ExpressionTexture:
    """A texture whose mouth interior is one ivory colour in a disc: stored, as measured, times where it is known."""
    known = cv2.circle(np.zeros((size, size), np.float32), (size // 2, size // 2), size // 4, 1.0, -1)
    ivory = np.array([0.9, 0.85, 0.8], np.float32)
    return et.ExpressionTexture(np.zeros((fr.NUM_LANDMARKS, 2)), np.zeros((size, size), np.float32),
                                ivory * known[..., None], known)  # fmt: skip


def test_an_interior_read_between_pixels_keeps_its_colour_at_the_rim():
    texture = _teeth_disc()
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    half_pixel = np.stack([xs + 0.5, ys + 0.3], axis=-1)  # the warp reads the maps between pixels
    colour, alpha = et.interior_for(texture, half_pixel, np.full(3, 200.0))
    rim = (alpha > 0.05) & (alpha < 0.95)
    assert rim.sum() > 20
    np.testing.assert_allclose(colour[rim], np.broadcast_to([180.0, 170.0, 160.0], colour[rim].shape), atol=0.5)


def test_a_softened_interior_fades_where_it_lies_not_its_colour():
    """Blurred apart, the colour took in the closed mouth's black and the alpha laid that on again: a dark rim round
    the teeth of every soft web photo."""
    texture = _teeth_disc()
    interior = (texture.interior * 200, texture.interior_alpha)
    colour, alpha = et.soften_interior(interior, 2.0)
    rim = (alpha > 0.05) & (alpha < 0.95)
    assert rim.sum() > 50 and alpha.max() <= 1.0 and (alpha[texture.interior_alpha == 0] > 0.05).any()
    np.testing.assert_allclose(colour[rim], np.broadcast_to([180.0, 170.0, 160.0], colour[rim].shape), atol=0.5)
    assert et.soften_interior(interior, 0.0) is interior


@pytest.mark.parametrize("blur", [0.8, 3.0])
def test_softening_only_round_the_mouth_gives_what_softening_the_whole_crop_gives(blur):
    from pipelines.face.sharpness import soften

    texture = _teeth_disc(96)
    colour = np.roll(texture.interior * 200, (-20, 15), axis=(0, 1))  # the mouth near a corner of the crop
    alpha = np.roll(texture.interior_alpha, (-20, 15), axis=(0, 1))
    whole_alpha = soften(alpha, blur)
    whole = et._unpremultiplied(soften(colour * alpha[..., None], blur), whole_alpha)
    boxed, boxed_alpha = et.soften_interior((colour, alpha), blur)
    np.testing.assert_array_equal(boxed_alpha, whole_alpha)
    np.testing.assert_array_equal(boxed, whole)


@pytest.mark.parametrize("label", ["surprise", "fear", "joy"])
def test_an_open_mouth_drawn_larger_than_measured_has_a_smooth_edge_not_its_pixel_steps(label):
    """Measured at SIZE px, the interior's edge is a staircase; resampled twice as large, unsmoothed, its steps drew
    a dashed light line along the lower lip. The opening's height from column to column bends, it does not jump."""
    texture = et.shipped_textures()[label]
    shape, size = texture.shape * 2, 2 * et.SIZE
    _, alpha = et.mouth_interior(label, et.canonical_map(texture, shape, size), shape, size, np.full(3, 150.0))
    height = alpha.sum(axis=0)
    columns = np.flatnonzero(height > 3)[2:-2]
    assert len(columns) > 40
    assert np.abs(np.diff(height[columns], 2)).max() < 1.0  # unsmoothed: 2.0, a step of one measured pixel


def test_teeth_lit_to_the_corners_brighten_only_towards_the_corners_and_keep_their_gaps():
    """openpeople's synthetic grins are near black a fifth of the way in from the corners; real smiles are lit there."""
    shape = np.zeros((fr.NUM_LANDMARKS, 2))
    shape[fr.MOUTH_RIGHT_CORNER], shape[fr.MOUTH_LEFT_CORNER] = (64.0, 128.0), (192.0, 128.0)
    across = et.across_mouth(shape)
    centre_distance, measured = [0.05, 0.15, 0.25, 0.35, 0.45], [1.2, 1.07, 0.82, 0.34, 0.12]  # openpeople's
    light = np.interp(np.abs(across - 0.5), centre_distance, measured)
    light *= np.where(np.arange(et.SIZE) % 8 == 0, 0.7, 1.0)  # the gaps between teeth
    alpha = np.zeros((et.SIZE, et.SIZE), np.float32)
    alpha[120:136, 64:193] = 1.0
    interior = (light[None, :, None] * np.ones(3) * alpha[..., None]).astype(np.float32)
    texture = et.ExpressionTexture(shape, np.zeros((et.SIZE, et.SIZE), np.float32), interior, alpha)

    lit = et.lit_to_the_corners(texture)
    before, after = et.light_by_tenth(texture), et.light_by_tenth(lit)
    assert after[1] > 1.5 * before[1] and after[8] > 1.5 * before[8]
    np.testing.assert_allclose(after[1], after[8], rtol=0.05)  # the same light at both corners
    middle = (across >= 0.35) & (across <= 0.65)  # between the centres of the fourth and seventh tenths
    np.testing.assert_array_equal(lit.interior[:, middle], texture.interior[:, middle])
    np.testing.assert_array_equal(lit.interior_alpha, texture.interior_alpha)
    gain = lit.interior[128, :, 0] / np.maximum(texture.interior[128, :, 0], 1e-6)
    gaps = np.flatnonzero((np.arange(et.SIZE) % 8 == 0) & (across > 0.05) & (across < 0.95))
    np.testing.assert_allclose(gain[gaps], (gain[gaps - 1] + gain[gaps + 1]) / 2, rtol=0.03)  # gaps stay gaps


def test_the_shipped_teeth_are_lit_towards_the_corners():
    light = et.light_by_tenth(et.shipped_textures()["joy"])
    assert min(light[1], light[8]) > 0.4 * light[3:7].mean()  # measured on openpeople alone: 0.28


def test_the_mouth_interior_follows_the_skins_brightness_not_its_hue():
    pivot = et.INTERIOR_PIVOT
    assert et.interior_reference(np.full(3, pivot)) == pytest.approx(pivot)
    warm, cool = np.array([200.0, 140.0, 100.0]), np.array([146.0, 152.0, 168.0])  # about the same luminance
    assert et.interior_reference(warm) == pytest.approx(et.interior_reference(cool), rel=0.01)
    # Compressed: four times the skin's brightness is twice the interior's (exposure and pigment share it).
    assert et.interior_reference(np.full(3, 160.0)) / et.interior_reference(np.full(3, 40.0)) == pytest.approx(2.0)


def _with_irises(points: np.ndarray, radius: float = 3.0) -> np.ndarray:
    """The hand-made face with a small iris ring round each eye centre (its own iris points are placeholders)."""
    points = points.copy()
    for iris, centre in ((fr.RIGHT_IRIS, fr.RIGHT_EYE_CENTER), (fr.LEFT_IRIS, fr.LEFT_EYE_CENTER)):
        points[centre] = points[list(fr.RIGHT_EYE if centre == fr.RIGHT_EYE_CENTER else fr.LEFT_EYE)].mean(axis=0)
        points[list(iris)] = points[centre] + radius * np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])
    return points


EYED = _with_irises(FACE)


def _face_photo(skin=(190, 150, 130), whites=(222, 206, 203)) -> np.ndarray:
    """The hand-made face in the canonical frame: skin inside the oval, eye whites in the eye openings."""
    photo = np.zeros((et.SIZE, et.SIZE, 3), np.uint8)
    photo[et._oval(EYED, et.SIZE)] = skin
    photo[et._polygon_mask(EYED, (fr.RIGHT_EYE, fr.LEFT_EYE), et.SIZE)] = whites
    return photo


def test_teeth_take_the_light_of_the_eye_whites():
    lit = et.WHITE_HUE
    neutral = _face_photo(whites=tuple(round(200 * c) for c in lit))  # eye whites in the light the ivory was set in
    scale = et.interior_scale(neutral, EYED)
    reference = et.interior_reference(et.skin_colour(neutral, EYED))
    np.testing.assert_allclose(scale, reference, rtol=0.01)
    warm = (_face_photo(whites=tuple(round(200 * c) for c in lit)) * np.array([1.15, 1.0, 0.7])).clip(0, 255)
    warm_scale = et.interior_scale(warm.astype(np.uint8), EYED)
    assert warm_scale[2] / warm_scale[0] < 0.85 * scale[2] / scale[0]  # warmer teeth under a warm light ...
    ratio = warm_scale / et.interior_reference(et.skin_colour(warm.astype(np.uint8), EYED))
    assert float(et.luminance(ratio)) == pytest.approx(1.0, abs=0.01)  # ... as bright as before
    assert et.sclera_colour(neutral, EYED, et.skin_colour(neutral, EYED)) is not None


def test_without_eye_whites_teeth_take_the_light_of_the_skin():
    usual_skin = tuple(round(150 * c) for c in et.SKIN_HUE)
    shades = _face_photo(skin=usual_skin, whites=(20, 20, 24))  # sunglasses: no eye whites to read the light from
    assert et.sclera_colour(shades, EYED, et.skin_colour(shades, EYED)) is None
    scale = et.interior_scale(shades, EYED)
    np.testing.assert_allclose(scale, et.interior_reference(et.skin_colour(shades, EYED)), rtol=0.01)
    warm = _face_photo(skin=tuple(round(c * w) for c, w in zip(usual_skin, (1.15, 1.0, 0.7))), whites=(20, 20, 24))
    warm_scale = et.interior_scale(warm, EYED)
    assert warm_scale[2] / warm_scale[0] < 0.85 * scale[2] / scale[0]  # warmer teeth under a warm light ...
    ratio = warm_scale / et.interior_reference(et.skin_colour(warm, EYED))
    assert float(et.luminance(ratio)) == pytest.approx(1.0, abs=0.01)  # ... as bright as the skin says


# --- in the pipeline ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipes():
    from conftest import WEIGHTS
    from test_face_expression import tiny_simmim

    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.pipeline import FaceExpressionConfig, FaceExpressionPipeline

    if not (WEIGHTS / "face_landmarker.task").is_file():
        pytest.skip("face_landmarker.task missing")
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(), FaceExpressionConfig()) as on, \
            FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(),
                                   FaceExpressionConfig(texture=False)) as off:  # fmt: skip
        yield on, off


@pytest.fixture(scope="module")
def face(pipes):
    from conftest import EXAMPLES

    return pipes[0].find_face(EXAMPLES / "faces" / "london_001_neutral.jpg")


def _mouth_opening(out) -> np.ndarray:
    """(H, W) bool: inside the edit's target inner lip line."""
    polygon = np.round(out.target_landmarks[list(fr.LIPS_INNER)]).astype(np.int32)
    return cv2.fillPoly(np.zeros(out.image.shape[:2], np.uint8), [polygon], 1).astype(bool)


def test_neutral_on_a_neutral_photo_gets_no_texture(pipes, face):
    on, off = pipes
    assert np.array_equal(on.edit(face, "neutral").image, off.edit(face, "neutral").image)


def test_anger_darkens_between_the_brows_only_inside_the_mask(pipes, face):
    on, off = pipes
    textured, plain = on.edit(face, "anger"), off.edit(face, "anger")
    assert np.array_equal(textured.image[textured.mask_image == 0], face.image[textured.mask_image == 0])
    # Between the brows, just above the nose bridge: the glabellar lines of a frown.
    target = textured.target_landmarks
    centre = np.round((target[fr.RIGHT_BROW_INNER] + target[fr.LEFT_BROW_INNER]) / 2 + (0, 6)).astype(int)
    box = (slice(centre[1] - 10, centre[1] + 10), slice(centre[0] - 10, centre[0] + 10))
    darkest = [np.percentile(edit.image[box].mean(axis=2), 10) for edit in (textured, plain)]
    assert darkest[0] < darkest[1] - 8, darkest


@pytest.mark.parametrize("label", ["sadness", "anger"])
def test_pale_skin_below_the_mouth_gets_no_blotches(pipes, face, label):
    """london_001's chin and lower cheeks: the texture may shade them (a chin boss, a fold under the lip), but not
    brighten them into pale blotches (the old maps: by up to 55 / 27 levels)."""
    on, off = pipes
    textured, plain = on.edit(face, label), off.edit(face, label)
    target = plain.target_landmarks
    oval = cv2.fillConvexPoly(np.zeros(face.image.shape[:2], np.uint8),
                              cv2.convexHull(np.round(target[list(fr.FACE_OVAL)]).astype(np.int32)), 1)
    below = np.arange(face.image.shape[0])[:, None] > target[list(fr.LIPS_OUTER), 1].max() + 3
    chin = cv2.erode(oval, np.ones((9, 9), np.uint8)).astype(bool) & below
    change = et.luminance(textured.image) - et.luminance(plain.image)
    assert chin.sum() > 1000 and change[chin].min() < -10  # shaded ...
    assert change[chin].max() < 20  # ... not blotched


def test_a_textured_smile_shows_teeth_brighter_than_the_drawn_mouth(pipes, face):
    on, off = pipes
    textured, plain = on.edit(face, "joy"), off.edit(face, "joy")
    mouth = _mouth_opening(textured)
    assert mouth.sum() > 50 and textured.image[mouth].mean() > plain.image[mouth].mean() + 20


def test_a_pale_face_smiles_with_ivory_teeth_not_bluish_clipped_ones(pipes, face):
    """Measured over the skin's RGB, the training people's warm skin gave pale faces teeth bluer than red, up to 255."""
    on, _ = pipes
    assert et.skin_colour(face.aligned.crop, face.aligned.landmarks)[0] > 180  # london_001 is pale
    smile = on.edit(face, "joy")
    pixels = smile.image[_mouth_opening(smile)].astype(np.float32)
    luminance = et.luminance(pixels)
    red, green, blue = np.median(pixels[luminance >= np.percentile(luminance, 70)], axis=0)
    assert 150 < blue <= green <= red < 245


def test_a_grin_closed_to_neutral_meets_on_a_dark_line_in_the_delivered_photo(pipes):
    """The seam is shaded in the log ratio the paste-back shades the photo by: shaded only in the edit crop, the
    photo read afresh at full size lost it (0.80 of the lips' light here then)."""
    from conftest import EXAMPLES

    from pipelines.face.warp import lip_edges

    on, _ = pipes
    out = on.edit(on.find_face(EXAMPLES / "faces" / "london_030_happy.jpg"), "neutral")
    light, target = et.luminance(out.image.astype(np.float32)), out.target_landmarks.astype(np.float64)
    inner = target[list(fr.LIPS_INNER), 0]
    ratios = []
    for x in inner.min() + np.array([0.35, 0.5, 0.65]) * (inner.max() - inner.min()):
        up, low = (edge[0] for edge in lip_edges(target, fr.LIPS_INNER, fr.LOWER_LIP_INNER, np.array([x])))
        meet, column = (up + low) / 2, light[:, int(round(x))]
        ys = np.arange(int(meet) - 8, int(meet) + 9)
        lips = column[ys[np.abs(ys - meet) > 4]]
        ratios.append(column[ys[np.abs(ys - meet) <= 2.5]].min() / np.median(lips))
    assert np.median(ratios) < 0.7, ratios


def test_a_grin_closed_to_neutral_leaves_no_dark_wedges_at_the_mouths_corners(pipes):
    """The smoothed warp lagged the corners, which move most, and read the grin's shadowed corners into dark wedges
    past the ends of the closed lips: 0.15 of the pixels round london_030's corners in deep shadow then, 0.11 in her
    real neutral photo (`corner_shadow`)."""
    from conftest import EXAMPLES

    from bench.face_from_smile import corner_shadow

    on, _ = pipes
    out = on.edit(on.find_face(EXAMPLES / "faces" / "london_030_happy.jpg"), "neutral")
    assert corner_shadow(out.image, out.target_landmarks) < 0.12


def test_a_grin_closed_to_neutral_in_a_small_photo_meets_on_an_even_line(pipes):
    """A face smaller than the edit crop is enlarged to edit and pasted back at the photo's coarser pixels. Read
    through the warp's map there, the closed lips showed a dotted line of teeth: the map jumps where the lips meet
    (each lip reads its own), and a photo pixel read between the two sides read the teeth between the source's lips
    (london_030 at 320 px: `seam_dots` 0.041 then, 0.016 now; her real neutral photo at that size 0.023)."""
    from conftest import EXAMPLES

    from bench.face_from_smile import seam_dots
    from pipelines.image_io import load_image

    on, _ = pipes
    photo = load_image(EXAMPLES / "faces" / "london_030_happy.jpg")
    small = cv2.resize(photo, (320, 320), interpolation=cv2.INTER_AREA)
    out = on.edit(on.find_face(small), "neutral")
    assert seam_dots(out.image, out.target_landmarks) < 0.025


def test_a_smile_relaxed_to_neutral_lifts_its_own_folds_and_only_brightens(pipes):
    """Neutral carries no texture, so with the texture on and off the delivered photos differ only by the smile's
    folds lifted (`smile_fold_lift`): brighter where joy's folds lie, darker nowhere that both paste back whole (the
    lift widens the paste-back a little, over the warp's faintest moves)."""
    from conftest import EXAMPLES

    on, off = pipes
    photo = EXAMPLES / "faces" / "london_030_happy.jpg"
    lifted, kept = (pipe.edit(pipe.find_face(photo), "neutral") for pipe in (on, off))
    change = lifted.image.astype(int) - kept.image.astype(int)
    both = (lifted.mask_image == 255) & (kept.mask_image == 255)
    assert change[both].min() >= -1 and (change.max(axis=2) > 2).sum() > 200
    assert on.edit(on.find_face(EXAMPLES / "faces" / "london_030_neutral.jpg"), "neutral").image.tobytes() == \
        off.edit(off.find_face(EXAMPLES / "faces" / "london_030_neutral.jpg"), "neutral").image.tobytes()  # no smile


def test_texture_strength_is_checked_and_the_bench_compares_without_texture():
    from pipelines.errors import InputError
    from pipelines.face.pipeline import ABLATIONS, FaceExpressionConfig

    with pytest.raises(InputError, match="texture_strength"):
        FaceExpressionConfig(texture_strength=-1)
    assert {"texture": False} in ABLATIONS.values()


def test_the_edited_region_is_as_sharp_as_the_photo(pipes, face):
    """The paste-back reads the photo's own pixels once at full size (three resamplings blurred them to ~0.65)."""
    on, _ = pipes
    out = on.edit(face, "anger")
    core = out.mask_image >= 128

    def detail(image):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return np.sqrt(np.mean(cv2.Laplacian(grey, cv2.CV_32F)[core] ** 2))

    assert core.sum() > 1000 and detail(out.image) > 0.85 * detail(face.image)
