"""Character Card V2: round trips through JSON and PNG, V1 import, extensions kept, hostile cards refused."""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zlib

import pytest
from PIL import Image

from pipelines.character.card import (
    MAX_JSON_BYTES,
    PRESETS_DIR,
    SPRITE_MAX_SIDE,
    STUDIO_KEY,
    Character,
    character_from_json,
    character_from_png,
    character_to_json,
    character_to_png,
    expression_image,
    list_presets,
    load_character,
    portrait_image,
    save_character,
)
from pipelines.errors import InputError
from pipelines.labels import LABELS
from tests import hostile_files as hostile
from tests.conftest import EXAMPLES


def png_data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return hostile.data_uri(buffer.getvalue())


def _card(**data) -> dict:
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Tess", **data}}


def test_presets_cover_the_range_and_include_chinese():
    presets = list_presets()
    assert len(presets) >= 4
    names = " ".join(presets)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in names), "at least one preset is Chinese"
    for path in presets.values():
        character = load_character(path)
        assert character.first_mes and character.description
        assert character.studio["voice"]["engine"] == "espeak"


def test_json_round_trip_keeps_every_field_and_unknown_extensions():
    card = _card(
        description="A tester.", first_mes="Hi {{user}}", alternate_greetings=["Yo"], tags=["a"],
        character_book={"entries": [{"keys": ["x"], "content": "X lore", "weird_key": 1}], "custom": True},
        extensions={"depth_prompt": {"prompt": "p", "depth": 4}, "talkativeness": "0.5", STUDIO_KEY: {"voice": {"pitch": 40}}},
    )
    character = character_from_json(json.dumps(card))
    again = json.loads(character_to_json(character))
    assert again["spec"] == "chara_card_v2" and again["spec_version"] == "2.0"
    assert again["data"]["extensions"]["depth_prompt"] == {"prompt": "p", "depth": 4}
    assert again["data"]["extensions"]["talkativeness"] == "0.5"
    assert again["data"]["character_book"]["entries"][0]["weird_key"] == 1
    assert again["data"]["character_book"]["custom"] is True
    assert character_from_json(json.dumps(again)) == character


def test_png_round_trip_uses_a_chara_text_chunk_readable_by_pil(tmp_path):
    character = load_character(EXAMPLES / "characters" / "chinese_teacher.json")
    path = save_character(character, tmp_path / "li.png")
    image = Image.open(path)
    assert image.size == (256, 256)
    embedded = json.loads(base64.b64decode(image.text["chara"]))  # what SillyTavern reads
    assert embedded["data"]["name"] == "李老师"
    assert load_character(path) == character


def test_v1_flat_card_is_accepted_with_old_field_names():
    character = character_from_json(json.dumps({"char_name": "Old", "char_persona": "from 2022", "char_greeting": "Hey"}))
    assert (character.name, character.description, character.first_mes) == ("Old", "from 2022", "Hey")
    flat = character_from_json(json.dumps({"name": "Flat", "personality": "dry"}))
    assert flat.personality == "dry"


def _png_with_text(keyword: bytes, text: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    png = buffer.getvalue()
    body = keyword + b"\0" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    at = png.rindex(b"IEND") - 4
    return png[:at] + chunk + png[at:]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json at all", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"spec": "chara_card_v2", "data": "x"}).encode(), "no 'data' object"),
        (json.dumps(_card(name="")).encode(), "no name"),
        (json.dumps(_card(description=42)).encode(), "'description' must be text"),
        (json.dumps(_card(tags="a,b")).encode(), "'tags' must be a list"),
        (json.dumps(_card(character_book={"entries": [{"keys": "x"}]})).encode(), "Lorebook entry 0"),
        (json.dumps(_card(extensions=[1])).encode(), "'extensions' must be an object"),
        (json.dumps({"spec": "something_else"}).encode(), "Unsupported card spec"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{" + b" " * (MAX_JSON_BYTES + 1) + b"}", "limit is"),
        (json.dumps(_card(description="x" * 300_000)).encode(), "limit is 200,000"),
    ],
)
def test_malformed_or_hostile_json_cards_get_a_clear_error(raw, message):
    with pytest.raises(ValueError, match=message):
        load_character(raw)


