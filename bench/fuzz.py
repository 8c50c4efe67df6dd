"""Fuzz: a thousand and more hostile files through the entry points the studio uses, each under a time and memory cap.

    python bench/fuzz.py [--count 1200] [--seed 0] [--kinds card,bundle,image,video]

Inputs are generated from a seed (nothing is stored): character cards (JSON and PNG; nested, huge fields,
data-URI bombs, lorebooks, server paths), bundles (sprite and ZIP bombs, odd member names, wrong types,
encrypted or oddly compressed entries, voices in other formats), images (bombs, every Pillow mode,
truncations, corruptions) and videos (playlists and concat scripts naming local files, zero frames, huge
dimensions, truncations). Each goes through what the studio calls on an upload:

    card    pipelines.character.card.load_character + every sprite the Chat and Character tabs show
    bundle  pipelines.character.bundle.CharacterBundle.load + its voice sample decoded for the player
    image   pipelines.image_io.load_image (the one gate for every photo)
    video   pipelines.motion.video.probe + the first frames read as the motion pipeline reads them

Each input runs in a forked child, so a crash, a hang or a memory spike is measured and contained. An input
passes when it succeeds or raises `InputError` with a clear sentence, within WALL_CAP_S seconds and RSS_CAP_MB
of memory above the parent's. Writes bench/results/fuzz.md; exits 1 if any input failed.
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import os
import random
import re
import resource
import signal
import struct
import sys
import tempfile
import time
import warnings
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile_files import audio_bytes, data_uri, patch_zip, png_bomb_bytes, png_chunk  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Caps per input, above what the largest input each gate accepts costs on a 2-core CPU: a 40 MP photo (the photo
# limit) takes about 3 s and 450 MB to decode and convert; a card's images may add up to 16 MP, a bundle's to 32 MP.
WALL_CAP_S = {"card": 10.0, "bundle": 15.0, "image": 10.0, "video": 10.0}
RSS_CAP_MB = {"card": 300.0, "bundle": 400.0, "image": 600.0, "video": 300.0}
MAX_MESSAGE_CHARS = 400  # a pop-up a visitor can read
KINDS = ("card", "bundle", "image", "video")
SHARE = {"card": 0.35, "bundle": 0.30, "image": 0.25, "video": 0.10}  # of --count


# --- small builders ---------------------------------------------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims any size and whose pixel data is missing."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def small_image(rng: random.Random, size: tuple[int, int] | None = None, mode: str = "RGB") -> Image.Image:
    width, height = size or (rng.randint(1, 96), rng.randint(1, 96))
    pixels = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randint(0, max(0, len(data) - 1))]


def flip_bytes(data: bytes, rng: random.Random, count: int = 8) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def junk(rng: random.Random, size: int | None = None) -> bytes:
    return rng.randbytes(size if size is not None else rng.randint(0, 4096))


def unicode_text(rng: random.Random, length: int) -> str:
    pools = ("abc xyz", "李老师你好", "\u202e\u200b\u0000\u0007\x1b[31m", "😀🎭", "{{user}}{{char}}<START>", "\ud7ff\ue000")
    return "".join(rng.choice(rng.choice(pools)) for _ in range(length))


# --- cards ------------------------------------------------------------------------------------------------------------


def card(data: dict | None = None, **fields) -> dict:
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Fuzz", **(data or {}), **fields}}


def studio(**settings) -> dict:
    return {"character_studio": settings}


def nested(depth: int, leaf: object = 0) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def image_ref(rng: random.Random) -> str:
    """A portrait or sprite reference a hostile card might carry."""
    choice = rng.randrange(12)
    if choice == 0:
        return data_uri(png_bomb_bytes(rng.choice([3000, 6000, 12000, 30000])))
    if choice == 1:
        return data_uri(png_bomb_bytes(rng.choice([2500, 5000]), bits=8, colour=2))
    if choice == 2:
        return data_uri(png_header_only(rng.choice([1, 70000, 2**31 - 1]), rng.choice([1, 70000, 2**31 - 1])))
    if choice == 3:
        return data_uri(truncate(encoded(small_image(rng), "PNG"), rng))
    if choice == 4:
        return data_uri(b"<svg xmlns='http://www.w3.org/2000/svg' width='99999' height='99999'/>", "image/svg+xml")
    if choice == 5:
        return "data:image/png;base64," + "".join(rng.choice("AB=!-_ \n") for _ in range(rng.randint(0, 5000)))
    if choice == 6:
        return data_uri(encoded(small_image(rng), rng.choice(["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])))
    if choice == 7:
        return rng.choice(["/etc/passwd", "/etc/hostname", "../../../../etc/passwd", "/proc/self/environ", "~/.ssh/id_rsa",
                           str(REPO / "examples" / "faces" / "london_001_neutral.jpg"), str(REPO / "README.md"),
                           tempfile.gettempdir() + "/gradio/x/upload.png", "C:\\Windows\\win.ini", "file:///etc/passwd",
                           "http://127.0.0.1:1/x.png", "sprites/museum_guide/joy.png", "\0/etc/passwd"])
    if choice == 8:
        return data_uri(animated_gif_bomb(rng), "image/gif")
    if choice == 9:
        return data_uri(junk(rng))
    if choice == 10:
        return rng.choice(["", " ", "data:", "data:image/png", "data:image/png;base64,", "data:text/html,<script>"])
    return data_uri(encoded(small_image(rng, (rng.randint(1, 3000), rng.randint(1, 8)), "L"), "PNG"))


def animated_gif_bomb(rng: random.Random) -> bytes:
    """A GIF whose logical screen claims 65535 x 65535 with a tiny frame."""
    data = bytearray(encoded(small_image(rng, (4, 4), "P"), "GIF"))
    data[6:10] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


KEY_POOL = [unicode_text(random.Random(i), i % 13) for i in range(500)] + ["(a+)+$", "[", "\\", ".*" * 50, "\u0000"]


def lorebook(rng: random.Random) -> dict:
    entries, size = [], 0
    for _ in range(rng.choice([0, 1, 50, 999, 1000, 1001, 3000])):
        keys = rng.choices(KEY_POOL, k=rng.choice([0, 1, 3, 420]))
        entries.append({"keys": keys, "content": "lore " * rng.randint(0, 50), "secondary_keys": [],
                        "use_regex": rng.random() < 0.3, "enabled": rng.choice([True, False, "yes", None])})
        size += sum(len(k) + 4 for k in keys) + 300
        if size > 6_000_000:  # past the JSON cap already: more entries would only slow the generator
            break
    book = {"entries": entries, "scan_depth": rng.choice([1, 10, 10**9, -5, "x"])}
    if rng.random() < 0.2:
        book["entries"] = rng.choice([{}, "x", [1, 2], [{"keys": "notalist"}], [{"keys": [1]}], None])
    return book


FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example", "system_prompt",
          "post_history_instructions", "creator_notes", "alternate_greetings", "tags", "character_book", "extensions")
ODD_VALUES = (None, 0, -1, 1.5, True, [], {}, "", [1, 2], {"a": 1}, "x" * 300_000, ["x"] * 1001, [None], float("inf"))


CARD_JSON_FAMILIES = ("valid", "nesting", "wrong type", "huge field", "image references", "lorebook", "odd top level",
                      "not JSON", "many keys", "voice settings", "odd unicode", "odd extensions", "flipped bytes", "truncated")


def card_json(rng: random.Random, variant: int | None = None) -> bytes:
    variant = rng.randrange(len(CARD_JSON_FAMILIES)) if variant is None else variant
    if variant == 0:  # plausible and valid
        return json.dumps(card(description=unicode_text(rng, 200), first_mes="Hi {{user}}", tags=["a", "b"]),
                          ensure_ascii=rng.random() < 0.5).encode()
    if variant == 1:  # nesting somewhere
        where = rng.choice(["extensions", "character_book", "description", "top"])
        depth = rng.choice([10, 63, 64, 65, 1000, 100_000])
        deep = nested(depth)
        body = card(extensions={"deep": deep}) if where == "extensions" else card(character_book={"entries": deep}) if \
            where == "character_book" else card(description=deep) if where == "description" else deep
        try:
            return json.dumps(body).encode()
        except RecursionError:
            return b"[" * depth + b"]" * depth
    if variant == 2:  # one field of a wrong type or size
        return json.dumps(card(**{rng.choice(FIELDS): rng.choice(ODD_VALUES)}), allow_nan=True).encode()
    if variant == 3:  # a huge field near the limits
        size = rng.choice([199_999, 200_000, 200_001, 1_000_000, 5_300_000])
        return json.dumps(card(**{rng.choice(FIELDS[:9]): "y" * size})).encode()
    if variant == 4:  # image references: data-URI bombs, server paths
        settings = {"portrait": image_ref(rng)} if rng.random() < 0.5 else {}
        labels = ["joy", "neutral", "sadness", "admiration", "../x", "JOY", "joy\n", "a" * 300, ""]
        settings["expressions"] = {rng.choice(labels): image_ref(rng) for _ in range(rng.randint(1, 8))}
        if rng.random() < 0.4:
            settings["expressions_dir"] = rng.choice(["/etc", "/", "..", "../../..", tempfile.gettempdir(), str(REPO),
                                                      "sprites/museum_guide", "/proc/self", 42, ["x"]])
        return json.dumps(card(extensions=studio(**settings))).encode()
    if variant == 5:
        return json.dumps(card(character_book=lorebook(rng))).encode()
    if variant == 6:  # V1 and odd top levels
        return json.dumps(rng.choice([{"char_name": "Old", "char_persona": "p"}, {"name": "flat"}, [], "card", 1, None,
                                      {"spec": "chara_card_v3", "data": {"name": "x"}}, {"spec": "chara_card_v2"},
                                      {"spec": ["x"]}, {"data": None}, {"char_name": 5}])).encode()
    if variant == 7:  # text that is not JSON
        return rng.choice([b"", b"\xef\xbb\xbf", b"null", b"1e999999", b"{" * 70, "\ufeff{}".encode("utf-16"),
                           b'{"a":"\\ud800"}', b'{"name":"x",}', b"\x00" * 100, b'{"name": NaN}', junk(rng)])
    if variant == 8:  # many keys, long keys, duplicate keys
        many = {f"k{i}": i for i in range(rng.choice([10, 10_000, 200_000]))}
        text = json.dumps(card(extensions={"many": many}))
        return (text[:-2] + ', "name": "dup", "name": 7}}' if rng.random() < 0.5 else text).encode()
    if variant == 9:  # voice settings a card carries
        voice = {"engine": rng.choice(["espeak", "kokoro", "xtts", "../../bin/sh", 5, None]),
                 "pitch": rng.choice([50, -1, 10**9, "x", None]), "rate": rng.choice([170, 0, 10**9, 1.5]),
                 "variant": rng.choice(["", "f1", "; rm -rf /", "x" * 1000]),
                 "reference_audio": rng.choice(["/etc/passwd", "/dev/zero", "/dev/urandom", "../x.wav", None])}
        return json.dumps(card(extensions=studio(voice=voice))).encode()
    if variant == 10:  # control characters and odd unicode everywhere
        return json.dumps(card(name=unicode_text(rng, rng.randint(1, 300)), description=unicode_text(rng, 500),
                               alternate_greetings=[unicode_text(rng, 20) for _ in range(rng.randint(0, 20))])).encode()
    if variant == 11:  # extensions of odd shapes
        return json.dumps(card(extensions=rng.choice([[], "x", {"character_studio": []}, {"character_studio": "x"},
                                                      studio(expressions=[1, 2]), studio(expressions="joy.png"),
                                                      studio(portrait=5), studio(bundle={"expressions": 5})]))).encode()
    if variant == 12:  # flipped bytes of a valid card
        return flip_bytes(json.dumps(card(description="d" * 100, tags=["t"])).encode(), rng)
    return truncate(json.dumps(card(description=unicode_text(rng, 300))).encode(), rng)


CARD_PNG_FAMILIES = ("valid", "bad payload", "lying length", "truncated", "many chara chunks", "ZIP appended",
                     "pixel bomb with a card", "other text chunks", "no IEND", "junk after signature", "huge payload", "flipped bytes")


def card_png(rng: random.Random, variant: int) -> bytes:
    """A PNG card, broken in one of many ways."""
    image = encoded(small_image(rng), "PNG")
    payload = base64.b64encode(card_json(rng) if rng.random() < 0.5 else json.dumps(card()).encode())
    at = image.rindex(b"IEND") - 4
    text = png_chunk(b"tEXt", b"chara\0" + payload)
    if variant == 0:
        return image[:at] + text + image[at:]
    if variant == 1:  # broken base64 / not JSON
        return image[:at] + png_chunk(b"tEXt", b"chara\0" + rng.choice([b"!!!!", b"e30", junk(rng, 64)])) + image[at:]
    if variant == 2:  # a length field that lies
        chunk = struct.pack(">I", rng.choice([0xFFFFFFFF, 0x7FFFFFFF, len(payload) + 1000])) + b"tEXt" + b"chara\0" + payload
        return image[:at] + chunk + image[at:]
    if variant == 3:
        return truncate(image[:at] + text + image[at:], rng)
    if variant == 4:  # several chara chunks
        return image[:at] + text * rng.randint(2, 50) + image[at:]
    if variant == 5:  # a ZIP appended to a card: still a card, never a bundle
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("card.png", image)
            zf.writestr("expressions/joy.png", png_bomb_bytes(20000))
        return image[:at] + text + image[at:] + archive.getvalue()
    if variant == 6:  # a pixel bomb that also carries a card
        bomb = png_bomb_bytes(rng.choice([20000, 40000]))
        return bomb[:-12] + text + bomb[-12:]
    if variant == 7:  # zTXt / iTXt chunks and other keywords
        return image[:at] + png_chunk(rng.choice([b"zTXt", b"iTXt", b"tEXt"]), rng.choice([b"chara", b"ccv3", b"Chara"]) + b"\0" + payload) + image[at:]
    if variant == 8:  # no IEND, junk after it
        return image[:at] + text + junk(rng)
    if variant == 9:
        return b"\x89PNG\r\n\x1a\n" + junk(rng)
    if variant == 10:  # a huge card payload
        big = base64.b64encode(json.dumps(card(description="z" * rng.choice([100, 4_000_000, 6_000_000]))).encode())
        return image[:at] + png_chunk(b"tEXt", b"chara\0" + big) + image[at:]
    return flip_bytes(image[:at] + text + image[at:], rng, rng.randint(1, 30))


# --- bundles ----------------------------------------------------------------------------------------------------------

BVH = ("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 3 Xposition Yposition Zposition\n  End Site\n  {\n"
       "    OFFSET 0 1 0\n  }\n}\nMOTION\nFrames: 1\nFrame Time: 0.033333\n0 0 0\n")


def wav(seconds: float, rate: int = 16000, channels: int = 1, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    return audio_bytes(seconds, rate, fmt, channels, subtype)


def wav_with_lying_header(frames: int) -> bytes:
    """A WAV whose data chunk claims `frames` samples but holds a handful."""
    data = bytearray(wav(0.01))
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", min(frames * 2, 0xFFFFFFFF))
    return bytes(data)


def good_card_png() -> bytes:
    from pipelines.character.card import Character, character_to_png

    return character_to_png(Character(name="Fuzz"), Image.new("RGB", (8, 8), "gray"))


SPRITE_NAMES = ("expressions/joy.png", "expressions/neutral.png", "expressions/admiration.png", "expressions/zzz.png",
                "expressions/joy.png\n", "expressions/JOY.png", "expressions/j\u00f6y.png", "expressions/../card.png",
                "expressions\\joy.png", "expressions//joy.png", "./expressions/joy.png", "expressions/joy.png/",
                "expressions/" + "a" * 39 + ".png", "expressions/" + "a" * 500 + ".png", "expressions/.png")
OTHER_NAMES = ("portrait.png", "voice/sample.wav", "motions/walk.bvh", "motions/walk.bvh\n", "motions/../../x.bvh",
               "/etc/passwd", "C:/x", "c:\\x", "card.png\x00.txt", "a/" * 300 + "x", "__MACOSX/._card.png", "",
               "motions/", "voice/", "motions/w\u00e4lk.bvh", "\u202ecard.png")


BUNDLE_FAMILIES = ("valid", "sprite bombs", "many labels", "odd names", "odd voices", "sprite of another type", "broken clips",
                   "card broken or missing", "too many entries", "duplicate names", "nested ZIP", "truncated", "flipped bytes",
                   "encrypted or odd compression", "declared size lies", "not quite a ZIP")


def bundle_zip(rng: random.Random, card_bytes: bytes, variant: int) -> bytes:
    members: list[tuple[str, bytes]] = [("card.png", card_bytes)]
    sprite = lambda: encoded(small_image(rng), "PNG")  # noqa: E731
    if variant == 0:  # plausible
        members += [("portrait.png", sprite()), ("expressions/joy.png", sprite()), ("motions/walk.bvh", BVH.encode()),
                    ("voice/sample.wav", wav(0.5))]
    elif variant == 1:  # one or many sprite bombs
        side = rng.choice([3000, 5000, 8000, 20000, 40000])
        labels = rng.sample(["joy", "sadness", "anger", "surprise", "fear", "disgust", "neutral", "admiration", "love"], rng.randint(1, 9))
        members += [(f"expressions/{label}.png", png_bomb_bytes(side, bits=rng.choice([1, 8]), colour=rng.choice([0, 2]))) for label in labels]
    elif variant == 2:  # many odd labels, each a real sprite
        members += [(f"expressions/l{i}.png", sprite()) for i in range(rng.choice([10, 100, 250]))]
    elif variant == 3:  # odd member names
        members += [(rng.choice(SPRITE_NAMES + OTHER_NAMES), rng.choice([sprite(), BVH.encode(), b"x"])) for _ in range(rng.randint(1, 6))]
    elif variant == 4:  # voices of other formats, lengths and shapes
        voice = rng.choice([
            lambda: wav(600, 8000, fmt="FLAC", subtype="PCM_16"), lambda: wav(120, 8000), lambda: wav(1, 8000, channels=8),
            lambda: wav(0.1, 384000), lambda: wav(2, 16000, fmt="OGG", subtype="VORBIS"), lambda: wav_with_lying_header(10**9),
            lambda: b"RIFF\x00\x00\x00\x00WAVE", lambda: junk(rng), lambda: b"", lambda: wav(0.2, 16000, subtype="FLOAT"),
            lambda: wav(0.2, 16000, fmt="AIFF"),
        ])()
        members.append(("voice/sample.wav", voice))
    elif variant == 5:  # a sprite that is not what its name says
        members.append((rng.choice(SPRITE_NAMES[:3]), rng.choice([b"hello", encoded(small_image(rng), "JPEG"), truncate(sprite(), rng),
                                                                  encoded(small_image(rng, mode="CMYK"), "TIFF"), png_header_only(70000, 70000)])))
    elif variant == 6:  # broken clips
        members.append(("motions/walk.bvh", rng.choice([b"\xff\xfe", b"HIERARCHY" + junk(rng), b"MOTION", BVH.replace("0 0 0\n", "nan inf x\n").encode(),
                                                        b"HIERARCHY\n" + b"{" * 100_000])))
    elif variant == 7:  # card.png broken or missing
        members[0] = rng.choice([("card.png", b"not a png"), ("card.png", truncate(card_bytes, rng)), ("portrait.png", sprite()),
                                 ("card.png", png_bomb_bytes(30000)), ("Card.png", card_bytes)])
    elif variant == 8:  # too many entries or too much declared
        members += [(f"junk/{i}", b"") for i in range(rng.choice([255, 257, 1000]))]
    elif variant == 9:  # a duplicate name: which copy wins must not matter
        members += [("expressions/joy.png", sprite()), ("expressions/joy.png", png_bomb_bytes(20000))]
    elif variant == 10:  # a ZIP inside the ZIP
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("card.png", card_bytes)
        members.append(("expressions/joy.png", inner.getvalue()))
    raw = build_zip(members, method=zipfile.ZIP_DEFLATED if rng.random() < 0.8 else zipfile.ZIP_STORED)
    if variant == 11:
        return truncate(raw, rng)
    if variant == 12:
        return flip_bytes(raw, rng, rng.randint(1, 20))
    if variant == 13:  # the encrypted flag, or a compression method Python cannot read (AES, bzip2, LZMA, XZ, PPMd)
        if rng.random() < 0.5:
            return patch_zip(raw, encrypted=True)
        return patch_zip(raw, method=rng.choice([99, 12, 14, 95, 98, 7]))
    if variant == 14:  # a deflate bomb under the declared-size radar
        return zip_declared_size_lie(card_bytes)
    if variant == 15:
        return rng.choice([b"PK\x05\x06" + b"\0" * 18, b"PK\x03\x04" + junk(rng, 100), b"PK", raw[:30], junk(rng) + raw])
    return raw


def build_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP of (name, data) pairs; unlike a dict, names may repeat."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression=method) as archive:
        warnings.simplefilter("ignore")  # "Duplicate name" is the point of some cases
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            archive.writestr(info, data)
    return buffer.getvalue()


@functools.lru_cache(maxsize=2)
def zip_declared_size_lie(card_bytes: bytes) -> bytes:
    """An entry that declares 1 kB but inflates to 200 MB (the reader must stop at the declared size)."""
    members = [("card.png", card_bytes), ("expressions/joy.png", b"\0" * (200 << 20))]
    raw = bytearray(build_zip(members))
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(signature)
        at = raw.find(signature, at + 4)  # the second entry
        if at != -1:
            raw[at + size_at : at + size_at + 4] = struct.pack("<I", 1024)
    return bytes(raw)


# --- images -----------------------------------------------------------------------------------------------------------

MODES = ("1", "L", "LA", "P", "PA", "I", "I;16", "I;16B", "F", "CMYK", "YCbCr", "LAB", "HSV", "RGBA", "RGBX", "RGBa", "La")


def odd_mode_image(rng: random.Random) -> bytes:
    mode = rng.choice(MODES)
    base = small_image(rng, (rng.randint(1, 64), rng.randint(1, 64)))
    try:
        image = base.convert(mode)
    except ValueError:
        image = Image.new(mode, base.size)
    for fmt in ("PNG", "TIFF", "WEBP", "JPEG", "BMP", "GIF", "PPM", "ICO", "TGA"):
        try:
            return encoded(image, fmt)
        except (OSError, ValueError, KeyError):
            continue
    return encoded(base, "PNG")


def header_bomb(rng: random.Random) -> bytes:
    """A tiny file whose header claims a huge image, in one of several formats."""
    side = rng.choice([9000, 30000, 65535])
    fmt = rng.randrange(7)
    if fmt == 0:
        return png_bomb_bytes(rng.choice([7000, 12000, 30000]), bits=rng.choice([1, 8]), colour=rng.choice([0, 2]))
    if fmt == 1:
        return png_header_only(side, side)
    if fmt == 2:  # GIF logical screen
        return animated_gif_bomb(rng)
    if fmt == 3:  # BMP with huge dimensions and no pixels
        return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, 0, 0, 0, 0, 0)
    if fmt == 4:  # JPEG: rewrite SOF0's height/width
        data = bytearray(encoded(small_image(rng, (16, 16)), "JPEG"))
        at = data.find(b"\xff\xc0")
        data[at + 5 : at + 9] = struct.pack(">HH", side, side)
        return bytes(data)
    if fmt == 5:  # TIFF claiming a huge strip
        data = bytearray(encoded(small_image(rng, (8, 8)), "TIFF"))
        return bytes(data).replace(struct.pack("<HHII", 256, 3, 1, 8), struct.pack("<HHII", 256, 4, 1, side), 1)
    return png_bomb_bytes(rng.choice([6000, 7000]), rng.choice([6000, 7000]), bits=8)  # a real, large, blank image


IMAGE_FAMILIES = ("valid", "header bomb", "odd mode", "truncated", "flipped bytes", "extreme shape", "EXIF and frames", "not an image")


def image_bytes(rng: random.Random, variant: int) -> bytes:
    if variant == 0:
        return encoded(small_image(rng), rng.choice(["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"]))
    if variant == 1:
        return header_bomb(rng)
    if variant == 2:
        return odd_mode_image(rng)
    if variant == 3:
        return truncate(encoded(small_image(rng, (64, 64)), rng.choice(["PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP"])), rng)
    if variant == 4:
        return flip_bytes(encoded(small_image(rng, (64, 64)), rng.choice(["PNG", "JPEG", "WEBP", "GIF", "TIFF"])), rng, rng.randint(1, 40))
    if variant == 5:  # extreme shapes
        width, height = rng.choice([(1, 1), (1, 40000), (40000, 1), (6324, 6324), (6325, 6325), (2, 20_000_000)])
        return png_bomb_bytes(width, height, bits=8)
    if variant == 6:  # EXIF orientation values out of range, many frames
        image = small_image(rng, (32, 24))
        if rng.random() < 0.5:
            exif = Image.Exif()
            exif[0x0112] = rng.choice([0, 1, 6, 8, 9, 255, 65535])
            return encoded(image, "JPEG", exif=exif)
        frames = [small_image(rng, (32, 24)) for _ in range(rng.choice([2, 50, 300]))]
        return encoded(frames[0], rng.choice(["GIF", "TIFF", "PNG"]), save_all=True, append_images=frames[1:])
    return rng.choice([b"", junk(rng), b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.4\n", b"GIF89a", b"\xff\xd8\xff",
                       b"<html><img src=x></html>", b"\x89PNG\r\n\x1a\n", b"II*\x00" + junk(rng, 64)])


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".heic", "")


# --- videos -----------------------------------------------------------------------------------------------------------


def video_bytes(rng: random.Random, folder: Path) -> tuple[bytes, str, str]:
    """(content, suffix, family) of a hostile video; families in MUST_REFUSE may never be accepted."""
    sample = REPO / "examples" / "videos" / "lunge_front.mp4"
    real = sample.read_bytes()
    variant = rng.randrange(9)
    secret = folder / "secret.ts"  # a local file a playlist must not be able to pull into the preview
    if not secret.exists():
        secret.write_bytes(real)
    if variant == 0:  # HLS playlists naming local files or URLs
        target = rng.choice([str(secret), "file://" + str(secret), "/etc/passwd", "http://127.0.0.1:1/a.ts", "secret.ts",
                             "../../../../etc/hostname", "concat:" + str(secret) + "|" + str(secret), "data:video/mp4;base64,AAAA"])
        playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n".encode()
        return playlist, rng.choice([".m3u8", ".mp4", ".m3u"]), "playlist"
    if variant == 1:  # ffconcat script
        return f"ffconcat version 1.0\nfile '{secret}'\n".encode(), rng.choice([".txt", ".mp4", ".ffconcat"]), "playlist"
    if variant == 2:  # huge dimensions in a raw-video header
        width, height = rng.choice([(30000, 30000), (65535, 2), (2, 65535), (16384, 16384)])
        header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\nFRAME\n".encode()
        return header + b"\0" * 4096, rng.choice([".y4m", ".mp4"]), "huge dimensions"
    if variant == 3:
        return truncate(real, rng), ".mp4", "truncated"
    if variant == 4:
        return flip_bytes(real, rng, rng.randint(1, 60)), ".mp4", "corrupted"
    if variant == 5:  # an MP4 cut to its header (zero frames)
        return real[: real.find(b"mdat") + 8] if b"mdat" in real else real[:64], ".mp4", "zero frames"
    if variant == 6:
        content = rng.choice([b"", junk(rng), b"\x00\x00\x00\x18ftypmp42", encoded(small_image(rng), "PNG"), wav(1)])
        return content, rng.choice([".mp4", ".webm", ".mov"]), "not a video"
    if variant == 7:  # an SDP / other protocol description
        sdp = b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 9 RTP/AVP 96\n"
        return sdp, rng.choice([".sdp", ".mp4"]), "playlist"
    return real, ".mp4", "valid"


# --- running ----------------------------------------------------------------------------------------------------------


@dataclass
class Case:
    index: int
    kind: str
    family: str
    path: Path


def make_case(index: int, kind: str, seed: int, folder: Path, card_png_bytes: bytes) -> Case:
    rng = random.Random(f"{seed}:{kind}:{index}")
    if kind == "card" and rng.random() < 0.3:
        variant = rng.randrange(len(CARD_PNG_FAMILIES))
        data, suffix, family = card_png(rng, variant), ".png", "PNG: " + CARD_PNG_FAMILIES[variant]
    elif kind == "card":
        variant = rng.randrange(len(CARD_JSON_FAMILIES))
        data, suffix, family = card_json(rng, variant), ".json", "JSON: " + CARD_JSON_FAMILIES[variant]
    elif kind == "bundle":
        variant = rng.randrange(len(BUNDLE_FAMILIES))
        data, suffix, family = bundle_zip(rng, card_png_bytes, variant), ".zip", BUNDLE_FAMILIES[variant]
    elif kind == "image":
        variant = rng.randrange(len(IMAGE_FAMILIES))
        data, suffix, family = image_bytes(rng, variant), rng.choice(IMAGE_SUFFIXES), IMAGE_FAMILIES[variant]
    else:
        data, suffix, family = video_bytes(rng, folder)
    path = folder / f"{kind}-{index:05d}{suffix}"
    path.write_bytes(data)
    return Case(index, kind, family, path)


class Violation(Exception):
    """The input was accepted but broke a promise of its gate (a server file shown, a playlist followed)."""


MUST_REFUSE = {"playlist"}  # families no gate may accept: they make ffmpeg open other files


def feed(case: Case) -> None:
    """What the studio does with an upload of this kind, then the promises its gate makes about what it accepted."""
    if case.kind == "card":
        from pipelines.character.card import expression_image, load_character, portrait_image
        from pipelines.labels import LABELS

        character = load_character(case.path)
        shown = [image for image in [portrait_image(character), *(expression_image(character, l) for l in LABELS)] if image]
        if shown and b"data:" not in case.path.read_bytes():
            raise Violation("an uploaded card showed an image from a server path")
    elif case.kind == "bundle":
        from pipelines.character.bundle import CharacterBundle, decode_voice
        from pipelines.labels import SILLYTAVERN_LABELS

        bundle = CharacterBundle.load(case.path)
        if not set(bundle.expressions) <= set(SILLYTAVERN_LABELS):
            raise Violation(f"sprites with unknown labels were kept: {sorted(bundle.expressions)[:3]}")
        if bundle.voice_sample is not None:
            decode_voice(bundle.voice_sample)
    elif case.kind == "image":
        from pipelines.image_io import load_image

        load_image(case.path)
    else:
        from pipelines.motion.video import output_size, probe, read_frames

        info = probe(case.path)
        if case.family in MUST_REFUSE:
            raise Violation(f"a {case.family} was accepted as a video")
        frames = read_frames(case.path, 15.0, output_size(info.width, info.height, 320), duration=0.2)
        for _, _frame in zip(range(2), frames):
            pass


def clear_message(text: str) -> str | None:
    """Why a refusal message is not a clear sentence for a visitor, or None when it is."""
    if not text.strip():
        return "empty message"
    if len(text) > MAX_MESSAGE_CHARS:
        return f"message of {len(text)} characters"
    if "Traceback" in text or re.search(r"\\x[0-9a-f]{2}|\bb'|\bb\"", text):  # a stack or a bytes repr
        return "message shows internals"
    return None


def run_child(case: Case, writer: int) -> None:
    """In the forked child: feed the input, write one JSON line to the pipe, exit without cleanup."""
    from pipelines.errors import InputError

    signal.alarm(int(WALL_CAP_S[case.kind]) + 5)  # a backstop; the parent kills at WALL_CAP_S
    # A forked child inherits the parent's peak (VmHWM): start it afresh from here ("5" resets it, Linux >= 4.0).
    Path("/proc/self/clear_refs").write_text("5")
    start_mb = memory_mb()
    try:
        feed(case)
        result = {"outcome": "ok"}
    except Violation as err:
        result = {"outcome": "violation", "detail": str(err)}
    except InputError as err:
        problem = clear_message(str(err))
        result = {"outcome": "unclear" if problem else "refused", "detail": problem or str(err)[:160]}
    except BaseException as err:  # the point of the fuzz: anything else is a finding
        result = {"outcome": "crash", "detail": f"{type(err).__name__}: {str(err)[:160]}"}
    # ffmpeg, for videos. Its peak counts the copy of this process it was forked as before it ran ffmpeg, so only
    # what it used beyond this process's own size is added memory.
    helpers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 - start_mb
    result["added_mb"] = max(memory_mb("VmHWM") - start_mb, helpers_mb)
    os.write(writer, json.dumps(result).encode())
    os._exit(0)


def memory_mb(field: str = "VmRSS") -> float:
    """This process's current (VmRSS) or peak (VmHWM) resident memory, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found")


