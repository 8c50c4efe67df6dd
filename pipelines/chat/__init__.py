"""Role-play chat as a Character Card persona: prompt building, model backends and reply emotion.

`PersonaChatPipeline` (pipeline.py) builds the prompt from the card and the history and streams a reply
from a backend (backends.py); emotion.py labels the reply so the portrait can follow it.
"""

from pipelines.chat.pipeline import ChatPrompt, ChatReply, PersonaChatConfig, PersonaChatPipeline

__all__ = ["ChatPrompt", "ChatReply", "PersonaChatConfig", "PersonaChatPipeline"]
