"""MotionClip edits and BVH files: bone lengths survive every edit; a BVH round trip gives the same poses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pipelines.motion.bvh import read_bvh, write_bvh
from pipelines.motion.clip import MotionClip
from pipelines.motion.skeleton import build_skeleton

SKELETON = build_skeleton()
FPS = 30.0


def random_clip(frames: int = 24, seed: int = 0, spread_degrees: float = 60.0) -> MotionClip:
    """Random but smooth-ish motion: each joint wanders within `spread_degrees` of the rest pose."""
    rng = np.random.default_rng(seed)
    joints = len(SKELETON.joints)
    knots = rng.normal(scale=np.radians(spread_degrees) / 2, size=(4, joints, 3))
    rotvecs = np.stack([np.stack([np.interp(np.linspace(0, 3, frames), np.arange(4), knots[:, j, d]) for d in range(3)], -1) for j in range(joints)], 1)
    root = np.cumsum(rng.normal(scale=0.02, size=(frames, 3)), axis=0) + [0, 0.95, 0]
    return MotionClip(FPS, SKELETON, root, Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_quat().reshape(frames, joints, 4))


def bone_lengths(clip: MotionClip) -> np.ndarray:
    joints, _ = clip.positions()
    return np.stack([np.linalg.norm(joints[:, j] - joints[:, p], axis=-1) for j, p in enumerate(clip.parents) if p >= 0], 1)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "ZYX"])
def test_bvh_round_trip_gives_the_same_joint_positions(tmp_path, order):
    clip = random_clip(spread_degrees=170)  # large angles, near gimbal lock too
    path = write_bvh(clip, tmp_path / "clip.bvh", order=order)
    back = read_bvh(path)
    assert back.joint_names == clip.joint_names and back.parents == clip.parents
    assert back.num_frames == clip.num_frames and back.fps == pytest.approx(FPS)
    joints, ends = clip.positions()
    joints_back, ends_back = back.positions()
    tolerance = 1e-4 * SKELETON.height
    assert np.abs(joints - joints_back).max() < tolerance
    assert np.abs(ends - ends_back).max() < tolerance
    angle = (Rotation.from_quat(clip.rotations.reshape(-1, 4)).inv() * back.local_rotations()).magnitude()
    assert np.degrees(angle).max() < 1e-4  # the same joint angles come back


def test_bvh_layout_matches_what_blenders_importer_parses(tmp_path):
    """Blender's import_bvh.py reads line by line: keywords first on their line, '{' alone, OFFSET then
    CHANNELS right after a joint's '{', 'End Site' blocks, then MOTION / 'Frames: n' / 'Frame Time: dt'."""
    clip = random_clip(frames=5)
    lines = [line.split() for line in write_bvh(clip, tmp_path / "clip.bvh").read_text().splitlines()]
    assert lines[0] == ["HIERARCHY"] and lines[1][0] == "ROOT"
    for i, words in enumerate(lines):
        if words[0] in ("ROOT", "JOINT"):
            assert len(words) == 2 and lines[i + 1] == ["{"] and lines[i + 2][0] == "OFFSET" and lines[i + 3][0] == "CHANNELS"
            assert int(lines[i + 3][1]) == len(lines[i + 3]) - 2
        if words[:2] == ["End", "Site"]:
            assert lines[i + 1] == ["{"] and lines[i + 2][0] == "OFFSET" and lines[i + 3] == ["}"]
    motion = lines.index(["MOTION"])
    assert sum(w[0] == "{" for w in lines[:motion]) == sum(w[0] == "}" for w in lines[:motion])
    assert lines[motion + 1] == ["Frames:", "5"] and lines[motion + 2][:2] == ["Frame", "Time:"]
    assert len(lines) == motion + 3 + 5
    assert all(len(row) == 6 + 3 * (len(SKELETON.joints) - 1) for row in lines[motion + 3 :])
    assert sum(w[:2] == ["End", "Site"] for w in lines) == len(SKELETON.end_sites)


def test_read_bvh_rejects_what_is_not_bvh(tmp_path):
    bad = tmp_path / "notes.bvh"
    bad.write_text("hello world")
    with pytest.raises(ValueError, match="not a BVH file"):
        read_bvh(bad)
    clip_file = write_bvh(random_clip(frames=3), tmp_path / "cut.bvh")
    clip_file.write_text(clip_file.read_text().rsplit("\n", 2)[0])  # lose the last frame line
    with pytest.raises(ValueError, match="numbers"):
        read_bvh(clip_file)


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c.retime(2.0),
        lambda c: c.retime(0.5),
        lambda c: c.mirror(),
        lambda c: c.loop(0.2),
        lambda c: c.scale_amplitude(1.5),
    ],
    ids=["faster", "slower", "mirror", "loop", "stride"],
)
def test_edits_keep_bone_lengths(edit):
    clip = random_clip()
    edited = edit(clip)
    reference = bone_lengths(clip)[0]
    assert np.abs(bone_lengths(edited) - reference).max() < 1e-9


