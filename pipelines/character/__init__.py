"""A character as files: the Character Card V2 (card.py) and the bundle ZIP with sprites, clips and voice (bundle.py)."""

from pipelines.character.card import Character

__all__ = ["Character"]
