"""Pose solvers, kalidokit style: a few joints placed by hand, the angle that must come out."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pipelines.motion.landmarks import PoseLandmark as L
from pipelines.motion.skeleton import build_skeleton
from pipelines.motion.solvers import solve_frame

SKELETON = build_skeleton()  # default proportions: arms along +-X at shoulder height 0.5 m, legs down -Y


def t_pose() -> dict[L, np.ndarray]:
    """A person in the skeleton's rest pose (T-pose, palms down, facing +Z), landmark by landmark."""
    p = {}
    for sign, side in ((1, "LEFT"), (-1, "RIGHT")):
        at = lambda x, y, z: np.array([sign * x, y, z], dtype=float)  # noqa: E731
        p[L[f"{side}_HIP"]] = at(0.09, 0, 0)
        p[L[f"{side}_KNEE"]] = at(0.09, -0.43, 0)
        p[L[f"{side}_ANKLE"]] = at(0.09, -0.85, 0)
        p[L[f"{side}_HEEL"]] = at(0.09, -0.92, -0.05)
        p[L[f"{side}_FOOT_INDEX"]] = at(0.09, -0.92, 0.20)  # ankle->toe tip along the skeleton's rest foot
        p[L[f"{side}_SHOULDER"]] = at(0.18, 0.5, 0)
        p[L[f"{side}_ELBOW"]] = at(0.46, 0.5, 0)
        p[L[f"{side}_WRIST"]] = at(0.71, 0.5, 0)
        p[L[f"{side}_INDEX"]] = at(0.80, 0.5, 0.03)  # palm down: the index knuckle is ahead of the pinky's
        p[L[f"{side}_PINKY"]] = at(0.80, 0.5, -0.03)
        p[L[f"{side}_THUMB"]] = at(0.75, 0.5, 0.05)
        p[L[f"{side}_EAR"]] = at(0.075, 0.68, 0)
        p[L[f"{side}_EYE"]] = at(0.03, 0.70, 0.08)
        p[L[f"{side}_EYE_INNER"]] = at(0.02, 0.70, 0.08)
        p[L[f"{side}_EYE_OUTER"]] = at(0.045, 0.70, 0.075)
    p[L.MOUTH_LEFT], p[L.MOUTH_RIGHT] = np.array([0.025, 0.62, 0.08]), np.array([-0.025, 0.62, 0.08])
    p[L.NOSE] = np.array([0.0, 0.66, 0.1])
    return p


def local(points, joint: str) -> Rotation:
    return solve_frame(points, SKELETON)[SKELETON.index(joint)]


def assert_rotation(rotation: Rotation, axis, degrees: float, tol: float = 1e-6):
    expected = Rotation.from_rotvec(np.radians(degrees) * np.asarray(axis, dtype=float))
    assert (expected.inv() * rotation).magnitude() == pytest.approx(0.0, abs=tol), rotation.as_rotvec(degrees=True)


def test_t_pose_gives_identity_everywhere():
    angles = np.degrees(solve_frame(t_pose(), SKELETON).magnitude())
    assert angles.max() < 1e-6, dict(zip(SKELETON.joints, angles.round(3)))


def test_array_input_works_like_named_points():
    named = t_pose()
    array = np.stack([named[lm] for lm in L])
    assert np.allclose(solve_frame(array, SKELETON).as_quat(), solve_frame(named, SKELETON).as_quat())


def test_left_arm_raised_straight_up_is_90_degrees_about_z():
    p = t_pose()
    shoulder = p[L.LEFT_SHOULDER]
    p[L.LEFT_ELBOW] = shoulder + [0, 0.28, 0]
    p[L.LEFT_WRIST] = shoulder + [0, 0.53, 0]
    p[L.LEFT_INDEX] = shoulder + [-0.03, 0.62, 0.03]
    p[L.LEFT_PINKY] = shoulder + [-0.03, 0.62, -0.03]
    assert_rotation(local(p, "LeftUpperArm"), [0, 0, 1], 90)
    assert_rotation(local(p, "LeftLowerArm"), [0, 0, 1], 0)


def test_right_arm_down_by_the_side_is_90_degrees_about_z():
    p = t_pose()
    shoulder = p[L.RIGHT_SHOULDER]
    p[L.RIGHT_ELBOW] = shoulder + [0, -0.28, 0]
    p[L.RIGHT_WRIST] = shoulder + [0, -0.53, 0]
    p[L.RIGHT_INDEX] = shoulder + [0, -0.62, 0.03]
    p[L.RIGHT_PINKY] = shoulder + [0, -0.62, -0.03]
    # -X rotated to -Y: a +90 degree turn about Z (the mirror image of the left arm's -90).
    assert_rotation(local(p, "RightUpperArm"), [0, 0, 1], 90)


