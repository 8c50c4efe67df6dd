"""Motion tab: a video of a person in, a BVH clip for a character out, with a side-by-side preview.

The handlers are plain functions (tests call them directly); `render()` only wires components. The
pipeline is built on first use and shared by every visitor through `studio.runtime.shared`; the
captured clip lives in per-visitor `gr.State`, so edits never re-run the video.
"""

from __future__ import annotations

import math
from pathlib import Path

import gradio as gr

from pipelines.errors import InputError
from pipelines.motion import DEFAULT_LOOP_BLEND, ClipEdits, MotionCaptureConfig
from pipelines.weights import REPO_ROOT
from studio.errors import user_errors
from studio.i18n import t
from studio.runtime import shared
from studio.scratch import scratch_dir

NO_VIDEO = "Please upload or record a video first (or pick an example below)."
NO_CLIP = "Capture a clip first: press Capture motion, then edit it."
VIDEOS = REPO_ROOT / "examples" / "videos"
EXAMPLES = [str(VIDEOS / "walking_side.mp4"), str(VIDEOS / "lunge_front.mp4")]
EXAMPLE_LABELS = ["walking_side.mp4: a backflip and a walk (7.7 s)", "lunge_front.mp4: a lunge (1.7 s)"]
DEFAULTS, NO_EDITS = MotionCaptureConfig(), ClipEdits()  # the sliders start at the pipeline's own defaults

TEXT = {
    "en": {
        "motion.tab": "Motion",
        "motion.intro": "Upload a short video of one person walking, dancing or waving (or record one with the "
        "webcam) and press **Capture motion**. You get a BVH clip on a standard humanoid skeleton (Blender, "
        "MotionBuilder and most BVH tools read it) and a preview of the skeleton beside your video. Changing the "
        "smoothing or the person and capturing again is quick: the pose landmarks of the video are reused.",
        "motion.video": "Video (whole body in view works best)",
        "motion.start": "Start (s)",
        "motion.end": "End (s, 0 = to the end)",
        "motion.smoothing": "Smoothing (One Euro filter)",
        "motion.min_cutoff": "Min cutoff (Hz): lower = steadier, but quick moves get rounded off",
        "motion.beta": "Beta: higher = fast moves stay sharp (and a little jitter comes back)",
        "motion.person": "Person (0 = the largest, most central; 1 = the next, ...)",
        "motion.run": "Capture motion",
        "motion.preview": "Preview: source with landmarks | the clip drawn back on the source | retargeted skeleton",
        "motion.notes": "Notes",
        "motion.bvh": "BVH clip (one frame per processed video frame)",
        "motion.glb": "GLB (glTF 2.0): the skeleton, a stick figure and the animation, for game engines, three.js and Blender",
        "motion.edits": "Clip edits",
        "motion.edits_help": "Edits remix the captured motion; they do not invent new moves. **Speed** replays it "
        "faster or slower (in-between frames are interpolated). **Stride** scales every joint's swing around the "
        "average pose: a longer or shorter walk, a bigger or smaller wave (feet may slide a little). **Mirror** swaps "
        "left and right. **Loop** cross-fades the end into the start so the clip repeats without a jump.",
        "motion.speed": "Speed (x)",
        "motion.stride": "Stride / amplitude (x)",
        "motion.mirror": "Mirror (swap left and right)",
        "motion.loop": "Make it loop",
        "motion.loop_blend": "Loop blend (s)",
        "motion.apply": "Apply edits",
        "motion.edited_preview": "Edited clip",
        "motion.edited_bvh": "Edited BVH clip",
        "motion.examples": "Example videos (Pose2Sim / Sports2D samples, BSD-3-Clause)",
    },
    "zh": {
        "motion.tab": "动作",
        "motion.intro": "上传一段单人走路、跳舞或挥手的短视频（或用摄像头录一段），点 **捕捉动作**。你会得到一个标准人形骨架上的 "
        "BVH 动作片段（Blender、MotionBuilder 及大多数 BVH 工具都能读取），以及骨架与原视频并排的预览。"
        "修改平滑参数或人物后再次捕捉会很快：视频的姿态关键点会被复用。",
        "motion.video": "视频（全身入镜效果最好）",
        "motion.start": "开始（秒）",
        "motion.end": "结束（秒，0 = 到结尾）",
        "motion.smoothing": "平滑（One Euro 滤波）",
        "motion.min_cutoff": "最小截止频率（Hz）：越低越稳，但快速动作会被抹圆",
        "motion.beta": "Beta：越高快速动作越利落（抖动也会稍多）",
        "motion.person": "人物（0 = 最大、最居中的那位；1 = 下一位……）",
        "motion.run": "捕捉动作",
        "motion.preview": "预览：原视频与关键点 | 动作片段叠加回原视频 | 重定向后的骨架",
        "motion.notes": "提示",
        "motion.bvh": "BVH 动作片段（每个处理过的视频帧对应一帧）",
        "motion.glb": "GLB（glTF 2.0）：骨架、火柴人模型和动画，可用于游戏引擎、three.js 和 Blender",
        "motion.edits": "片段编辑",
        "motion.edits_help": "编辑只是重新组合捕捉到的动作，不会凭空创造新动作。**速度**：加快或放慢播放（中间帧由插值得到）。"
        "**步幅**：把每个关节围绕平均姿势的摆动放大或缩小——步子更大或更小、挥手幅度更大或更小（脚可能略有滑动）。"
        "**镜像**：左右互换。**循环**：把结尾渐变过渡到开头，使片段可以无跳变地重复播放。",
        "motion.speed": "速度（倍）",
        "motion.stride": "步幅 / 幅度（倍）",
        "motion.mirror": "镜像（左右互换）",
        "motion.loop": "做成循环",
        "motion.loop_blend": "循环过渡时长（秒）",
        "motion.apply": "应用编辑",
        "motion.edited_preview": "编辑后的片段",
        "motion.edited_bvh": "编辑后的 BVH 片段",
        "motion.examples": "示例视频（Pose2Sim / Sports2D 样例，BSD-3-Clause）",
    },
}


