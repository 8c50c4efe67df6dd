"""Chat tab: not built yet; its issue is open."""

from __future__ import annotations

import gradio as gr

from studio.i18n import t

TEXT = {
    "en": {"chat.tab": "Chat", "chat.pending": "The Chat tab is being built (its issue is still open)."},
    "zh": {"chat.tab": "对话", "chat.pending": "对话页正在开发中（对应的 issue 尚未完成）。"},
}


def render() -> None:
    gr.Markdown(t("chat.pending"))
