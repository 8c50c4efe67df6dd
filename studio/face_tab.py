"""Face tab: not built yet; its issue is open."""

from __future__ import annotations

import gradio as gr

from studio.i18n import t

TEXT = {
    "en": {"face.tab": "Face", "face.pending": "The Face tab is being built (its issue is still open)."},
    "zh": {"face.tab": "面部", "face.pending": "面部页正在开发中（对应的 issue 尚未完成）。"},
}


def render() -> None:
    gr.Markdown(t("face.pending"))
