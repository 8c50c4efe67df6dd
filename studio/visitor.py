"""Per-visitor state: the character one visitor is working on, shared by the Chat and Character tabs.

Module-level objects are shared by every visitor, so what belongs to one visitor lives in `gr.State`s, made here
once per page and handed to each tab that shows them: a bundle imported in the Character tab is the character
the Chat tab talks as.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr


@dataclass
class Visitor:
    character: gr.State  # the Character (Card V2) being chatted with, edited and exported; None before one is chosen
    sprites: gr.State  # label -> RGB uint8 sprite: the expression sheet made here or imported with a bundle

    @classmethod
    def create(cls, character=None) -> Visitor:
        return cls(character=gr.State(character), sprites=gr.State({}))
