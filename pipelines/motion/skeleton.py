"""The character skeleton: a named humanoid hierarchy, its T-pose rest offsets and forward kinematics.

Axes are the usual Y-up BVH convention: +Y up, the character faces +Z, its left hand points to +X
in the rest pose (a T-pose, palms down). Bone lengths come from `BoneLengths`: default adult
proportions, or measured from a video's first frames with `measure_lengths`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from pipelines.motion.landmarks import PoseLandmark

L = PoseLandmark

# (joint, parent) in an order where every parent comes before its children (BVH needs that too).
HIERARCHY = (
    ("Hips", None),
    ("Spine", "Hips"),
    ("Chest", "Spine"),
    ("Neck", "Chest"),
    ("Head", "Neck"),
    ("LeftShoulder", "Chest"),
    ("LeftUpperArm", "LeftShoulder"),
    ("LeftLowerArm", "LeftUpperArm"),
    ("LeftHand", "LeftLowerArm"),
    ("RightShoulder", "Chest"),
    ("RightUpperArm", "RightShoulder"),
    ("RightLowerArm", "RightUpperArm"),
    ("RightHand", "RightLowerArm"),
    ("LeftUpperLeg", "Hips"),
    ("LeftLowerLeg", "LeftUpperLeg"),
    ("LeftFoot", "LeftLowerLeg"),
    ("LeftToes", "LeftFoot"),
    ("RightUpperLeg", "Hips"),
    ("RightLowerLeg", "RightUpperLeg"),
    ("RightFoot", "RightLowerLeg"),
    ("RightToes", "RightFoot"),
)
JOINTS = tuple(name for name, _ in HIERARCHY)
PARENTS = tuple(-1 if parent is None else JOINTS.index(parent) for _, parent in HIERARCHY)


@dataclass(frozen=True)
class BoneLengths:
    """Segment lengths in metres; the defaults are an adult of about 1.74 m."""

    hip_width: float = 0.18  # between the two hip joints
    torso: float = 0.50  # hip centre to shoulder centre
    shoulder_width: float = 0.36  # between the two shoulder (upper arm) joints
    neck: float = 0.12  # shoulder centre to the head joint (base of the skull)
    head: float = 0.20  # head joint to the top of the head
    upper_arm: float = 0.28
    lower_arm: float = 0.25
    hand: float = 0.09  # wrist to knuckles
    upper_leg: float = 0.43
    lower_leg: float = 0.42
    ankle_height: float = 0.07  # ankle joint above the sole
    foot: float = 0.14  # ankle to the ball of the foot, along the ground
    toes: float = 0.06  # ball of the foot to the toe tip

    @property
    def height(self) -> float:
        return self.ankle_height + self.lower_leg + self.upper_leg + self.torso + self.neck + self.head


@dataclass(frozen=True)
class Skeleton:
    """A hierarchy with fixed rest offsets: what a BVH HIERARCHY section describes."""

    joints: tuple[str, ...]
    parents: tuple[int, ...]  # index of each joint's parent, -1 for the root
    offsets: np.ndarray  # (J, 3) rest position of each joint relative to its parent (root: 0)
    end_sites: dict[str, np.ndarray]  # leaf joint name -> offset of the bone's tip (BVH "End Site")

    def index(self, name: str) -> int:
        return self.joints.index(name)

    @property
    def height(self) -> float:
        """Rest height from the lowest to the highest point: the scale for tolerances."""
        points = rest_points(self)
        return float(np.ptp(points[:, 1]))


def build_skeleton(lengths: BoneLengths = BoneLengths()) -> Skeleton:
    """T-pose offsets for `lengths`: the rest pose every solver and file shares, defined once here."""
    b = lengths
    half_hips, half_shoulders = b.hip_width / 2, b.shoulder_width / 2
    clavicle_x = 0.15 * half_shoulders  # the clavicle joint sits just off the midline
    offsets = {
        "Hips": (0, 0, 0),
        "Spine": (0, 0.35 * b.torso, 0),
        "Chest": (0, 0.35 * b.torso, 0),
        "Neck": (0, 0.30 * b.torso, 0),  # at the shoulder centre
        "Head": (0, b.neck, 0),
        "LeftShoulder": (clavicle_x, 0.22 * b.torso, 0),
        "LeftUpperArm": (half_shoulders - clavicle_x, 0.08 * b.torso, 0),
        "LeftLowerArm": (b.upper_arm, 0, 0),
        "LeftHand": (b.lower_arm, 0, 0),
        "LeftUpperLeg": (half_hips, 0, 0),
        "LeftLowerLeg": (0, -b.upper_leg, 0),
        "LeftFoot": (0, -b.lower_leg, 0),
        "LeftToes": (0, -b.ankle_height, b.foot),
    }
    for name in [n for n in offsets if n.startswith("Left")]:  # the right side mirrors the left
        x, y, z = offsets[name]
        offsets["Right" + name[4:]] = (-x, y, z)
    end_sites = {
        "Head": np.array([0, b.head, 0.0]),
        "LeftHand": np.array([b.hand, 0, 0.0]),
        "RightHand": np.array([-b.hand, 0, 0.0]),
        "LeftToes": np.array([0, 0, b.toes]),
        "RightToes": np.array([0, 0, b.toes]),
    }
    return Skeleton(JOINTS, PARENTS, np.array([offsets[j] for j in JOINTS], dtype=float), end_sites)


def rest_points(skeleton: Skeleton) -> np.ndarray:
    """Rest positions of all joints and end sites (J + E, 3)."""
    joints, ends = forward_kinematics(skeleton, Rotation.identity(len(skeleton.joints)), np.zeros(3))
    return np.concatenate([joints, ends])


def forward_kinematics(
    skeleton: Skeleton, local: Rotation, root_position: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Joint and end-site positions from local rotations.

    local: a Rotation holding J (one frame) or T*J (frames, joint-major inside) rotations;
    root_position: (3,) or (T, 3). Returns (T?, J, 3) joints and (T?, E, 3) end sites, in the
    order of `skeleton.end_sites`. Each joint's global rotation is its parent's times its own
    local one; its position is the parent's plus the parent's rotation applied to its offset.
    """
    joints = len(skeleton.joints)
    root_position = np.asarray(root_position, dtype=float)
    single = root_position.ndim == 1
    roots = root_position[None] if single else root_position
    frames = len(roots)
    glob = world_rotations(skeleton, local, frames)
    pos = np.zeros((frames, joints, 3))
    for j, parent in enumerate(skeleton.parents):
        if parent < 0:
            pos[:, j] = roots + skeleton.offsets[j]
        else:
            pos[:, j] = pos[:, parent] + glob[parent].apply(skeleton.offsets[j])
    ends = np.zeros((frames, len(skeleton.end_sites), 3))
    for e, (name, tip) in enumerate(skeleton.end_sites.items()):
        j = skeleton.index(name)
        ends[:, e] = pos[:, j] + glob[j].apply(tip)
    return (pos[0], ends[0]) if single else (pos, ends)


