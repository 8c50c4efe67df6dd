"""glTF 2.0 binary (.glb) export: the skeleton as a skin, a stick-figure mesh bound to it, and the clip as an animation.

Game engines, three.js and Blender import glTF directly, so a clip needs no BVH retargeting step there.
The file holds one node per joint (rest offsets as translations, as in the BVH), a skin whose inverse
bind matrices undo the T-pose, a mesh of one box per bone rigidly weighted to that bone's joint (so
the animation is visible on its own), and one animation with the root's translation and every joint's
local rotation per frame. glTF and scipy both store quaternions as (x, y, z, w), metres and +Y up, so
the clip's numbers go in as they are. Layout follows the glTF 2.0 spec: a 12-byte header, a JSON
chunk padded with spaces and a BIN chunk padded with zeros, every accessor 4-byte aligned.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from pipelines.motion.clip import MotionClip
from pipelines.motion.skeleton import Skeleton, rest_points

BONE_WIDTH = 0.04  # metres: the stick figure's limb thickness
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963  # bufferView targets for vertex data and indices
FLOAT, UNSIGNED_SHORT = 5126, 5123  # accessor component types
# The 8 corners of a unit box around a segment from (0,0,0) to (0,1,0), and its 12 triangles.
_CORNERS = np.array([[x, y, z] for y in (0.0, 1.0) for x in (-0.5, 0.5) for z in (-0.5, 0.5)])
_TRIANGLES = np.array([
    [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
    [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],
])  # fmt: skip


def write_glb(clip: MotionClip, path: str | Path) -> Path:
    """Write `clip` as a binary glTF 2.0 file: skinned stick figure + one animation (LINEAR, at the clip's frame times)."""
    clip.check_finite()
    skeleton = clip.skeleton
    joints = len(skeleton.joints)
    rest = rest_points(skeleton)[:joints]  # T-pose joint positions with the root at the origin
    floor = -rest_points(skeleton)[:, 1].min()  # root height that puts the rest pose's soles on the floor
    rest_root = np.array([0.0, floor, 0.0])
    bind = rest + rest_root

    data = _Buffer()
    vertices, weights_joint, triangles = _stick_figure(skeleton, bind)
    position = data.add(vertices.astype(np.float32), "VEC3", ARRAY_BUFFER, bounds=True)
    joint_ids = data.add(np.stack([weights_joint] + [np.zeros_like(weights_joint)] * 3, 1).astype(np.uint16), "VEC4", ARRAY_BUFFER)
    weights = data.add(np.tile(np.array([1.0, 0, 0, 0], np.float32), (len(vertices), 1)), "VEC4", ARRAY_BUFFER)
    indices = data.add(triangles.astype(np.uint16).reshape(-1), "SCALAR", ELEMENT_ARRAY_BUFFER)
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (joints, 1, 1))
    inverse_bind[:, 3, :3] = -bind  # column-major: the translation sits in the last column, i.e. row 3 here
    ibm = data.add(inverse_bind.reshape(joints, 16), "MAT4")

    times = data.add((np.arange(clip.num_frames) / clip.fps).astype(np.float32), "SCALAR", bounds=True)
    root = data.add(clip.root_positions.astype(np.float32), "VEC3")
    rotations = clip.rotations / np.linalg.norm(clip.rotations, axis=-1, keepdims=True)
    samplers = [{"input": times, "output": root, "interpolation": "LINEAR"}]
    channels = [{"sampler": 0, "target": {"node": 0, "path": "translation"}}]
    for j in range(joints):
        samplers.append({"input": times, "output": data.add(rotations[:, j].astype(np.float32), "VEC4"), "interpolation": "LINEAR"})
        channels.append({"sampler": j + 1, "target": {"node": j, "path": "rotation"}})

    nodes = []
    for j, name in enumerate(skeleton.joints):
        node = {"name": name, "translation": (rest_root if skeleton.parents[j] < 0 else skeleton.offsets[j]).tolist()}
        children = [c for c, parent in enumerate(skeleton.parents) if parent == j]
        if children:
            node["children"] = children
        nodes.append(node)
    nodes.append({"name": "StickFigure", "mesh": 0, "skin": 0})
    root_joint = skeleton.parents.index(-1)
    document = {
        "asset": {"version": "2.0", "generator": "Character Studio motion capture"},
        "scene": 0,
        "scenes": [{"nodes": [root_joint, joints]}],
        "nodes": nodes,
        "skins": [{"joints": list(range(joints)), "inverseBindMatrices": ibm, "skeleton": root_joint}],
        "meshes": [{"name": "StickFigure", "primitives": [{
            "attributes": {"POSITION": position, "JOINTS_0": joint_ids, "WEIGHTS_0": weights}, "indices": indices,
        }]}],
        "animations": [{"name": "capture", "samplers": samplers, "channels": channels}],
        **data.document(),
    }  # fmt: skip
    path = Path(path)
    path.write_bytes(_glb(document, data.bytes()))
    return path


