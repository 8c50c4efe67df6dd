"""MotionClip: a skeleton plus per-frame root positions and local joint rotations, and its edits.

Edits return new clips and never touch bone offsets, so a character keeps its proportions whatever
is done to its motion. What each edit really does is said in its docstring; none invents motion
that was not in the source.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from pipelines.errors import InputError
from pipelines.motion.skeleton import Skeleton, forward_kinematics


@dataclass(frozen=True)
class MotionClip:
    """Motion for one skeleton at a constant frame rate (the content of a BVH file)."""

    fps: float
    skeleton: Skeleton
    root_positions: np.ndarray  # (T, 3) metres, Y up
    rotations: np.ndarray  # (T, J, 4) local rotations as scipy quaternions (x, y, z, w)

    @property
    def num_frames(self) -> int:
        return len(self.root_positions)

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.skeleton.joints

    @property
    def parents(self) -> tuple[int, ...]:
        return self.skeleton.parents

    @property
    def offsets(self) -> np.ndarray:
        return self.skeleton.offsets

    def check_finite(self) -> None:
        """Raise InputError naming what is not a finite number: a NaN must never reach a file or a preview
        (BVH readers and Blender import one silently, and the character vanishes)."""
        if self.num_frames < 1:
            raise InputError("the clip has no frames")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise InputError(f"the clip's frame rate must be a positive number, got {self.fps}")
        for what, values in (("root positions", self.root_positions), ("joint rotations", self.rotations),
                             ("bone offsets", self.skeleton.offsets)):  # fmt: skip
            bad = ~np.isfinite(values)
            if bad.any():
                frames = np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))
                raise InputError(f"the clip's {what} are not finite numbers in {len(frames)} of {len(values)} "
                                 f"{'frames' if what != 'bone offsets' else 'joints'} (first: {frames[0]})")
        if (np.linalg.norm(self.rotations, axis=-1) < 1e-6).any():
            raise InputError("the clip has zero-length rotation quaternions")

    def local_rotations(self) -> Rotation:
        """All rotations as one Rotation of T*J, frame-major (the layout forward kinematics takes)."""
        return Rotation.from_quat(self.rotations.reshape(-1, 4))

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """World positions of joints (T, J, 3) and end sites (T, E, 3)."""
        return forward_kinematics(self.skeleton, self.local_rotations(), self.root_positions)

    def _with(self, root_positions: np.ndarray, rotations: np.ndarray) -> MotionClip:
        return replace(self, root_positions=np.asarray(root_positions), rotations=np.asarray(rotations))

    def retime(self, speed: float) -> MotionClip:
        """Play `speed` times faster (2 = twice as fast, 0.5 = slow motion) at the same frame rate.

        New frames are interpolated: rotations by spherical interpolation (slerp), the root
        linearly. Slowing down cannot add detail the video did not have; it only fills between.
        """
        if not 0.1 <= speed <= 10:
            raise InputError(f"speed must be between 0.1 and 10, got {speed}")
        count = max(1, int(round((self.num_frames - 1) / speed)) + 1)
        source_times = np.arange(self.num_frames, dtype=float)
        times = np.minimum(np.arange(count) * speed, self.num_frames - 1)
        if self.num_frames == 1:
            return self._with(np.repeat(self.root_positions, count, 0), np.repeat(self.rotations, count, 0))
        root = np.stack([np.interp(times, source_times, self.root_positions[:, d]) for d in range(3)], axis=1)
        joints = self.rotations.shape[1]
        rotations = np.stack(
            [Slerp(source_times, Rotation.from_quat(self.rotations[:, j]))(times).as_quat() for j in range(joints)], axis=1
        )
        return self._with(root, rotations)

    def mirror(self) -> MotionClip:
        """Left and right swapped: a right-handed wave becomes a left-handed one.

        Reflection through the YZ plane: x positions change sign and each rotation's quaternion
        (x, y, z, w) becomes (x, -y, -z, w); left and right joints trade motions. The skeleton is
        symmetric, so bone offsets stay as they are.
        """
        swap = [self.skeleton.index(_other_side(name)) for name in self.joint_names]
        reflect = np.array([1.0, -1.0, -1.0, 1.0])
        root = self.root_positions * np.array([-1.0, 1.0, 1.0])
        return self._with(root, self.rotations[:, swap] * reflect)

    def loop(self, blend: float) -> MotionClip:
        """A clip that plays seamlessly on repeat: the last `blend` seconds cross-fade into the start.

        The result is `blend` seconds shorter. Its first frames are a slerp from the clip's tail to
        its head, so the last frame flows into the first. Forward travel is kept: at the seam the
        root jumps back by one cycle's distance, which a game engine applies as root motion.
        """
        frames = int(round(blend * self.fps))
        if frames < 1 or frames > self.num_frames // 2:
            raise InputError(
                f"loop blend must be between {1 / self.fps:.2f} s and half the clip ({self.duration / 2:.2f} s), got {blend} s"
            )
        keep = self.num_frames - frames
        weight = (np.arange(frames) + 1.0) / (frames + 1.0)  # 0 -> tail, 1 -> head, never exactly either
        tail, head = self.rotations[keep:], self.rotations[:frames]
        blended = np.empty_like(head)
        for i in range(frames):
            for j in range(tail.shape[1]):
                blended[i, j] = Slerp([0.0, 1.0], Rotation.from_quat([tail[i, j], head[i, j]]))(weight[i]).as_quat()
        travel = self.root_positions[keep] - self.root_positions[0]
        travel[1] = 0.0  # height is not travel
        root_tail = self.root_positions[keep:] - travel
        root = self.root_positions[:keep].copy()
        root[:frames] = (1 - weight[:, None]) * root_tail + weight[:, None] * self.root_positions[:frames]
        rotations = self.rotations[:keep].copy()
        rotations[:frames] = blended
        return self._with(root, rotations)

    def scale_amplitude(self, factor: float) -> MotionClip:
        """Exaggerate (factor > 1) or damp (< 1) the motion around the clip's average pose.

        Each joint's rotation away from its mean rotation is scaled (a power of the relative
        rotation), and so is the root's travel. On a walk this lengthens or shortens the stride
        and the arm swing; feet are not re-planted, so large factors make them slide a little.
        """
        if not 0.0 <= factor <= 3.0:
            raise InputError(f"amplitude factor must be between 0 and 3, got {factor}")
        rotations = np.empty_like(self.rotations)
        for j in range(self.rotations.shape[1]):
            motion = Rotation.from_quat(self.rotations[:, j])
            mean = motion.mean()
            rotations[:, j] = (mean * Rotation.from_rotvec((mean.inv() * motion).as_rotvec() * factor)).as_quat()
        start = self.root_positions[0]
        root = start + (self.root_positions - start) * np.array([factor, 1.0, factor])
        return self._with(root, rotations)


def _other_side(name: str) -> str:
    if name.startswith("Left"):
        return "Right" + name[4:]
    if name.startswith("Right"):
        return "Left" + name[5:]
    return name
