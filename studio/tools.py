"""Tools for AI agents: the studio's main jobs as plain, typed functions, served over MCP with `--mcp`.

Gradio turns every documented endpoint into a Model Context Protocol tool: the function's name is the tool's
name, its docstring the description, its `Args:` the parameter descriptions, and its components the input
schema (files travel as URLs or data: URIs, images come back as images). The tabs' own events are UI-shaped
(teach views, per-visitor state), so the shell documents only these four (`TOOL_NAMES`) and keeps the rest
callable but undocumented. They run the same shared pipelines as the tabs, inside the same ZeroGPU budgets.

`render()` wires them to components and a button that are never shown: the page stays as it is.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from pipelines.chat.pipeline import PersonaChatConfig
from pipelines.face.action_units import EXPRESSIONS, SLIDER_RANGE, SLIDERS
from studio.components import PhotoUpload
from studio.errors import user_errors
from studio.gpu import CHAT_SECONDS, EDIT_SECONDS, SPRITE_SET_SECONDS, gpu_task
from studio.scratch import scratch_dir
from studio.tabs import chat as chat_tab
from studio.tabs import face as face_tab
from studio.tabs import motion as motion_tab

TOOL_NAMES = ("edit_expression", "expression_sheet", "capture_motion", "chat_as_character")


@user_errors
@gpu_task(EDIT_SECONDS)
def edit_expression(photo, expression="joy", intensity=0.8, smile=0.0, brow_raise=0.0, brow_furrow=0.0, eye_open=0.0,
                    jaw_open=0.0, face_index=0):  # fmt: skip
    """Give the person in a photo another facial expression; every pixel outside the changed face regions stays.

    Args:
        photo: a photo with a clearly visible face (JPEG, PNG or WebP), as a URL or a data: URI.
        expression: the expression to give: joy, sadness, anger, surprise, fear, disgust or neutral.
        intensity: how strong the expression is, from 0 (none) to 1 (full).
        smile: extra smile on top of the expression, from -1 (corners down) to 1.
        brow_raise: extra brow raise, from -1 (lowered) to 1.
        brow_furrow: extra frown between the brows, from -1 to 1.
        eye_open: extra eye opening, from -1 (narrowed) to 1 (wide).
        jaw_open: extra mouth opening, from -1 to 1.
        face_index: which face to edit when the photo shows several; 0 is the largest.
    Returns:
        The edited photo as a PNG, the same size as the input.
    """
    pipe, index = face_tab.pipeline_for(photo, face_index, refine=False)
    sliders = face_tab.slider_values((smile, brow_raise, brow_furrow, eye_open, jaw_open))
    return pipe(photo, expression, float(intensity), sliders, index).image


@user_errors
@gpu_task(SPRITE_SET_SECONDS)
def expression_sheet(photo, intensity=0.8, full_sillytavern_set=False, face_index=0):
    """Make a character's expression sprites from one photo of a face, packed as SillyTavern uploads them.

    Args:
        photo: a photo with a clearly visible face (JPEG, PNG or WebP), as a URL or a data: URI.
        intensity: how strong the expressions are, from 0 to 1.
        full_sillytavern_set: false for our seven (joy, sadness, anger, surprise, fear, disgust, neutral); true for
            SillyTavern's full set of 28 (admiration, amusement, ... each mixed from our expressions).
        face_index: which face to use when the photo shows several; 0 is the largest.
    Returns:
        A labelled contact sheet of the sprites (PNG) and a ZIP with one <label>.png per expression.
    """
    from pipelines.character.sprites import contact_sheet, sprite_set, write_sprite_zip

    pipe, index = face_tab.pipeline_for(photo, face_index, refine=False)
    if full_sillytavern_set:
        sprites = sprite_set(pipe, photo, float(intensity), index)
    else:
        sprites = pipe.expression_sheet(photo, float(intensity), index).images
    folder = scratch_dir("tool-sprites-")
    return contact_sheet(sprites), str(write_sprite_zip(sprites, folder / "sprites.zip"))


@user_errors
def capture_motion(video, start=0.0, end=0.0, person=0):
    """Capture the body motion of a person in a video as a BVH clip (Blender, MotionBuilder and most tools read it).

    Args:
        video: a video of one person, whole body in view (MP4, WebM, MOV, ...), as a URL or a data: URI.
        start: where to start, in seconds from the beginning.
        end: where to stop, in seconds; 0 means the end of the video.
        person: which person to follow when several are in view; 0 is the largest, most central one.
    Returns:
        The BVH motion clip (21-joint humanoid, metres, Y up) and a short report of what was captured.
    """
    from pipelines.errors import InputError
    from pipelines.motion.bvh import write_bvh

    if not video:
        raise InputError(motion_tab.NO_VIDEO)
    out = motion_tab.pipeline()(video, start=float(start) or None, end=float(end) or None, person=int(person or 0))
    folder = scratch_dir("tool-motion-")
    bvh = write_bvh(out.clip, folder / f"{Path(video).stem}.bvh")
    clip = out.clip
    return str(bvh), (f"{clip.num_frames} frames at {clip.fps:g} fps ({clip.duration:.1f} s), skeleton "
                      f"{clip.skeleton.height:.2f} m tall; person found in {out.stats['pose_share']:.0%} of frames.")


@user_errors
@gpu_task(CHAT_SECONDS)
def chat_as_character(message, character="Ada", user_name=PersonaChatConfig.user_name):
    """Say something to one of the studio's characters and get its in-character reply and the emotion it shows.

    Args:
        message: what you say to the character.
        character: which preset character answers (Ada the museum guide, Sam, Mika Starlight, 李老师, ...).
        user_name: the name the character calls you.
    Returns:
        The character's reply, and its emotion (joy, sadness, anger, surprise, fear, disgust or neutral).
    """
    from pipelines.character.card import list_presets, load_character
    from pipelines.chat.pipeline import PersonaChatPipeline
    from pipelines.errors import InputError

    presets = list_presets()
    if character not in presets:
        raise InputError(f"Unknown character {character!r}; choose one of {', '.join(presets)}.")
    config = PersonaChatConfig(user_name=(user_name or PersonaChatConfig.user_name).strip())
    backend = chat_tab._backend("local", "", "", "", "", progress=lambda *args, **kwargs: None)  # the tab's model
    reply = PersonaChatPipeline(backend, config)(load_character(presets[character]), [], message)
    return reply.text, reply.emotion


def render() -> None:
    """Components no visitor sees, so Gradio can type each tool's inputs and outputs."""
    with gr.Group(visible=False):
        photo = PhotoUpload(type="filepath", label="photo")
        expression = gr.Dropdown(list(EXPRESSIONS), value="joy", label="expression")
        intensity = gr.Slider(0.0, 1.0, value=0.8, label="intensity")
        sliders = [gr.Slider(*SLIDER_RANGE, value=0.0, label=name) for name in SLIDERS]
        face_index = gr.Number(value=0, minimum=0, precision=0, label="face_index")
        full_set = gr.Checkbox(value=False, label="full_sillytavern_set")
        edited = gr.Image(format="png", label="edited photo")
        sheet, archive = gr.Image(format="png", label="contact sheet"), gr.File(label="sprites ZIP")
        video = gr.Video(label="video")
        start, end = gr.Number(value=0.0, label="start"), gr.Number(value=0.0, label="end")
        person = gr.Number(value=0, minimum=0, precision=0, label="person")
        bvh, report = gr.File(label="BVH clip"), gr.Textbox(label="report")
        message = gr.Textbox(label="message")
        character = gr.Dropdown(chat_tab.preset_names(), value=chat_tab.preset_names()[0], label="character")
        user_name = gr.Textbox(value=PersonaChatConfig.user_name, label="user_name")
        reply, emotion = gr.Textbox(label="reply"), gr.Textbox(label="emotion")
        call = gr.Button(visible=False)  # nobody clicks it: these events exist to be called through the API and MCP
    tool = {"concurrency_limit": 1}
    call.click(edit_expression, [photo, expression, intensity, *sliders, face_index], edited,
               api_name="edit_expression", **tool)  # fmt: skip
    call.click(expression_sheet, [photo, intensity, full_set, face_index], [sheet, archive],
               api_name="expression_sheet", **tool)  # fmt: skip
    call.click(capture_motion, [video, start, end, person], [bvh, report], api_name="capture_motion", **tool)
    call.click(chat_as_character, [message, character, user_name], [reply, emotion], api_name="chat_as_character",
               **tool)  # fmt: skip
