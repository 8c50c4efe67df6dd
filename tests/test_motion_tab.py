"""Motion tab handlers, called directly with the real pose model on half a second of a shipped video."""

from __future__ import annotations

import gradio as gr
import pytest
from conftest import EXAMPLES, WEIGHTS
from PIL import Image

from pipelines.motion.bvh import read_bvh
from pipelines.motion.clip import MotionClip
from studio.tabs import motion as motion_tab

LUNGE = str(EXAMPLES / "videos" / "lunge_front.mp4")
needs_model = pytest.mark.skipif(not (WEIGHTS / "pose_landmarker_full.task").is_file(), reason="pose_landmarker_full.task missing")


def no_progress(*args, **kwargs):
    return None


@pytest.fixture(scope="module")
def captured():
    """One capture shared by the tests: 0.5 s of the lunge (30 frames at its own 60 fps)."""
    return motion_tab.capture(LUNGE, 0.0, 0.5, 1.5, 0.5, progress=no_progress)


def test_building_the_tab_loads_no_model():
    from studio import runtime

    with gr.Blocks():
        motion_tab.render()
    assert "motion" not in runtime._objects


def test_en_and_zh_have_the_same_keys_all_prefixed():
    assert set(motion_tab.TEXT["en"]) == set(motion_tab.TEXT["zh"])
    assert all(key.startswith("motion.") for key in motion_tab.TEXT["en"])


def test_examples_are_shipped_videos():
    from pathlib import Path

    assert all(Path(video).is_file() for video in motion_tab.EXAMPLES)
    assert len(motion_tab.EXAMPLE_LABELS) == len(motion_tab.EXAMPLES)


@needs_model
def test_capture_returns_preview_bvh_notes_and_the_clip(captured):
    preview, bvh, glb, notes, clip = captured
    assert preview.endswith(".mp4") and open(preview, "rb").read(12)[4:8] == b"ftyp"
    assert glb.endswith(".glb") and open(glb, "rb").read(4) == b"glTF"
    assert isinstance(clip, MotionClip) and read_bvh(bvh).num_frames == clip.num_frames == 30
    assert "person found in 100% of frames" in notes and "m/s²" in notes and "per planted frame" in notes


@needs_model
def test_edits_make_a_new_clip_without_touching_the_capture(captured):
    *_, clip = captured
    preview, bvh, notes = motion_tab.apply_edits(clip, 0.5, 1.2, True, True, 0.1, progress=no_progress)
    edited = read_bvh(bvh)
    # stride, mirror, loop (30 - 6 blend frames = 24), then half speed: 24 frames -> 47.
    assert edited.num_frames == 47 and "mirrored" in notes and "looped" in notes
    assert preview.endswith(".mp4")
    assert clip.num_frames == 30  # the captured clip in the State is unchanged


def test_missing_inputs_are_explained():
    with pytest.raises(gr.Error, match="upload or record"):
        motion_tab.capture(None, 0, 0, 1.5, 0.5, progress=no_progress)
    with pytest.raises(gr.Error, match="Capture a clip first"):
        motion_tab.apply_edits(None, 1.0, 1.0, False, False, 0.3, progress=no_progress)


@needs_model
def test_a_photo_instead_of_a_video_is_refused_plainly(tmp_path):
    photo = tmp_path / "me.png"
    Image.new("RGB", (32, 32)).save(photo)
    with pytest.raises(gr.Error, match="still image"):
        motion_tab.capture(str(photo), 0, None, 1.5, 0.5, progress=no_progress)


@needs_model
def test_a_loop_blend_longer_than_half_the_clip_is_refused(captured):
    *_, clip = captured
    with pytest.raises(gr.Error, match="loop blend"):
        motion_tab.apply_edits(clip, 1.0, 1.0, False, True, 1.0, progress=no_progress)


@needs_model
def test_end_zero_means_to_the_end_of_the_video():
    _, bvh, _, notes, clip = motion_tab.capture(LUNGE, 1.2, 0, 1.5, 0.5, progress=no_progress)
    assert clip.num_frames == 28  # 1.2 s to the end at 1.67 s, at 60 fps
