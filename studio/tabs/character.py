"""Character tab: the whole character in one place — card, portrait, expression sheet, motions, voice —
exported as one bundle (card PNG + ZIP) and restored from it.

It shares the per-user character and sprites with the Chat tab, so a sheet made here is the face the
chat shows, and a bundle imported here is the character the chat talks as.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import gradio as gr

from pipelines.character.card import STUDIO_KEY, safe_stem
from pipelines.errors import InputError
from studio.components import PhotoUpload
from studio.errors import user_errors
from studio.gpu import SPRITE_SET_SECONDS, gpu_task
from studio.i18n import t
from studio.scratch import scratch_dir
from studio.tabs.face import EXAMPLE_FACES
from studio.tabs.motion import EXAMPLE_LABELS as MOTION_LABELS
from studio.tabs.motion import EXAMPLES as MOTION_EXAMPLES
from studio.visitor import Visitor

NO_CHARACTER = "Pick or import a character first (Chat tab, or import a bundle here)."
NO_PORTRAIT = "Upload a portrait photo first: the expression sheet is made from it."

TEXT = {
    "en": {
        "character.tab": "Character",
        "character.intro": (
            "Everything about your character in one place. Set a portrait, make its expression sheet, capture "
            "motions from videos, record a voice sample — then **export the bundle**: a Character Card V2 PNG "
            "(works in SillyTavern) plus a ZIP with the sprites, BVH clips and voice. Importing the ZIP restores it all. "
            "The character itself is picked and edited in the **Chat** tab."
        ),
        "character.summary": "Character",
        "character.import": "Import a bundle (.zip) or a card (.png / .json)",
        "character.portrait": "Portrait photo",
        "character.intensity": "Expression intensity",
        "character.make_sheet": "Make expression sheet from the portrait",
        "character.full_set": "Full SillyTavern set (28 sprites instead of 7)",
        "character.start": "Start (s)",
        "character.end": "End (s, 0 = to the end)",
        "character.sprites": "Expression sprites (joy.png, sadness.png, …)",
        "character.video": "Capture a motion from a video",
        "character.add_motion": "Add motion clip",
        "character.bvh_upload": "…or add BVH files",
        "character.motions": "Motion clips",
        "character.voice": "Voice sample (the greeting, in the character's voice)",
        "character.make_voice": "Record voice sample",
        "character.export": "Export bundle",
        "character.files": "Bundle: card PNG + ZIP",
        "character.examples": "Examples",
    },
    "zh": {
        "character.tab": "角色",
        "character.intro": (
            "角色的一切都在这里。设置肖像、生成表情表、从视频中捕捉动作、录制声音样本——然后**导出角色包**："
            "一张 Character Card V2 PNG（可用于 SillyTavern）以及包含表情图、BVH 动作和声音的 ZIP。导入 ZIP 即可完整恢复。"
            "角色本身在**对话**页中选择和编辑。"
        ),
        "character.summary": "角色",
        "character.import": "导入角色包（.zip）或角色卡（.png / .json）",
        "character.portrait": "肖像照片",
        "character.intensity": "表情强度",
        "character.make_sheet": "用肖像生成表情表",
        "character.full_set": "完整 SillyTavern 表情集（28 张，而不是 7 张）",
        "character.start": "开始（秒）",
        "character.end": "结束（秒，0 = 到结尾）",
        "character.sprites": "表情图（joy.png、sadness.png……）",
        "character.video": "从视频捕捉动作",
        "character.add_motion": "添加动作片段",
        "character.bvh_upload": "……或添加 BVH 文件",
        "character.motions": "动作片段",
        "character.voice": "声音样本（用角色的声音读开场白）",
        "character.make_voice": "录制声音样本",
        "character.export": "导出角色包",
        "character.files": "角色包：角色卡 PNG + ZIP",
        "character.examples": "示例",
    },
}


# --- plain handlers ------------------------------------------------------------------------------


def summary(character) -> str:
    """A short card of who the character is, for the top of the tab."""
    if character is None:
        return NO_CHARACTER
    from pipelines.character.card import voice_of
    from pipelines.chat.pipeline import greeting

    lines = [f"### {character.name}", _shorten(character.description, 400)]
    if character.first_mes.strip():
        lines.append(f"> {_shorten(greeting(character), 200)}")
    if character.extensions.get(STUDIO_KEY, {}).get("voice"):
        try:
            voice = voice_of(character)
            lines.append(f"Voice: {voice.engine} {voice.variant} · pitch {voice.pitch} · rate {voice.rate}")
        except InputError as err:
            lines.append(f"Voice: {err}")
    return "\n\n".join(line for line in lines if line)


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def card_sprites(character) -> dict:
    """The sprites a card brings itself (a preset's expression sheet beside its file), as RGB arrays."""
    import numpy as np

    from pipelines.character.card import expression_image
    from pipelines.face.action_units import EXPRESSIONS

    if character is None:
        return {}
    found = {label: expression_image(character, label) for label in EXPRESSIONS}
    return {label: np.asarray(image.convert("RGB")) for label, image in found.items() if image is not None}


def gallery(sprites: dict | None, character=None) -> list:
    """The sprites made here, else those the card brings."""
    shown = sprites or card_sprites(character)
    return [(image, label) for label, image in sorted(shown.items())]


def motion_files(motions: dict | None) -> list[str] | None:
    """The clips as .bvh files in a fresh temporary folder, for the file list (None when there are none)."""
    if not motions:
        return None
    folder = scratch_dir("motions-")
    paths = []
    for name, bvh in sorted(motions.items()):
        paths.append(folder / f"{name}.bvh")
        paths[-1].write_text(bvh, encoding="utf-8")
    return [str(p) for p in paths]


@user_errors
def voice_audio(voice_sample: bytes | None):
    from pipelines.character.bundle import decode_voice

    return None if voice_sample is None else decode_voice(voice_sample)


@user_errors
@gpu_task(SPRITE_SET_SECONDS)
def make_sheet(portrait, intensity, sprites, full_set=False, progress=gr.Progress()):
    """The portrait's seven expressions, or SillyTavern's full 28, as sprites named by label (replacing earlier
    ones of the same name)."""
    from pipelines.character.sprites import sprite_set
    from studio.tabs.face import pipeline

    if portrait is None:
        raise InputError(NO_PORTRAIT)
    progress(0.05, desc="finding the face")

    def step(done: float, what: str) -> None:
        progress(done, desc=what)

    made = (sprite_set(pipeline(), portrait, float(intensity), progress=step) if full_set
            else pipeline().expression_sheet(portrait, float(intensity), progress=step).images)  # fmt: skip
    sprites = {**(sprites or {}), **made}
    return sprites, gallery(sprites)


def _clip_name(video: str, motions: dict) -> str:
    stem = safe_stem(Path(video).stem, limit=50, fallback="clip")
    name, n = stem, 2
    while name in motions:
        name, n = f"{stem}_{n}", n + 1
    return name


@user_errors
def add_motion(video, start, end, motions, progress=gr.Progress()):
    """Capture the person in `video` (optionally a time range) and add the clip as BVH text."""
    from pipelines.motion.bvh import write_bvh
    from studio.tabs.motion import pipeline

    if not video:
        raise InputError("Upload or record a video first.")
    progress(0.02, desc="reading the video")
    out = pipeline()(video, start=float(start) if start else None, end=float(end) if end else None,
                     progress=lambda done, what: progress(done, desc=what))  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        bvh = write_bvh(out.clip, Path(folder) / "clip.bvh").read_text(encoding="utf-8")
    motions = {**(motions or {}), _clip_name(video, motions or {}): bvh}
    return motions, motion_files(motions)


@user_errors
def add_bvh_files(files, motions):
    """Add uploaded BVH files, each checked by re-reading it with our BVH reader."""
    from pipelines.motion.bvh import read_bvh

    motions = dict(motions or {})
    for file in files or []:
        path = Path(file)
        try:
            read_bvh(path)
        except Exception as err:  # any parse failure means the file is not a clip we can use
            raise InputError(f"{path.name} is not a BVH motion file we can read ({err}).") from err
        motions[_clip_name(str(path), motions)] = path.read_text(encoding="utf-8")
    return motions, motion_files(motions)


@user_errors
def make_voice(character, progress=gr.Progress()):
    """Speak the greeting (or the name) in the character's voice; keep it as a WAV for the bundle."""
    import soundfile

    from pipelines.chat.pipeline import greeting
    from studio.tabs.chat import speech_for

    if character is None:
        raise InputError(NO_CHARACTER)
    progress(0.1, desc="speaking")
    text = greeting(character) if character.first_mes.strip() else character.name
    pipe, voice = speech_for(character)
    out = pipe(text[:600], voice)
    buffer = io.BytesIO()
    soundfile.write(buffer, out.samples, out.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue(), voice_audio(buffer.getvalue())


@user_errors
def export_bundle(character, portrait, sprites, motions, voice_sample):
    """Write the card PNG and the ZIP into a fresh folder for download."""
    from pipelines.character.bundle import CharacterBundle
    from pipelines.image_io import load_image

    if character is None:
        raise InputError(NO_CHARACTER)
    bundle = CharacterBundle(
        character,
        portrait=load_image(portrait) if portrait is not None else None,
        expressions=dict(sprites or {}) or card_sprites(character),
        motions=dict(motions or {}),
        voice_sample=voice_sample,
    )
    card, archive = bundle.save(scratch_dir("bundle-"))
    return [str(card), str(archive)]


def import_bundle(file):
    """Restore a character and all its assets from a bundle ZIP (or just a card)."""
    from PIL import Image

    from pipelines.character.bundle import CharacterBundle

    if file is None:
        raise InputError("Choose a bundle (.zip) or a card (.png/.json) to import.")
    bundle = CharacterBundle.load(file)
    portrait = Image.fromarray(bundle.portrait) if bundle.portrait is not None else None
    return bundle.character, bundle.sprites(), portrait, bundle.motions, bundle.voice_sample


# --- layout --------------------------------------------------------------------------------------


def render(visitor: Visitor | None = None, on_import=None) -> None:
    """Build the tab around the visitor's character (shared with the Chat tab, not copied);
    `on_import(event)` lets the Chat tab refresh its form and conversation after a bundle is imported."""
    visitor = visitor or Visitor.create()
    character, sprites = visitor.character, visitor.sprites
    motions = gr.State({})
    voice_sample = gr.State(None)
    gr.Markdown(t("character.intro"))
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            about = gr.Markdown(summary(character.value), label=t("character.summary"))
            upload = gr.File(label=t("character.import"), file_types=[".zip", ".png", ".json"], type="filepath",
                             elem_id="character-import")
            portrait = PhotoUpload(label=t("character.portrait"), type="filepath", sources=["upload", "webcam"], height=280)
            intensity = gr.Slider(0.2, 1.0, value=0.8, step=0.05, label=t("character.intensity"))
            full_set = gr.Checkbox(value=False, label=t("character.full_set"))
            sheet_button = gr.Button(t("character.make_sheet"), variant="primary")
            gr.Examples([[path] for path in EXAMPLE_FACES[:4]], inputs=[portrait], label=t("character.examples"))
        with gr.Column(scale=2):
            sprite_gallery = gr.Gallery(gallery({}, character.value), label=t("character.sprites"), columns=7, height="fit-content",
                                        interactive=False)
            with gr.Row():
                with gr.Column():
                    video = gr.Video(label=t("character.video"), sources=["upload", "webcam"])
                    with gr.Row():
                        start = gr.Number(label=t("character.start"), minimum=0, precision=2)
                        end = gr.Number(label=t("character.end"), minimum=0, precision=2)
                    motion_button = gr.Button(t("character.add_motion"))
                    gr.Examples([[path] for path in MOTION_EXAMPLES], inputs=[video], example_labels=MOTION_LABELS,
                                label=t("character.examples"))
                    bvh_upload = gr.File(label=t("character.bvh_upload"), file_types=[".bvh"], file_count="multiple",
                                         type="filepath")
                with gr.Column():
                    motion_list = gr.File(label=t("character.motions"), file_count="multiple", interactive=False)
                    voice = gr.Audio(label=t("character.voice"), type="numpy", interactive=False)
                    voice_button = gr.Button(t("character.make_voice"))
            export_button = gr.Button(t("character.export"), variant="primary")
            files = gr.File(label=t("character.files"), file_count="multiple", interactive=False)

    quiet = {"api_visibility": "undocumented"}  # display refreshes, not functions worth calling over the API
    character.change(summary, character, about, **quiet).then(gallery, [sprites, character], sprite_gallery, **quiet)
    sprites.change(gallery, [sprites, character], sprite_gallery, **quiet)
    sheet_button.click(make_sheet, [portrait, intensity, sprites, full_set], [sprites, sprite_gallery])
    motion_button.click(add_motion, [video, start, end, motions], [motions, motion_list])
    bvh_upload.upload(add_bvh_files, [bvh_upload, motions], [motions, motion_list])
    voice_button.click(make_voice, character, [voice_sample, voice])
    export_button.click(export_bundle, [character, portrait, sprites, motions, voice_sample], files)
    imported = upload.upload(user_errors(import_bundle), upload, [character, sprites, portrait, motions, voice_sample])
    imported.then(motion_files, motions, motion_list, **quiet).then(voice_audio, voice_sample, voice, **quiet)
    if on_import is not None:
        on_import(imported)
