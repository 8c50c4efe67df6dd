"""A clip never holds a NaN, whatever the video: people missing at the start, end or middle, legs never seen,
one frame, nobody at all, one joint always hidden. Each gives a finite clip (and a BVH that reads back) or a
clear InputError. No pose model is needed: the tracks are synthetic (tests/motion_bodies.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from motion_bodies import LEGS, hide, walking_track

from pipelines.errors import InputError
from pipelines.motion.bvh import read_bvh, write_bvh
from pipelines.motion.landmarks import NUM_LANDMARKS
from pipelines.motion.pipeline import MotionCapturePipeline
from pipelines.motion.preview import render_preview

PIPE = MotionCapturePipeline("no-model-needed.task")  # retarget() runs on landmarks; the model file is never opened


def assert_finite_clip(out, tmp_path) -> None:
    clip = out.clip
    assert np.isfinite(clip.root_positions).all() and np.isfinite(clip.rotations).all()
    joints, ends = clip.positions()
    assert np.isfinite(joints).all() and np.isfinite(ends).all()
    back = read_bvh(write_bvh(clip, tmp_path / "clip.bvh"))
    assert back.num_frames == clip.num_frames and np.isfinite(back.root_positions).all()
    assert all(isinstance(note, str) and note for note in out.warnings)


@pytest.mark.parametrize(
    "frames, joints",
    [
        (slice(0, 9), None),  # nobody at the start (someone walks in)
        (slice(21, 30), None),  # nobody at the end
        (slice(10, 20), None),  # nobody in the middle
        (None, LEGS),  # legs never visible
        (slice(0, 9), LEGS),  # both: the clip that used to come out as NaN
        (None, [25]),  # one joint (the left knee) always missing
        (slice(0, 5), [25]),
        (np.arange(30) % 3 == 0, None),  # every third frame empty
    ],
)
def test_a_clip_with_people_or_joints_missing_is_finite(tmp_path, frames, joints):
    out = PIPE.retarget(hide(walking_track(30), frames=frames, joints=joints))
    assert_finite_clip(out, tmp_path)
    if frames is not None:
        assert any("No person in" in note for note in out.warnings)


def test_legs_never_seen_hold_the_root_in_place_and_say_so(tmp_path):
    out = PIPE.retarget(hide(walking_track(30), frames=slice(0, 9), joints=LEGS))
    assert np.ptp(out.clip.root_positions[:, [0, 2]], axis=0).max() < 1e-9
    assert any("legs were never clearly in view" in note for note in out.warnings)


def test_a_person_seen_walking_travels(tmp_path):
    out = PIPE.retarget(walking_track(30))
    assert np.ptp(out.clip.root_positions[:, 0]) > 0.5  # 1 s at 1 m/s: the root goes somewhere
    assert not any("travel" in note for note in out.warnings)


def test_one_frame_or_nobody_at_all_is_a_clear_input_error():
    with pytest.raises(InputError, match="at least 2 frames"):
        PIPE.retarget(walking_track(1))
    with pytest.raises(InputError, match="no person"):
        PIPE.retarget(hide(walking_track(20), frames=slice(None)))


def test_the_preview_survives_a_clip_with_nobody_at_the_start(tmp_path):
    track = hide(walking_track(20), frames=slice(0, 8), joints=LEGS)
    out = PIPE.retarget(track)
    source = (np.full((track.height, track.width, 3), 90, np.uint8) for _ in range(track.num_frames))
    preview = render_preview(tmp_path / "preview.mp4", out.clip, source, track, out.made_up, height=120)
    assert preview.stat().st_size > 0


@settings(max_examples=25, deadline=None)
@given(
    frames=st.integers(min_value=1, max_value=16),
    seen=st.lists(st.booleans(), min_size=16, max_size=16),
    hidden=st.sets(st.integers(min_value=0, max_value=NUM_LANDMARKS - 1), max_size=8),
    legs_hidden=st.booleans(),
)
def test_any_pattern_of_missing_frames_and_joints_gives_a_finite_clip_or_an_input_error(
    tmp_path_factory, frames, seen, hidden, legs_hidden
):
    missing = ~np.array(seen[:frames])
    track = hide(walking_track(frames), frames=missing, joints=[*hidden, *(LEGS if legs_hidden else ())])
    try:
        out = PIPE.retarget(track)
    except InputError as err:
        assert frames < 2 or missing.all(), f"refused a usable track: {err}"
        return
    assert_finite_clip(out, tmp_path_factory.mktemp("clip"))


def test_the_clip_drawn_back_on_the_source_lies_on_the_person():
    """The preview's 'clip on the source' panel: projected joints land on MediaPipe's landmarks of the same body
    parts (within a tenth of the body's height in the image), so where they part, the capture went wrong."""
    from pipelines.motion.landmarks import PoseLandmark as L

    track = walking_track(30)
    out = PIPE.retarget(track)
    pairs = {"LeftUpperLeg": L.LEFT_HIP, "RightUpperLeg": L.RIGHT_HIP, "LeftLowerLeg": L.LEFT_KNEE,
             "RightLowerLeg": L.RIGHT_KNEE, "LeftFoot": L.LEFT_ANKLE, "RightFoot": L.RIGHT_ANKLE,
             "LeftLowerArm": L.LEFT_ELBOW, "RightLowerArm": L.RIGHT_ELBOW}  # fmt: skip
    size = np.array([track.width, track.height])
    fit = out.fit[:, [out.clip.skeleton.index(j) for j in pairs]] * size
    seen = track.image[:, list(pairs.values()), :2] * size
    body_height = np.ptp(track.image[0, :, 1]) * track.height
    assert out.fit.shape == (30, len(out.clip.joint_names), 2)
    assert np.linalg.norm(fit - seen, axis=-1).mean() < 0.1 * body_height
