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
    """Write `clip` to `path` with rotation channels in `order` (a permutation of "XYZ"); a clip holding a
    NaN is refused (every BVH reader and Blender would import it silently)."""
    clip.check_finite()
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


MAX_BVH_BYTES = 16_000_000  # a 60 s clip at 60 fps on our skeleton is ~5 MB; motion libraries' files are smaller
MAX_JOINTS = 512  # far above any humanoid rig (ours has 21, CMU's 31)
MAX_WORD = 64  # characters in one name or number: longer is not a BVH file
READ_BLOCK = 1 << 16  # characters parsed at a time, so memory follows the clip, not the text


class _Words:
    """The whitespace-separated words of a text file, read a block at a time (never the whole file at once)."""

    def __init__(self, file, name: str):
        self.file, self.name = file, name
        self.pending: list[str] = []  # words of the current block, reversed (pop() takes the next one)
        self.tail = ""  # a word cut off at the end of the block read last

    def _fill(self) -> bool:
        while not self.pending:
            block = self.file.read(READ_BLOCK)
            if not block:
                if not self.tail:
                    return False
                self.pending, self.tail = [self.tail], ""
                break
            words = (self.tail + block).split()
            self.tail = words.pop() if words and not block[-1].isspace() else ""
            if len(self.tail) > MAX_WORD:
                raise InputError(f"{self.name} is not a BVH file (it has a {len(self.tail)}-character word)")
            self.pending = words[::-1]
        return True

    def next(self) -> str:
        if not self._fill():
            raise InputError(f"{self.name} is not a well-formed BVH file: it ends too early")
        return self.pending.pop()

    def numbers(self, out: np.ndarray) -> None:
        """Fill the flat array `out` with the next len(out) numbers, a block at a time."""
        filled = 0
        while filled < len(out) and self._fill():
            take = self.pending[::-1][: len(out) - filled]
            del self.pending[len(self.pending) - len(take) :]
            out[filled : filled + len(take)] = np.array(take, dtype=float)
            filled += len(take)
        if filled < len(out) or self._fill():
            found = "more" if filled == len(out) else f"only {filled}"
            raise InputError(f"{self.name}: the motion needs {len(out)} numbers, found {found}")


def read_bvh(path: str | Path) -> MotionClip:
    """Parse a BVH file into a MotionClip (rotation channels in any order; position channels on the root).

    BVH files come from visitors, so the file is read a block at a time with its size capped
    (`MAX_BVH_BYTES`), the frame count is checked against the file's size before any array is made,
    and the clip must hold finite numbers only.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BVH_BYTES:
        raise InputError(f"{path.name} is {size / 1e6:.0f} MB; a BVH clip may be at most {MAX_BVH_BYTES / 1e6:.0f} MB")
    with path.open(encoding="utf-8", errors="replace") as file:
        words = _Words(file, path.name)
        return _parse(words, path.name, size)


def _parse(words: _Words, name: str, size: int) -> MotionClip:
    if words.next().upper() != "HIERARCHY":
        raise InputError(f"{name} is not a BVH file (it must start with HIERARCHY)")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    end_sites: dict[str, np.ndarray] = {}
    stack: list[int] = []
    try:
        word = words.next()
        while word.upper() != "MOTION":
            upper = word.upper()
            if upper in ("ROOT", "JOINT"):
                if len(names) >= MAX_JOINTS:
                    raise InputError(f"{name} has more than {MAX_JOINTS} joints")
                names.append(words.next())
                parents.append(stack[-1] if stack else -1)
            elif upper == "END":  # End Site { OFFSET x y z }
                site = [words.next() for _ in range(6)]
                end_sites[names[stack[-1]]] = np.array([float(v) for v in site[3:6]])
                words.next()  # the closing brace
            elif upper == "{":
                stack.append(len(names) - 1)
            elif upper == "}":
                stack.pop()
            elif upper == "OFFSET":
                offsets.append([float(words.next()) for _ in range(3)])
            elif upper == "CHANNELS":
                count = int(words.next())
                if not 0 <= count <= 6:
                    raise InputError(f"a joint has {count} channels (at most 6)")
                channels.append([words.next().lower() for _ in range(count)])
            else:
                raise InputError(f"unexpected word {word!r}")
            word = words.next()
        words.next()  # "Frames:"
        frames = int(words.next())
        words.next()  # "Frame"
        words.next()  # "Time:"
        frame_time = float(words.next())
        width = sum(len(c) for c in channels)
        if not names or len(channels) != len(names) or len(offsets) != len(names):
            raise InputError("every joint needs an OFFSET and CHANNELS")
        if frames < 1 or not np.isfinite(frame_time) or frame_time <= 0:
            raise InputError(f"{frames} frames of {frame_time} s each is not a motion")
        if frames * width * 2 > size:  # every number takes at least two characters (a digit and a space)
            raise InputError(f"it claims {frames} frames of {width} channels, more than its {size} bytes can hold")
        data = np.empty(frames * width)
        words.numbers(data)
    except (IndexError, ValueError) as err:
        raise InputError(f"{name} is not a well-formed BVH file: {err}") from err
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
            raise InputError(f"{name}: position channels on joint {names[j]} (not the root) are not supported")
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
    clip = MotionClip(1.0 / frame_time, skeleton, root_positions, rotations)
    clip.check_finite()
    return clip


def _depth_first(root: int, children: dict[int, list[int]]) -> list[int]:
    order, todo = [], [root]
    while todo:
        j = todo.pop()
        order.append(j)
        todo.extend(reversed(children[j]))
    return order


def _numbers(values: np.ndarray) -> str:
    return " ".join(f"{v:.{DECIMALS}f}" for v in np.asarray(values, dtype=float))
