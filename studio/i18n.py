"""English and Chinese UI text. Each tab module keeps its own `TEXT = {"en": {...}, "zh": {...}}`.

`t(key)` marks a string for translation; the browser's language picks the table (English fallback).
"""

from __future__ import annotations

import gradio as gr
from gradio.i18n import I18nData

from pipelines.errors import InputError
from pipelines.labels import LOOK

LANGUAGES = ("en", "zh")
# The seven expression/emotion labels as the UI shows them: an emoji and the name, in each language.
LABEL_TEXT = {
    "en": {f"label.{label}": f"{icon} {label}" for label, (icon, _) in LOOK.items()},
    "zh": {f"label.{label}": f"{icon} {chinese}" for label, (icon, chinese) in LOOK.items()},
}


def t(key: str) -> I18nData:
    return I18nData(key)


def build_i18n(*tables: dict[str, dict[str, str]]) -> gr.I18n:
    """Merge the tabs' tables into one `gr.I18n`; a key defined twice is a bug, so it raises."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for table in tables:
        for lang in LANGUAGES:
            clash = merged[lang].keys() & table.get(lang, {}).keys()
            if clash:
                raise InputError(f"i18n keys defined twice: {sorted(clash)}")
            merged[lang].update(table.get(lang, {}))
    return gr.I18n(**merged)


def label_choices(labels) -> list[tuple[I18nData, str]]:
    """Radio/dropdown choices that show each label in the visitor's language and pass the label itself."""
    return [(t(f"label.{label}"), label) for label in labels]


def language(request: gr.Request | None) -> str:
    """The visitor's UI language, read from the browser's Accept-Language as Gradio's own i18n does."""
    accepted = request.headers.get("accept-language", "") if request is not None else ""
    return "zh" if accepted.lower().startswith("zh") else "en"


def say(table: dict[str, dict[str, str]], key: str, request: gr.Request | None, **values) -> str:
    """Text a handler writes (notes, captions), from a tab's TEXT table in the visitor's language."""
    lang = language(request)
    return table[lang].get(key, table["en"][key]).format(**values)


def label_name(label: str, request: gr.Request | None) -> str:
    return LABEL_TEXT[language(request)].get(f"label.{label}", label)
