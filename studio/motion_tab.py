"""Motion tab: not built yet; its issue is open."""

from __future__ import annotations

import gradio as gr

from studio.i18n import t

TEXT = {
    "en": {"motion.tab": "Motion", "motion.pending": "The Motion tab is being built (its issue is still open)."},
    "zh": {"motion.tab": "动作", "motion.pending": "动作页正在开发中（对应的 issue 尚未完成）。"},
}


def render() -> None:
    gr.Markdown(t("motion.pending"))
