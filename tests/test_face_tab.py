"""Face tab handlers, called directly with a tiny seeded SimMIM behind the real landmarker."""

from __future__ import annotations

import zipfile

import gradio as gr
import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from conftest import WEIGHTS  # noqa: E402

from studio.tabs import face as face_tab  # noqa: E402

pytestmark = pytest.mark.skipif(not (WEIGHTS / "face_landmarker.task").is_file(), reason="face_landmarker.task missing")


@pytest.fixture(scope="module")
def tiny_pipe():
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.pipeline import FaceExpressionPipeline
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.model import SimMIMFace

    torch.manual_seed(0)
    model = SimMIMFace(SimMIMFaceConfig(region="mouth", image_size=32, patch_size=8, hidden_size=32, num_layers=1,
                                        num_heads=2))
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), model) as pipe:
        yield pipe


@pytest.fixture
def use_tiny(monkeypatch, tiny_pipe):
    monkeypatch.setattr(face_tab, "pipeline", lambda: tiny_pipe)
    return tiny_pipe


def no_progress(*args, **kwargs):
    return None


def test_building_the_tab_loads_no_model():
    from studio import runtime

    with gr.Blocks():
        face_tab.render()
    assert "face" not in runtime._objects


def test_en_and_zh_have_the_same_keys_all_prefixed():
    assert set(face_tab.TEXT["en"]) == set(face_tab.TEXT["zh"])
    assert all(key.startswith("face.") for key in face_tab.TEXT["en"])


def test_make_expression_returns_before_after_result_and_teach_views(use_tiny, neutral_face):
    compare, result, notes, *views = face_tab.make_expression(
        str(neutral_face), "surprise", 0.8, 0.2, 0, 0, 0.3, 0, 0, False, progress=no_progress
    )
    size = Image.open(neutral_face).size[::-1]
    before, after = compare
    assert before.shape[:2] == after.shape[:2] == result.shape[:2] == size
    assert not np.array_equal(before, after)
    assert "surprise" in notes
    assert len(views) == len(face_tab.TEACH_VIEWS) and all(v.shape == (256, 256, 3) for v in views)
    # The default paints with no model; the view shows SimMIM painting the hidden mouth.
    assert views[face_tab.TEACH_VIEWS.index("mask")].any()


def test_make_sheet_returns_a_gallery_and_a_zip_of_sprites(use_tiny, neutral_face):
    gallery, archive = face_tab.make_sheet(str(neutral_face), 1.0, 0, False, progress=no_progress)
    assert [label for _, label in gallery] == ["sheet", *face_tab.EXPRESSIONS]
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
    assert names == {f"{e}.png" for e in face_tab.EXPRESSIONS}  # a SillyTavern sprite pack: sprites only


class ChineseBrowser:
    headers = {"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"}


def test_notes_speak_the_visitors_language(use_tiny, neutral_face):
    _, _, notes, *_ = face_tab.make_expression(str(neutral_face), "surprise", 0.8, 0, 0, 0, 0, 0, 0, False,
                                               request=ChineseBrowser(), progress=no_progress)  # fmt: skip
    assert "惊讶" in notes and "强度 80%" in notes


def test_live_preview_finds_the_face_once_then_warps_a_small_crop(use_tiny, neutral_face):
    from pipelines.face.preview import PREVIEW_SIZE

    face = face_tab.find_preview_face(str(neutral_face), 0)
    first = face_tab.update_preview(face, "neutral", 0.8, 0, 0, 0, 0, 0)
    assert first.shape == (PREVIEW_SIZE, PREVIEW_SIZE, 3)
    moved = face_tab.update_preview(face, "surprise", 0.8, 0, 0.3, 0, 0, 0.4)
    assert moved.shape == first.shape
    assert (np.abs(moved.astype(int) - first.astype(int)).max(axis=2) > 20).sum() > 100  # the mouth opens
    assert face_tab.find_preview_face(None, 0) is None
    assert face_tab.update_preview(None, "joy", 0.8, 0, 0, 0, 0, 0) is None  # no photo: no preview


def test_releasing_a_slider_before_any_photo_does_nothing(use_tiny):
    outputs = face_tab.edit_on_release(None, "joy", 0.8, 0, 0, 0, 0, 0, 0, False)
    assert len(outputs) == 3 + len(face_tab.TEACH_VIEWS)
    assert all(isinstance(value, type(gr.skip())) for value in outputs)


def test_errors_reach_the_user_as_gr_error(use_tiny, tmp_path):
    with pytest.raises(gr.Error, match="upload a face photo"):
        face_tab.make_expression(None, "joy", 1.0, 0, 0, 0, 0, 0, 0, progress=no_progress)
    wall = tmp_path / "wall.png"
    Image.new("RGB", (200, 150), (120, 130, 140)).save(wall)
    with pytest.raises(gr.Error, match="no face found"):
        face_tab.make_expression(str(wall), "joy", 1.0, 0, 0, 0, 0, 0, 0, progress=no_progress)
    with pytest.raises(gr.Error, match="out of range"):
        face_tab.make_expression(face_tab.EXAMPLE_FACES[0], "joy", 1.0, 0, 0, 0, 0, 0, 4, progress=no_progress)
    with pytest.raises(gr.Error, match="No image file"):
        face_tab.make_sheet(str(tmp_path / "missing.png"), 1.0, 0, progress=no_progress)


def test_refine_without_a_gpu_is_refused(use_tiny, neutral_face):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(gr.Error, match="CUDA GPU"):
        face_tab.make_expression(str(neutral_face), "joy", 1.0, 0, 0, 0, 0, 0, 0, True, progress=no_progress)
