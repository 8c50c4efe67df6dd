"""Motion capture benchmark: who is found, how steady, how planted, how fast, and whether Blender reads the GLB.

Clips (each at its own frame rate, at most 60 fps):
- examples/videos/walking_side.mp4 (Sports2D, a backflip then a walk, two people) and lunge_front.mp4 (Pose2Sim);
- bench/data/videos/multi_person_cross.mp4 and multi_person_side.mp4 (Pose2Sim's multi-person demo, two people
  crossing in front of a busy lab, people in the background);
- walking_far: walking_side shrunk to a third inside a 1280x720 frame (made here with ffmpeg), a small, far person.

Per clip:
- found share: frames where the followed person has landmarks, against MediaPipe's own single-person
  reference (the Pose Landmarker on whole frames, VIDEO mode, num_poses=1, which tracks one body with its own
  detector->tracker), on the same frames, in the same run; the ratio carries the claim (goal >= 0.9x);
- identity: on the frames the whole-frame search saw the chosen person, the share where the follower's hips are
  within half a body height of the search's (a follower that drifted to a passer-by would disagree);
- jitter = mean joint acceleration (m/s^2) of MediaPipe's world landmarks, raw -> cleaned, and of the skeleton;
- foot skate = mean horizontal travel (cm) of a planted foot's ball from one planted frame to the next: no
  locking -> root locking only -> root locking + two-bone leg IK (the default), on the same landmarks;
- speed: frames per second end to end (decode, search, follow, clean, solve, IK; no preview) against the
  reference's rate on frames decoded beforehand, at the clip's own frame rate.
Then one GLB export imported by Blender (Debian's blender 3.4; skipped with a reason when absent).

    python bench/motion.py
Writes bench/results/motion.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import table, write_result  # noqa: E402
from pipelines.motion.gltf import write_glb  # noqa: E402
from pipelines.motion.ik import foot_skate  # noqa: E402
from pipelines.motion.landmarks import PoseLandmark as L  # noqa: E402
from pipelines.motion.pipeline import MotionCaptureConfig, MotionCapturePipeline  # noqa: E402
from pipelines.motion.video import output_size, probe, read_frames  # noqa: E402

EXAMPLES = REPO / "examples" / "videos"
BENCH_VIDEOS = REPO / "bench" / "data" / "videos"
REFERENCE_SIDE = 640  # the reference sees frames this size (MediaPipe works at 256 px inside; more only costs time)
BLENDER_SCRIPT = """
import json, sys
import numpy
numpy.bool = bool  # Debian's Blender 3.4 glTF importer still uses numpy.bool, gone since numpy 1.24
import bpy
bpy.ops.wm.read_factory_settings(use_empty=True)  # no default cube, light or camera
bpy.ops.import_scene.gltf(filepath=sys.argv[sys.argv.index("--") + 1])
armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
action = armature.animation_data.action
bpy.context.scene.frame_set(int(action.frame_range[0]))
head = armature.matrix_world @ armature.pose.bones["Head"].head
print("RESULT " + json.dumps({"bones": len(armature.data.bones), "meshes": sum(o.type == "MESH" for o in bpy.context.scene.objects),
      "frames": list(action.frame_range), "head": list(head)}))
"""


def clips(tmp: Path) -> list[tuple[str, Path]]:
    far = tmp / "walking_far.mp4"
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(EXAMPLES / "walking_side.mp4"),
                    "-vf", "scale=590:332,pad=1280:720:400:300:color=0x5a6e50", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(far)], check=True)  # fmt: skip
    return [
        ("walking_side.mp4", EXAMPLES / "walking_side.mp4"),
        ("lunge_front.mp4", EXAMPLES / "lunge_front.mp4"),
        ("multi_person_cross.mp4", BENCH_VIDEOS / "multi_person_cross.mp4"),
        ("multi_person_side.mp4", BENCH_VIDEOS / "multi_person_side.mp4"),
        ("walking_far (walking_side at 1/3 in 1280x720)", far),
    ]


def reference(path: Path, fps: float, model: Path) -> tuple[float, float, int]:
    """MediaPipe's single-person Pose Landmarker on whole frames: share of frames with a body, frames/s, frames."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    info = probe(path)
    frames = list(read_frames(path, fps, output_size(info.width, info.height, REFERENCE_SIDE)))
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)), running_mode=vision.RunningMode.VIDEO, num_poses=1
    )
    found = 0
    began = time.perf_counter()
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for i, frame in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            found += bool(landmarker.detect_for_video(image, int(round(i * 1000.0 / fps))).pose_landmarks)
    return found / len(frames), len(frames) / (time.perf_counter() - began), len(frames)


def identity_kept(out) -> float:
    """On the frames the whole-frame search saw the chosen person, the share where the follower agrees with it."""
    hips = [L.LEFT_HIP, L.RIGHT_HIP]
    agree = []
    for k in np.flatnonzero(out.sightings.detected):
        t = k * out.search_step
        if t < out.track.num_frames and out.track.detected[t]:
            gap = np.linalg.norm(out.track.image[t, hips, :2].mean(0) - out.sightings.image[k, hips, :2].mean(0))
            agree.append(gap < 0.5 * np.ptp(out.sightings.image[k, :, 1]))
    return float(np.mean(agree)) if agree else float("nan")


