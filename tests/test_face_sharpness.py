"""How blurred a face is, and the edit adding nothing sharper than the photo."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from pipelines.face import sharpness


def _edges(blur: float) -> tuple[np.ndarray, np.ndarray]:
    """A photo of hard-edged blocks blurred by `blur` px, and the region to measure (away from the border)."""
    rng = np.random.default_rng(0)
    blocks = rng.uniform(40, 220, (8, 8, 3)).astype(np.float32)
    image = cv2.resize(blocks, (192, 192), interpolation=cv2.INTER_NEAREST)
    if blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    region = np.zeros((192, 192), bool)
    region[16:-16, 16:-16] = True
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), region


@pytest.mark.parametrize("blur", [1.0, 2.0, 3.0])
def test_the_blur_of_hard_edges_is_found(blur):
    image, region = _edges(blur)
    assert sharpness.photo_blur(image, region) == pytest.approx(blur, rel=0.2)


def test_a_studio_sharp_photo_needs_no_softening_and_a_soft_one_does():
    sharp, region = _edges(0.6)
    soft, _ = _edges(2.5)
    assert sharpness.extra_blur(sharp, region) == 0.0
    expected = np.sqrt(sharpness.photo_blur(soft, region) ** 2 - sharpness.STUDIO_BLUR**2)
    assert sharpness.extra_blur(soft, region) == pytest.approx(expected) and expected > 2.0
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert sharpness.extra_blur(flat, np.ones((64, 64), bool)) == 0.0


def test_softening_blurs_only_where_asked():
    image = np.zeros((32, 32, 3), np.float32)
    image[:, 16:] = 200.0
    assert sharpness.soften(image, 0.0) is image
    where = np.zeros((32, 32), np.float32)
    where[:16] = 1.0
    out = sharpness.soften(image, 2.0, where)
    assert np.array_equal(out[16:], image[16:])  # not asked: untouched
    assert 0 < out[8, 15, 0] < 200 and 0 < out[8, 16, 0] < 200  # asked: the edge is soft
    assert sharpness.soften(image[..., 0], 2.0).shape == (32, 32)


def test_on_a_soft_photo_the_edit_is_no_sharper_than_the_photo(monkeypatch):
    """london_001 blurred like a web photo: the frown's lines are laid on as soft as the photo (1.4 times its
    Laplacian energy before), in the edit and in the slider preview; on the photo itself nothing is softened."""
    from conftest import EXAMPLES, WEIGHTS
    from test_face_expression import tiny_simmim

    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.pipeline import FaceExpressionConfig, FaceExpressionPipeline
    from pipelines.face.preview import PREVIEW_SIZE, PreviewFace, render_preview
    from pipelines.image_io import load_image

    if not (WEIGHTS / "face_landmarker.task").is_file():
        pytest.skip("face_landmarker.task missing")
    photo = load_image(EXAMPLES / "faces" / "london_001_neutral.jpg")
    soft = cv2.GaussianBlur(photo, (0, 0), 2.0)

    def detail(image, core):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        laplacian = cv2.Laplacian(grey, cv2.CV_32F)
        return np.sqrt(np.mean((laplacian if core is None else laplacian[core]) ** 2))

    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), tiny_simmim(), FaceExpressionConfig()) as pipe:
        assert pipe.find_face(photo).blur == 0.0
        face = pipe.find_face(soft)
        assert face.blur > 1.5
        softened = pipe.edit(face, "anger")
        preview = PreviewFace.from_face(face, 1.0)  # the slider preview softens alike, at its own crop's scale
        assert preview.blur == pytest.approx(face.blur * PREVIEW_SIZE / face.aligned.crop.shape[0])
        crisp_preview = render_preview(replace(preview, blur=0.0), "anger", 1.0)
        assert detail(render_preview(preview, "anger", 1.0), None) < detail(crisp_preview, None)
        monkeypatch.setattr(type(face), "blur", property(lambda self: 0.0))  # as before: lines at studio sharpness
        crisp = pipe.edit(pipe.find_face(soft), "anger")
    core = softened.mask_image >= 128
    ratios = [detail(out.image, core) / detail(soft, core) for out in (softened, crisp)]
    assert core.sum() > 1000 and ratios[0] < 1.15 < ratios[1], ratios
