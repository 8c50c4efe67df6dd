"""Pose solvers: named landmark positions in, joint rotations out. Pure functions, no tracker.

Every bone's world orientation is found by aligning two directions measured on the body with the
same two directions in the T-pose: the bone points exactly along the limb and the second direction
only fixes its twist (what `Rotation.align_vectors` gives with the bone direction weighted
infinitely, computed here in closed form from two orthonormal frames). Local rotations, as a BVH
stores them, are then parent^-1 * child.

Every function works on a whole clip at once: points are (T, 33, 3) arrays and directions (T, 3)
(one frame's (3,) vectors broadcast), so a clip costs a few array operations per bone instead of a
solver call per bone and frame. Points are in character axes (+Y up, the person facing +Z, their
left at +X); see `landmarks.world_to_character`. A body in a T-pose, palms down, gives identity.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy.spatial.transform import Rotation

from pipelines.motion.landmarks import PoseLandmark
from pipelines.motion.skeleton import Skeleton

L = PoseLandmark
X, Y, Z = np.eye(3)
FULL_BEND_SINE = 0.35  # a limb bent ~20 degrees or more has a reliable bend plane; straighter ones borrow a twist
EPS = 1e-9

Points = Mapping[PoseLandmark, np.ndarray]  # one frame: landmark -> (3,) position; a (33, 3) array also works


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), EPS)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1, keepdims=True)


def across(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """The part of `v` perpendicular to the unit vector `axis`, as a unit vector."""
    return unit(v - _dot(v, axis) * axis)


def _frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3), columns: `primary`, the part of `secondary` across it, their cross product.

    A secondary (nearly) along the primary fixes no twist; any direction across the primary is used then.
    """
    first = unit(primary)
    second = secondary - _dot(secondary, first) * first
    flat = np.linalg.norm(second, axis=-1) < 1e-6
    if flat.any():
        spare = np.where(np.abs(first[..., :1]) < 0.9, X, Y)
        second = np.where(flat[..., None], np.cross(first, spare), second)
    second = unit(second)
    return np.stack([first, second, np.cross(first, second)], axis=-1)


def orient(primary: np.ndarray, secondary: np.ndarray, rest_primary: np.ndarray, rest_secondary: np.ndarray) -> Rotation:
    """The rotation taking `rest_primary` exactly onto `primary`, turned about it to best match the secondaries."""
    primary, secondary = np.broadcast_arrays(primary, secondary)
    measured = _frame(primary, secondary)
    rest = _frame(*np.broadcast_arrays(rest_primary, rest_secondary))
    return Rotation.from_matrix(measured @ np.swapaxes(rest, -1, -2))


