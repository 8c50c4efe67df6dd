"""Planted feet that stay put: two-bone leg IK on a finished clip.

Moving the root can hold one planted foot exactly, but with both feet down it can only split the
difference, so each foot slides by half of it. Here each planted foot is pinned where its contact
began, and the leg reaches it by bending the knee and turning the hip (the law of cosines in the
plane the knee already bends in), while the foot keeps its world orientation. When a contact ends
the correction fades out over `fade` seconds instead of snapping back. Pure arrays in and out.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from pipelines.motion.clip import MotionClip
from pipelines.motion.skeleton import forward_kinematics, world_rotations

LEGS = (("LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToes"), ("RightUpperLeg", "RightLowerLeg", "RightFoot", "RightToes"))
REACH = 0.999  # never stretch a leg fully straight: the knee direction would become undefined


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def turn_between(a: np.ndarray, b: np.ndarray) -> Rotation:
    """The smallest rotations taking directions a (N, 3) onto b (N, 3)."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    angle = np.arctan2(np.linalg.norm(axis, axis=-1), np.einsum("ij,ij->i", a, b))
    return Rotation.from_rotvec(_unit(axis) * angle[:, None])


def two_bone(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New knee and ankle positions (N, 3) that put the ankle on `target` with both bone lengths kept.

    The knee stays in the plane it already bends in (hip, knee, target); a target out of reach is
    approached along the same line as far as the leg goes.
    """
    upper = np.linalg.norm(knee - hip, axis=-1)
    lower = np.linalg.norm(ankle - knee, axis=-1)
    reach = target - hip
    direction = _unit(reach)
    distance = np.clip(np.linalg.norm(reach, axis=-1), np.abs(upper - lower) + 1e-6, REACH * (upper + lower))
    bend = (knee - hip) - np.einsum("ij,ij->i", knee - hip, direction)[:, None] * direction
    straight = np.linalg.norm(bend, axis=-1) < 1e-6  # no bend plane: bend forward (+Z), the way knees go
    bend[straight] = np.cross(direction[straight], [1.0, 0.0, 0.0])
    bend = _unit(bend)
    cos_hip = np.clip((upper**2 + distance**2 - lower**2) / (2 * upper * distance), -1.0, 1.0)
    new_knee = hip + upper[:, None] * (cos_hip[:, None] * direction + np.sqrt(1 - cos_hip**2)[:, None] * bend)
    return new_knee, hip + distance[:, None] * direction


def pin_targets(balls: np.ndarray, planted: np.ndarray, fade_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each frame's ball of the foot should be (T, 3) and how much of that correction applies (T,).

    A planted run is pinned, in x and z, where it began; after the run the last correction fades
    linearly over `fade_frames` (or until the next run begins). Height is left as it is.
    """
    frames = len(balls)
    offset = np.zeros((frames, 3))
    weight = np.zeros(frames)
    t = 0
    while t < frames:
        if not planted[t]:
            t += 1
            continue
        start = t
        while t < frames and planted[t]:
            t += 1
        offset[start:t, [0, 2]] = balls[start, [0, 2]] - balls[start:t, [0, 2]]
        weight[start:t] = 1.0
        for k in range(1, fade_frames + 1):
            if t + k - 1 >= frames or planted[t + k - 1]:
                break
            offset[t + k - 1] = offset[t - 1]
            weight[t + k - 1] = 1.0 - k / (fade_frames + 1)
    return balls + offset * weight[:, None], weight


def plant_feet(clip: MotionClip, contacts: np.ndarray, fade: float = 0.15) -> MotionClip:
    """`clip` with each leg re-solved so planted feet (contacts: (T, 2) left/right) stay where they landed."""
    skeleton = clip.skeleton
    local = clip.local_rotations()
    joints, _ = forward_kinematics(skeleton, local, clip.root_positions)
    world = world_rotations(skeleton, local)
    rotations = clip.rotations.copy()
    fade_frames = max(0, int(round(fade * clip.fps)))
    for side, (thigh, shin, foot, toes) in enumerate(LEGS):
        j_thigh, j_shin, j_foot, j_toes = (skeleton.index(name) for name in (thigh, shin, foot, toes))
        targets, weight = pin_targets(joints[:, j_toes], contacts[:, side], fade_frames)
        moved = weight > 0
        if not moved.any():
            continue
        hip, knee, ankle = joints[moved, j_thigh], joints[moved, j_shin], joints[moved, j_foot]
        new_knee, new_ankle = two_bone(hip, knee, ankle, ankle + targets[moved] - joints[moved, j_toes])
        upper_turn = turn_between(knee - hip, new_knee - hip)
        upper = upper_turn * world[j_thigh][moved]
        lower_turn = turn_between(upper_turn.apply(ankle - knee), new_ankle - new_knee)
        lower = lower_turn * upper_turn * world[j_shin][moved]
        parent = world[skeleton.parents[j_thigh]][moved]
        rotations[moved, j_thigh] = (parent.inv() * upper).as_quat()
        rotations[moved, j_shin] = (upper.inv() * lower).as_quat()
        rotations[moved, j_foot] = (lower.inv() * world[j_foot][moved]).as_quat()  # the foot keeps its world turn
    return MotionClip(clip.fps, skeleton, clip.root_positions, rotations)


def foot_skate(clip: MotionClip, contacts: np.ndarray) -> float:
    """Mean horizontal travel (cm) of the ball of a planted foot from one planted frame to the next: 0 is no skate
    (NaN when no foot is planted in two frames running: there is nothing to measure)."""
    joints, _ = clip.positions()
    steps = []
    for side, (*_, toes) in enumerate(LEGS):
        held = contacts[1:, side] & contacts[:-1, side]
        step = np.diff(joints[:, clip.skeleton.index(toes)][:, [0, 2]], axis=0)
        steps.extend(np.linalg.norm(step[held], axis=-1) * 100.0)
    return float(np.mean(steps)) if steps else float("nan")