def _stick_figure(skeleton: Skeleton, bind: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (N, 3) in the bind pose, the joint each vertex follows (N,), triangles (M, 3): one box per bone.

    A bone from joint p to child j is drawn along p's frame, so it follows p; end sites give the last
    bones (head, hands, toes) their length.
    """
    segments = [(p, bind[p], bind[j]) for j, p in enumerate(skeleton.parents) if p >= 0]
    segments += [(skeleton.index(name), bind[skeleton.index(name)], bind[skeleton.index(name)] + tip)
                 for name, tip in skeleton.end_sites.items()]  # fmt: skip
    vertices, owners, triangles = [], [], []
    for owner, start, end in segments:
        axis = end - start
        length = float(np.linalg.norm(axis))
        if length < 1e-6:
            continue
        y = axis / length
        helper = np.array([1.0, 0, 0]) if abs(y[0]) < 0.9 else np.array([0, 0, 1.0])
        x = np.cross(y, helper)
        x /= np.linalg.norm(x)
        z = np.cross(x, y)
        corners = start + _CORNERS[:, [0]] * BONE_WIDTH * x + _CORNERS[:, [1]] * axis + _CORNERS[:, [2]] * BONE_WIDTH * z
        triangles.append(_TRIANGLES + len(vertices) * 8)
        vertices.append(corners)
        owners.append(np.full(8, owner))
    return np.concatenate(vertices), np.concatenate(owners), np.concatenate(triangles)


class _Buffer:
    """One binary buffer that accessors are appended to, each in its own 4-byte aligned bufferView."""

    TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint16): UNSIGNED_SHORT}

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._length = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        """Append `array` (rows = elements) and return its accessor index; `bounds` records min/max (the spec
        requires them on POSITION and on animation times)."""
        raw = np.ascontiguousarray(array).tobytes()
        view = {"buffer": 0, "byteOffset": self._length, "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        pad = (-len(raw)) % 4
        self._chunks.append(raw + b"\0" * pad)
        self._length += len(raw) + pad
        accessor = {"bufferView": len(self.views) - 1, "componentType": self.TYPES[array.dtype],
                    "count": int(array.shape[0]), "type": kind}  # fmt: skip
        if bounds:
            flat = array.reshape(array.shape[0], -1)
            accessor["min"], accessor["max"] = flat.min(axis=0).tolist(), flat.max(axis=0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    def bytes(self) -> bytes:
        return b"".join(self._chunks)

    def document(self) -> dict:
        return {"buffers": [{"byteLength": self._length}], "bufferViews": self.views, "accessors": self.accessors}


def _glb(document: dict, binary: bytes) -> bytes:
    """The GLB container: header, JSON chunk (space-padded), BIN chunk (zero-padded)."""
    text = json.dumps(document, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 4)
    binary += b"\0" * ((-len(binary)) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks
