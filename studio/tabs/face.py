"""Face tab: one photo in, the same person with another expression out, plus a whole expression sheet.

The handlers are plain functions (tests call them directly); `render()` only wires components. The
pipeline is built on first use and shared by every visitor through `studio.runtime.shared`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from pipelines.errors import InputError
from pipelines.face.action_units import EXPRESSIONS, SLIDER_RANGE, SLIDERS  # names only: numpy, no model
from pipelines.weights import REPO_ROOT
from studio.components import PhotoUpload
from studio.errors import user_errors
from studio.gpu import EDIT_SECONDS, SHEET_SECONDS, SPRITE_SET_SECONDS, gpu_task
from studio.i18n import label_choices, label_name, say, t
from studio.runtime import SETTINGS, shared
from studio.scratch import scratch_dir

NO_PHOTO = "Please upload a face photo first (or pick an example below)."
NO_GPU = "Polishing with a diffusion model needs a CUDA GPU, and this machine has none; untick it."
EXAMPLE_FACES = sorted(str(p) for p in (REPO_ROOT / "examples" / "faces").glob("*_neutral.jpg"))
TEACH_VIEWS = ("patches", "mask", "warped", "reconstruction", "result")  # keys of FaceExpressionOutput.teach_panels()

TEXT = {
    "en": {
        "face.tab": "Face",
        "face.intro": "Upload a face photo (or take one with the webcam), pick an expression and press **Make "
        "expression**. Only the face regions that must change are repainted; the rest of the photo stays as it is.",
        "face.photo": "Face photo",
        "face.expression": "Expression",
        "face.intensity": "Intensity",
        "face.sliders": "Fine-tune (added to the expression)",
        "face.smile": "Smile",
        "face.brow_raise": "Brow raise",
        "face.brow_furrow": "Brow furrow",
        "face.eye_open": "Eye open",
        "face.jaw_open": "Jaw open",
        "face.face_index": "Face number (0 = largest face in the photo)",
        "face.refine": "Polish with a diffusion model (needs a CUDA GPU and inpainting weights)",
        "face.run": "Make expression",
        "face.sheet": "Make expression sheet",
        "face.full_set": "Full SillyTavern set (28 sprites)",
        "face.preview": "Live preview while you drag (warp, texture and eye model, low resolution); the full edit runs on release",
        "face.status": "Face {index} of {count} (0 = largest); {expression} at {intensity:.0%}.",
        "face.before_after": "Before / after",
        "face.result": "Result",
        "face.notes": "Notes",
        "face.gallery": "Expression sheet",
        "face.sprites": "Sprites ZIP (joy.png, sadness.png, ... as SillyTavern uploads a sprite pack)",
        "face.examples": "Example faces (Face Research Lab London Set, CC BY 4.0)",
        "face.teach": "Teach: how masked image modelling repaints the face",
        "face.teach_body": "**Masked image modelling:** hide some patches of a picture and train a network to paint "
        "them back from the patches it can still see.\nViews 1–4 show one of our SimMIM models at work on your "
        "photo; view 5 is the studio's result. When the eyes open wider (surprise, fear, the eye-open slider) it is "
        "the **eye model**, and the result uses its paint: the patches along the upper lid are hidden and painted "
        "back following a drawing of the new lid and iris — the white of the eye that a rising lid uncovers. "
        "Otherwise it is the **mouth model** alone: the mouth is hidden and painted back following a drawing of "
        "the new lips; the result does not use that paint, because the drawn mouth and the folds and lines "
        "measured on real faces scored higher with independent judges (bench/results/face.md).",
        "face.view.patches": "1. Hidden patches (grey)",
        "face.view.mask": "2. Mask (white = repaint)",
        "face.view.warped": "3. What the model sees",
        "face.view.reconstruction": "4. SimMIM fills the hidden",
        "face.view.result": "5. The studio's result",
    },
    "zh": {
        "face.tab": "面部",
        "face.intro": "上传一张人脸照片（或用摄像头拍一张），选择表情后点 **生成表情**。只重绘需要变化的面部区域，照片其余部分保持原样。",
        "face.photo": "人脸照片",
        "face.expression": "表情",
        "face.intensity": "强度",
        "face.sliders": "微调（叠加在表情上）",
        "face.smile": "微笑",
        "face.brow_raise": "挑眉",
        "face.brow_furrow": "皱眉",
        "face.eye_open": "睁眼",
        "face.jaw_open": "张嘴",
        "face.face_index": "人脸编号（0 = 照片中最大的脸）",
        "face.refine": "用扩散模型精修（需要 CUDA GPU 和修复模型权重）",
        "face.run": "生成表情",
        "face.sheet": "生成表情表",
        "face.full_set": "完整 SillyTavern 表情集（28 张）",
        "face.preview": "拖动时的实时预览（变形、纹理与眼部模型，低分辨率）；松开后生成完整结果",
        "face.status": "第 {index} 张脸，共 {count} 张（0 = 最大）；{expression}，强度 {intensity:.0%}。",
        "face.before_after": "前 / 后对比",
        "face.result": "结果",
        "face.notes": "提示",
        "face.gallery": "表情表",
        "face.sprites": "表情立绘 ZIP（joy.png、sadness.png……，SillyTavern 上传表情包的格式）",
        "face.examples": "示例人脸（Face Research Lab London Set，CC BY 4.0）",
        "face.teach": "教学：掩码图像建模如何重绘人脸",
        "face.teach_body": "**掩码图像建模：** 把图片的一部分小块遮住，训练网络根据还看得见的小块把它们画回来。\n"
        "第 1–4 格展示我们的一个 SimMIM 模型如何处理你的照片；第 5 格是工作室的结果。眼睛睁大时（惊讶、恐惧、睁眼滑块），"
        "展示的是**眼部模型**，结果使用它的重绘：遮住上眼睑一带的小块，再按新眼睑和虹膜的线稿画回来——即眼睑抬起后露出的眼白。"
        "其他情况下展示的是单独运行的**嘴部模型**：遮住嘴部，再按新嘴唇的线稿画回来；结果不使用这幅重绘，因为绘制的嘴部"
        "和取自真实人脸的皱褶与纹路在独立评测中得分更高（bench/results/face.md）。",
        "face.view.patches": "1. 被遮小块（灰色）",
        "face.view.mask": "2. 掩码（白色 = 重绘）",
        "face.view.warped": "3. 模型看到的输入",
        "face.view.reconstruction": "4. SimMIM 填补被遮小块",
        "face.view.result": "5. 工作室的结果",
    },
}


def pipeline(refine: bool = False):
    """The shared FaceExpressionPipeline, loaded on the first click (never at import).

    Polishing needs a diffusion model on a CUDA GPU; it is a second shared pipeline, loaded the first time
    someone ticks the box, so the plain one every other visitor uses is never changed under them.
    """
    from pipelines.face.pipeline import FaceExpressionPipeline

    if not refine:
        return shared("face", lambda: FaceExpressionPipeline.from_pretrained(device=SETTINGS.device))
    from pipelines.face.refine import DEFAULT_INPAINT_MODEL

    return shared("face-refined", lambda: FaceExpressionPipeline.from_pretrained(device="cuda",
                                                                                refine=DEFAULT_INPAINT_MODEL))


def pipeline_for(photo, face_index, refine):
    """The shared pipeline for a request (the polished one when `refine`) and the face index; refuses a missing
    photo or a polish without a GPU."""
    if not photo:
        raise InputError(NO_PHOTO)
    index = None if face_index in (None, "") else int(face_index)
    if refine:
        from pipelines.device import pick_device

        if pick_device(SETTINGS.device) != "cuda":
            raise InputError(NO_GPU)
        return pipeline(refine=True), index
    return pipeline(), index


def _notes(out, request) -> str:
    status = say(TEXT, "face.status", request, index=out.face_index, count=out.num_faces,
                 expression=label_name(out.expression, request), intensity=out.intensity)  # fmt: skip
    return "\n".join([status, *(f"- ⚠️ {w}" for w in out.warnings)])


def slider_values(values) -> dict[str, float]:
    """The fine-tune sliders by name, leaving out those at zero."""
    return {name: float(v) for name, v in zip(SLIDERS, values) if v}


@user_errors
@gpu_task(EDIT_SECONDS)
def make_expression(photo, expression, intensity, smile, brow_raise, brow_furrow, eye_open, jaw_open, face_index,
                    refine=False, request: gr.Request = None, progress=gr.Progress()):  # fmt: skip
    """Edit one photo: returns (before/after pair, result, notes, teach views...)."""
    progress(0.1, desc="finding the face")
    pipe, index = pipeline_for(photo, face_index, refine)
    sliders = slider_values((smile, brow_raise, brow_furrow, eye_open, jaw_open))
    progress(0.4, desc=f"painting {expression}")
    out = pipe(photo, expression, float(intensity), sliders, index, refine=bool(refine), teach=True)
    views = out.teach_panels()
    from pipelines.image_io import load_image

    before = load_image(photo)
    return ((before, out.image), out.image, _notes(out, request), *(views[name] for name in TEACH_VIEWS))


def edit_on_release(photo, *values, request: gr.Request = None, progress=gr.Progress()):
    """A released slider runs the full edit, once a photo is there (before that, sliders only set values)."""
    if not photo:
        return (gr.skip(),) * (3 + len(TEACH_VIEWS))
    return make_expression(photo, *values, request=request, progress=progress)


def _gallery_and_zip(images: dict, folder: Path, name: str, first=None) -> tuple[list, str]:
    from pipelines.character.sprites import write_sprite_zip

    items = [first] if first else []
    for label, image in images.items():
        items.append((image, label))
    return items, str(write_sprite_zip(images, folder / name))


@user_errors
@gpu_task(SHEET_SECONDS)
def make_sheet(photo, intensity, face_index, refine=False, progress=gr.Progress()):
    """Every expression: returns (gallery items, zip of sprites)."""
    pipe, index = pipeline_for(photo, face_index, refine)
    sheet = pipe.expression_sheet(photo, float(intensity), index, refine=bool(refine),
                                  progress=lambda done, what: progress(done, desc=what))  # fmt: skip
    folder = scratch_dir("face-sheet-")
    return _gallery_and_zip(sheet.images, folder, "expressions.zip", first=(sheet.grid, "sheet"))


@user_errors
@gpu_task(SPRITE_SET_SECONDS)
def make_sprite_set(photo, intensity, face_index, progress=gr.Progress()):
    """SillyTavern's 28 expressions (pipelines/character/sprites.py) at `intensity`: (gallery items, sprite pack)."""
    from pipelines.character.sprites import sprite_set

    pipe, index = pipeline_for(photo, face_index, refine=False)
    sprites = sprite_set(pipe, photo, float(intensity), index, progress=lambda done, what: progress(done, desc=what))
    folder = scratch_dir("face-sprites-")
    return _gallery_and_zip(sprites, folder, "sillytavern-sprites.zip")


