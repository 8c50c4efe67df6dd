"""FaceExpressionPipeline end to end: the real MediaPipe landmarker, a tiny seeded SimMIM built from a config."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from conftest import EXAMPLES, WEIGHTS  # noqa: E402

from pipelines.face.action_units import EXPRESSIONS  # noqa: E402
from pipelines.errors import InputError  # noqa: E402
from pipelines.face.pipeline import FaceExpressionConfig, FaceExpressionPipeline  # noqa: E402
from pipelines.image_io import load_image  # noqa: E402

pytestmark = pytest.mark.skipif(not (WEIGHTS / "face_landmarker.task").is_file(), reason="face_landmarker.task missing")


def tiny_simmim(region: str = "mouth", seed: int = 0):
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.model import SimMIMFace

    torch.manual_seed(seed)
    return SimMIMFace(SimMIMFaceConfig(region=region, image_size=32, patch_size=8, hidden_size=32, num_layers=1,
                                       num_heads=2, refine_channels=8))  # fmt: skip


@pytest.fixture(scope="module")
def pipe():
    from pipelines.face.detector import FaceLandmarker

    config = FaceExpressionConfig(variant="mouth-model")  # the tiny model paints: its view has something to show
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(), config) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def face_rgb():
    return load_image(EXAMPLES / "faces" / "london_001_neutral.jpg")


@pytest.fixture(scope="module")
def joy(pipe, face_rgb):
    return pipe(face_rgb, "joy", 1.0)


def test_output_has_the_input_size_and_every_intermediate(joy, face_rgb):
    size = 32
    assert joy.image.shape == face_rgb.shape and joy.image.dtype == np.uint8
    assert joy.mask_image.shape == face_rgb.shape[:2]
    for name in ("crop", "warped", "reconstruction", "blended", "masked_input"):
        assert getattr(joy, name).shape == (size, size, 3), name
    assert joy.mask.shape == (4, 4) and joy.mask.any()
    assert joy.source_landmarks.shape == joy.target_landmarks.shape == (478, 2)
    assert joy.warnings == []


def test_pixels_outside_the_dilated_mask_are_unchanged_exactly(joy, face_rgb):
    untouched = joy.mask_image == 0
    assert untouched.mean() > 0.5  # the edit is local to the face
    assert np.array_equal(joy.image[untouched], face_rgb[untouched])
    assert not np.array_equal(joy.image, face_rgb)  # and the face did change


def test_the_mouth_model_repaints_the_whole_new_mouth_opening(joy):
    import cv2

    from pipelines.face.align import align_face, transform_points
    from pipelines.face.simmim.masks import patches_to_pixels, region_pixel_mask

    window = align_face(np.zeros((8, 8, 3), np.uint8), joy.source_landmarks, 32, region="mouth")
    target = transform_points(joy.target_landmarks, window.matrix)
    opening = region_pixel_mask([target], ["mouth_interior"], 32, dilate_px=0).astype(np.uint8)
    opening = cv2.erode(opening, np.ones((3, 3), np.uint8)).astype(bool)  # a pixel of slack for rounding
    assert opening.sum() > 20  # joy parts the lips
    assert patches_to_pixels(joy.mask, 8)[opening].all()
    assert not joy.mask.all()  # the mouth, not the whole window


def test_the_smile_moves_the_mouth_corners_up_in_the_photo(joy):
    from pipelines.face.landmarks import MOUTH_LEFT_CORNER, MOUTH_RIGHT_CORNER

    lift = joy.source_landmarks[[MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER], 1] - joy.target_landmarks[[MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER], 1]
    assert (lift > 2).all()


def test_intensity_zero_returns_the_photo_untouched(pipe, face_rgb):
    out = pipe(face_rgb, "surprise", 0.0)
    assert np.array_equal(out.image, face_rgb) and not out.mask.any()


def test_rgba_grayscale_exif_rotated_cmyk_and_16_bit_inputs(pipe, face_rgb, tmp_path):
    rgba = Image.fromarray(face_rgb).convert("RGBA")
    gray = Image.fromarray(face_rgb).convert("L")
    rotated = Image.fromarray(face_rgb).rotate(90, expand=True)  # pixels on their side, EXIF says turn them back
    exif = rotated.getexif()
    exif[0x0112] = 6  # orientation 6: turn 90 degrees clockwise to display
    path = tmp_path / "sideways.jpg"
    rotated.save(path, exif=exif.tobytes())
    cmyk = Image.fromarray(face_rgb).convert("CMYK")
    sixteen = Image.fromarray((np.asarray(gray, dtype=np.uint16) * 257).astype(np.uint16))  # 16-bit grey (I;16)
    for source in (rgba, gray, path, cmyk, sixteen):
        out = pipe(source, "joy", 0.8)
        assert out.image.shape == face_rgb.shape, source
        assert out.mask.any()


def test_a_photo_without_a_face_is_refused(pipe):
    blank = np.full((200, 300, 3), 180, np.uint8)
    with pytest.raises(ValueError, match="no face found"):
        pipe(blank, "joy")


def test_corrupt_and_non_image_files_are_refused(pipe, tmp_path):
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64)).save(jpeg, format="JPEG")
    truncated = tmp_path / "broken.jpg"
    truncated.write_bytes(jpeg.getvalue()[:200])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for bad in (truncated, text, tmp_path / "empty.png"):
        if bad.name == "empty.png":
            bad.write_bytes(b"")
        with pytest.raises(ValueError):
            pipe(bad, "joy")


def test_face_index_out_of_range(pipe, face_rgb):
    with pytest.raises(ValueError, match="face_index 3 is out of range: the photo has 1 face"):
        pipe(face_rgb, "joy", face_index=3)
    with pytest.raises(ValueError, match="face_index"):
        pipe(face_rgb, "joy", face_index=-1)


def test_two_faces_pick_by_index(pipe, face_rgb):
    """A side-by-side pair: index 0 is the larger face, index 1 the smaller; each edit stays on its face."""
    small = np.asarray(Image.fromarray(face_rgb).resize((384, 384)))
    pair = np.full((512, 512 + 384, 3), 255, np.uint8)
    pair[:, :512] = face_rgb
    pair[64:448, 512:] = small
    first, second = pipe(pair, "surprise", face_index=0), pipe(pair, "surprise", face_index=1)
    assert first.num_faces == second.num_faces == 2
    assert first.source_landmarks[:, 0].mean() < 512 < second.source_landmarks[:, 0].mean()
    assert (first.mask_image[:, 512:] == 0).all() and (second.mask_image[:, :512] == 0).all()
    assert any("2 faces" in w for w in pipe(pair, "joy").warnings)


def test_large_photo_is_detected_at_working_size_and_pasted_at_full_size(face_rgb):
    from pipelines.face.detector import FaceLandmarker

    big = np.asarray(Image.fromarray(face_rgb).resize((2400, 2400), Image.BICUBIC))
    config = FaceExpressionConfig(detect_max_side=640, min_edit_size=128, max_edit_size=256)
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(), config) as pipe:
        out = pipe(big, "joy")
    assert out.image.shape == big.shape and out.face.shape == (256, 256, 3)
    untouched = out.mask_image == 0
    assert np.array_equal(out.image[untouched], big[untouched])


def test_tiny_face_is_edited_with_a_warning(pipe, face_rgb):
    tiny = np.full((400, 400, 3), 230, np.uint8)
    tiny[150:310, 150:310] = np.asarray(Image.fromarray(face_rgb).resize((160, 160), Image.BICUBIC))
    out = pipe(tiny, "joy")
    assert any("px wide" in w for w in out.warnings)


def test_expression_sheet_gives_seven_labelled_images(pipe, face_rgb, tmp_path):
    calls = []
    sheet = pipe.expression_sheet(face_rgb, 1.0, progress=lambda done, what: calls.append(what))
    assert tuple(sheet.images) == EXPRESSIONS
    assert all(image.shape == face_rgb.shape for image in sheet.images.values())
    assert len({image.tobytes() for image in sheet.images.values()}) >= 6  # the expressions differ
    assert sheet.grid.ndim == 3 and sheet.grid.shape[1] == 4 * 256
    assert calls[0] == "joy" and calls[-1] == "done"
    paths = sheet.save(tmp_path)
    assert sorted(p.name for p in paths) == sorted([f"{e}.png" for e in EXPRESSIONS] + ["sheet.png"])
    assert Image.open(tmp_path / "joy.png").size == (face_rgb.shape[1], face_rgb.shape[0])


def test_refine_without_a_refiner_is_refused(pipe, face_rgb):
    with pytest.raises(ValueError, match="without a diffusers"):
        pipe(face_rgb, "joy", refine=True)


@pytest.mark.parametrize(
    "overrides", [{"variant": "mouth-model"}, {"variant": "simmim"}, {"variant": "legacy", "blend": "poisson"},
                  {"variant": "legacy", "blend": "lowpass"}],
)  # fmt: skip
def test_every_variant_keeps_the_outside_exact(overrides, face_rgb):
    from pipelines.face.detector import FaceLandmarker

    config = FaceExpressionConfig(**overrides)
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(), config,
                                face_model=tiny_simmim("face")) as pipe:  # fmt: skip
        out = pipe(face_rgb, "surprise")
    untouched = out.mask_image == 0
    assert untouched.mean() > 0.5 and np.array_equal(out.image[untouched], face_rgb[untouched])
    assert not np.array_equal(out.image, face_rgb)


def test_the_model_paints_only_the_mouth_opening(face_rgb):
    """Two different mouth models give different mouths, and nothing else differs: the paint is the model's."""
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.landmarks import LIPS_INNER

    outs = []
    for seed in (0, 1):
        for variant in ("mouth-model", "warp"):
            with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(seed=seed),
                                        FaceExpressionConfig(variant=variant)) as pipe:  # fmt: skip
                outs.append(pipe(face_rgb, "surprise"))
    assert np.array_equal(outs[1].image, outs[3].image)  # warp only: the model does not matter
    outs = outs[::2]
    changed = np.abs(outs[0].image.astype(int) - outs[1].image.astype(int)).max(axis=2) > 0
    assert changed.sum() > 100
    inner = outs[0].target_landmarks[list(LIPS_INNER)]
    ys, xs = np.nonzero(changed)
    from pipelines.face.align import align_face

    window = align_face(np.zeros((8, 8, 3), np.uint8), outs[0].source_landmarks, 32, region="mouth")
    margin = 5 / np.sqrt(abs(np.linalg.det(window.matrix[:, :2])))  # 5 model px: the paint's soft edge, resampled
    assert xs.min() >= inner[:, 0].min() - margin and xs.max() <= inner[:, 0].max() + margin
    assert ys.min() >= inner[:, 1].min() - margin and ys.max() <= inner[:, 1].max() + margin


