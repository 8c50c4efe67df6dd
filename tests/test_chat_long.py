"""Long chats: 200 turns through a small context. Old turns leave, the same engine summarises them into the
prompt, the persona and post-history instructions stay, and the lorebook still fires on recent messages."""

from __future__ import annotations

import pytest

from pipelines.character.card import load_character
from pipelines.chat.pipeline import DEFAULT_POST_HISTORY, PersonaChatConfig, PersonaChatPipeline
from pipelines.chat.summary import SUMMARY_HEADING
from tests.chat_doubles import NotesBackend
from tests.conftest import EXAMPLES

FILLER = ("what else is there to see here?", "and what happened after that?", "tell me more, please.",
          "which way do we go now?")
FACTS = {3: "My daughter Lucia is seven and she wants to see the Orrery.",  # a fact from turn 3...
         120: "We parked the car on Level 4 of the garage."}  # ...and one long after it
LORE_TURN, LORE_KEY = 190, "Does the pendulum still swing?"  # "pendulum" is a key of the clock-room entry


@pytest.fixture
def guide():
    return load_character(EXAMPLES / "characters" / "museum_guide.json")


def _config(**overrides) -> PersonaChatConfig:
    return PersonaChatConfig(**{"max_new_tokens": 40, "summary_tokens": 80, "summary_every": 8, "seed": 0, **overrides})


def test_a_200_turn_chat_fits_keeps_its_persona_and_remembers_turn_3_through_the_summary(guide):
    bare = NotesBackend(4096)
    persona_tokens = PersonaChatPipeline(bare, _config()).build_prompt(guide, [], "hi").tokens
    backend = NotesBackend(context_length=persona_tokens + 40 + 80 + 120)  # room for ~10 short turns at most
    pipe = PersonaChatPipeline(backend, _config())
    budget = backend.context_length - pipe.config.max_new_tokens
    post = DEFAULT_POST_HISTORY.replace("{{char}}", "Ada").replace("{{user}}", "User")
    history: list[dict] = []
    summaries, prompts = [], []
    for turn in range(200):
        message = FACTS.get(turn) or (LORE_KEY if turn == LORE_TURN else FILLER[turn % len(FILLER)])
        reply = pipe(guide, history, message)
        prompt = reply.prompt
        assert prompt.tokens == backend.count_tokens(prompt.messages) <= budget, turn  # always fits
        system = prompt.messages[0]["content"]
        assert guide.description in system and guide.personality in system, turn  # the persona stays
        assert prompt.messages[-1]["content"] == f"{message}\n\n({post})", turn  # and the post-history text
        history = reply.history
        summaries.append(prompt.summary)
        prompts.append(prompt)
    assert len(history) == 400 and prompts[-1].dropped_messages > 380  # most turns left the window...
    assert "Lucia" in summaries[-1] and "Orrery" in summaries[-1]  # ...but turn 3's fact is still in the prompt
    assert f"{SUMMARY_HEADING}\n" in prompts[-1].messages[0]["content"] and "Lucia" in prompts[-1].messages[0]["content"]
    assert "Lucia" not in summaries[100] or "Level 4" not in summaries[100]
    assert "Level 4" in summaries[-1]  # the summary was updated with a later fact
    # The lorebook reads the recent messages (the card's scan depth, 4), however long the chat has been:
    assert prompts[LORE_TURN].dropped_messages > 300
    assert "Foucault" in prompts[LORE_TURN].messages[0]["content"]  # the clock-room entry fired on "pendulum"
    assert "Foucault" in prompts[LORE_TURN + 1].messages[0]["content"]  # still among the last 4 messages
    assert "Foucault" not in prompts[LORE_TURN - 1].messages[0]["content"]
    assert "Foucault" not in prompts[-1].messages[0]["content"]  # 18 messages later it has left the scan
    # The window moves in steps of `summary_every` messages: one rewrite per step, not one per turn.
    rewrites = sum(1 for call in backend.calls if call[-1]["content"].startswith("Notes so far:"))
    assert len(set(summaries)) > 2 and rewrites <= 400 // pipe.config.summary_every + 2
    assert all(p.dropped_messages % pipe.config.summary_every == 0 for p in prompts)


def test_a_short_chat_has_no_summary_and_costs_no_extra_call(guide):
    backend = NotesBackend(4096)
    pipe = PersonaChatPipeline(backend, _config())
    reply = pipe(guide, [], "Hello!")
    reply = pipe(guide, reply.history, "What is there to see?")
    assert reply.prompt.summary == "" and reply.prompt.dropped_messages == 0
    assert SUMMARY_HEADING not in reply.prompt.messages[0]["content"]
    assert len(backend.calls) == 2  # the two replies, nothing else


def test_the_summary_is_remembered_between_turns(guide):
    """The studio builds a pipeline per turn: the summary is remembered by model and history prefix, so a turn
    only summarises what is new, and another model writes its own."""
    persona_tokens = PersonaChatPipeline(NotesBackend(4096), _config()).build_prompt(guide, [], "hi").tokens
    backend = NotesBackend(context_length=persona_tokens + 240)
    backend.model_name = "notes-remembered"  # not shared with the other tests' summaries
    pipe = PersonaChatPipeline(backend, _config())
    history = []
    for turn in range(30):
        history = pipe(guide, history, FACTS.get(turn) or FILLER[turn % len(FILLER)]).history
    first = pipe.build_prompt(guide, history, "And now?")
    calls = len(backend.calls)
    again = pipe.build_prompt(guide, history, "And now?")
    assert "Lucia" in again.summary and again.summary == first.summary
    assert len(backend.calls) == calls  # built from the remembered summary: no model call
    fresh = PersonaChatPipeline(backend, _config()).build_prompt(guide, history, "And now?")
    assert fresh.summary == first.summary and len(backend.calls) == calls  # a new pipeline finds it too
    other = NotesBackend(backend.context_length)
    other.model_name = "another-model"
    assert PersonaChatPipeline(other, _config()).build_prompt(guide, history, "And now?").summary == first.summary
    assert other.calls and all(call[-1]["content"].startswith("Notes so far:") for call in other.calls)


def test_a_model_that_echoes_the_request_leaves_the_notes_as_they_were(guide):
    class Parrot(NotesBackend):
        def stream(self, messages, **kwargs):
            self.calls.append(messages)
            yield from (messages[-1]["content"] if messages[-1]["content"].startswith("Notes so far:") else self.REPLY)

    persona_tokens = PersonaChatPipeline(NotesBackend(4096), _config()).build_prompt(guide, [], "hi").tokens
    backend = Parrot(context_length=persona_tokens + 240)
    backend.model_name = "parrot"
    pipe = PersonaChatPipeline(backend, _config())
    history = []
    for turn in range(30):
        reply = pipe(guide, history, FILLER[turn % len(FILLER)])
        history = reply.history
    assert reply.prompt.dropped_messages > 0 and reply.prompt.summary == ""  # no request text in the prompt


def test_the_embedded_model_does_not_summarise_and_an_operator_can_say_so_of_others(tmp_path):
    import json

    from pipelines.chat.engines import Engine, embedded_engines, engines_from_file

    assert not any(engine.summarizes for engine in embedded_engines(True))
    assert Engine("Qwen", "openai", "qwen2.5:3b", "http://127.0.0.1:11434/v1").summarizes
    config = tmp_path / "chat.json"
    config.write_text(json.dumps({"engines": [{"name": "tiny", "kind": "llama.cpp", "model": "/m/tiny.gguf",
                                               "summarizes": False}]}))
    assert not engines_from_file(config)[0].summarizes
