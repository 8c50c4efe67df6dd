"""Two-bone leg IK, with hand-placed legs: a planted foot stays where it landed, bones keep their length, the foot
keeps its turn, nothing above the hips moves, and a foot that lifts eases back instead of snapping."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pipelines.motion.clip import MotionClip
from pipelines.motion.ik import foot_skate, pin_targets, plant_feet, two_bone
from pipelines.motion.skeleton import build_skeleton, world_rotations

SKELETON = build_skeleton()
FRAMES = 20


def bent_legs_clip(drift: float = 0.1) -> MotionClip:
    """Knees bent 40 degrees, the root drifting `drift` metres forward over the clip: feet that should stay put slide."""
    rotations = np.tile(Rotation.identity().as_quat(), (FRAMES, len(SKELETON.joints), 1))
    for name in ("LeftUpperLeg", "RightUpperLeg"):
        rotations[:, SKELETON.index(name)] = Rotation.from_euler("x", -20, degrees=True).as_quat()
    for name in ("LeftLowerLeg", "RightLowerLeg"):
        rotations[:, SKELETON.index(name)] = Rotation.from_euler("x", 40, degrees=True).as_quat()
    root = np.zeros((FRAMES, 3))
    root[:, 1] = 0.9
    root[:, 2] = np.linspace(0, drift, FRAMES)
    return MotionClip(30.0, SKELETON, root, rotations)


def bone_lengths(clip: MotionClip) -> np.ndarray:
    joints, _ = clip.positions()
    return np.stack([np.linalg.norm(joints[:, j] - joints[:, p], axis=-1) for j, p in enumerate(clip.parents) if p >= 0], 1)


def test_two_bone_puts_the_ankle_on_the_target_with_both_lengths_kept():
    hip, knee, ankle = np.array([[0.0, 1.0, 0.0]]), np.array([[0.0, 0.55, 0.1]]), np.array([[0.0, 0.1, 0.0]])
    target = np.array([[0.05, 0.2, 0.15]])
    new_knee, new_ankle = two_bone(hip, knee, ankle, target)
    assert np.allclose(new_ankle, target)
    assert np.linalg.norm(new_knee - hip) == pytest.approx(np.linalg.norm(knee - hip))
    assert np.linalg.norm(new_ankle - new_knee) == pytest.approx(np.linalg.norm(ankle - knee))
    assert new_knee[0, 2] > 0  # still bends forward, in the plane it bent in


def test_an_unreachable_target_is_approached_not_broken():
    hip, knee, ankle = np.zeros((1, 3)), np.array([[0.0, -0.45, 0.05]]), np.array([[0.0, -0.9, 0.0]])
    new_knee, new_ankle = two_bone(hip, knee, ankle, np.array([[0.0, -5.0, 0.0]]))
    assert np.isfinite(new_knee).all() and new_ankle[0, 1] < -0.85  # as far as the leg goes, straight down


def test_planted_feet_stay_where_they_landed_and_only_the_legs_change():
    clip = bent_legs_clip()
    contacts = np.ones((FRAMES, 2), bool)
    fixed = plant_feet(clip, contacts)
    assert foot_skate(clip, contacts) > 0.4  # 10 cm of drift over 19 steps
    assert foot_skate(fixed, contacts) < 1e-9
    assert np.abs(bone_lengths(fixed) - bone_lengths(clip)).max() < 1e-9
    before, after = world_rotations(SKELETON, clip.local_rotations()), world_rotations(SKELETON, fixed.local_rotations())
    for name in ("LeftFoot", "RightFoot"):
        j = SKELETON.index(name)
        assert np.degrees((before[j].inv() * after[j]).magnitude()).max() < 1e-6  # the foot keeps its world turn
    upper_body = [j for j, name in enumerate(SKELETON.joints) if "Leg" not in name and "Foot" not in name and "Toes" not in name]
    assert np.array_equal(fixed.rotations[:, upper_body], clip.rotations[:, upper_body])


def test_a_lifted_foot_eases_back_instead_of_snapping():
    clip = bent_legs_clip(drift=0.2)
    contacts = np.zeros((FRAMES, 2), bool)
    contacts[:10, 0] = True  # the left foot is planted for the first 10 frames, then lifts
    fixed = plant_feet(clip, contacts, fade=0.1)  # 3 frames at 30 fps
    joints, _ = fixed.positions()
    toes = joints[:, SKELETON.index("LeftToes")]
    steps = np.linalg.norm(np.diff(toes, axis=0), axis=-1)
    free_step = 0.2 / (FRAMES - 1)
    assert steps[:9].max() < 1e-9 and steps[9:].max() < 4 * free_step  # no jump when the pin lets go
    _, weight = pin_targets(toes, contacts[:, 0], 3)
    assert np.allclose(weight[:14], [1.0] * 10 + [0.75, 0.5, 0.25, 0.0])


def test_no_contact_changes_nothing():
    clip = bent_legs_clip()
    assert np.array_equal(plant_feet(clip, np.zeros((FRAMES, 2), bool)).rotations, clip.rotations)
