"""The emotion of a reply (joy, sadness, anger, surprise, fear, disgust, neutral) from cue words and rules.

A small transparent classifier rather than a model: it runs offline in microseconds, in English and
Chinese, and every decision can be traced to the cue words it found. Rules on top of the lexicon:
a negation just before a cue cancels it ("not happy" counts towards sadness, "not scared" counts
for nothing), an intensifier just before a cue raises its weight, "!" strengthens what is already
there, and "?!" or a bare "really?" reads as surprise. With no cue the reply is neutral. Accuracy on
the labelled set in tests/data/emotion_labelled.jsonl is measured by bench/chat.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import InputError
from pipelines.labels import LABELS

EMOTIONS = LABELS  # a reply gets the label of the sprite the portrait shows

# English cues: whole words, or prefixes when they end with "*" (so "annoy*" covers annoyed/annoying).
EN_CUES: dict[str, tuple[str, ...]] = {
    "joy": ("happy", "glad", "joy*", "love", "loved", "lovely", "adore", "wonderful", "great", "awesome", "amazing",
            "fantastic", "excellent", "yay", "haha*", "hooray", "congrat*", "delight*", "enjoy*", "fun", "smile*",
            "proud", "thank*", "thrilled", "excited", "exciting", "beautiful", "brilliant", "cheer*",
            "pleased", "nice", "perfect", "welcome", "laugh*"),
    "sadness": ("sad", "sadly", "sorrow*", "unhappy", "miss", "lonely", "alone", "cry*", "cried", "tears", "heartbroken",
                "breaks", "broke", "grief", "griev*", "depress*", "pity", "shame", "unfortunately", "regret*", "sigh",
                "disappoint*", "failed", "lost", "passed", "goodbye", "wish", "gloomy", "hurt*", "sorry"),
    "anger": ("angry", "anger", "furious", "mad", "rage", "hate", "hated", "annoy*", "irritat*", "outrage*",
              "unacceptable", "ridiculous", "enough", "dare", "stupid", "idiot*", "damn*", "lied", "liar",
              "fed", "sick", "cheat*", "unfair", "terrible", "awful", "stop", "scream", "insult*"),
    "surprise": ("wow", "whoa", "woah", "surpris*", "unexpected*", "expect", "incredible", "unbelievable", "believe",
                 "really", "seriously", "serious", "omg", "huh", "oh", "idea", "shock*", "astonish*", "amazed",
                 "way", "suddenly"),
    "fear": ("afraid", "scared", "scary", "fear*", "terrif*", "frighten*", "nervous", "anxious", "anxiety",
             "worried", "worry", "panic*", "dangerous", "danger", "careful", "shaking", "trembl*",
             "horror", "creepy", "dread*", "bad feeling"),
    "disgust": ("disgust*", "gross", "ew", "eww", "yuck", "revolting", "nasty", "vile", "rotten", "mold*", "mould*",
                "filthy", "dirty", "stink*", "smelly", "sickening", "sickened", "vomit", "puke", "throw up",
                "repulsive", "distasteful", "slime", "ugh"),
}

# Chinese cues: substrings, matched longest first so "恶心" is not also read as "心".
ZH_CUES: dict[str, tuple[str, ...]] = {
    "joy": ("开心", "高兴", "快乐", "太好了", "真棒", "很棒", "好棒", "喜欢", "哈哈", "恭喜", "欣慰", "骄傲", "幸福",
            "好玩", "有趣", "谢谢", "感谢", "欢迎", "耶", "愉快", "满意", "笑", "赢了", "美好", "爱"),
    "sadness": ("难过", "伤心", "悲伤", "遗憾", "可惜", "孤单", "孤独", "想家", "失望", "哭", "唉", "难受", "痛苦",
                "心碎", "再也不", "没人", "没有人", "不开心", "沮丧", "对不起", "怀念", "舍不得"),
    "anger": ("生气", "愤怒", "气死", "太过分", "过分", "讨厌", "烦死", "烦人", "够了", "凭什么", "竟然敢", "混蛋",
              "别再", "不要再", "骗", "作弊", "可恶", "受够", "火大", "太差"),
    "surprise": ("哇", "真的吗", "真的假的", "什么？", "天哪", "天啊", "居然", "竟然", "不会吧", "咦", "没想到",
                 "意外", "惊讶", "吃惊", "震惊", "啊？", "难以置信"),
    "fear": ("害怕", "怕", "恐惧", "紧张", "吓人", "吓死", "可怕", "危险", "小心", "担心", "救命", "不敢", "焦虑",
             "发抖", "阴森", "发毛", "万一", "慌"),
    "disgust": ("恶心", "呕", "难闻", "脏", "发霉", "反胃", "作呕", "臭", "下流", "嫌弃", "腐烂", "令人作呕", "吃不下"),
}

EN_NEGATIONS = {"not", "no", "never", "nobody", "nothing", "hardly", "without"}
EN_INTENSIFIERS = {"very", "so", "really", "extremely", "too", "totally", "truly", "super", "incredibly", "absolutely"}
ZH_NEGATIONS = ("一点也不", "一点都不", "并不", "不", "没", "别")
ZH_INTENSIFIERS = ("非常", "特别", "真的", "超", "太", "很", "好", "真", "极")
EMOTICONS = {":)": "joy", ":-)": "joy", ":D": "joy", "😀": "joy", "😄": "joy", "😊": "joy", "❤": "joy",
             ":(": "sadness", ":-(": "sadness", "😢": "sadness", "😭": "sadness", "😡": "anger", "😠": "anger",
             "😮": "surprise", "😲": "surprise", "😱": "fear", "😨": "fear", "🤢": "disgust", "🤮": "disgust"}

NEGATION_WINDOW = 3  # words (English) a negation reaches forward
ZH_NEGATION_WINDOW = 2  # characters between a Chinese negation and its cue
INTENSIFIER_WEIGHT = 1.5
EXCLAMATION_WEIGHT = 1.25  # "!" strengthens the emotion already present
NEGATED_JOY_TO_SADNESS = 0.8  # "not happy" is a sad statement, a little weaker than "sad"
MIN_SCORE = 0.5  # below this total evidence the reply is neutral

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass
class Emotion:
    """The label, the per-label scores it came from, and the cues found (for explanation and debugging)."""

    label: str
    scores: dict[str, float]
    cues: list[str]


def _en_cue(word: str) -> str | None:
    for label, cues in EN_CUES.items():
        for cue in cues:
            if cue.endswith("*") and word.startswith(cue[:-1]) or word == cue:
                return label
    return None


def _score_english(text: str, scores: dict[str, float], cues: list[str]) -> None:
    lowered = text.lower().replace("n't", " not")
    for phrase in ("throw up", "bad feeling", "no way", "no idea", "oh my", "help!"):  # multi-word cues first
        if phrase in lowered:
            label = {"no way": "surprise", "no idea": "surprise", "oh my": "surprise", "help!": "fear"}.get(phrase) or _en_cue(phrase)
            scores[label] += 1.0
            cues.append(phrase)
            lowered = lowered.replace(phrase, " ")
    words = _WORD.findall(lowered)
    for i, word in enumerate(words):
        label = _en_cue(word)
        if label is None:
            continue
        before = words[max(0, i - NEGATION_WINDOW) : i]
        weight = INTENSIFIER_WEIGHT if i and words[i - 1] in EN_INTENSIFIERS and label != "surprise" else 1.0
        if any(w in EN_NEGATIONS for w in before):
            if label == "joy":
                scores["sadness"] += NEGATED_JOY_TO_SADNESS * weight
                cues.append(f"not {word}")
            continue
        scores[label] += weight
        cues.append(word)


def _score_chinese(text: str, scores: dict[str, float], cues: list[str]) -> None:
    taken = [False] * len(text)
    matches = sorted(
        ((cue, label) for label, table in ZH_CUES.items() for cue in table), key=lambda item: -len(item[0])
    )
    for cue, label in matches:
        start = text.find(cue)
        while start != -1:
            end = start + len(cue)
            if not any(taken[start:end]):
                for k in range(start, end):
                    taken[k] = True
                prefix = text[max(0, start - ZH_NEGATION_WINDOW - 2) : start]
                negated = any(prefix.endswith(neg) or prefix[:-1].endswith(neg) for neg in ZH_NEGATIONS)
                weight = INTENSIFIER_WEIGHT if any(prefix.endswith(w) for w in ZH_INTENSIFIERS) else 1.0
                if negated and label not in ("anger",):  # "别再/不要再" are anger cues themselves, already matched
                    if label == "joy":
                        scores["sadness"] += NEGATED_JOY_TO_SADNESS
                        cues.append(f"不{cue}")
                else:
                    scores[label] += weight
                    cues.append(cue)
            start = text.find(cue, start + 1)


def classify_emotion(text: str) -> Emotion:
    """Score every emotion from the cues in `text` and return the strongest (neutral when none is clear)."""
    scores = {label: 0.0 for label in EMOTIONS}
    cues: list[str] = []
    _score_english(text, scores, cues)
    _score_chinese(text, scores, cues)
    for icon, label in EMOTICONS.items():
        if icon in text:
            scores[label] += 1.0
            cues.append(icon)
    if re.search(r"[?？][!！]|[!！][?？]", text) or re.fullmatch(r"\W*(really|seriously|真的)[?？]\W*", text.lower()):
        scores["surprise"] += 1.0
        cues.append("?!")
    if re.search(r"[!！]", text):
        for label in EMOTIONS:
            scores[label] *= EXCLAMATION_WEIGHT
    best = max(EMOTIONS[:-1], key=lambda label: scores[label])
    if scores[best] < MIN_SCORE:
        best = "neutral"
    scores["neutral"] = MIN_SCORE
    return Emotion(label=best, scores=scores, cues=cues)


@dataclass
class EmotionReport:
    """Accuracy on a labelled set and the confusion counts (true label → predicted label → count)."""

    accuracy: float
    total: int
    confusion: dict[str, dict[str, int]]
    errors: list[tuple[str, str, str]]  # (text, true, predicted)


def evaluate_emotion(samples: list[tuple[str, str]]) -> EmotionReport:
    """Classify each (text, true label) pair and count how often the label comes out right."""
    if not samples:
        raise InputError("The labelled set is empty.")
    confusion = {true: {pred: 0 for pred in EMOTIONS} for true in EMOTIONS}
    errors = []
    for text, true in samples:
        if true not in EMOTIONS:
            raise InputError(f"Unknown emotion label {true!r}; expected one of {', '.join(EMOTIONS)}.")
        predicted = classify_emotion(text).label
        confusion[true][predicted] += 1
        if predicted != true:
            errors.append((text, true, predicted))
    return EmotionReport(1 - len(errors) / len(samples), len(samples), confusion, errors)
