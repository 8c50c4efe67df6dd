"""The expression and emotion labels, defined once.

The face pipeline paints one sprite per label, the chat labels each reply with one of them and shows the
sprite of that name, and the UI shows each with an icon and a Chinese name. They must agree, so every
module reads them from here (a test checks it).
"""

from __future__ import annotations

# The six basic emotions (Ekman) and neutral; also the file names of the expression sprites (`joy.png`, ...),
# which is how SillyTavern names them.
LABELS = ("joy", "sadness", "anger", "surprise", "fear", "disgust", "neutral")
NEUTRAL = "neutral"

# How the UI shows a label: an emoji and its Chinese name.
LOOK: dict[str, tuple[str, str]] = {
    "joy": ("😊", "喜悦"), "sadness": ("😢", "悲伤"), "anger": ("😠", "愤怒"), "surprise": ("😮", "惊讶"),
    "fear": ("😨", "害怕"), "disgust": ("🤢", "厌恶"), "neutral": ("🙂", "平静"),
}

# SillyTavern's expression feature knows 28 labels (the GoEmotions classes); a "full set" of sprites has one
# file per label, each named `<label>.png`.
SILLYTAVERN_LABELS = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity", "desire",
    "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief", "joy",
    "love", "nervousness", "optimism", "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)