def pipeline():
    """The shared MotionCapturePipeline, built on the first click (never at import)."""

    def build():
        from pipelines.motion.pipeline import MotionCapturePipeline

        return MotionCapturePipeline.from_pretrained()  # MediaPipe's pose model runs on the CPU whatever --device says

    return shared("motion", build)


def _folder() -> Path:
    return scratch_dir("motion-")


def _notes(out) -> str:
    s = out.stats
    lines = [
        f"- {out.clip.num_frames} frames at {out.clip.fps:g} fps ({out.clip.duration:.1f} s); person found in "
        f"{s['pose_share']:.0%} of frames.",
        f"- Jitter (mean joint acceleration) {s['jitter_raw']:.0f} → {s['jitter_cleaned']:.0f} m/s² after cleaning; "
        f"bone lengths fixed (raw landmarks wobble by up to {s['bone_spread_raw']:.0%}).",
        f"- Skeleton {out.clip.skeleton.height:.2f} m tall, proportions measured from the video; "
        + (
            "landmarks reused from the previous run of this video (only cleaning and retargeting were redone)."
            if s["landmarks_reused"]
            else f"{s['end_to_end_fps']:.1f} frames/s on this machine."
        ),
    ]
    if math.isfinite(s["foot_skate_cm"]):
        lines.append(f"- Planted feet slide {s['foot_skate_cm']:.2f} cm per planted frame (held by the root and leg IK).")
    if out.track.people > 1:
        lines.append(
            f"- {out.track.people} people seen; this clip follows person {out.track.person} "
            "(0 = the largest, most central). Change Person to capture another."
        )
    return "\n".join([*lines, *(f"- ⚠️ {w}" for w in out.warnings)])


@user_errors
def capture(video, start, end, min_cutoff, beta, person=0, progress=gr.Progress()):
    """Video -> (preview MP4, BVH file, GLB file, notes, captured clip for the edits)."""
    if not video:
        raise InputError(NO_VIDEO)
    from pipelines.motion.bvh import write_bvh
    from pipelines.motion.gltf import write_glb

    folder = _folder()
    progress(0.0, desc="loading the pose model")
    out = pipeline()(
        video,
        start=float(start) if start else None,
        end=float(end) if end else None,  # 0 or empty: to the end
        min_cutoff=float(min_cutoff),
        beta=float(beta),
        person=int(person or 0),
        preview=folder / "preview.mp4",
        progress=lambda fraction, message: progress(fraction, desc=message),
    )
    bvh = write_bvh(out.clip, folder / f"{Path(video).stem}.bvh")
    glb = write_glb(out.clip, folder / f"{Path(video).stem}.glb")
    return str(out.preview), str(bvh), str(glb), _notes(out), out.clip


