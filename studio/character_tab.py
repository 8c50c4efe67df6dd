"""Character tab: not built yet; its issue is open."""

from __future__ import annotations

import gradio as gr

from studio.i18n import t

TEXT = {
    "en": {"character.tab": "Character", "character.pending": "The Character tab is being built (its issue is still open)."},
    "zh": {"character.tab": "角色", "character.pending": "角色页正在开发中（对应的 issue 尚未完成）。"},
}


def render() -> None:
    gr.Markdown(t("character.pending"))
