"""English and Chinese UI text. Each tab module keeps its own `TEXT = {"en": {...}, "zh": {...}}`.

`t(key)` marks a string for translation; the browser's language picks the table (English fallback).
"""

from __future__ import annotations

import gradio as gr
from gradio.i18n import I18nData

from pipelines.errors import InputError

LANGUAGES = ("en", "zh")


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
