"""Broken and hostile files, made on the fly, for the bad-input tests (nothing large is stored in git).

Each function writes one file into `folder` and returns its path. Sizes stay small on disk even when
the file claims to be huge: that is what makes a decompression bomb dangerous.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import EXAMPLES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

FACE = EXAMPLES / "faces" / "london_001_neutral.jpg"
OTHER_FACE = EXAMPLES / "faces" / "london_002_neutral.jpg"


def zero_bytes(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(b"")
    return path


def truncated_jpeg(folder: Path) -> Path:
    data = FACE.read_bytes()
    path = folder / "truncated.jpg"
    path.write_bytes(data[: len(data) // 3])
    return path


def text_as(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("This is a text file with a misleading extension.\n" * 20)
    return path


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@functools.lru_cache(maxsize=64)
def png_bomb_bytes(width: int, height: int | None = None, bits: int = 1, colour: int = 0) -> bytes:
    """A PNG of zeros that claims width x height pixels: a few kB, width x height pixels once decoded."""
    height = height or width
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    body = zlib_zeros(height * (1 + (width * bits * channels + 7) // 8))
    header = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def zlib_zeros(size: int, block: int = 1 << 20) -> bytes:
    """A valid zlib stream of `size` zero bytes, built without compressing them all: one fully flushed 1 MB
    block (self-contained, so it can repeat), the rest as a final raw block, then the Adler-32 of n zeros,
    which is (n mod 65521) << 16 | 1."""
    whole, rest = divmod(size, block)
    compressor = zlib.compressobj(9)
    if whole == 0:
        return compressor.compress(bytes(size)) + compressor.flush()
    head = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    return head + repeat * (whole - 1) + tail.compress(bytes(rest)) + tail.flush() + struct.pack(">I", ((size % 65521) << 16) | 1)


def bomb_png(folder: Path, side: int = 30_000, name: str = "bomb.png") -> Path:
    """A 1-bit `side` x `side` PNG of zeros: a few hundred kB on disk, `side`² pixels once decoded."""
    path = folder / name
    path.write_bytes(png_bomb_bytes(side))
    return path


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def audio_bytes(seconds: float, rate: int = 16000, fmt: str = "WAV", channels: int = 1, subtype: str | None = None) -> bytes:
    """Silence in any format libsndfile writes (a FLAC of ten minutes of silence is a few hundred kB)."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros((int(seconds * rate), channels), np.int16), rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def patch_zip(raw: bytes, *, encrypted: bool = False, method: int | None = None) -> bytes:
    """Set the 'encrypted' bit or another compression method id on every entry (local and central headers)."""
    data = bytearray(raw)
    for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(signature)
        while at != -1:
            if encrypted:
                data[at + flags_at] |= 0x01
            if method is not None:
                data[at + method_at : at + method_at + 2] = struct.pack("<H", method)
            at = data.find(signature, at + 4)
    return bytes(data)


def _face_as(folder: Path, name: str, convert) -> Path:
    path = folder / name
    convert(Image.open(FACE)).save(path)
    return path


def cmyk_jpeg(folder: Path) -> Path:
    return _face_as(folder, "cmyk.jpg", lambda im: im.convert("CMYK"))