def test_simmim_only_leaves_the_eyes_and_brows_where_they_were(face_rgb):
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.landmarks import LEFT_BROW, LEFT_EYE, RIGHT_BROW, RIGHT_EYE

    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(),
                                FaceExpressionConfig(variant="simmim")) as pipe:  # fmt: skip
        out = pipe(face_rgb, "surprise")
    upper = out.source_landmarks[list(RIGHT_EYE + LEFT_EYE + RIGHT_BROW + LEFT_BROW)]
    assert (out.mask_image[: int(upper[:, 1].max()) + 5] == 0).all()  # no warp: nothing above the eyes changes


def test_the_pipeline_needs_a_mouth_model_and_legacy_a_face_model():
    from pipelines.face.detector import FaceLandmarker

    with FaceLandmarker.from_pretrained() as landmarker:
        with pytest.raises(ValueError, match="must paint the mouth"):
            FaceExpressionPipeline(landmarker, tiny_simmim("face"))
        with pytest.raises(ValueError, match="legacy"):
            FaceExpressionPipeline(landmarker, tiny_simmim(), FaceExpressionConfig(variant="legacy"))
    with pytest.raises(ValueError, match="variant must be one of"):
        FaceExpressionConfig(variant="best")


@pytest.mark.parametrize(
    "expression, names", [("joy", ("mouthSmileLeft", "mouthSmileRight")), ("surprise", ("browInnerUp", "jawOpen"))],
)  # fmt: skip
def test_blendshapes_of_the_result_move_toward_the_target(expression, names, face_rgb):
    """MediaPipe reads the edited photo: the expression's own blendshapes rise (warp alone: the model is random)."""
    from pipelines.face.detector import FaceLandmarker

    config = FaceExpressionConfig(variant="warp")
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(), config) as pipe:
        out = pipe(face_rgb, expression, 1.0)
        after = pipe.landmarker.detect(out.image)[0].blendshapes
    for name in names:
        assert after[name] > out.blendshapes[name] + 0.1, (name, out.blendshapes[name], after[name])


def test_mediapipe_finds_the_angry_brows_lower_and_the_eyes_unchanged(face_rgb):
    """The warp carries the measured anger into pixels a detector sees, without reshaping the eyes."""
    from pipelines.face import landmarks as fr
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.expression_moves import landmark_move

    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(),
                                FaceExpressionConfig(variant="warp")) as pipe:  # fmt: skip
        out = pipe(face_rgb, "anger", 1.0)
        found = pipe.landmarker.detect(out.image)[0].landmarks
    seen = landmark_move(out.source_landmarks, found)  # face units: one unit = the eye distance
    assert seen[[fr.RIGHT_BROW_INNER, fr.LEFT_BROW_INNER], 1].min() > 0.03
    assert np.linalg.norm(seen[list(fr.RIGHT_EYE + fr.LEFT_EYE)], axis=1).mean() < 0.02


def test_unknown_blend_is_refused():
    with pytest.raises(ValueError, match="blend must be one of"):
        FaceExpressionConfig(blend="median")


def test_a_turned_head_gets_a_warning():
    """The nose far off the eye midline (a head turned to the side) is reported, a frontal face is not."""
    from test_expressions import hand_made_face

    from pipelines.face.landmarks import NOSE_TIP
    from pipelines.face.pipeline import _quality_warnings

    face = hand_made_face().astype(np.float64) * 4  # about 360 px wide: not "tiny"
    config = FaceExpressionConfig()
    assert _quality_warnings(face, config) == []
    turned = face.copy()
    turned[NOSE_TIP, 0] += 100
    assert any("turned" in w for w in _quality_warnings(turned, config))