def test_elbow_bent_forward_90_degrees_is_a_hinge_about_y():
    p = t_pose()
    elbow = p[L.LEFT_ELBOW]
    p[L.LEFT_WRIST] = elbow + [0, 0, 0.25]
    p[L.LEFT_INDEX] = elbow + [-0.03, 0, 0.34]
    p[L.LEFT_PINKY] = elbow + [0.03, 0, 0.34]
    assert_rotation(local(p, "LeftUpperArm"), [0, 1, 0], 0)
    assert_rotation(local(p, "LeftLowerArm"), [0, 1, 0], -90)  # +X swung to +Z
    assert_rotation(local(p, "LeftHand"), [0, 1, 0], 0)


def test_knee_bent_90_degrees_swings_the_shin_back_about_x():
    p = t_pose()
    knee = p[L.LEFT_KNEE]
    p[L.LEFT_ANKLE] = knee + [0, 0, -0.42]
    p[L.LEFT_HEEL] = knee + [0, 0.05, -0.49]  # the foot turns with the shin
    p[L.LEFT_FOOT_INDEX] = knee + [0, -0.20, -0.49]
    assert_rotation(local(p, "LeftUpperLeg"), [1, 0, 0], 0)
    assert_rotation(local(p, "LeftLowerLeg"), [1, 0, 0], 90)
    assert_rotation(local(p, "LeftFoot"), [1, 0, 0], 0)


def test_thigh_raised_forward_like_a_march():
    p = t_pose()
    hip = p[L.LEFT_HIP]
    p[L.LEFT_KNEE] = hip + [0, 0, 0.43]  # thigh horizontal, pointing forward
    p[L.LEFT_ANKLE] = hip + [0, -0.42, 0.43]  # shin hanging down
    p[L.LEFT_HEEL] = hip + [0, -0.49, 0.38]
    p[L.LEFT_FOOT_INDEX] = hip + [0, -0.49, 0.63]
    assert_rotation(local(p, "LeftUpperLeg"), [1, 0, 0], -90)  # -Y swung to +Z
    assert_rotation(local(p, "LeftLowerLeg"), [1, 0, 0], 90)  # knee bent back to vertical


def test_head_turned_left_45_degrees_turns_only_the_head():
    p = t_pose()
    turn = Rotation.from_euler("y", 45, degrees=True)
    pivot = np.array([0, 0.62, 0])  # the head joint
    for lm in (L.LEFT_EAR, L.RIGHT_EAR, L.LEFT_EYE, L.RIGHT_EYE, L.MOUTH_LEFT, L.MOUTH_RIGHT, L.NOSE):
        p[lm] = pivot + turn.apply(p[lm] - pivot)
    assert_rotation(local(p, "Neck"), [0, 1, 0], 0)
    assert_rotation(local(p, "Head"), [0, 1, 0], 45)


def test_whole_body_turned_goes_to_the_root_only():
    turn = Rotation.from_euler("zxy", [10, -20, 135], degrees=True)
    p = {lm: turn.apply(v) for lm, v in t_pose().items()}
    rotations = solve_frame(p, SKELETON)
    assert (turn.inv() * rotations[SKELETON.index("Hips")]).magnitude() < 1e-6
    assert np.degrees(rotations[1:].magnitude()).max() < 1e-6


def test_torso_twist_is_shared_between_spine_and_chest():
    p = t_pose()
    twist = Rotation.from_euler("y", 40, degrees=True)
    for side in ("LEFT", "RIGHT"):
        for part in ("SHOULDER", "ELBOW", "WRIST", "INDEX", "PINKY", "THUMB", "EAR", "EYE", "EYE_INNER", "EYE_OUTER"):
            p[L[f"{side}_{part}"]] = twist.apply(p[L[f"{side}_{part}"]])
    for lm in (L.MOUTH_LEFT, L.MOUTH_RIGHT, L.NOSE):
        p[lm] = twist.apply(p[lm])
    assert_rotation(local(p, "Spine"), [0, 1, 0], 20)
    assert_rotation(local(p, "Chest"), [0, 1, 0], 20)
    assert_rotation(local(p, "LeftUpperArm"), [0, 1, 0], 0)