def run_case(case: Case) -> dict:
    baseline_mb = memory_mb()  # for a child killed before it could report what it added
    reader, writer = os.pipe()
    began = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        run_child(case, writer)
    os.close(writer)
    deadline = began + WALL_CAP_S[case.kind]
    timed_out = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(0.005)
    seconds = time.perf_counter() - began
    raw = b""
    while chunk := os.read(reader, 65536):
        raw += chunk
    os.close(reader)
    result = json.loads(raw) if raw else {"outcome": "crash", "detail": f"child died (status {status})"}
    peak_mb = result.pop("added_mb", usage.ru_maxrss / 1024 - baseline_mb)
    if timed_out:
        result = {"outcome": "timeout", "detail": f"over {WALL_CAP_S[case.kind]:.0f} s"}
    elif peak_mb > RSS_CAP_MB[case.kind]:
        result = {"outcome": "memory", "detail": f"{peak_mb:.0f} MB over the parent"}
    return {**result, "kind": case.kind, "family": case.family, "file": case.path.name, "seconds": seconds, "peak_mb": peak_mb}


FAILURES = ("crash", "unclear", "timeout", "memory", "violation")


def plan(count: int, kinds: tuple[str, ...]) -> list[tuple[int, str]]:
    share = sum(SHARE[k] for k in kinds)
    jobs = []
    for kind in kinds:
        jobs += [(i, kind) for i in range(max(1, round(count * SHARE[kind] / share)))]
    return jobs