@user_errors
def find_preview_face(photo, face_index):
    """Find the face once per photo for the live preview (a per-visitor PreviewFace; None without a photo)."""
    if not photo:
        return None
    from pipelines.face.preview import PreviewFace

    pipe, index = pipeline_for(photo, face_index, refine=False)
    return PreviewFace.from_face(pipe.find_face(photo, index), pipe.config.texture_scale)


@user_errors
def update_preview(face, expression, intensity, *sliders):
    """The small warp + texture + eyes preview for the current controls (bench/preview.py times it); none without a
    photo's face."""
    if face is None:
        return None
    from pipelines.face.preview import render_preview

    return render_preview(face, expression, float(intensity), slider_values(sliders), pipeline().eye_painter)


def render() -> None:
    gr.Markdown(t("face.intro"))
    preview_face = gr.State(None)  # per visitor: the found face, small, so dragging a slider never re-detects it
    with gr.Row():
        with gr.Column(scale=1):
            photo = PhotoUpload(label=t("face.photo"), sources=["upload", "webcam"], type="filepath", height=360,
                                elem_id="face-photo")
            expression = gr.Radio(label_choices(EXPRESSIONS), value="joy", label=t("face.expression"),
                                  elem_id="face-expression")  # fmt: skip
            intensity = gr.Slider(0.0, 1.0, value=0.8, step=0.05, label=t("face.intensity"))
            with gr.Accordion(t("face.sliders"), open=False):
                sliders = [gr.Slider(*SLIDER_RANGE, value=0.0, step=0.05, label=t(f"face.{name}")) for name in SLIDERS]
            preview = gr.Image(label=t("face.preview"), interactive=False, height=200, elem_id="face-preview",
                               buttons=[])  # fmt: skip
            face_index = gr.Number(value=0, minimum=0, precision=0, label=t("face.face_index"))
            refine = gr.Checkbox(value=False, label=t("face.refine"))
            with gr.Row():
                run = gr.Button(t("face.run"), variant="primary")
                sheet = gr.Button(t("face.sheet"))
                full_set = gr.Button(t("face.full_set"))
        with gr.Column(scale=1):
            # max_height matches height: Gradio's default (500) lets the two layers overflow a 360 px box differently
            compare = gr.ImageSlider(label=t("face.before_after"), height=360, max_height=360, elem_id="face-compare")
            result = gr.Image(label=t("face.result"), format="png", interactive=False, height=360, elem_id="face-result")
            notes = gr.Markdown(label=t("face.notes"))
    with gr.Accordion(t("face.teach"), open=False):
        gr.Markdown(t("face.teach_body"))
        with gr.Row():
            views = [gr.Image(label=t(f"face.view.{name}"), interactive=False, height=220) for name in TEACH_VIEWS]
    gallery = gr.Gallery(label=t("face.gallery"), columns=7, height="fit-content", object_fit="contain",
                         elem_id="face-gallery")  # "auto" caps the grid at 55 % of the window and hides rows
    sprites = gr.File(label=t("face.sprites"), elem_id="face-sprites")
    gr.Examples([[path] for path in EXAMPLE_FACES], inputs=[photo], label=t("face.examples"), elem_id="face-examples")

    edit_inputs = [photo, expression, intensity, *sliders, face_index, refine]
    edit_outputs = [compare, result, notes, *views]
    run.click(make_expression, edit_inputs, edit_outputs, api_name="face_expression", concurrency_limit=1)
    sheet.click(make_sheet, [photo, intensity, face_index, refine], [gallery, sprites], api_name="face_sheet",
                concurrency_limit=1)  # fmt: skip
    full_set.click(make_sprite_set, [photo, intensity, face_index], [gallery, sprites], api_name="face_sprite_set",
                   concurrency_limit=1)  # fmt: skip
    # Live preview: the face is found once per photo; dragging redraws the small warp, outside the queue so a
    # running full edit never delays it; releasing a slider runs the full edit.
    quick = {"queue": False, "show_progress": "hidden", "trigger_mode": "always_last"}
    # The preview is drawn once the face is found (not when none is), with the controls as they are then: an
    # expression picked while the face was being found (no face yet to draw) was otherwise lost, and the preview
    # showed the photo as it was.
    controls = [expression, intensity, *sliders]
    for source in (photo.change, face_index.change):
        source(find_preview_face, [photo, face_index], preview_face, **quick).success(
            update_preview, [preview_face, *controls], preview, **quick)
    for control in controls:
        (control.change if control is expression else control.input)(update_preview, [preview_face, *controls],
                                                                     preview, **quick)  # fmt: skip
    for slider in (intensity, *sliders):
        slider.release(edit_on_release, edit_inputs, edit_outputs, concurrency_limit=1, show_progress="minimal")