def world_rotations(skeleton: Skeleton, local: Rotation, frames: int | None = None) -> list[Rotation]:
    """Each joint's rotation in the world (a Rotation of T per joint): its parent's times its own local one.

    local: T*J rotations, frame-major (as `MotionClip.local_rotations` gives them); `frames` = T when known.
    """
    joints = len(skeleton.joints)
    quats = local.as_quat().reshape(frames or -1, joints, 4)
    glob: list[Rotation] = []
    for j, parent in enumerate(skeleton.parents):
        here = Rotation.from_quat(quats[:, j])
        glob.append(here if parent < 0 else glob[parent] * here)
    return glob


def measure_lengths(world: np.ndarray, visibility: np.ndarray, min_visibility: float = 0.7) -> BoneLengths:
    """Bone lengths of the person in a clip's first frames (world landmarks, metres), left/right averaged.

    Uses the median over frames where both ends of a segment are clearly visible, so a few bad
    frames do not matter; a segment never seen clearly keeps its default length.
    """
    default = BoneLengths()

    def seg(a: PoseLandmark | tuple, b: PoseLandmark | tuple) -> np.ndarray:
        pa = world[:, list(a)].mean(axis=1) if isinstance(a, tuple) else world[:, a]
        pb = world[:, list(b)].mean(axis=1) if isinstance(b, tuple) else world[:, b]
        ids = [*(a if isinstance(a, tuple) else (a,)), *(b if isinstance(b, tuple) else (b,))]
        seen = (visibility[:, ids] >= min_visibility).all(axis=1) & np.isfinite(pa[:, 0]) & np.isfinite(pb[:, 0])
        return np.linalg.norm(pa - pb, axis=-1)[seen]

    def pair(left: tuple, right: tuple, fallback: float) -> float:
        values = np.concatenate([seg(*left), seg(*right)])
        return float(np.median(values)) if len(values) else fallback

    def one(a: PoseLandmark | tuple, b: PoseLandmark | tuple, fallback: float) -> float:
        values = seg(a, b)
        return float(np.median(values)) if len(values) else fallback

    hips, shoulders, ears = (L.LEFT_HIP, L.RIGHT_HIP), (L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_EAR, L.RIGHT_EAR)
    ankle_to_toe = pair((L.LEFT_ANKLE, L.LEFT_FOOT_INDEX), (L.RIGHT_ANKLE, L.RIGHT_FOOT_INDEX), default.foot + default.toes)
    return BoneLengths(
        hip_width=one(L.LEFT_HIP, L.RIGHT_HIP, default.hip_width),
        torso=one(hips, shoulders, default.torso),
        shoulder_width=one(L.LEFT_SHOULDER, L.RIGHT_SHOULDER, default.shoulder_width),
        neck=0.8 * one(shoulders, ears, default.neck / 0.8),  # ears sit a little above the skull base
        head=1.3 * one(L.LEFT_EAR, L.RIGHT_EAR, default.head / 1.3),  # head height from head width
        upper_arm=pair((L.LEFT_SHOULDER, L.LEFT_ELBOW), (L.RIGHT_SHOULDER, L.RIGHT_ELBOW), default.upper_arm),
        lower_arm=pair((L.LEFT_ELBOW, L.LEFT_WRIST), (L.RIGHT_ELBOW, L.RIGHT_WRIST), default.lower_arm),
        hand=pair(
            (L.LEFT_WRIST, (L.LEFT_INDEX, L.LEFT_PINKY)), (L.RIGHT_WRIST, (L.RIGHT_INDEX, L.RIGHT_PINKY)), default.hand
        ),
        upper_leg=pair((L.LEFT_HIP, L.LEFT_KNEE), (L.RIGHT_HIP, L.RIGHT_KNEE), default.upper_leg),
        lower_leg=pair((L.LEFT_KNEE, L.LEFT_ANKLE), (L.RIGHT_KNEE, L.RIGHT_ANKLE), default.lower_leg),
        ankle_height=pair((L.LEFT_ANKLE, L.LEFT_HEEL), (L.RIGHT_ANKLE, L.RIGHT_HEEL), default.ankle_height),
        foot=0.7 * ankle_to_toe,
        toes=0.3 * ankle_to_toe,
    )

