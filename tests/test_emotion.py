"""Emotion classifier: accuracy on the labelled English/Chinese set and the rules one by one."""

from __future__ import annotations

import json

import pytest

from pipelines.chat.emotion import EMOTIONS, classify_emotion, evaluate_emotion
from tests.conftest import REPO

LABELLED = REPO / "tests" / "data" / "emotion_labelled.jsonl"


def _rows() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_labelled_set_is_large_balanced_and_bilingual():
    rows = _rows()
    assert len(rows) >= 100
    for label in EMOTIONS:
        for lang in ("en", "zh"):
            assert sum(r["label"] == label and r["lang"] == lang for r in rows) >= 5, (label, lang)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_accuracy_on_the_labelled_set_per_language(lang):
    report = evaluate_emotion([(r["text"], r["label"]) for r in _rows() if r["lang"] == lang])
    assert report.accuracy >= 0.85, report.errors  # bench/chat.py reports the exact figures and the confusion


def test_blind_split_written_after_the_lexicon_was_frozen():
    report = evaluate_emotion([(r["text"], r["label"]) for r in _rows() if r["split"] == "blind"])
    assert report.accuracy >= 0.8, report.errors


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I'm happy.", "joy"),
        ("I'm not happy.", "sadness"),  # negated joy reads as sadness
        ("I'm not scared at all.", "neutral"),  # negated fear is no emotion
        ("我一点也不开心。", "sadness"),
        ("我不害怕。", "neutral"),
        ("Really?!", "surprise"),
        ("The shop opens at nine.", "neutral"),
        ("好恶心", "disgust"),  # longest match: 恶心, not a stray 心
        ("😱", "fear"),
    ],
)
def test_rules(text, label):
    assert classify_emotion(text).label == label


def test_intensifier_and_exclamation_raise_the_score():
    plain = classify_emotion("I am glad.").scores["joy"]
    assert classify_emotion("I am very glad.").scores["joy"] > plain
    assert classify_emotion("I am glad!").scores["joy"] > plain


def test_unknown_label_in_a_labelled_set_is_refused():
    with pytest.raises(ValueError, match="Unknown emotion label"):
        evaluate_emotion([("hi", "happy")])
