"""Character Card V2: round trips through JSON and PNG, V1 import, extensions kept, hostile cards refused."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import pytest
from PIL import Image

from pipelines.character import card as character_card
from pipelines.character.card import (
    MAX_JSON_BYTES,
    STUDIO_KEY,
    Character,
    character_from_json,
    character_from_png,
    character_to_json,
    character_to_png,
    expression_image,
    list_presets,
    load_character,
    save_character,
)
from tests.conftest import EXAMPLES, REPO


def png_data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


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


def test_expression_sprites_come_from_the_map_or_the_folder_and_fall_back_to_neutral(tmp_path, monkeypatch):
    for label, colour in (("joy", "yellow"), ("neutral", "gray")):
        Image.new("RGB", (8, 8), colour).save(tmp_path / f"{label}.png")
    character = Character(name="Face", extensions={STUDIO_KEY: {"expressions_dir": str(tmp_path)}})
    assert expression_image(character, "joy").getpixel((0, 0)) == (255, 255, 0)
    assert expression_image(character, "anger").getpixel((0, 0)) == (128, 128, 128)  # no anger sprite → neutral
    embedded = Character(name="E", extensions={STUDIO_KEY: {"expressions": {"sadness": png_data_uri(Image.new("RGB", (2, 2), "blue"))}}})
    assert expression_image(embedded, "sadness").getpixel((0, 0)) == (0, 0, 255)
    assert expression_image(embedded, "joy") is None
    monkeypatch.setattr(character_card, "_allowed_roots", lambda: (REPO,))
    assert expression_image(character, "joy") is None  # a card cannot make the server show images outside its roots
