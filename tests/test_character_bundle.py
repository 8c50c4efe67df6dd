"""A character bundle round-trips everything, and hostile archives are refused with a clear message."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from pipelines.character.bundle import MAX_ENTRIES, CharacterBundle
from pipelines.character.card import Character, load_character

BVH = "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 3 Xposition Yposition Zposition\n  End Site\n  {\n    OFFSET 0 1 0\n  }\n}\nMOTION\nFrames: 1\nFrame Time: 0.033333\n0 0 0\n"


def _sprite(value: int) -> np.ndarray:
    sprite = np.full((32, 24, 3), value, np.uint8)
    sprite[0, 0] = (255, 0, 0)  # a corner that shows orientation survives
    return sprite


@pytest.fixture
def bundle() -> CharacterBundle:
    character = Character(name="Ada Guide", description="A museum guide.", extensions={"other_tool": {"keep": [1, 2]}})
    return CharacterBundle(
        character,
        portrait=_sprite(100),
        expressions={"joy": _sprite(200), "neutral": _sprite(50)},
        motions={"walk": BVH},
        voice_sample=b"RIFF....WAVEfmt ",
    )


def test_bundle_round_trip(tmp_path, bundle):
    card_path, zip_path = bundle.save(tmp_path)
    back = CharacterBundle.load(zip_path)
    assert back.character.name == "Ada Guide"
    assert back.character.extensions["other_tool"] == {"keep": [1, 2]}  # other tools' data untouched
    assert back.character.extensions["character_studio"]["bundle"]["expressions"] == ["joy", "neutral"]
    np.testing.assert_array_equal(back.portrait, bundle.portrait)
    assert set(back.expressions) == {"joy", "neutral"}
    np.testing.assert_array_equal(back.expressions["joy"], bundle.expressions["joy"])
    assert back.motions == {"walk": BVH}
    assert back.voice_sample == bundle.voice_sample
    # The card PNG beside the ZIP is a plain V2 card that other tools read.
    assert load_character(card_path).name == "Ada Guide"


def test_card_alone_loads_as_a_bundle_without_assets(tmp_path, bundle):
    card_path, _ = bundle.save(tmp_path)
    alone = CharacterBundle.load(card_path)
    assert alone.character.description == "A museum guide."
    assert alone.expressions == {} and alone.motions == {}


def _zip(tmp_path, entries: dict[str, bytes]):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"../../etc/passwd": b"x"}, "unsafe file name"),
        ({"/abs/card.png": b"x"}, "unsafe file name"),
        ({"expressions/joy.png": b"x"}, "no card.png"),
        ({f"f{i}.txt": b"" for i in range(MAX_ENTRIES + 1)}, "the limit is"),
        ({"card.png": b"\0" * (26 * 1024 * 1024)}, "limit per file"),
    ],
)
def test_hostile_bundles_are_refused(tmp_path, entries, message):
    with pytest.raises(ValueError, match=message):
        CharacterBundle.load(_zip(tmp_path, entries))


def test_bundle_with_a_broken_clip_is_refused(tmp_path, bundle):
    _, zip_path = bundle.save(tmp_path)
    card = zipfile.ZipFile(zip_path).read("card.png")
    with pytest.raises(ValueError, match="not a BVH file"):
        CharacterBundle.load(_zip(tmp_path, {"card.png": card, "motions/walk.bvh": b"hello"}))


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        CharacterBundle.load(empty)
    with pytest.raises(ValueError, match="No file"):
        CharacterBundle.load(tmp_path / "absent.zip")


def test_bad_labels_are_refused_on_save(tmp_path, bundle):
    bundle.expressions["../joy"] = _sprite(1)
    with pytest.raises(ValueError, match="Expression label"):
        bundle.save(tmp_path)