@user_errors
def apply_edits(clip, speed, stride, mirror, loop, loop_blend, progress=gr.Progress()):
    """Captured clip + edits -> (skeleton preview MP4, BVH file, notes), in `ClipEdits`' order."""
    if clip is None:
        raise InputError(NO_CLIP)
    from pipelines.motion.bvh import write_bvh
    from pipelines.motion.preview import render_preview

    progress(0.1, desc="editing the clip")
    edits = ClipEdits(float(speed), float(stride), bool(mirror), float(loop_blend) if loop else None)
    edited, done = edits.apply(clip)
    folder = _folder()
    progress(0.5, desc="rendering the preview")
    preview = render_preview(folder / "edited.mp4", edited)
    bvh = write_bvh(edited, folder / "edited.bvh")
    summary = ", ".join(done) if done else "no edits"
    return str(preview), str(bvh), f"{summary}: {edited.num_frames} frames ({edited.duration:.1f} s)."


def render() -> None:
    gr.Markdown(t("motion.intro"))
    clip = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            video = gr.Video(label=t("motion.video"), sources=["upload", "webcam"], height=360)
            with gr.Row():
                start = gr.Number(value=0.0, minimum=0.0, label=t("motion.start"))
                end = gr.Number(value=0.0, minimum=0.0, label=t("motion.end"))
            person = gr.Number(value=0, minimum=0, precision=0, label=t("motion.person"))
            with gr.Accordion(t("motion.smoothing"), open=False):
                min_cutoff = gr.Slider(0.1, 5.0, value=DEFAULTS.min_cutoff, step=0.1, label=t("motion.min_cutoff"))
                beta = gr.Slider(0.0, 3.0, value=DEFAULTS.beta, step=0.05, label=t("motion.beta"))
            run = gr.Button(t("motion.run"), variant="primary")
        with gr.Column(scale=2):
            preview = gr.Video(label=t("motion.preview"), interactive=False, autoplay=True, loop=True, height=360)
            notes = gr.Markdown(label=t("motion.notes"))
            bvh = gr.File(label=t("motion.bvh"), interactive=False)
            glb = gr.File(label=t("motion.glb"), interactive=False)
    with gr.Accordion(t("motion.edits"), open=True):
        gr.Markdown(t("motion.edits_help"))
        with gr.Row():
            with gr.Column(scale=1):
                speed = gr.Slider(0.25, 3.0, value=NO_EDITS.speed, step=0.05, label=t("motion.speed"))
                stride = gr.Slider(0.0, 2.0, value=NO_EDITS.stride, step=0.05, label=t("motion.stride"))
                mirror = gr.Checkbox(value=NO_EDITS.mirror, label=t("motion.mirror"))
                with gr.Row():
                    loop = gr.Checkbox(value=False, label=t("motion.loop"))
                    loop_blend = gr.Slider(0.1, 1.0, value=DEFAULT_LOOP_BLEND, step=0.05, label=t("motion.loop_blend"))
                apply = gr.Button(t("motion.apply"))
            with gr.Column(scale=2):
                edited_preview = gr.Video(label=t("motion.edited_preview"), interactive=False, autoplay=True, loop=True, height=300)
                edited_notes = gr.Markdown()
                edited_bvh = gr.File(label=t("motion.edited_bvh"), interactive=False)
    gr.Examples([[video_path] for video_path in EXAMPLES], inputs=[video], example_labels=EXAMPLE_LABELS, label=t("motion.examples"))

    run.click(capture, [video, start, end, min_cutoff, beta, person], [preview, bvh, glb, notes, clip],
              api_name="motion_capture", concurrency_limit=1)  # fmt: skip
    apply.click(apply_edits, [clip, speed, stride, mirror, loop, loop_blend], [edited_preview, edited_bvh, edited_notes],
                api_name="motion_edit", concurrency_limit=2)  # fmt: skip
