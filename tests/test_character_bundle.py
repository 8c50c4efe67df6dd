"""A character bundle round-trips everything, and hostile archives are refused with a clear message."""

from __future__ import annotations

import io
import time
import zipfile

import numpy as np
import pytest

from pipelines.character.bundle import MAX_ENTRIES, CharacterBundle, decode_voice
from pipelines.character.card import Character, load_character
from pipelines.errors import InputError
from pipelines.labels import LABELS, SILLYTAVERN_LABELS
from tests import hostile_files as hostile

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
        voice_sample=hostile.audio_bytes(0.2),
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


# --- hostile content inside valid archives (issue 15) ----------------------------------------------------------------


def _card_png(name: str = "Ada Guide") -> bytes:
    from pipelines.character.card import character_to_png

    return character_to_png(Character(name=name))


def _write(tmp_path, data: bytes, name: str = "bundle.zip"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_sprite_bomb_is_refused_from_its_header_before_decoding(tmp_path):
    """Finding 3: a 3 kB ZIP with one 40 MP sprite took 1.9 s and 119 MB; its header alone must refuse it."""
    bomb = hostile.zip_bytes({"card.png": _card_png(), "expressions/joy.png": hostile.png_bomb_bytes(6000)})
    began = time.perf_counter()
    with pytest.raises(InputError, match="expressions/joy.png is 6000x6000"):
        CharacterBundle.load(_write(tmp_path, bomb))
    assert time.perf_counter() - began < 0.5


def test_sprites_whose_pixels_add_up_past_the_budget_are_refused(tmp_path):
    members = {"card.png": _card_png()}
    members.update({f"expressions/{label}.png": hostile.png_bomb_bytes(1900) for label in SILLYTAVERN_LABELS})  # 3.6 MP each
    with pytest.raises(InputError, match="add up to"):
        CharacterBundle.load(_write(tmp_path, hostile.zip_bytes(members)))


def test_only_known_expression_labels_are_read(tmp_path):
    """Finding 3: any label was accepted, up to 256 sprites; now only SillyTavern's labels, the rest never decoded."""
    members = {"card.png": _card_png(), "expressions/joy.png": _png(_sprite(9))}
    members.update({f"expressions/odd{i}.png": b"never decoded" for i in range(200)})
    bundle = CharacterBundle.load(_write(tmp_path, hostile.zip_bytes(members)))
    assert list(bundle.expressions) == ["joy"]
    assert set(SILLYTAVERN_LABELS) >= set(LABELS)


def test_a_voice_sample_that_is_not_a_wav_is_refused(tmp_path):
    """Finding 6: a FLAC of 10 min of silence named sample.wav (372 kB) decoded to 58 MB."""
    flac = hostile.audio_bytes(600, 8000, fmt="FLAC")
    members = {"card.png": _card_png(), "voice/sample.wav": flac}
    with pytest.raises(InputError, match="voice/sample.wav is not a WAV file"):
        CharacterBundle.load(_write(tmp_path, hostile.zip_bytes(members)))
    with pytest.raises(InputError, match="not a WAV file"):
        decode_voice(flac)


def test_a_long_or_odd_voice_sample_is_refused_and_a_short_one_decodes():
    with pytest.raises(InputError, match="at most 60 s"):
        decode_voice(hostile.audio_bytes(61, 8000))
    with pytest.raises(InputError, match="channels"):
        decode_voice(hostile.audio_bytes(0.1, 8000, channels=6))
    rate, samples = decode_voice(hostile.audio_bytes(0.5, 16000))
    assert rate == 16000 and samples.dtype == np.int16 and samples.shape == (8000,)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda raw: raw[: len(raw) // 2], "damaged"),  # the central directory is cut off
        (lambda raw: hostile.patch_zip(raw, encrypted=True), "encrypted"),
        (lambda raw: hostile.patch_zip(raw, method=99), "compression"),  # AES: Python raises NotImplementedError
        (lambda raw: hostile.patch_zip(raw, method=12), "compression"),  # bzip2 made from deflate data: OSError
        (lambda raw: raw.replace(b"IEND", b"IEN0"), "damaged"),  # data no longer matches its CRC
    ],
    ids=["truncated", "encrypted", "unknown method", "bzip2 flag on deflate data", "bad CRC"],
)
def test_broken_zips_get_a_clear_error(tmp_path, make, message):
    """Finding 10: BadZipFile, RuntimeError (encrypted) and NotImplementedError escaped the friendly path."""
    raw = hostile.zip_bytes({"card.png": _card_png()}, method=zipfile.ZIP_STORED)
    with pytest.raises(InputError, match=message):
        CharacterBundle.load(_write(tmp_path, make(raw)))


def test_member_names_must_match_the_layout_exactly(tmp_path):
    """Finding 12: `$` let 'expressions/joy.png\\n' through."""
    members = {"card.png": _card_png(), "expressions/joy.png\n": _png(_sprite(9)), "motions/walk.bvh\n": BVH.encode()}
    bundle = CharacterBundle.load(_write(tmp_path, hostile.zip_bytes(members)))
    assert bundle.expressions == {} and bundle.motions == {}


def test_a_png_card_with_a_zip_appended_is_a_card_not_a_bundle(tmp_path):
    """Finding 12: zipfile finds a ZIP anywhere in a file; a card is a card by its first bytes."""
    appended = hostile.zip_bytes({"card.png": _card_png("Mallory"), "expressions/joy.png": _png(_sprite(9))})
    bundle = CharacterBundle.load(_write(tmp_path, _card_png("Alice") + appended, "alice.png"))
    assert bundle.character.name == "Alice" and bundle.expressions == {}


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_sprites_are_exported_at_sprite_size_so_any_reader_accepts_them(tmp_path):
    """A sheet made from a 12 MP photo has 12 MP sprites; the bundle keeps them at display size (the portrait whole)."""
    from pipelines.character.card import SPRITE_MAX_SIDE

    big = np.zeros((1500, 2000, 3), np.uint8)
    _, zip_path = CharacterBundle(Character(name="Big"), portrait=big, expressions={"joy": big}).save(tmp_path)
    back = CharacterBundle.load(zip_path)
    assert back.expressions["joy"].shape == (768, SPRITE_MAX_SIDE, 3)
    assert back.portrait.shape == big.shape
    assert back.sprites()["neutral"].shape == (768, SPRITE_MAX_SIDE, 3)  # the portrait stands in, at sprite size
