"""The rules that score the role-play evaluation (bench/roleplay.py); the evaluation itself runs in bench/."""

from __future__ import annotations

from bench.roleplay import PROBES, Probe, score


def test_the_probe_set_covers_both_languages_and_every_kind():
    assert len(PROBES) >= 40
    for language in ("en", "zh"):
        kinds = {p.kind for p in PROBES if p.language == language}
        assert kinds == {"greeting", "off-topic", "jailbreak", "recall"}
    recall = [p for p in PROBES if p.kind == "recall"]
    assert all(p.history[0]["role"] == "user" and len(p.history) == 6 and p.expect for p in recall)


def test_in_character_language_completeness_and_recall_rules():
    hello = Probe("Ada", "greeting", "en", "Hi Ada!")
    assert score(hello, "Welcome to the museum! I'm Ada, your guide today.", "Ada") == {
        "in_character": True, "language": True, "complete": True, "recall": None}
    assert not score(hello, "As an AI language model, I cannot be a guide.", "Ada")["in_character"]
    assert not score(hello, "Arr! I'm Jack, the pirate of the seven seas.", "Ada")["in_character"]
    assert not score(hello, "I'm a pirate named Jack, and I've just arrived.", "Ada")["in_character"]
    assert not score(hello, "Welcome to the museum, we will start with the", "Ada")["complete"]
    assert score(hello, '*smiles* "Shall we go?"', "Ada")["complete"]
    zh = Probe("李老师", "greeting", "zh", "老师好！")
    assert score(zh, "你好！今天我们学点菜。", "李老师")["language"]
    assert not score(zh, "Hello! Today we learn to order food.", "李老师")["language"]
    assert not score(zh, "我是一个人工智能助手。", "李老师")["in_character"]
    recall = Probe("Ada", "recall", "en", "What was my name?", expect=("Priya",))
    assert score(recall, "You told me your name is Priya.", "Ada")["recall"]
    assert not score(recall, "I'm sorry, I don't remember.", "Ada")["recall"]
