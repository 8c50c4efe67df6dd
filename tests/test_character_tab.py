"""Character tab handlers, called directly: sheet, motions, voice, and the bundle export/import round trip."""

from __future__ import annotations

import zipfile

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from pipelines.character.card import Character
from studio.tabs import character as character_tab

BVH = "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n  End Site\n  {\n    OFFSET 0 10 0\n  }\n}\nMOTION\nFrames: 2\nFrame Time: 0.033333\n0 90 0 0 0 0\n1 90 0 10 0 0\n"


def no_progress(*args, **kwargs):
    return None


@pytest.fixture(autouse=True)
def own_models(monkeypatch):
    """Models these tests load stay theirs: other tests check that building a tab loads nothing."""
    from studio import runtime

    monkeypatch.setattr(runtime, "_objects", {})


@pytest.fixture
def guide() -> Character:
    return Character(name="Ada", description="A museum guide.", first_mes="Welcome, {{user}}!",
                     extensions={"character_studio": {"voice": {"engine": "espeak", "pitch": 60, "rate": 170}}})


def test_building_the_tab_loads_no_model():
    from studio import runtime

    with gr.Blocks():
        character_tab.render()
    assert not any(name.startswith(("face", "motion", "speech")) for name in runtime._objects)


def test_en_and_zh_have_the_same_keys_all_prefixed():
    assert set(character_tab.TEXT["en"]) == set(character_tab.TEXT["zh"])
    assert all(key.startswith("character.") for key in character_tab.TEXT["en"])


def test_summary_names_the_character_and_its_voice(guide):
    text = character_tab.summary(guide)
    assert "### Ada" in text and "pitch 60" in text
    assert character_tab.summary(None) == character_tab.NO_CHARACTER


def test_bvh_upload_is_checked(tmp_path):
    good, bad = tmp_path / "wave.bvh", tmp_path / "bad.bvh"
    good.write_text(BVH)
    bad.write_text("not a clip")
    motions, files = character_tab.add_bvh_files([str(good)], {})
    assert list(motions) == ["wave"] and files[0].endswith("wave.bvh")
    motions, _ = character_tab.add_bvh_files([str(good)], motions)
    assert sorted(motions) == ["wave", "wave_2"]  # a second clip of the same name does not replace the first
    with pytest.raises(gr.Error, match="bad.bvh is not a BVH"):
        character_tab.add_bvh_files([str(bad)], motions)


def test_voice_sample_is_a_wav_in_the_characters_voice(guide):
    wav, (rate, samples) = character_tab.make_voice(guide, progress=no_progress)
    assert wav[:4] == b"RIFF" and rate > 8000
    assert len(samples) / rate > 0.3 and np.abs(samples).max() > 1000  # real speech, not silence


def test_export_then_import_restores_everything(guide, tmp_path):
    portrait = Image.fromarray(np.full((40, 30, 3), 120, np.uint8))
    sprites = {"joy": np.full((40, 30, 3), 200, np.uint8)}
    voice = character_tab.make_voice(guide, progress=no_progress)[0]
    card, archive = character_tab.export_bundle(guide, portrait, sprites, {"wave": BVH}, voice)
    assert card.endswith(".png") and archive.endswith(".zip")
    assert "expressions/joy.png" in zipfile.ZipFile(archive).namelist()

    character, back_sprites, back_portrait, motions, back_voice = character_tab.import_bundle(archive)
    assert character.name == "Ada"
    assert set(back_sprites) == {"joy", "neutral"}  # the portrait stands in as the neutral face
    assert back_portrait.size == (30, 40)
    assert motions == {"wave": BVH} and back_voice == voice


def test_a_preset_bundle_has_the_promised_portrait_and_a_full_size_card(tmp_path):
    """Without an uploaded portrait the neutral sprite stands in: portrait.png is in the ZIP, the card is 400x600."""
    import io

    from pipelines.character.card import character_from_png, list_presets, load_character

    ada = load_character(list_presets()["Ada"])
    card, archive = character_tab.export_bundle(ada, None, {}, {}, None)
    names = zipfile.ZipFile(archive).namelist()
    assert "portrait.png" in names and "expressions/neutral.png" in names
    picture = Image.open(card)
    assert picture.size == (400, 600)
    assert character_from_png(open(card, "rb").read()).name == "Ada"
    portrait = Image.open(io.BytesIO(zipfile.ZipFile(archive).read("portrait.png")))
    assert portrait.size == Image.open(io.BytesIO(zipfile.ZipFile(archive).read("expressions/neutral.png"))).size


def test_export_without_a_character_says_so():
    with pytest.raises(gr.Error, match="Pick or import a character"):
        character_tab.export_bundle(None, None, {}, {}, None)


def test_sheet_needs_a_portrait():
    with pytest.raises(gr.Error, match="portrait"):
        character_tab.make_sheet(None, 0.8, {}, progress=no_progress)


def test_motion_from_a_video_becomes_a_named_bvh_clip():
    from pipelines.motion.bvh import read_bvh
    from tests.conftest import EXAMPLES

    video = str(EXAMPLES / "videos" / "lunge_front.mp4")
    motions, files = character_tab.add_motion(video, 0, 0.5, {}, progress=no_progress)
    assert list(motions) == ["lunge_front"]
    clip = read_bvh(files[0])
    assert clip.num_frames >= 10 and "Hips" in clip.joint_names[0]


def test_sheet_from_the_portrait_fills_every_sprite(monkeypatch, neutral_face):
    torch = pytest.importorskip("torch")
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.pipeline import FaceExpressionPipeline
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.model import SimMIMFace
    from studio.tabs import face as face_tab

    torch.manual_seed(0)
    model = SimMIMFace(SimMIMFaceConfig(region="mouth", image_size=32, patch_size=8, hidden_size=32, num_layers=1,
                                        num_heads=2))
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), model) as pipe:
        monkeypatch.setattr(face_tab, "pipeline", lambda: pipe)
        sprites, shown = character_tab.make_sheet(Image.open(neutral_face), 0.8, {"extra": np.zeros((4, 4, 3), np.uint8)},
                                                  progress=no_progress)  # fmt: skip
    assert {"joy", "sadness", "anger", "surprise", "fear", "disgust", "neutral", "extra"} == set(sprites)
    assert sprites["joy"].shape == np.asarray(Image.open(neutral_face)).shape
    assert [label for _, label in shown] == sorted(sprites)


def test_a_preset_brings_its_expression_sprites_without_writing_server_paths():
    from pipelines.character.card import character_to_json, list_presets, load_character

    ada = load_character(list_presets()["Ada"])
    sprites = character_tab.card_sprites(ada)
    assert set(sprites) == {"joy", "sadness", "anger", "surprise", "fear", "disgust", "neutral"}
    assert not np.array_equal(sprites["joy"], sprites["neutral"])  # each label is its own face
    assert str(ada.source_dir) not in character_to_json(ada)  # the card keeps its relative folder only
    assert [label for _, label in character_tab.gallery({}, ada)] == sorted(sprites)


@pytest.mark.parametrize("sample", [b"RIFF\0\0\0\0WAVEjunk", "flac"], ids=["damaged", "FLAC named .wav"])
def test_a_bad_voice_sample_reaches_the_visitor_as_a_clear_message(sample):
    """Issue 15, findings 6 and 10: the player decoded any format, and its errors escaped the pop-up path."""
    from tests import hostile_files as hostile

    sample = hostile.audio_bytes(600, 8000, fmt="FLAC") if sample == "flac" else sample
    with pytest.raises(gr.Error, match="WAV"):
        character_tab.voice_audio(sample)
