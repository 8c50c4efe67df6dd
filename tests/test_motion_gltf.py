"""GLB export: the Khronos glTF-Validator finds no issue, and an independent reading of the file (JSON + binary
chunk, node transforms composed here with 4x4 matrices) puts every joint where the clip's own forward kinematics
does, in every frame; the stick figure's skin is bound so the rest pose reproduces the mesh as stored."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_motion_clip_bvh import random_clip

from pipelines.errors import InputError
from pipelines.motion.gltf import BONE_WIDTH, write_glb

NODE_TOOLS = Path(__file__).parent / "node"
VALIDATOR = NODE_TOOLS / "node_modules" / "gltf-validator"
COMPONENTS = {5126: np.float32, 5123: np.uint16}
WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_glb(path: Path) -> tuple[dict, list[np.ndarray]]:
    """The JSON document and every accessor as an array, read straight from the GLB container."""
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    document = json.loads(data[20 : 20 + json_length])
    bin_length, kind = struct.unpack_from("<I4s", data, 20 + json_length)
    assert kind == b"BIN\0"
    binary = data[28 + json_length : 28 + json_length + bin_length]
    arrays = []
    for accessor in document["accessors"]:
        view = document["bufferViews"][accessor["bufferView"]]
        raw = np.frombuffer(binary, COMPONENTS[accessor["componentType"]], accessor["count"] * WIDTH[accessor["type"]],
                            view.get("byteOffset", 0))  # fmt: skip
        arrays.append(raw.reshape(accessor["count"], WIDTH[accessor["type"]]))
    return document, arrays


def matrix(translation, rotation) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = Rotation.from_quat(rotation).as_matrix()
    m[:3, 3] = translation
    return m


def joint_positions(document: dict, arrays: list[np.ndarray], frame: int) -> np.ndarray:
    """Every joint node's world position at `frame`, from the animation channels and the node tree."""
    nodes = document["nodes"]
    translation = {n: np.array(node.get("translation", [0, 0, 0])) for n, node in enumerate(nodes)}
    rotation = {n: np.array(node.get("rotation", [0, 0, 0, 1])) for n, node in enumerate(nodes)}
    animation = document["animations"][0]
    for channel in animation["channels"]:
        values = arrays[animation["samplers"][channel["sampler"]]["output"]][frame]
        target = (translation if channel["target"]["path"] == "translation" else rotation)
        target[channel["target"]["node"]] = values
    world = {}

    def visit(n: int, parent: np.ndarray) -> None:
        world[n] = parent @ matrix(translation[n], rotation[n])
        for child in nodes[n].get("children", []):
            visit(child, world[n])

    for root in document["scenes"][0]["nodes"]:
        visit(root, np.eye(4))
    joints = document["skins"][0]["joints"]
    return np.array([world[j][:3, 3] for j in joints])


def test_every_joint_is_where_the_clip_puts_it_in_every_frame(tmp_path):
    clip = random_clip(frames=12, spread_degrees=120)
    document, arrays = read_glb(write_glb(clip, tmp_path / "clip.glb"))
    expected, _ = clip.positions()
    times = arrays[document["animations"][0]["samplers"][0]["input"]][:, 0]
    assert np.allclose(times, np.arange(clip.num_frames) / clip.fps)
    for frame in range(clip.num_frames):
        assert np.abs(joint_positions(document, arrays, frame) - expected[frame]).max() < 1e-5
    assert [node["name"] for node in document["nodes"][: len(clip.joint_names)]] == list(clip.joint_names)


def test_the_skin_is_bound_in_the_rest_pose(tmp_path):
    """Inverse bind matrices undo each joint's rest transform: at rest every vertex stays where it is stored."""
    document, arrays = read_glb(write_glb(random_clip(frames=2), tmp_path / "clip.glb"))
    skin = document["skins"][0]
    primitive = document["meshes"][0]["primitives"][0]
    positions, owners = arrays[primitive["attributes"]["POSITION"]], arrays[primitive["attributes"]["JOINTS_0"]][:, 0]
    inverse_bind = arrays[skin["inverseBindMatrices"]].reshape(-1, 4, 4).transpose(0, 2, 1)  # stored column-major
    rest = {n: matrix(node.get("translation", [0, 0, 0]), [0, 0, 0, 1]) for n, node in enumerate(document["nodes"])}
    world = {}
    for n, node in enumerate(document["nodes"]):
        world.setdefault(n, rest[n])
        for child in node.get("children", []):
            world[child] = world[n] @ rest[child]
    skinned = np.array([(world[skin["joints"][o]] @ inverse_bind[o] @ np.append(p, 1.0))[:3] for p, o in zip(positions, owners)])
    assert np.abs(skinned - positions).max() < 1e-5
    assert abs(positions[:, 1].min()) <= BONE_WIDTH  # the stick figure stands on the floor (boxes are this thick)


def test_a_clip_holding_a_nan_is_refused(tmp_path):
    clip = random_clip(frames=3)
    clip.rotations[1, 2] = np.nan
    with pytest.raises(InputError, match="not finite"):
        write_glb(clip, tmp_path / "nan.glb")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (Debian: apt-get install nodejs)")
@pytest.mark.skipif(not VALIDATOR.is_dir(), reason="glTF-Validator missing: run `npm ci --prefix tests/node`")
def test_the_khronos_validator_finds_no_issue(tmp_path):
    path = write_glb(random_clip(frames=24), tmp_path / "clip.glb")
    result = subprocess.run(["node", str(NODE_TOOLS / "validate_gltf.js"), str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    issues = report["issues"]
    assert (issues["numErrors"], issues["numWarnings"], issues["numInfos"]) == (0, 0, 0), issues["messages"]
    assert report["info"]["animationCount"] == 1 and report["info"]["hasSkins"]