@pytest.mark.weights
@pytest.mark.skipif(not (WEIGHTS / "simmim-mouth" / "model.safetensors").is_file(), reason="weights/simmim-mouth missing")
def test_shipped_model_makes_a_smile_mediapipe_reads(face_rgb):
    """The default pipeline with the shipped mouth model: joy raises mouthSmile on a real neutral photo."""
    with FaceExpressionPipeline.from_pretrained(device="cpu") as pipe:
        out = pipe(face_rgb, "joy", 1.0)
        after = pipe.landmarker.detect(out.image)[0].blendshapes
    smile = (after["mouthSmileLeft"] + after["mouthSmileRight"]) / 2
    assert smile > (out.blendshapes["mouthSmileLeft"] + out.blendshapes["mouthSmileRight"]) / 2 + 0.3
    untouched = out.mask_image == 0
    assert np.array_equal(out.image[untouched], face_rgb[untouched])


def test_the_teaching_view_shows_the_model_painting_where_the_default_paints_nothing(face_rgb):
    """The Teach view of a default edit: the default (warp) hides nothing, so the view comes from the SimMIM-only
    edit of the same face, which hides the whole mouth and fills it with the model's own pixels."""
    from pipelines.face.detector import FaceLandmarker

    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim()) as pipe:
        default = pipe(face_rgb, "surprise", teach=True)
    taught = default.teaching
    assert pipe.config.variant == "warp" and not default.mask.any()
    hidden = np.kron(taught.mask, np.ones((taught.patch_size, taught.patch_size), bool))
    assert taught.mask.mean() > 0.1 and not np.array_equal(taught.reconstruction[hidden], taught.warped[hidden])
    assert np.array_equal(taught.filled[~hidden], taught.warped[~hidden])  # outside the mask, the input as it was


def test_a_sheet_made_on_two_threads_is_the_sheet_made_on_one(face_rgb):
    from pipelines.face.detector import FaceLandmarker

    sheets = []
    for threads in (1, 2):
        with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(),
                                    FaceExpressionConfig(sheet_threads=threads)) as pipe:  # fmt: skip
            sheets.append(pipe.expression_sheet(face_rgb, 0.9))
    assert all(np.array_equal(sheets[0].images[e], sheets[1].images[e]) for e in EXPRESSIONS)
    assert np.array_equal(sheets[0].grid, sheets[1].grid)
    with pytest.raises(InputError, match="sheet_threads"):
        FaceExpressionConfig(sheet_threads=0)
