"""The studio shell: one tab per part, a bounded queue, and the launch settings."""

from __future__ import annotations

import os

import gradio as gr

from studio import gradio_fixes, tools
from studio.i18n import LABEL_TEXT, build_i18n, t
from studio.memory import keep_memory_flat
from studio.scratch import forget_session, own_gradio_cache
from studio.tabs import about as about_tab
from studio.tabs import character as character_tab
from studio.tabs import chat as chat_tab
from studio.tabs import face as face_tab
from studio.tabs import motion as motion_tab
from studio.visitor import Visitor

# Each tab module has TEXT (en/zh strings) and render() (builds its components inside the current tab).
TABS = (face_tab, motion_tab, chat_tab, character_tab, about_tab)
# Waiting requests beyond this get a "queue full" answer instead of an endless wait.
QUEUE_MAX_SIZE = int(os.environ.get("CHARACTER_STUDIO_QUEUE_SIZE", 32))
# Every 10 minutes Gradio deletes the uploads and outputs in its cache that are over an hour old.
DELETE_CACHE = (600, 3600)
# Larger uploads are refused by the server before any pipeline sees them; a deployment may set its own.
MAX_UPLOAD = os.environ.get("CHARACTER_STUDIO_MAX_UPLOAD", "200mb")

TEXT = {
    "en": {"app.title": "# Character Studio\nOne photo, one video and a persona → a living virtual character."},
    "zh": {"app.title": "# 角色工作室\n一张照片、一段视频、一个人设 → 一个活起来的虚拟角色。"},
}
I18N = build_i18n(TEXT, LABEL_TEXT, *(tab.TEXT for tab in TABS))


def build_studio() -> gr.Blocks:
    """Build the Blocks without launching it and without loading any model."""
    own_gradio_cache()
    gradio_fixes.apply()
    with gr.Blocks(title="Character Studio", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(t("app.title"))
        # One character per visitor, in both the Chat and Character tabs. Made outside gr.Tabs: a State among the
        # tabs counts as a tab without a label, and the tab bar then repeats the selected tab's name in its place.
        visitor = Visitor.create(chat_tab.first_character())
        with gr.Tabs():
            with gr.Tab(t("face.tab"), id="face"):
                face_tab.render()
            with gr.Tab(t("motion.tab"), id="motion"):
                motion_tab.render()
            with gr.Tab(t("chat.tab"), id="chat"):
                follow_chat = chat_tab.render(visitor)
            with gr.Tab(t("character.tab"), id="character"):
                character_tab.render(visitor, on_import=follow_chat)
            with gr.Tab(t("about.tab"), id="about"):
                about_tab.render()
        tools.render()
    demo.unload(forget_session)  # a visitor's scratch files go when the visitor leaves
    document_only_tools(demo)
    # One heavy job at a time per event by default; events that are light raise their own limit.
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1)
    return demo


def document_only_tools(demo: gr.Blocks) -> None:
    """The API page and the MCP tool list show the agents' tools (studio/tools.py); the tabs' own events stay callable
    by name (gradio_client, tests, the load bench) but undocumented, as their inputs and outputs are the UI's."""
    for event in demo.fns.values():
        if event.api_visibility == "public" and event.api_name not in tools.TOOL_NAMES:
            event.api_visibility = "undocumented"


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, share: bool = False, mcp: bool = False,
           **kwargs) -> None:  # fmt: skip
    """Serve `demo`; with `mcp`, AI agents also reach the studio's tools at /gradio_api/mcp/ (studio/tools.py)."""
    keep_memory_flat()  # before the worker threads start
    demo.launch(server_name=host, server_port=port, share=share, i18n=I18N, max_file_size=MAX_UPLOAD, mcp_server=mcp,
                **kwargs)  # fmt: skip