def blender_import(glb: Path) -> str:
    if shutil.which("blender") is None:
        return "not run: Blender is not installed here (Debian: apt-get install blender python3-numpy)"
    script = glb.with_suffix(".py")
    script.write_text(BLENDER_SCRIPT)
    run = subprocess.run(["blender", "-b", "--factory-startup", "--python", str(script), "--", str(glb)],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    line = next((line for line in run.stdout.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        return f"failed: {(run.stderr or run.stdout).strip().splitlines()[-1:]}"
    result = json.loads(line[7:])
    return (f"Blender {subprocess.run(['blender', '--version'], capture_output=True, text=True).stdout.split()[1]} "
            f"imported it: {result['bones']} bones, {result['meshes']} mesh object, action frames {result['frames'][0]:g}-"
            f"{result['frames'][1]:g} (Blender's 24 fps scene), head at z = {result['head'][2]:.2f} m in frame 1")  # fmt: skip


def cell(value: float, pattern: str = "{:.2f}") -> str:
    return "n/a" if not np.isfinite(value) else pattern.format(value)


def main() -> int:
    pipe = MotionCapturePipeline.from_pretrained(config=MotionCaptureConfig(landmark_cache=1))
    cfg = pipe.config
    found, quality, speed = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in clips(Path(tmp)):
            info = probe(path)
            fps = min(info.fps, cfg.max_fps)
            reference_share, reference_fps, count = reference(path, fps, pipe.model_path)
            began = time.perf_counter()
            out = pipe(path)
            seconds = time.perf_counter() - began
            share = out.stats["pose_share"]
            found.append([name, f"{info.width}x{info.height}, {count} frames @ {fps:g} fps", f"{out.track.people}",
                          f"{share:.1%}", f"{reference_share:.1%}", cell(share / reference_share if reference_share else np.inf, "{:.2f}x"),
                          cell(identity_kept(out), "{:.0%}")])  # fmt: skip
            no_lock = MotionCapturePipeline(pipe.model_path, replace(cfg, lock_feet=False, leg_ik=False)).retarget(out.track)
            root_only = MotionCapturePipeline(pipe.model_path, replace(cfg, leg_ik=False)).retarget(out.track)
            s = out.stats
            skate = [foot_skate(clip.clip, out.contacts) for clip in (no_lock, root_only, out)]
            quality.append([name, f"{s['jitter_raw']:.1f} → {s['jitter_cleaned']:.1f}", f"{s['jitter_skeleton']:.1f}",
                            " → ".join(cell(v) for v in skate), f"{out.contacts[out.track.detected].mean():.0%}",
                            "; ".join(out.warnings) or "none"])  # fmt: skip
            speed.append([name, f"{reference_fps:.1f}", f"{count / seconds:.1f}", f"{count / seconds / reference_fps:.2f}x"])
            if name == "lunge_front.mp4":
                glb_note = blender_import(write_glb(out.clip, Path(tmp) / "lunge.glb"))
                (REPO / "artifacts").mkdir(exist_ok=True)
                pipe(path, preview=REPO / "artifacts" / "motion_preview.mp4")

    body = "\n\n".join([
        "### Who is found\n\n" + table(
            ["clip", "source", "people seen", "followed person found", "MediaPipe single-person reference",
             "ratio", "identity kept"], found),
        "Found = frames where the followed person (person 0: the largest, most central, most present) has landmarks. "
        "The reference counts frames where MediaPipe's own single-person tracker finds any body, so it is a lenient "
        "bar on multi-person clips (it may jump between people). Identity kept: see the script's docstring.",
        "### Steadiness and feet\n\n" + table(
            ["clip", "jitter raw → cleaned (m/s²)", "skeleton jitter (m/s²)",
             "foot skate, cm per planted frame: none → root lock → root lock + leg IK", "frames with a planted foot",
             "what the clip says it guessed"], quality),
        f"Defaults: One Euro min cutoff {cfg.min_cutoff:g} Hz, beta {cfg.beta:g} (exact exponential smoothing, the "
        f"signal's own speed: the same at any frame rate), run forwards and backwards; whole-frame search at "
        f"{cfg.detect_fps:g} fps with {cfg.tiles}x{cfg.tiles} tiles when it finds nobody; the follower sees a "
        f"256 px crop cut from frames up to {cfg.max_side} px.",
        "### Speed at the source frame rate (frames per second, CPU)\n\n" + table(
            ["clip", "MediaPipe single-person reference (frames decoded beforehand)", "pipeline end to end",
             "ratio"], speed),
        "One run each on a 2-core machine shared with other work: expect +-30 %.",
        f"### GLB in Blender\n\n{glb_note}",
        "A preview of the lunge (source with landmarks | the clip drawn back on the source | skeleton) is written "
        "to artifacts/motion_preview.mp4 (not kept in the repository).",
    ])  # fmt: skip
    write_result("motion", "Motion capture (MediaPipe Pose → BVH / GLB)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
