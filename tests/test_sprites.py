"""SillyTavern's 28 sprites from our expressions and sliders, and the nearest sprite for a reply's emotion."""

from __future__ import annotations

import hashlib
import itertools
import zipfile

import numpy as np
import pytest

from pipelines.character.sprites import RECIPES, nearest_sprite, scaled
from pipelines.errors import InputError
from pipelines.face.action_units import SLIDER_RANGE, SLIDERS
from pipelines.labels import LABELS, NEUTRAL, SILLYTAVERN_LABELS


def test_every_sillytavern_label_has_one_valid_recipe():
    assert tuple(RECIPES) == SILLYTAVERN_LABELS and len(RECIPES) == 28
    for label, recipe in RECIPES.items():
        assert recipe.expression in LABELS, label
        assert 0 < recipe.intensity <= 1, label
        assert set(recipe.sliders) <= set(SLIDERS), label
        assert all(SLIDER_RANGE[0] <= v <= SLIDER_RANGE[1] for v in recipe.sliders.values()), label
    for label in LABELS:  # our own seven are themselves, at full strength
        assert (RECIPES[label].expression, RECIPES[label].intensity, dict(RECIPES[label].sliders)) == (label, 1.0, {})


def test_strength_scales_intensity_and_sliders_together():
    half = scaled(RECIPES["amusement"], 0.5)
    assert half.expression == "joy" and half.intensity == pytest.approx(0.35)
    assert dict(half.sliders) == {"jaw_open": pytest.approx(0.1)}
    with pytest.raises(InputError):
        scaled(RECIPES["joy"], 1.5)


def test_nearest_sprite_prefers_the_label_then_the_closest_recipe():
    full = set(SILLYTAVERN_LABELS)
    assert all(nearest_sprite(label, full) == label for label in LABELS)
    basic = set(LABELS)
    assert nearest_sprite("amusement", basic) == "joy"
    assert nearest_sprite("grief", basic) == "sadness"
    assert nearest_sprite("realization", basic) == "surprise"
    assert nearest_sprite("joy", full - {"joy"}) in {"amusement", "excitement", "optimism", "gratitude", "love"}
    assert nearest_sprite("anger", {"annoyance", "joy", NEUTRAL}) == "annoyance"
    assert nearest_sprite("fear", {"wink", NEUTRAL}) == NEUTRAL  # a custom sprite name is no stand-in
    assert nearest_sprite("wink", {"wink"}) == "wink"
    assert nearest_sprite("joy", set()) is None


@pytest.mark.weights
def test_the_cli_writes_28_distinct_sprites_as_a_sillytavern_pack(tmp_path, neutral_face):
    """`python -m pipelines face PHOTO --sillytavern pack.zip`, with a tiny seeded SimMIM model."""
    torch = pytest.importorskip("torch")
    from PIL import Image

    from pipelines.__main__ import main
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.model import SimMIMFace

    torch.manual_seed(0)
    model = tmp_path / "simmim"
    SimMIMFace(SimMIMFaceConfig(region="mouth", image_size=32, patch_size=8, hidden_size=32, num_layers=1,
                                num_heads=2)).save_pretrained(model)
    photo = tmp_path / "small.png"  # small: 28 edits stay quick
    Image.open(neutral_face).convert("RGB").resize((256, 256)).save(photo)
    archive = tmp_path / "pack.zip"
    assert main(["--device", "cpu", "face", str(photo), "--simmim", str(model), "--intensity", "1",
                 "--sillytavern", str(archive)]) == 0  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack.zip", "simmim", "small.png"]  # nothing else written
    with zipfile.ZipFile(archive) as pack:
        names = pack.namelist()
        assert sorted(names) == sorted(f"{label}.png" for label in SILLYTAVERN_LABELS)
        assert len({hashlib.sha256(pack.read(name)).hexdigest() for name in names}) == 28
        sprites = {name[:-4]: np.asarray(Image.open(pack.open(name)).convert("RGB"), int) for name in names}
    # Distinct pictures, not just distinct files: every pair differs visibly somewhere on the face.
    for a, b in itertools.combinations(SILLYTAVERN_LABELS, 2):
        moved = np.abs(sprites[a] - sprites[b]).max(axis=2) > 8
        assert moved.sum() > 20, f"{a} and {b} look the same"


def test_the_contact_sheet_shows_every_sprite_in_rows_of_seven():
    from pipelines.character.sprites import contact_sheet

    sprites = {label: np.full((60, 40, 3), i * 9, np.uint8) for i, label in enumerate(SILLYTAVERN_LABELS)}
    sheet = contact_sheet(sprites, tile=50, columns=7)
    caption = 14
    assert sheet.shape == (4 * (50 + caption), 7 * 50, 3)
    assert (sheet[25, 25] == 0).all() and (sheet[3 * (50 + caption) + 25, 6 * 50 + 25] == 27 * 9).all()
