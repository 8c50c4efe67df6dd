"""SillyTavern's full sprite set: its 28 expression labels, each made from our expressions and sliders.

SillyTavern's expression feature shows `<label>.png` for the emotion its classifier reads in a reply,
with 28 labels (the GoEmotions classes). Our face pipeline makes seven expressions plus five free
sliders; `RECIPES` says, once, how each of the 28 is mixed from them (amusement = joy 0.7 + jaw 0.2).
The same table gives the chat its "nearest sprite": when a character's set lacks the label of a reply,
the available sprite whose recipe is closest (expression strengths and slider offsets as one vector)
stands in, so a set of 28 and a set of 7 both answer every label.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from pipelines.errors import InputError
from pipelines.face.action_units import SLIDERS
from pipelines.labels import LABELS, NEUTRAL, SILLYTAVERN_LABELS


@dataclass(frozen=True)
class SpriteRecipe:
    """One sprite: an expression at an intensity, plus slider offsets (all scaled by a set's strength)."""

    expression: str
    intensity: float = 1.0
    sliders: Mapping[str, float] = field(default_factory=dict)


R = SpriteRecipe
# Written at full strength; `sprite_set(strength=0.8)` scales every intensity and slider. The seven basic
# labels are the face pipeline's own expressions; the rest lean on the closest basic emotion and use the
# sliders for what sets them apart (a softer smile, raised brows of interest, a lowered gaze).
RECIPES: dict[str, SpriteRecipe] = {
    "admiration": R("joy", 0.45, {"brow_raise": 0.35, "eye_open": 0.2}),
    "amusement": R("joy", 0.7, {"jaw_open": 0.2}),
    "anger": R("anger", 1.0),
    "annoyance": R("anger", 0.4, {"brow_furrow": 0.2, "smile": -0.2}),
    "approval": R("joy", 0.35, {"brow_raise": 0.1}),
    "caring": R("sadness", 0.2, {"smile": 0.45}),
    "confusion": R("neutral", 1.0, {"brow_furrow": 0.45, "brow_raise": 0.25, "smile": -0.15}),
    "curiosity": R("surprise", 0.3, {"brow_raise": 0.3, "smile": 0.15}),
    "desire": R("joy", 0.3, {"eye_open": -0.4, "jaw_open": 0.15}),
    "disappointment": R("sadness", 0.55, {"eye_open": -0.15}),
    "disapproval": R("disgust", 0.35, {"brow_furrow": 0.35}),
    "disgust": R("disgust", 1.0),
    "embarrassment": R("joy", 0.3, {"eye_open": -0.35, "brow_raise": 0.25, "brow_furrow": 0.15}),
    "excitement": R("joy", 1.0, {"jaw_open": 0.4, "eye_open": 0.35}),
    "fear": R("fear", 1.0),
    "gratitude": R("joy", 0.55, {"eye_open": -0.2, "brow_raise": 0.15}),
    "grief": R("sadness", 1.0, {"eye_open": -0.35, "brow_furrow": 0.2}),
    "joy": R("joy", 1.0),
    "love": R("joy", 0.65, {"eye_open": -0.45}),
    "nervousness": R("fear", 0.4, {"smile": 0.25}),
    "optimism": R("joy", 0.55, {"brow_raise": 0.25}),
    "pride": R("joy", 0.35, {"eye_open": -0.15, "brow_raise": -0.15}),
    "realization": R("surprise", 0.55, {"jaw_open": 0.15, "brow_furrow": -0.1}),
    "relief": R("joy", 0.4, {"brow_raise": 0.25, "eye_open": -0.3, "jaw_open": 0.1}),
    "remorse": R("sadness", 0.7, {"brow_furrow": 0.25, "smile": -0.1}),
    "sadness": R("sadness", 1.0),
    "surprise": R("surprise", 1.0),
    "neutral": R("neutral", 1.0),
}
del R
Progress = Callable[[float, str], None]


def scaled(recipe: SpriteRecipe, strength: float) -> SpriteRecipe:
    """The recipe at `strength` (0..1): intensity and sliders shrink together, so the mix keeps its shape."""
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"strength must be between 0 and 1, got {strength}.")
    sliders = {name: value * strength for name, value in recipe.sliders.items()}
    return SpriteRecipe(recipe.expression, recipe.intensity * strength, sliders)


def sprite_set(pipe, image, strength: float = 1.0, face_index: int | None = None,
               labels: Iterable[str] = SILLYTAVERN_LABELS, progress: Progress | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """One photo-sized sprite per label, from `pipe` (a FaceExpressionPipeline); the face is found once."""
    labels = tuple(labels)
    unknown = [label for label in labels if label not in RECIPES]
    if unknown:
        raise InputError(f"No sprite recipe for {', '.join(unknown)}; known labels: {', '.join(RECIPES)}.")
    face = pipe.find_face(image, face_index)
    sprites = {}
    for step, label in enumerate(labels):
        if progress:
            progress(step / len(labels), label)
        recipe = scaled(RECIPES[label], strength)
        sprites[label] = pipe.edit(face, recipe.expression, recipe.intensity, dict(recipe.sliders)).image
    if progress:
        progress(1.0, "done")
    return sprites


def write_sprite_zip(sprites: Mapping[str, np.ndarray], path: Path | str) -> Path:
    """A sprite pack as SillyTavern uploads it: one `<label>.png` per sprite at the top of the ZIP."""
    from PIL import Image

    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for label, image in sprites.items():
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            archive.writestr(f"{label}.png", buffer.getvalue())
    return path


def contact_sheet(sprites: Mapping[str, np.ndarray], tile: int = 160, columns: int = 7) -> np.ndarray:
    """The sprites side by side, `columns` to a row, each square-cropped to its centre and captioned with its
    label: one picture of a whole set (README, the agents' tool)."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    caption = max(14, tile // 9)
    rows = -(-len(sprites) // columns)
    sheet = Image.new("RGB", (min(columns, len(sprites)) * tile, rows * (tile + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(caption * 4 // 5)
    for i, (label, image) in enumerate(sprites.items()):
        x, y = (i % columns) * tile, (i // columns) * (tile + caption)
        sheet.paste(ImageOps.fit(Image.fromarray(image), (tile, tile), Image.Resampling.LANCZOS), (x, y))
        draw.text((x + tile / 2, y + tile + caption / 2), label, fill=(40, 40, 40), anchor="mm", font=font)
    return np.asarray(sheet)


def _as_vector(recipe: SpriteRecipe) -> np.ndarray:
    """A recipe as one point: each basic expression's strength (neutral is the origin), then each slider."""
    strengths = [recipe.intensity if recipe.expression == label else 0.0 for label in LABELS if label != NEUTRAL]
    return np.array(strengths + [recipe.sliders.get(name, 0.0) for name in SLIDERS])


def nearest_sprite(label: str, available: Iterable[str]) -> str | None:
    """The sprite to show for `label` from those `available`: itself; else the one whose recipe is closest to
    `label`'s; else neutral; None when there is nothing to show. Names without a recipe (a custom sprite) only
    count when asked for by name."""
    available = set(available)
    if label in available:
        return label
    known = sorted(name for name in available if name in RECIPES)
    if label in RECIPES and known:
        target = _as_vector(RECIPES[label])
        return min(known, key=lambda name: (float(np.linalg.norm(_as_vector(RECIPES[name]) - target)), name))
    return NEUTRAL if NEUTRAL in available else None
