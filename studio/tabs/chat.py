"""Chat tab: pick or import a character, edit and export its card, and talk with it (streamed, with a face and a voice).

The handlers are plain functions (tests call them directly); `render()` only wires components. Each
visitor's character, sprites and conversation live in `gr.State`; the local chat model is built on
first use and shared by every visitor through `studio.runtime.shared`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import gradio as gr

from pipelines.character.card import (
    Character,
    export_filename,
    expression_image,
    list_presets,
    load_character,
    placeholder_portrait,
    portrait_image,
    save_character,
    voice_of,
)
from pipelines.character.sprites import nearest_sprite
from pipelines.chat.pipeline import MAX_NEW_TOKENS_RANGE, TEMPERATURE_RANGE, PersonaChatConfig
from pipelines.errors import InputError
from pipelines.labels import LOOK
from pipelines.speech.pipeline import ENGINES, ESPEAK_PITCH_RANGE, ESPEAK_RATE_RANGE, Voice
from studio.errors import user_errors
from studio.ffmpeg import put_ffmpeg_on_path
from studio.gpu import CHAT_SECONDS, gpu_task
from studio.i18n import t
from studio.runtime import SETTINGS, shared
from studio.scratch import scratch_dir
from studio.visitor import Visitor

CHAT_DEFAULTS = PersonaChatConfig()  # the sliders start at the pipeline's defaults
ESPEAK_VARIANTS = ("", "f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7")
NO_CHARACTER = "Pick a preset or import a character card first."

STREAM_AUDIO = put_ffmpeg_on_path() is not None  # each sentence is heard as soon as it is spoken, not after the reply
DEFAULT_PRESET = "Ada"  # the museum guide opens the tab: English, with a lorebook to show

TEXT = {
    "en": {
        "chat.tab": "Chat",
        "chat.intro": "Pick a character (or import a SillyTavern card: JSON, PNG or a studio bundle ZIP) and talk with "
        "it. Replies stream in, the portrait follows each reply's emotion, and the reply is spoken.",
        "chat.preset": "Preset character",
        "chat.import": "Import a card (.json, .png or bundle .zip)",
        "chat.portrait": "Portrait",
        "chat.emotion": "Emotion of the last reply",
        "chat.edit": "Edit the character",
        "chat.name": "Name",
        "chat.description": "Description",
        "chat.personality": "Personality",
        "chat.scenario": "Scenario",
        "chat.first_mes": "First message ({{user}} and {{char}} are filled in)",
        "chat.system_prompt": "System prompt (empty = the default; {{original}} keeps the default inside yours)",
        "chat.voice_engine": "Voice engine",
        "chat.voice_variant": "espeak voice variant (f1-f5 female, m1-m7 male)",
        "chat.voice_pitch": "Voice pitch",
        "chat.voice_rate": "Speaking rate (words per minute)",
        "chat.apply": "Apply and restart the chat",
        "chat.export_json": "Export card as JSON",
        "chat.export_png": "Export card as PNG",
        "chat.download": "Card file",
        "chat.chatbot": "Conversation",
        "chat.message": "Your message",
        "chat.send": "Send",
        "chat.wait": "Replying… send again when this reply ends",
        "chat.restart": "Restart conversation",
        "chat.audio": "Spoken reply",
        "chat.speak": "Speak replies",
        "chat.backend": "Model settings",
        "chat.backend_kind": "Chat engine (set up by whoever runs this studio)",
        "chat.local_model": "Local model: a folder, .gguf file or Hugging Face id (free entry, single-user runs only)",
        "chat.base_url": "OpenAI-compatible server URL (vLLM, TGI, llama.cpp, Ollama), e.g. http://localhost:11434/v1",
        "chat.model": "Model name on the server",
        "chat.api_key": "API key (if the server needs one)",
        "chat.max_new_tokens": "Longest reply (tokens)",
        "chat.temperature": "Temperature (0 = always the same reply)",
        "chat.user_name": "Your name ({{user}})",
    },
    "zh": {
        "chat.tab": "对话",
        "chat.intro": "选择一个角色（或导入 SillyTavern 角色卡：JSON、PNG 或工作室的 ZIP 包）并和它聊天。回复会逐字出现，"
        "头像随每条回复的情绪变化，回复还会被朗读出来。",
        "chat.preset": "预设角色",
        "chat.import": "导入角色卡（.json、.png 或 .zip 包）",
        "chat.portrait": "头像",
        "chat.emotion": "上一条回复的情绪",
        "chat.edit": "编辑角色",
        "chat.name": "名字",
        "chat.description": "描述",
        "chat.personality": "性格",
        "chat.scenario": "场景",
        "chat.first_mes": "开场白（会自动替换 {{user}} 和 {{char}}）",
        "chat.system_prompt": "系统提示词（留空 = 默认；写 {{original}} 可保留默认内容）",
        "chat.voice_engine": "语音引擎",
        "chat.voice_variant": "espeak 音色（f1-f5 女声，m1-m7 男声）",
        "chat.voice_pitch": "音高",
        "chat.voice_rate": "语速（每分钟词数）",
        "chat.apply": "应用并重新开始对话",
        "chat.export_json": "导出为 JSON 角色卡",
        "chat.export_png": "导出为 PNG 角色卡",
        "chat.download": "角色卡文件",
        "chat.chatbot": "对话",
        "chat.message": "你的消息",
        "chat.send": "发送",
        "chat.wait": "正在回复…回复结束后再发送",
        "chat.restart": "重新开始对话",
        "chat.audio": "语音回复",
        "chat.speak": "朗读回复",
        "chat.backend": "模型设置",
        "chat.backend_kind": "对话引擎（由运行工作室的人配置）",
        "chat.local_model": "本地模型：文件夹、.gguf 文件或 Hugging Face 模型名（仅限单用户本地运行）",
        "chat.base_url": "OpenAI 兼容服务器地址（vLLM、TGI、llama.cpp、Ollama），例如 http://localhost:11434/v1",
        "chat.model": "服务器上的模型名",
        "chat.api_key": "API 密钥（如果服务器需要）",
        "chat.max_new_tokens": "回复最长（token 数）",
        "chat.temperature": "温度（0 = 每次回复相同）",
        "chat.user_name": "你的名字（{{user}}）",
    },
}


# --- plain handlers ------------------------------------------------------------------------------


def preset_names() -> list[str]:
    names = list(list_presets())
    return sorted(names, key=lambda name: name != DEFAULT_PRESET)  # the default first, the rest as they were


def emotion_label(emotion: str | None) -> str:
    if emotion is None:
        return ""
    icon, chinese = LOOK.get(emotion, ("", emotion))
    return f"### {icon} {emotion} · {chinese}"


def portrait_for(character: Character | None, sprites: dict | None, emotion: str):
    """The sprite for `emotion` or the nearest one (bundle sprites, then the card's own), else the portrait, else a
    drawn tile."""
    from PIL import Image

    if character is None:
        return None
    sprites = sprites or {}
    label = nearest_sprite(emotion, sprites)  # a 28-sprite SillyTavern set or a partial one answers every emotion
    if label is not None:
        return Image.fromarray(sprites[label])
    return expression_image(character, emotion) or portrait_image(character) or placeholder_portrait(character.name)


# What the chat window must not load by itself: a card or a (prompt-injected) reply could embed a remote image
# that the visitor's browser fetches, a tracking or exfiltration beacon. Markdown images and media tags go.
MARKDOWN_IMAGE = re.compile(r"!\[([^\]\n]{0,500})\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
MEDIA_TAG = re.compile(r"</?\s*(?:img|image|picture|source|video|audio|iframe|object|embed|svg|link|meta|style)\b[^>]*>",
                       re.IGNORECASE)


def shown(history: list[dict]) -> list[dict]:
    """The conversation as the chat window shows it: the same text, without remote images or media."""
    def safe(text: str) -> str:
        return MEDIA_TAG.sub("", MARKDOWN_IMAGE.sub(lambda m: m.group(1), text))

    return [{**message, "content": safe(message["content"])} for message in history]


def _opening(character: Character, sprites: dict | None, user_name: str) -> tuple:
    """A fresh conversation: the greeting as the first message, the neutral face."""
    from pipelines.chat.pipeline import greeting

    opening = greeting(character, 0, user_name or "User") if character.first_mes.strip() else ""
    history = [{"role": "assistant", "content": opening}] if opening else []
    return shown(history), history, portrait_for(character, sprites, "neutral"), emotion_label("neutral")


@dataclass
class Loaded:
    """Everything that changes when a character is loaded: the visitor's state, the edit form, a new conversation.

    Handlers return `Loaded(...).outputs()`; `render` wires the components in the order of these fields, so the
    order lives here only.
    """

    character: Character | None
    sprites: dict
    name: str
    description: str
    personality: str
    scenario: str
    first_mes: str
    system_prompt: str
    voice_engine: str
    voice_variant: str
    voice_pitch: int
    voice_rate: int
    chatbot: list
    history: list
    portrait: object
    emotion: str

    def outputs(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))


FORM = tuple(f.name for f in fields(Loaded))[2:12]  # the edit form's fields, which `apply_edits` takes in this order


def _loaded(character: Character, sprites: dict, user_name: str) -> tuple:
    try:
        voice = voice_of(character)
    except InputError:  # a card with a broken voice still loads; the form offers the default voice to fix it
        voice = Voice()
    chatbot, history, portrait, emotion = _opening(character, sprites, user_name)
    return Loaded(character, sprites, character.name, character.description, character.personality,
                  character.scenario, character.first_mes, character.system_prompt, voice.engine, voice.variant,
                  voice.pitch, voice.rate, chatbot, history, portrait, emotion).outputs()


@user_errors
def load_preset(name: str, user_name: str = "User") -> tuple:
    presets = list_presets()
    if name not in presets:
        raise InputError(f"There is no preset called {name!r}.")
    return _loaded(load_character(presets[name]), {}, user_name)


@user_errors
def import_card(file, user_name: str = "User") -> tuple:
    """A card (.json/.png) or a studio bundle (.zip, whose expression sprites drive the portrait)."""
    if file is None:
        raise InputError("Choose a card file to import.")
    path = Path(file if isinstance(file, str) else file.name)
    if path.suffix.lower() == ".zip":
        from pipelines.character.bundle import CharacterBundle

        bundle = CharacterBundle.load(path)
        return _loaded(bundle.character, bundle.sprites(), user_name)
    return _loaded(load_character(path), {}, user_name)


@user_errors
def apply_edits(character, sprites, name, description, personality, scenario, first_mes, system_prompt, engine,
                variant, pitch, rate, user_name: str = "User") -> tuple:
    """Write the form into a copy of the card (other fields and extensions untouched) and restart the chat."""
    from pipelines.speech.pipeline import Voice

    if character is None:
        raise InputError(NO_CHARACTER)
    card = character.to_card()
    card["data"].update(name=name, description=description, personality=personality, scenario=scenario,
                        first_mes=first_mes, system_prompt=system_prompt)
    edited = Character.from_card(card)  # the same checks as an imported card
    edited.source_dir = character.source_dir  # a preset's sprites still resolve beside its file
    voice = Voice.from_dict({**character.studio.get("voice", {}), "engine": engine, "variant": variant or "", "pitch": int(pitch),
                             "rate": int(rate)})
    edited.studio["voice"] = voice.to_dict()
    return _loaded(edited, sprites or {}, user_name)


@user_errors
def export_card(character, sprites, kind: str) -> str:
    """Write the card to a fresh temporary file for download; PNG cards carry the neutral face (or the portrait)."""
    from PIL import Image

    if character is None:
        raise InputError(NO_CHARACTER)
    if kind not in ("json", "png"):
        raise InputError(f"Cards are exported as json or png, not {kind!r}.")
    face = (sprites or {}).get("neutral")
    path = scratch_dir("card-") / export_filename(character, f".{kind}")
    return str(save_character(character, path, Image.fromarray(face) if face is not None else None))


@user_errors
def restart(character, sprites, user_name: str = "User") -> tuple:
    if character is None:
        raise InputError(NO_CHARACTER)
    return _opening(character, sprites, user_name)


def chat_engines() -> tuple:
    """The engines visitors choose among: the operator's (app.py flags), else the embedded model (tests, Spaces)."""
    return SETTINGS.chat_engines or _unconfigured_engines()


@functools.cache
def _unconfigured_engines() -> tuple:
    from pipelines.chat.engines import configured_engines

    return tuple(configured_engines(probe=False))


def _engine(name: str, local_model: str, base_url: str, model: str, api_key: str):
    """The engine a visitor picked by name. Typed URLs and model paths count only in a free-entry local run."""
    from pipelines.chat.engines import Engine, guess_languages

    local_model, base_url, model = (local_model or "").strip(), (base_url or "").strip(), (model or "").strip()
    if local_model or base_url:
        if not SETTINGS.chat_free_entry:
            raise InputError("Chat servers and model files are chosen by whoever runs this studio; pick one of the "
                             "listed chat engines.")
        if base_url:
            return Engine(f"{model} at {base_url}", "openai", model, base_url, api_key or "", guess_languages(model))
        kind = "llama.cpp" if local_model.endswith(".gguf") and any(e.kind == "llama.cpp" for e in chat_engines()) else "transformers"
        return Engine(local_model, kind, local_model, languages=guess_languages(local_model))
    engines = chat_engines()
    for engine in engines:
        if engine.name == name or not name:
            return engine
    raise InputError(f"There is no chat engine called {name!r}; pick one of the listed engines.")


def _backend(engine, progress):
    from pipelines.chat.engines import build_backend

    if engine.kind == "openai":
        return build_backend(engine)  # nothing to load, and a typed server must not be kept for everyone
    progress(0, desc="Loading the chat model (the first time only)…")
    return shared(f"chat-engine:{engine.kind}:{engine.model}", lambda: build_backend(engine, device=SETTINGS.device))


def speech_for(character: Character):
    """The shared speech pipeline for the character's voice engine, and the voice itself."""
    from pipelines.speech.pipeline import SpeechPipeline

    voice = voice_of(character)
    pipe = shared(f"speech-{voice.engine}", lambda: SpeechPipeline.from_pretrained(voice.engine, device=SETTINGS.device))
    return pipe, voice


@user_errors
@gpu_task(CHAT_SECONDS)  # the local model runs on CUDA when there is one (ZeroGPU: studio/gpu.py)
def respond(message, character, sprites, history, engine="", local_model="", base_url="", model="",
            api_key="", max_new_tokens=CHAT_DEFAULTS.max_new_tokens, temperature=CHAT_DEFAULTS.temperature,
            user_name=CHAT_DEFAULTS.user_name, speak=True, progress=gr.Progress(),
            stream_audio=None):
    """Stream a reply: yields (chatbot, history, textbox, portrait, emotion, audio) as it grows.

    Each finished sentence is voiced while the rest of the reply still streams. With `stream_audio`
    (the default when ffmpeg is installed, which Gradio needs to stream audio) each sentence's audio is
    yielded as soon as it exists, so the character starts speaking before the reply is complete;
    otherwise the whole clip comes with the last step. If the backend fails, the conversation and the
    typed message are put back.
    """
    from pipelines.chat.engines import cannot_write, detect_language
    from pipelines.chat.pipeline import PersonaChatConfig, PersonaChatPipeline, clean_message
    from pipelines.speech.pipeline import ReplySpeaker
    from pipelines.weights import WeightsNotFoundError
    from studio.reply_audio import ReplyAudio, clip

    stream_audio = STREAM_AUDIO if stream_audio is None else stream_audio
    if character is None:
        raise InputError(NO_CHARACTER)
    history = list(history or [])
    config = PersonaChatConfig(max_new_tokens=int(max_new_tokens), temperature=float(temperature),
                               user_name=(user_name or "User").strip() or "User")
    message = clean_message(message, config.max_message_chars)  # before any model loads
    chosen = _engine(engine, local_model, base_url, model, api_key)
    if not chosen.summarizes:  # old turns are dropped instead of summarised by a model that cannot
        config = replace(config, summary_tokens=0)
    language = detect_language(message)
    if not chosen.writes(language):  # say so before loading a model that would answer in gibberish
        raise InputError(cannot_write(chosen.name, chosen.languages, language))
    pipe = PersonaChatPipeline(_backend(chosen, progress), config)
    message = pipe.check_inputs(character, history, message)
    speaker = None
    if speak:
        try:
            speaker = ReplySpeaker(*speech_for(character))
        except (ValueError, WeightsNotFoundError) as err:  # no voice is no reason to lose the reply
            gr.Warning(f"The reply will not be spoken: {err}")
    chunks = []
    face, mood = portrait_for(character, sprites, "neutral"), gr.skip()
    pending = [*history, {"role": "user", "content": message}]
    streamed = ReplyAudio(speaker.speech.engine.sample_rate) if stream_audio and speaker is not None else None
    yield shown(pending), history, "", face, mood, streamed.opening() if streamed else None
    try:
        for reply in pipe.stream(character, history, message):
            fresh = speaker.update(reply.text, reply.done) if speaker is not None else []
            chunks.extend(fresh)
            if not reply.done:
                yield shown(reply.history), history, "", face, mood, streamed.step(fresh) if streamed else None
    except ValueError:  # backend down or slow, or an empty reply: put everything back, then say what happened
        yield shown(history), history, message, face, mood, None
        raise
    yield (shown(reply.history), reply.history, "", portrait_for(character, sprites, reply.emotion),
           emotion_label(reply.emotion), clip(fresh if stream_audio else chunks))


# --- layout --------------------------------------------------------------------------------------


def first_character() -> Character | None:
    """The preset that opens the tab, ready on arrival (a small JSON file; no model is loaded)."""
    names = preset_names()
    return load_character(list_presets()[names[0]]) if names else None


def render(visitor: Visitor):
    """Build the tab around the visitor's character; return `follow(event)`, which refreshes the tab after
    another tab replaces the character."""
    names = preset_names()
    blank = Voice()
    start = (Loaded(*_loaded(visitor.character.value, {}, "User")) if visitor.character.value is not None else
             Loaded(None, {}, "", "", "", "", "", "", blank.engine, blank.variant, blank.pitch, blank.rate, [], [], None, ""))
    character, sprites = visitor.character, visitor.sprites
    history = gr.State(start.history)
    gr.Markdown(t("chat.intro"))
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            preset = gr.Dropdown(names, value=names[0] if names else None, label=t("chat.preset"))
            upload = gr.File(label=t("chat.import"), file_types=[".json", ".png", ".zip"], type="filepath")
            portrait = gr.Image(start.portrait, label=t("chat.portrait"), type="pil", interactive=False, height=280)
            emotion = gr.Markdown(start.emotion)
            with gr.Accordion(t("chat.edit"), open=False):
                name = gr.Textbox(start.name, label=t("chat.name"), max_lines=1)
                description = gr.Textbox(start.description, label=t("chat.description"), lines=4)
                personality = gr.Textbox(start.personality, label=t("chat.personality"), lines=1)
                scenario = gr.Textbox(start.scenario, label=t("chat.scenario"), lines=2)
                first_mes = gr.Textbox(start.first_mes, label=t("chat.first_mes"), lines=2)
                system_prompt = gr.Textbox(start.system_prompt, label=t("chat.system_prompt"), lines=2)
                engine = gr.Dropdown(list(ENGINES), value=start.voice_engine, label=t("chat.voice_engine"))
                variant = gr.Dropdown(list(ESPEAK_VARIANTS), value=start.voice_variant, allow_custom_value=True,
                                      label=t("chat.voice_variant"))
                pitch = gr.Slider(*ESPEAK_PITCH_RANGE, value=start.voice_pitch, step=1, label=t("chat.voice_pitch"))
                rate = gr.Slider(*ESPEAK_RATE_RANGE, value=start.voice_rate, step=5, label=t("chat.voice_rate"))
                apply = gr.Button(t("chat.apply"), variant="primary")
                with gr.Row():
                    export_json = gr.Button(t("chat.export_json"))
                    export_png = gr.Button(t("chat.export_png"))
                download = gr.File(label=t("chat.download"), interactive=False)
        with gr.Column(scale=2):
            chatbot = gr.Chatbot(start.chatbot, label=t("chat.chatbot"), height=460)
            with gr.Row():
                message = gr.Textbox(label=t("chat.message"), scale=4, max_lines=6, autofocus=True)
                send = gr.Button(t("chat.send"), variant="primary", scale=1)
            with gr.Row():
                speak = gr.Checkbox(value=True, label=t("chat.speak"))
                again = gr.Button(t("chat.restart"), size="sm")
            audio = gr.Audio(label=t("chat.audio"), autoplay=True, interactive=False, type="numpy",
                             streaming=STREAM_AUDIO)
            with gr.Accordion(t("chat.backend"), open=False):
                names = [e.name for e in chat_engines()]
                # A name outside the list is refused by `_engine`; API callers may send "" for the default engine.
                chat_engine = gr.Dropdown(names, value=names[0] if names else None, label=t("chat.backend_kind"),
                                          allow_custom_value=True)
                free = SETTINGS.chat_free_entry  # typed servers and model paths: single-user local runs only
                local_model = gr.Textbox(label=t("chat.local_model"), max_lines=1, visible=free)
                base_url = gr.Textbox(label=t("chat.base_url"), max_lines=1, visible=free)
                model = gr.Textbox(label=t("chat.model"), max_lines=1, visible=free)
                api_key = gr.Textbox(label=t("chat.api_key"), type="password", max_lines=1, visible=free)
                max_new_tokens = gr.Slider(*MAX_NEW_TOKENS_RANGE, value=CHAT_DEFAULTS.max_new_tokens, step=16,
                                           label=t("chat.max_new_tokens"))
                temperature = gr.Slider(*TEMPERATURE_RANGE, value=CHAT_DEFAULTS.temperature, step=0.05,
                                        label=t("chat.temperature"))
                user_name = gr.Textbox(value=CHAT_DEFAULTS.user_name, label=t("chat.user_name"), max_lines=1)

    components = {"character": character, "sprites": sprites, "name": name, "description": description,
                  "personality": personality, "scenario": scenario, "first_mes": first_mes,
                  "system_prompt": system_prompt, "voice_engine": engine, "voice_variant": variant, "voice_pitch": pitch,
                  "voice_rate": rate, "chatbot": chatbot, "history": history, "portrait": portrait, "emotion": emotion}
    loaded = [components[f.name] for f in fields(Loaded)]
    form = [components[name] for name in FORM]
    preset.change(load_preset, [preset, user_name], loaded)
    upload.upload(import_card, [upload, user_name], loaded)
    apply.click(apply_edits, [character, sprites, *form, user_name], loaded)
    export_json.click(lambda c, s: export_card(c, s, "json"), [character, sprites], download)
    export_png.click(lambda c, s: export_card(c, s, "png"), [character, sprites], download)
    again.click(restart, [character, sprites, user_name], [chatbot, history, portrait, emotion])
    inputs = [message, character, sprites, history, chat_engine, local_model, base_url, model, api_key,
              max_new_tokens, temperature, user_name, speak]
    outputs = [chatbot, history, message, portrait, emotion, audio]
    # One reply at a time per visitor: while it streams, Send and the message box are locked and say why, so a
    # second message cannot start a turn from a history that is about to change (it would be lost).
    busy = [send, message]
    locked = lambda: (gr.update(interactive=False, value=t("chat.wait")), gr.update(interactive=False))  # noqa: E731
    unlocked = lambda: (gr.update(interactive=True, value=t("chat.send")), gr.update(interactive=True))  # noqa: E731
    for trigger, api in ((message.submit, None), (send.click, "chat_respond")):
        (trigger(locked, None, busy, queue=False, api_visibility="undocumented")
         .then(respond, inputs, outputs, concurrency_limit=1, concurrency_id="chat", api_name=api)
         .then(unlocked, None, busy, queue=False, api_visibility="undocumented"))

    def follow(event) -> None:
        """After another tab replaces the character (a bundle import), refresh the form and start a new chat."""
        event.then(_loaded, [character, sprites, user_name], loaded, api_visibility="undocumented")

    return follow