def test_speed_changes_the_frame_count_as_asked():
    clip = random_clip(frames=31)
    assert clip.retime(2.0).num_frames == 16
    assert clip.retime(0.5).num_frames == 61
    slow_joints, _ = clip.retime(0.5).positions()
    assert np.allclose(slow_joints[::2], clip.positions()[0])  # every other frame of slow motion is an original one
    with pytest.raises(ValueError, match="speed"):
        clip.retime(0.0)


def test_mirror_swaps_sides_and_twice_is_the_original():
    clip = random_clip()
    mirrored = clip.mirror()
    joints, _ = clip.positions()
    joints_m, _ = mirrored.positions()
    left, right = SKELETON.index("LeftHand"), SKELETON.index("RightHand")
    assert np.allclose(joints_m[:, right], joints[:, left] * [-1, 1, 1])  # the left hand's path, reflected
    twice = mirrored.mirror()
    assert np.allclose(twice.positions()[0], joints)


def test_loop_seam_is_as_smooth_as_the_rest_of_the_clip():
    clip = random_clip(frames=60)
    # A periodic-ish walk would match at the seam anyway; a random clip does not, so the blend must do it.
    looped = clip.loop(0.3)
    assert looped.num_frames == 60 - 9
    joints, _ = looped.positions()
    local = joints - looped.root_positions[:, None]
    steps = np.linalg.norm(np.diff(local, axis=0), axis=-1).max(axis=1)
    seam = np.linalg.norm(local[0] - local[-1], axis=-1).max()
    assert seam <= 1.5 * steps.max()
    raw_joints, _ = clip.positions()
    raw_local = raw_joints - clip.root_positions[:, None]
    assert np.linalg.norm(raw_local[0] - raw_local[-1], axis=-1).max() > seam  # the blend made it smoother


def test_stride_scale_exaggerates_swing_around_the_average_pose():
    clip = random_clip(frames=40, spread_degrees=30)
    knee = SKELETON.index("LeftLowerLeg")

    def swing(c: MotionClip) -> float:
        r = Rotation.from_quat(c.rotations[:, knee])
        return float((r.mean().inv() * r).magnitude().mean())

    assert swing(clip.scale_amplitude(2.0)) == pytest.approx(2 * swing(clip), rel=0.05)
    still = clip.scale_amplitude(0.0)
    assert swing(still) < 1e-6 and np.allclose(still.root_positions[:, [0, 2]], clip.root_positions[0, [0, 2]])


def test_bvh_angles_do_not_jump_by_a_full_turn(tmp_path):
    """A joint turning steadily through 180 degrees must not read ... 179, -179 ... in the file."""
    frames = 20
    clip = random_clip(frames=frames, spread_degrees=0)
    spin = Rotation.from_euler("y", np.linspace(150, 210, frames)[:, None], degrees=True).as_quat()
    rotations = clip.rotations.copy()
    rotations[:, SKELETON.index("Head")] = spin
    spun = MotionClip(FPS, SKELETON, clip.root_positions, rotations)
    lines = write_bvh(spun, tmp_path / "spin.bvh").read_text().splitlines()
    rows = np.array([[float(v) for v in line.split()] for line in lines[lines.index("MOTION") + 3 :]])
    assert np.abs(np.diff(rows[:, 6:], axis=0)).max() < 10  # every channel moves a few degrees per frame at most
    assert np.abs(read_bvh(tmp_path / "spin.bvh").positions()[0] - spun.positions()[0]).max() < 1e-6


def test_clip_edits_apply_stride_mirror_loop_then_speed():
    """The studio and the CLI both edit through ClipEdits, so the order lives in one place."""
    from pipelines.motion import ClipEdits

    clip = random_clip(frames=30)
    edited, done = ClipEdits(speed=0.5, stride=1.2, mirror=True, loop_blend=0.1).apply(clip)
    by_hand = clip.scale_amplitude(1.2).mirror().loop(0.1).retime(0.5)
    assert np.allclose(edited.rotations, by_hand.rotations) and np.allclose(edited.root_positions, by_hand.root_positions)
    assert done == ["stride x1.2", "mirrored", "looped with a 0.1 s blend", "speed x0.5"]
    unchanged, nothing = ClipEdits().apply(clip)
    assert unchanged is clip and nothing == []
