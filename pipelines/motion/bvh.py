"""BVH files: write a MotionClip and read one back (ours or another tool's).

Layout follows the Biovision format as Blender's importer (io_anim_bvh/import_bvh.py) parses it:
`HIERARCHY`, then `ROOT`/`JOINT name` each followed by `{` on its own line, `OFFSET x y z`,
`CHANNELS n ...`; leaf joints end in `End Site { OFFSET ... }`; then `MOTION`, `Frames: n`,
`Frame Time: dt` and one line of numbers per frame.

Rotation channels are written in Z X Y order (the CMU mocap convention): the local rotation is
Rz * Rx * Ry applied to column vectors, i.e. intrinsic Z-X-Y Euler angles, which is
`Rotation.from_euler("ZXY", ...)` in scipy. The reader honours whatever order a file declares.
Units are metres (Blender's default import scale of 1 then gives true size).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from pipelines.errors import InputError
from pipelines.motion.clip import MotionClip
from pipelines.motion.skeleton import Skeleton

ROTATION_ORDER = "ZXY"
DECIMALS = 6  # 1e-6 degree and 1e-6 m: far below the 1e-4-of-height round-trip tolerance


def write_bvh(clip: MotionClip, path: str | Path, order: str = ROTATION_ORDER) -> Path:
    """Write `clip` to `path` with rotation channels in `order` (a permutation of "XYZ")."""
    if sorted(order) != ["X", "Y", "Z"]:
        raise InputError(f"rotation order must be a permutation of XYZ, got {order!r}")
    skeleton = clip.skeleton
    children: dict[int, list[int]] = {j: [] for j in range(len(skeleton.joints))}
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            children[parent].append(j)
    rotation_channels = " ".join(f"{axis}rotation" for axis in order)
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        kind = "ROOT" if skeleton.parents[j] < 0 else "JOINT"
        lines.extend([f"{pad}{kind} {skeleton.joints[j]}", f"{pad}{{", f"{pad}\tOFFSET {_numbers(skeleton.offsets[j])}"])
        if skeleton.parents[j] < 0:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rotation_channels}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rotation_channels}")
        for child in children[j]:
            emit(child, depth + 1)
        if not children[j]:
            tip = skeleton.end_sites.get(skeleton.joints[j], np.zeros(3))
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {_numbers(tip)}", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    roots = [j for j, parent in enumerate(skeleton.parents) if parent < 0]
    if len(roots) != 1:
        raise InputError(f"a BVH file has one root joint; this skeleton has {len(roots)}")
    emit(roots[0], 0)
    # BVH motion lines list joints in the order they appear in the hierarchy (depth first).
    file_order = _depth_first(roots[0], children)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Gimbal lock")  # angles are still exact, just not unique
        angles = clip.local_rotations().as_euler(order).reshape(clip.num_frames, -1, 3)
    # +-360 degree jumps between frames are the same rotation but make tools that interpolate channels spin.
    angles = np.degrees(np.unwrap(angles, axis=0))
    lines += ["MOTION", f"Frames: {clip.num_frames}", f"Frame Time: {1.0 / clip.fps:.10f}"]
    for t in range(clip.num_frames):
        values = [clip.root_positions[t]] + [angles[t, j] for j in file_order]
        lines.append(_numbers(np.concatenate(values)))
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def read_bvh(path: str | Path) -> MotionClip:
    """Parse a BVH file into a MotionClip (rotation channels in any order; position channels on the root)."""
    tokens = Path(path).read_text(encoding="utf-8", errors="replace").split()
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise InputError(f"{Path(path).name} is not a BVH file (it must start with HIERARCHY)")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    end_sites: dict[str, np.ndarray] = {}
    stack: list[int] = []
    i = 1
    try:
        while tokens[i].upper() != "MOTION":
            word = tokens[i].upper()
            if word in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                i += 2
            elif word == "END":  # End Site { OFFSET x y z }
                offset = [float(v) for v in tokens[i + 4 : i + 7]]
                end_sites[names[stack[-1]]] = np.array(offset)
                i += 8
            elif word == "{":
                stack.append(len(names) - 1)
                i += 1
            elif word == "}":
                stack.pop()
                i += 1
            elif word == "OFFSET":
                offsets.append([float(v) for v in tokens[i + 1 : i + 4]])
                i += 4
            elif word == "CHANNELS":
                count = int(tokens[i + 1])
                channels.append([c.lower() for c in tokens[i + 2 : i + 2 + count]])
                i += 2 + count
            else:
                raise InputError(f"unexpected word {tokens[i]!r}")
        frames = int(tokens[i + 2])
        frame_time = float(tokens[i + 5])
        data = np.array(tokens[i + 6 :], dtype=float)
    except (IndexError, ValueError) as err:
        raise InputError(f"{Path(path).name} is not a well-formed BVH file: {err}") from err
    width = sum(len(c) for c in channels)
    if data.size != frames * width:
        raise InputError(
            f"{Path(path).name}: {frames} frames of {width} channels need {frames * width} numbers, found {data.size}"
        )
    data = data.reshape(frames, width)
    root_positions = np.zeros((frames, 3))
    rotations = np.zeros((frames, len(names), 4))
    column = 0
    for j, joint_channels in enumerate(channels):
        block = data[:, column : column + len(joint_channels)]
        column += len(joint_channels)
        position = [k for k, c in enumerate(joint_channels) if c.endswith("position")]
        rotation = [k for k, c in enumerate(joint_channels) if c.endswith("rotation")]
        if position and parents[j] >= 0:
            raise InputError(f"{Path(path).name}: position channels on joint {names[j]} (not the root) are not supported")
        if position:  # root position channels are absolute (as Blender reads them); OFFSET is the rest place
            root_positions[:] = offsets[j]  # an axis without a channel keeps its rest place
            for k in position:
                root_positions[:, "xyz".index(joint_channels[k][0])] = block[:, k]
        elif parents[j] < 0:
            root_positions += offsets[j]
        order = "".join(joint_channels[k][0].upper() for k in rotation)
        if rotation:
            rotations[:, j] = Rotation.from_euler(order, block[:, rotation], degrees=True).as_quat()
        else:
            rotations[:, j] = Rotation.identity().as_quat()
    skeleton_offsets = np.array(offsets, dtype=float)
    skeleton_offsets[0] = 0.0  # the root's place lives in root_positions, as in our writer
    skeleton = Skeleton(tuple(names), tuple(parents), skeleton_offsets, end_sites)
    return MotionClip(1.0 / frame_time, skeleton, root_positions, rotations)


def _depth_first(root: int, children: dict[int, list[int]]) -> list[int]:
    order, todo = [], [root]
    while todo:
        j = todo.pop()
        order.append(j)
        todo.extend(reversed(children[j]))
    return order


def _numbers(values: np.ndarray) -> str:
    return " ".join(f"{v:.{DECIMALS}f}" for v in np.asarray(values, dtype=float))
