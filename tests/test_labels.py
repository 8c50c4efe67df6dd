"""The seven labels are one fact: the face paints a sprite per label, the chat labels replies with them and the UI
shows them. If any of these drifted apart, the chat face would silently fall back to neutral."""

from __future__ import annotations

import numpy as np

from pipelines.character.card import Character
from pipelines.chat.emotion import EMOTIONS, classify_emotion
from pipelines.face.action_units import EXPRESSIONS, PRESETS
from pipelines.labels import LABELS, LOOK, NEUTRAL, SILLYTAVERN_LABELS


def test_face_chat_and_ui_use_the_same_labels():
    assert EXPRESSIONS == EMOTIONS == LABELS
    assert set(LOOK) == set(LABELS)
    assert set(PRESETS) | {NEUTRAL} == set(LABELS)  # every label but neutral is a set of action units


def test_every_label_is_a_sillytavern_sprite_name():
    assert len(SILLYTAVERN_LABELS) == len(set(SILLYTAVERN_LABELS)) == 28
    assert set(LABELS) <= set(SILLYTAVERN_LABELS)


def test_a_reply_label_picks_the_sprite_of_that_name():
    from studio.tabs.chat import portrait_for

    sprites = {label: np.full((4, 4, 3), i * 30, np.uint8) for i, label in enumerate(LABELS)}
    character = Character(name="Test")
    for i, label in enumerate(LABELS):
        assert portrait_for(character, sprites, label).getpixel((0, 0)) == (i * 30,) * 3
    for text in ("I am so happy!", "This is terrible and sad.", "What? Really?!", "Hello."):
        assert classify_emotion(text).label in sprites