def test_bad_pngs_get_a_clear_error():
    with pytest.raises(ValueError, match="no character card"):
        character_from_png(_png_with_text(b"Comment", b"hello"))
    with pytest.raises(ValueError, match="not valid JSON"):
        character_from_png(_png_with_text(b"chara", base64.b64encode(b"{oops")))
    good = character_to_png(Character(name="Cut"))
    with pytest.raises(ValueError, match="truncated"):
        character_from_png(good[: len(good) // 2])
    with pytest.raises(ValueError, match="not a PNG"):
        character_from_png(b"GIF89a")


def test_embedded_sprites_fall_back_to_neutral():
    blue, gray = (png_data_uri(Image.new("RGB", (2, 2), colour)) for colour in ("blue", "gray"))
    embedded = Character(name="E", extensions={STUDIO_KEY: {"expressions": {"sadness": blue, "neutral": gray}}})
    assert expression_image(embedded, "sadness").getpixel((0, 0)) == (0, 0, 255)
    assert expression_image(embedded, "anger").getpixel((0, 0)) == (128, 128, 128)  # no anger sprite → neutral
    assert expression_image(Character(name="None"), "joy") is None


def test_a_preset_shows_the_sprites_beside_it():
    ada = load_character(PRESETS_DIR / "museum_guide.json")
    assert expression_image(ada, "joy").size == (192, 192)
    assert expression_image(ada, "joy").tobytes() != expression_image(ada, "anger").tobytes()


def _uploaded(tmp_path, settings: dict):
    """A card as a visitor uploads it: a file in a temp folder, with a sprite beside it."""
    Image.new("RGB", (8, 8), "yellow").save(tmp_path / "joy.png")
    path = tmp_path / "upload.json"
    path.write_text(json.dumps(_card(extensions={STUDIO_KEY: settings})))
    return load_character(path)


@pytest.mark.parametrize(
    "settings",
    [
        {"expressions_dir": str(PRESETS_DIR / "sprites" / "museum_guide")},  # the repo, by absolute path
        {"expressions_dir": "."},  # the temp folder the upload sits in (other visitors' uploads are there too)
        {"expressions": {"joy": "joy.png"}},
        {"expressions": {"joy": "{tmp}/joy.png"}},
        {"portrait": str(EXAMPLES / "faces" / "london_001_neutral.jpg")},
        {"expressions_dir": "../" * 12 + str(PRESETS_DIR / "sprites" / "museum_guide").lstrip("/")},
    ],
    ids=["repo folder", "upload folder", "relative file", "temp file", "repo photo", "climbing up"],
)
def test_an_uploaded_card_cannot_show_files_from_the_server(tmp_path, settings):
    """Finding 7, against the shipped policy (nothing monkeypatched): only the presets' own folder is trusted."""
    settings = json.loads(json.dumps(settings).replace("{tmp}", str(tmp_path)))
    character = _uploaded(tmp_path, settings)
    assert portrait_image(character) is None
    assert all(expression_image(character, label) is None for label in LABELS)


def test_a_preset_cannot_point_outside_its_own_folder():
    ada = load_character(PRESETS_DIR / "museum_guide.json")
    ada.studio.update(expressions={"joy": "../faces/london_001_neutral.jpg"}, expressions_dir="../faces",
                      portrait="../faces/london_001_neutral.jpg")
    assert expression_image(ada, "joy") is None and portrait_image(ada) is None


def test_a_data_uri_bomb_is_refused_from_its_header_when_the_card_is_read():
    """Finding 4: a 47 kB card built 3 GB of arrays (5 GB peak, 28 s)."""
    raw = json.dumps(_card(extensions={STUDIO_KEY: {"portrait": hostile.data_uri(hostile.png_bomb_bytes(8000))}}))
    began = time.perf_counter()
    with pytest.raises(InputError, match="portrait is 8000x8000"):
        load_character(raw.encode())
    assert time.perf_counter() - began < 0.5


def test_card_images_that_add_up_past_the_budget_are_refused():
    sprites = {label: hostile.data_uri(hostile.png_bomb_bytes(1800)) for label in LABELS}  # 3.2 MP each
    with pytest.raises(InputError, match="add up to"):
        load_character(json.dumps(_card(extensions={STUDIO_KEY: {"expressions": sprites}})).encode())


def test_a_card_image_that_is_not_a_picture_is_refused():
    svg = hostile.data_uri(b"<svg xmlns='http://www.w3.org/2000/svg' width='99999' height='99999'/>", "image/svg+xml")
    with pytest.raises(InputError, match="sprite 'joy' is not"):
        load_character(json.dumps(_card(extensions={STUDIO_KEY: {"expressions": {"joy": svg}}})).encode())


def test_card_sprites_are_decoded_at_display_size():
    """Finding 4: showing a card's sprites must not hold them at full size."""
    big = png_data_uri(Image.new("RGB", (1800, 1200), "green"))
    character = load_character(json.dumps(_card(extensions={STUDIO_KEY: {"expressions": {"joy": big}}})).encode())
    assert max(expression_image(character, "joy").size) == SPRITE_MAX_SIDE