def bend_direction(bone: np.ndarray, child: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Direction a limb bends toward, perpendicular to `bone`: where the `child` segment leans.

    A nearly straight limb has no bend plane, so we blend toward `fallback` (e.g. the chest's
    forward direction) as the limb straightens; the twist then changes smoothly instead of
    flipping.
    """
    bone = unit(bone)
    weight = np.minimum(np.linalg.norm(np.cross(bone, unit(child)), axis=-1, keepdims=True) / FULL_BEND_SINE, 1.0)
    return unit(weight * across(child, bone) + (1.0 - weight) * across(fallback, bone))


def centre(points: np.ndarray, *landmarks: PoseLandmark) -> np.ndarray:
    return points[..., list(landmarks), :].mean(axis=-2)


def solve_hips(points: np.ndarray) -> Rotation:
    """Pelvis: the hip line (right to left hip) is +X at rest, the spine (hips to shoulders) +Y."""
    hips = points[..., L.LEFT_HIP, :] - points[..., L.RIGHT_HIP, :]
    spine = centre(points, L.LEFT_SHOULDER, L.RIGHT_SHOULDER) - centre(points, L.LEFT_HIP, L.RIGHT_HIP)
    return orient(hips, spine, X, Y)


def solve_chest(points: np.ndarray) -> Rotation:
    """Chest: the spine (hips to shoulders) is +Y at rest, the shoulder line +X."""
    spine = centre(points, L.LEFT_SHOULDER, L.RIGHT_SHOULDER) - centre(points, L.LEFT_HIP, L.RIGHT_HIP)
    shoulders = points[..., L.LEFT_SHOULDER, :] - points[..., L.RIGHT_SHOULDER, :]
    return orient(spine, shoulders, Y, X)


def solve_neck(points: np.ndarray, chest: Rotation) -> Rotation:
    """Neck: shoulder centre to ear centre is +Y at rest; it bends but does not twist against the
    chest (its +X stays as close to the chest's as it can), so turning the head is the head's job."""
    neck = centre(points, L.LEFT_EAR, L.RIGHT_EAR) - centre(points, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    return orient(neck, chest.apply(X), Y, X)


def solve_head(points: np.ndarray) -> Rotation:
    """Head: the ear line is +X at rest; mouth to eyes is +Y (up the face), which fixes nodding."""
    ears = points[..., L.LEFT_EAR, :] - points[..., L.RIGHT_EAR, :]
    face_up = centre(points, L.LEFT_EYE, L.RIGHT_EYE) - centre(points, L.MOUTH_LEFT, L.MOUTH_RIGHT)
    return orient(ears, face_up, X, Y)


def solve_arm(points: np.ndarray, side: str, chest: Rotation) -> tuple[Rotation, Rotation, Rotation]:
    """World rotations of one arm's upper arm, lower arm and hand; `side` is "LEFT" or "RIGHT".

    At rest the arm points sideways (+X left, -X right), palm down, so the elbow bends toward
    +Z and the index knuckle is ahead (+Z) of the pinky's.
    """
    lm = lambda part: points[..., L[f"{side}_{part}"], :]  # noqa: E731 - reads as anatomy: lm("ELBOW")
    out = X if side == "LEFT" else -X
    upper_dir, lower_dir = lm("ELBOW") - lm("SHOULDER"), lm("WRIST") - lm("ELBOW")
    upper = orient(upper_dir, bend_direction(upper_dir, lower_dir, chest.apply(Z)), out, Z)
    lower = orient(lower_dir, upper.apply(Y), out, Y)  # a hinge: keeps the upper arm's bend axis
    knuckles = (lm("INDEX") + lm("PINKY")) / 2
    hand = orient(knuckles - lm("WRIST"), lm("INDEX") - lm("PINKY"), out, Z)
    return upper, lower, hand


def solve_leg(points: np.ndarray, side: str, foot_rest: np.ndarray) -> tuple[Rotation, Rotation, Rotation]:
    """World rotations of one leg's upper leg, lower leg and foot; `side` is "LEFT" or "RIGHT".

    At rest the leg points down (-Y) and the knee bends so the shin swings back, i.e. the knee
    faces +Z; a straight leg takes its facing from the foot. `foot_rest` is the rest direction
    from ankle to toe tip (it depends on the foot's proportions).
    """
    lm = lambda part: points[..., L[f"{side}_{part}"], :]  # noqa: E731
    thigh, shin = lm("KNEE") - lm("HIP"), lm("ANKLE") - lm("KNEE")
    foot = lm("FOOT_INDEX") - lm("ANKLE")
    upper = orient(thigh, bend_direction(thigh, -shin, foot), -Y, Z)
    lower = orient(shin, upper.apply(X), -Y, X)  # a hinge about the knee axis
    foot_rotation = orient(foot, lower.apply(X), foot_rest, X)
    return upper, lower, foot_rotation


def solve_frame(points: Points | np.ndarray, skeleton: Skeleton) -> Rotation:
    """Local rotations (one per skeleton joint, in its order) for one frame of named points."""
    if isinstance(points, Mapping):
        points = np.stack([points[lm] for lm in PoseLandmark])
    return solve_clip(np.asarray(points, dtype=float)[None], skeleton)


def halfway(a: Rotation, b: Rotation) -> Rotation:
    """The rotation halfway from `a` to `b` (frame by frame): their mean, for two."""
    return a * Rotation.from_rotvec(0.5 * (a.inv() * b).as_rotvec())


def solve_clip(points: np.ndarray, skeleton: Skeleton) -> Rotation:
    """Local rotations for every frame: points (T, 33, 3) in character axes -> Rotation of T*J, frame-major."""
    hips, chest = solve_hips(points), solve_chest(points)
    world = {
        "Hips": hips,
        "Spine": halfway(hips, chest),  # the spine takes half the bend and twist
        "Chest": chest,
        "Neck": solve_neck(points, chest),
        "Head": solve_head(points),
        "LeftShoulder": chest,  # MediaPipe sees no shrug: clavicles follow the chest
        "RightShoulder": chest,
    }
    for side, name in (("LEFT", "Left"), ("RIGHT", "Right")):
        world[f"{name}UpperArm"], world[f"{name}LowerArm"], world[f"{name}Hand"] = solve_arm(points, side, chest)
        toes = skeleton.index(f"{name}Toes")
        foot_rest = skeleton.offsets[toes] + skeleton.end_sites[f"{name}Toes"]
        world[f"{name}UpperLeg"], world[f"{name}LowerLeg"], world[f"{name}Foot"] = solve_leg(points, side, foot_rest)
        world[f"{name}Toes"] = world[f"{name}Foot"]  # no toe landmarks bend: toes stay in line
    return to_local(world, skeleton)


def to_local(world: Mapping[str, Rotation], skeleton: Skeleton) -> Rotation:
    """World rotations by joint name (T each) -> local rotations (parent^-1 * child), T*J frame-major."""
    local = [world[name] if parent < 0 else world[skeleton.joints[parent]].inv() * world[name]
             for name, parent in zip(skeleton.joints, skeleton.parents)]  # fmt: skip
    quats = np.stack([rotation.as_quat() for rotation in local], axis=1)  # (T, J, 4)
    return Rotation.from_quat(quats.reshape(-1, 4))