def sixteen_bit_png(folder: Path) -> Path:
    path = folder / "sixteen.png"
    grey = np.asarray(Image.open(FACE).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(path)  # mode I;16
    return path


def alpha_png(folder: Path) -> Path:
    def with_alpha(image):
        rgba = image.convert("RGBA")
        rgba.putalpha(Image.new("L", rgba.size, 200))
        return rgba

    return _face_as(folder, "alpha.png", with_alpha)


def exif_rotated_jpeg(folder: Path) -> Path:
    """The face stored sideways with EXIF orientation 6 ("rotate 90° clockwise to view"), as phones do."""
    image = Image.open(FACE).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = folder / "rotated.jpg"
    image.save(path, exif=exif)
    return path


def no_face(folder: Path) -> Path:
    path = folder / "landscape.png"
    y, x = np.mgrid[0:256, 0:256]
    Image.fromarray(np.stack([x, y, (x + y) // 2], axis=-1).astype(np.uint8)).save(path)
    return path


def two_faces(folder: Path) -> Path:
    """Two people side by side, the right one larger."""
    left = Image.open(OTHER_FACE).resize((300, 300))
    right = Image.open(FACE).resize((420, 420))
    canvas = Image.new("RGB", (760, 440), "white")
    canvas.paste(left, (10, 70))
    canvas.paste(right, (330, 10))
    path = folder / "two_faces.jpg"
    canvas.save(path)
    return path


def _ffmpeg(args: list[str]) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True, timeout=120)


def blank_video(folder: Path) -> Path:
    path = folder / "blank.mp4"
    _ffmpeg(["-f", "lavfi", "-i", "color=c=gray:s=320x240:d=1:r=15", "-pix_fmt", "yuv420p", str(path)])
    return path


def audio_only(folder: Path) -> Path:
    path = folder / "tone.mp4"
    _ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", str(path)])
    return path


def long_video(folder: Path) -> Path:
    """Ten minutes, but tiny: 64x64 at 1 frame per second."""
    path = folder / "ten_minutes.mp4"
    _ffmpeg(["-f", "lavfi", "-i", "color=c=black:s=64x64:d=600:r=1", "-pix_fmt", "yuv420p", str(path)])
    return path


def truncated_video(folder: Path, source: Path) -> Path:
    data = source.read_bytes()
    path = folder / "cut.mp4"
    path.write_bytes(data[: len(data) // 50])
    return path


def image_as_video(folder: Path) -> Path:
    path = folder / "photo.mp4"
    path.write_bytes(FACE.read_bytes())
    return path


def card_json(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def deep_card(folder: Path) -> Path:
    return card_json(folder, "deep.json", '{"spec":"chara_card_v2","data":' + "[" * 100_000 + "]" * 100_000 + "}")


def huge_card(folder: Path) -> Path:
    card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Big", "description": "x" * 6_000_000}}
    return card_json(folder, "huge.json", json.dumps(card))


def wrong_types_card(folder: Path) -> Path:
    card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Odd", "tags": "not-a-list"}}
    return card_json(folder, "wrong_types.json", json.dumps(card))


def png_without_card(folder: Path) -> Path:
    path = folder / "plain.png"
    Image.new("RGB", (32, 32), "blue").save(path)
    return path


def png_with_bad_card(folder: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="PNG")
    png = buffer.getvalue()
    chunk = png_chunk(b"tEXt", b"chara\0" + base64.b64encode(b"{not json"))
    end = png.rindex(b"IEND") - 4
    path = folder / "bad_card.png"
    path.write_bytes(png[:end] + chunk + png[end:])
    return path


def traversal_zip(folder: Path) -> Path:
    path = folder / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../../../tmp/owned.txt", "gotcha")
    return path


def zip_bomb(folder: Path) -> Path:
    """One entry that inflates to 64 MB from about 64 kB."""
    path = folder / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("card.png", "w", force_zip64=True) as entry:
            block = b"\0" * (1 << 20)
            for _ in range(64):
                entry.write(block)
    return path


def _card_png(name: str = "Hostile") -> bytes:
    from pipelines.character.card import Character, character_to_png

    return character_to_png(Character(name=name), Image.new("RGB", (8, 8), "gray"))


def _bundle(folder: Path, name: str, members: dict[str, bytes]) -> Path:
    path = folder / name
    path.write_bytes(zip_bytes({"card.png": _card_png(), **members}))
    return path


def sprite_bomb_zip(folder: Path) -> Path:
    """A 3 kB bundle whose joy sprite claims 40 MP (issue 15, finding 3)."""
    return _bundle(folder, "sprite_bomb.zip", {"expressions/joy.png": png_bomb_bytes(6324)})


def flac_voice_zip(folder: Path) -> Path:
    """Ten minutes of silence as FLAC, named voice/sample.wav (issue 15, finding 6)."""
    return _bundle(folder, "flac_voice.zip", {"voice/sample.wav": audio_bytes(600, 8000, fmt="FLAC")})


def encrypted_zip(folder: Path) -> Path:
    path = folder / "encrypted.zip"
    path.write_bytes(patch_zip(zip_bytes({"card.png": _card_png()}), encrypted=True))
    return path


def data_uri_bomb_card(folder: Path) -> Path:
    """A 50 kB card whose portrait is a 64 MP PNG of zeros (issue 15, finding 4)."""
    card = {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {"name": "Bomb", "extensions": {"character_studio": {"portrait": data_uri(png_bomb_bytes(8000))}}}}
    return card_json(folder, "uri_bomb.json", json.dumps(card))