def fuzz(count: int, seed: int, kinds: tuple[str, ...] = KINDS, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Generate and run `count` inputs; return one result dict per input."""
    results = []
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        card_png_bytes = good_card_png()
        for index, kind in plan(count, kinds):
            case = make_case(index, kind, seed, Path(folder), card_png_bytes)
            results.append(run_case(case))
            case.path.unlink()
            if progress and results[-1]["outcome"] in FAILURES:
                progress(f"{case.path.name} ({case.family}): {results[-1]['outcome']} {results[-1].get('detail', '')}")
    return results


def report(results: list[dict], seed: int) -> str:
    from bench.report import table

    rows = []
    for kind in KINDS:
        mine = [r for r in results if r["kind"] == kind]
        if not mine:
            continue
        outcomes = Counter(r["outcome"] for r in mine)
        rows.append([kind, len(mine), outcomes["ok"], outcomes["refused"], sum(outcomes[f] for f in FAILURES),
                     f"{max(r['seconds'] for r in mine):.2f}", f"{WALL_CAP_S[kind]:.0f}",
                     f"{max(r['peak_mb'] for r in mine):.0f}", f"{RSS_CAP_MB[kind]:.0f}"])
    families = []
    for (kind, family), mine in sorted(_group(results, lambda r: (r["kind"], r["family"])).items()):
        outcomes = Counter(r["outcome"] for r in mine)
        families.append([kind, family, len(mine), outcomes["ok"], outcomes["refused"], sum(outcomes[f] for f in FAILURES)])
    failures = [r for r in results if r["outcome"] in FAILURES]
    body = (f"{len(results)} generated inputs (seed {seed}), each in a forked child with a wall-time and a memory cap "
            f"(above the parent's). Passing means success, or `InputError` with a message of at most {MAX_MESSAGE_CHARS} "
            "characters, within the caps.\n\n"
            + table(["kind", "inputs", "accepted", "refused clearly", "failed", "slowest (s)", "cap (s)",
                     "peak memory (MB)", "cap (MB)"], rows)
            + f"\n\nFailures: {len(failures)}.\n\nBy family:\n\n"
            + table(["kind", "family", "inputs", "accepted", "refused clearly", "failed"], families) + "\n")
    by_detail = defaultdict(list)
    for r in failures:
        by_detail[(r["kind"], r["outcome"], r.get("detail", ""))].append(r["file"])
    for (kind, outcome, detail), files in sorted(by_detail.items()):
        body += f"\n- {kind} {outcome} ×{len(files)}: {detail} (e.g. {files[0]})"
    return body


def _group(items: list[dict], key: Callable[[dict], object]) -> dict:
    groups = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    began = time.perf_counter()
    results = fuzz(args.count, args.seed, kinds, progress=lambda line: print(line, flush=True))
    body = report(results, args.seed) + f"\n\nWhole run: {time.perf_counter() - began:.0f} s.\n"
    from bench.report import write_result

    write_result("fuzz", "Fuzz: hostile inputs through the studio's entry points", body)
    return 0 if not any(r["outcome"] in FAILURES for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
