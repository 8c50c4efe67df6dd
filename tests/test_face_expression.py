"""FaceExpressionPipeline end to end: the real MediaPipe landmarker, a tiny seeded SimMIM built from a config."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from conftest import EXAMPLES, WEIGHTS  # noqa: E402

from pipelines.face.action_units import EXPRESSIONS  # noqa: E402
from pipelines.face.pipeline import FaceExpressionConfig, FaceExpressionPipeline  # noqa: E402
from pipelines.face.simmim.masks import region_mask  # noqa: E402
from pipelines.image_io import load_image  # noqa: E402

pytestmark = pytest.mark.skipif(not (WEIGHTS / "face_landmarker.task").is_file(), reason="face_landmarker.task missing")


def tiny_simmim():
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.model import SimMIMFace

    torch.manual_seed(0)
    return SimMIMFace(SimMIMFaceConfig(image_size=32, patch_size=8, hidden_size=32, num_layers=1, num_heads=2,
                                       refine_channels=8))  # fmt: skip


@pytest.fixture(scope="module")
def pipe():
    from pipelines.face.detector import FaceLandmarker

    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim()) as pipeline:
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


def test_mask_covers_the_mouth_where_it_is_and_where_it_goes(joy, pipe):
    from pipelines.face.align import align_face, transform_points

    aligned = align_face(np.zeros((8, 8, 3), np.uint8), joy.source_landmarks, 32)
    source = aligned.landmarks
    target = transform_points(joy.target_landmarks, aligned.matrix)
    for landmarks in (source, target):
        mouth = region_mask([landmarks], ["mouth"], 32, 8)
        assert (joy.mask | ~mouth).all()


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
    config = FaceExpressionConfig(detect_max_side=640, max_edit_size=256)
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
    with pytest.raises(ValueError, match="no diffusers"):
        pipe(face_rgb, "joy", refine=True)


@pytest.mark.parametrize("blend", ["poisson", "lowpass"])
def test_other_blends_keep_the_outside_exact(blend, face_rgb):
    from pipelines.face.detector import FaceLandmarker

    config = FaceExpressionConfig(blend=blend, simmim_weight=1.0)
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(), config) as pipe:
        out = pipe(face_rgb, "surprise")
    untouched = out.mask_image == 0
    assert np.array_equal(out.image[untouched], face_rgb[untouched])


@pytest.mark.parametrize(
    "expression, names",
    [("joy", ("mouthSmileLeft", "mouthSmileRight")), ("surprise", ("browInnerUp", "jawOpen")),
     ("anger", ("browDownLeft", "browDownRight"))],
)  # fmt: skip
def test_blendshapes_of_the_result_move_toward_the_target(expression, names, face_rgb):
    """MediaPipe reads the edited photo: the expression's own blendshapes rise (warp alone: the model is random)."""
    from pipelines.face.detector import FaceLandmarker

    config = FaceExpressionConfig(simmim_weight=0.0)
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(), config) as pipe:
        out = pipe(face_rgb, expression, 1.0)
        after = pipe.landmarker.detect(out.image)[0].blendshapes
    for name in names:
        assert after[name] > out.blendshapes[name] + 0.1, (name, out.blendshapes[name], after[name])


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
@pytest.mark.skipif(not (WEIGHTS / "simmim-face" / "model.safetensors").is_file(), reason="weights/simmim-face missing")
def test_shipped_model_makes_a_smile_mediapipe_reads(face_rgb):
    """The default pipeline with the shipped SimMIM model: joy raises mouthSmile on a real neutral photo."""
    with FaceExpressionPipeline.from_pretrained(device="cpu") as pipe:
        out = pipe(face_rgb, "joy", 1.0)
        after = pipe.landmarker.detect(out.image)[0].blendshapes
    smile = (after["mouthSmileLeft"] + after["mouthSmileRight"]) / 2
    assert smile > (out.blendshapes["mouthSmileLeft"] + out.blendshapes["mouthSmileRight"]) / 2 + 0.3
    untouched = out.mask_image == 0
    assert np.array_equal(out.image[untouched], face_rgb[untouched])
