"""The emotion of a reply (joy, sadness, anger, surprise, fear, disgust, neutral) from cue words and rules.

A small transparent classifier rather than a model: it runs offline in microseconds, in English and
Chinese, and every decision can be traced to the cue words it found. Rules on top of the lexicon:
a negation just before a cue cancels it ("not happy" counts towards sadness, "not scared" counts
for nothing), an intensifier just before a cue raises its weight, "!" strengthens what is already
there, and "?!" or a reply opening with "really?" / "什么？" reads as surprise. Politeness formulas ("happy to help",
"welcome", "谢谢", "欢迎光临") are read past: manners are not the speaker's mood, and an assistant that is
"happy to help" in every reply would otherwise show joy after each one. With no cue the reply is neutral.
Measured on human-labelled public text (bench/emotion.py) and on tests/data/emotion_labelled.jsonl (bench/chat.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import InputError
from pipelines.labels import LABELS

EMOTIONS = LABELS  # a reply gets the label of the sprite the portrait shows

# English cues: whole words, or prefixes when they end with "*" (so "annoy*" covers annoyed/annoying).
EN_CUES: dict[str, tuple[str, ...]] = {
    "joy": ("happy", "glad", "joy", "joyful", "joyous", "love", "loved", "lovely", "adore", "wonderful", "great",
            "awesome", "amazing", "fantastic", "excellent", "yay", "haha*", "hooray", "congrat*", "delight*", "enjoy*",
            "fun", "smile*", "proud", "thrilled", "excited", "exciting", "beautiful", "brilliant", "cheer*",
            "pleased", "nice", "perfect", "sweet", "laugh", "laughs", "laughed", "laughing", "laughter"),
    "sadness": ("sad", "sadly", "sorrow*", "unhappy", "miss", "lonely", "cry*", "cried", "tears", "heartbroken",
                "breaks", "broke", "grief", "griev*", "depress*", "pity", "shame", "unfortunately", "regret*", "sigh",
                "disappoint*", "failed", "lost", "gloomy", "hurt*", "sorry"),
    "anger": ("angry", "anger", "furious", "mad", "rage", "hate", "hated", "annoy*", "irritat*", "outrage*",
              "unacceptable", "ridiculous", "dare", "stupid", "idiot*", "damn*", "lied", "liar", "cheat*",
              "unfair", "terrible", "awful", "scream", "insult*"),
    "surprise": ("wow", "whoa", "woah", "surpris*", "unexpected*", "incredible", "unbelievable", "seriously", "omg",
                 "huh", "shock*", "astonish*", "amazed", "suddenly"),
    "fear": ("afraid", "scared", "scary", "fear*", "terrified", "terrifying", "terrifies", "terrify", "frighten*", "nervous", "anxious",
             "anxiety", "worried", "worry", "panic*", "dangerous", "danger", "careful", "shaking", "trembl*",
             "horror", "creepy", "dread*", "bad feeling"),
    "disgust": ("disgust*", "gross", "ew", "eww", "yuck", "revolting", "nasty", "vile", "rotten", "moldy", "mouldy",
                "filthy", "dirty", "stink*", "smelly", "sickening", "sickened", "vomit", "puke", "throw up",
                "repulsive", "distasteful", "slime", "ugh"),
}
# Several-word cues, read before single words (their words are then not read again).
EN_PHRASES: dict[str, str] = {
    "throw up": "disgust", "bad feeling": "fear", "help!": "fear", "no way": "surprise", "no idea": "surprise",
    "oh my": "surprise", "can't believe": "surprise", "cannot believe": "surprise", "didn't expect": "surprise",
    "never expected": "surprise", "had enough": "anger", "that's enough": "anger", "enough!": "anger", "fed up": "anger",
    "sick of": "anger", "how dare": "anger", "passed away": "sadness", "all alone": "sadness",
}
# Politeness formulas carry no emotion of the speaker: an assistant that is "happy to help", says "welcome",
# "thank you" or "sorry for any confusion" in every reply would otherwise wear the same face after each one.
EN_FORMULAS = re.compile(
    r"\b(?:(?:i'?d|i would|i'?m|i am|i'?ll|we'?d|we are|we'?re) (?:be )?(?:so |very |more than )?"
    r"(?:happy|glad|pleased|delighted) to (?:help|assist|answer|show|guide|explain|tell)"
    r"|(?:you'?re|you are) (?:very |most )?welcome|welcome(?: back)? to|welcome\b"
    r"|thanks?(?: you)?(?: so much| very much)?(?: for \w+(?: \w+)?)?|(?:nice|great|pleased|glad) to meet you"
    r"|feel free|(?:great|good|excellent|wonderful) question|my pleasure|have a (?:nice|great|good|lovely) \w+"
    r"|sorry for (?:any|the) (?:confusion|inconvenience|misunderstanding)|i'?d love to)"
)

# Chinese cues: substrings, matched longest first so "恶心" is not also read as "心".
ZH_CUES: dict[str, tuple[str, ...]] = {
    "joy": ("开心", "高兴", "快乐", "太好了", "真棒", "很棒", "好棒", "喜欢", "哈哈", "恭喜", "欣慰", "骄傲", "幸福",
            "好玩", "有趣", "耶", "愉快", "满意", "笑", "赢了", "美好", "爱"),
    "sadness": ("难过", "伤心", "悲伤", "遗憾", "可惜", "孤单", "孤独", "想家", "失望", "哭", "唉", "难受", "痛苦",
                "心碎", "再也不", "不开心", "沮丧", "对不起", "怀念", "舍不得"),
    "anger": ("生气", "愤怒", "气死", "太过分", "过分", "讨厌", "烦死", "烦人", "凭什么", "竟然敢", "混蛋",
              "别再", "不要再", "骗", "作弊", "可恶", "受够", "火大", "太差"),
    "surprise": ("哇", "真的吗", "真的假的", "天哪", "天啊", "居然", "竟然", "不会吧", "咦", "没想到",
                 "意外", "惊讶", "吃惊", "震惊", "啊？", "难以置信", "不敢相信"),
    "fear": ("害怕", "怕", "恐惧", "紧张", "吓人", "吓死", "可怕", "危险", "小心", "担心", "救命", "不敢", "焦虑",
             "发抖", "阴森", "发毛", "万一", "慌"),
    "disgust": ("恶心", "呕", "难闻", "脏", "发霉", "反胃", "作呕", "臭", "下流", "嫌弃", "腐烂", "令人作呕", "吃不下"),
}
# Words that contain a cue but mean something else ("哪怕" even if, "恐怕" probably, "足够" enough, "爱好" hobby,
# "笑话" joke): matched first and then ignored, so their characters are not read as the cue inside them.
ZH_NOT_CUES = ("哪怕", "恐怕", "怕是", "足够", "能够", "爱好", "笑话", "可笑")
# Politeness formulas, as in English: "欢迎光临", "谢谢", "很高兴为您服务" are manners, not the speaker's mood.
ZH_FORMULAS = re.compile(r"欢迎(?:光临|来到|回来)?|谢谢(?:您|你)?|感谢(?:您|你)?|不客气|(?:很|非常)?(?:高兴|乐意)(?:为您|为你|帮助|帮您|帮你|认识)")

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
    lowered = EN_FORMULAS.sub(" ", text.lower().replace("’", "'"))
    for phrase, label in EN_PHRASES.items():
        if phrase in lowered:
            scores[label] += 1.0
            cues.append(phrase)
            lowered = lowered.replace(phrase, " ")
    words = _WORD.findall(lowered.replace("n't", " not"))
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


_ZH_MATCHES = sorted(
    [(cue, label) for label, table in ZH_CUES.items() for cue in table] + [(word, None) for word in ZH_NOT_CUES],
    key=lambda item: -len(item[0]),
)


def _score_chinese(text: str, scores: dict[str, float], cues: list[str]) -> None:
    text = ZH_FORMULAS.sub("，", text)
    taken = [False] * len(text)
    for cue, label in _ZH_MATCHES:  # longest first, so "恶心" is not also read as "心"
        start = text.find(cue)
        while start != -1:
            end = start + len(cue)
            if not any(taken[start:end]):
                taken[start:end] = [True] * len(cue)
                if label is not None:
                    _score_chinese_cue(text, start, cue, label, scores, cues)
            start = text.find(cue, start + 1)


def _score_chinese_cue(text: str, start: int, cue: str, label: str, scores: dict[str, float], cues: list[str]) -> None:
    before = text[max(0, start - ZH_NEGATION_WINDOW - 4) : start]
    negated = any(neg in before[-(ZH_NEGATION_WINDOW + len(neg)) :] for neg in ZH_NEGATIONS)
    weight = INTENSIFIER_WEIGHT if any(before.endswith(w) for w in ZH_INTENSIFIERS) else 1.0
    if negated and label != "anger":  # "别再/不要再" are anger cues themselves, already matched
        if label == "joy":
            scores["sadness"] += NEGATED_JOY_TO_SADNESS
            cues.append(f"不{cue}")
        return
    scores[label] += weight
    cues.append(cue)


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
    if re.search(r"[?？][!！]|[!！][?？]", text) or re.match(r"\W*(really|seriously|真的|什么)[?？]", text.lower()):
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
