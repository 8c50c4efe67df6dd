"""A whole character in one bundle: the card PNG plus a ZIP with its sprites, motions and voice.

The card PNG alone works in any Character Card V2 tool (SillyTavern and friends); the ZIP carries what
those tools have no place for. Its layout follows SillyTavern's expression sprites:

    card.png                  the card (also given beside the ZIP), so the ZIP alone restores everything
    portrait.png              the main portrait
    expressions/<label>.png   one sprite per emotion label: joy.png, sadness.png, ...
    motions/<name>.bvh        motion clips
    voice/sample.wav          a sample of the character's voice

Bundles come from strangers, so reading one never touches the disk with a name from the archive, caps
every size before decompressing, and refuses names that try to climb out of the layout. Only members whose
names match the layout exactly are read; sprites only for known expression labels. Every image's size is
checked from its header, and all of them added up, before any is decoded; sprites are kept at display size.
The voice sample must really be a WAV of bounded length. A damaged, encrypted or oddly compressed archive
gets one clear sentence like any other bad input.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.character.card import (
    SPRITE_MAX_SIDE,
    Character,
    character_from_png,
    character_to_png,
    export_filename,
    load_character,
)
from pipelines.errors import InputError
from pipelines.image_io import MAX_IMAGE_PIXELS, load_image, open_header
from pipelines.labels import NEUTRAL, SILLYTAVERN_LABELS

MAX_BUNDLE_BYTES = 200 * 1024 * 1024  # the studio's upload limit
MAX_ENTRY_BYTES = 25 * 1024 * 1024  # one sprite, clip or voice sample, uncompressed
MAX_TOTAL_BYTES = 300 * 1024 * 1024  # everything, uncompressed: stops zip bombs before they inflate
MAX_ENTRIES = 256
MAX_SPRITE_PIXELS = 4_000_000  # one expression sprite (we export them at most SPRITE_MAX_SIDE square: 1 MP)
MAX_PORTRAIT_PIXELS = MAX_IMAGE_PIXELS  # the portrait is a photo, as large as one the Face tab accepts
MAX_IMAGES_PIXELS = 48_000_000  # every image of a bundle together: a full photo plus two large sprites
SPRITE_LABELS = frozenset(SILLYTAVERN_LABELS)  # includes our seven; sprites under other names are not read
MAX_VOICE_SECONDS = 60.0  # the greeting, spoken; a WAV of 60 s at 48 kHz stereo is 11.5 MB
MAX_VOICE_CHANNELS = 2
MAX_VOICE_RATE = 48_000
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what we write; other methods are refused unread
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a ZIP starts with a member or (empty) with its directory end
CARD_SIZE = (400, 600)  # width, height of the card picture: the 2:3 portrait SillyTavern shows cards at
LABEL = r"[a-z][a-z0-9_\-]{0,39}"
CLIP = r"[\w\-]{1,60}"
LAYOUT = re.compile(rf"card\.png|portrait\.png|expressions/{LABEL}\.png|motions/{CLIP}\.bvh|voice/sample\.wav")


@dataclass
class CharacterBundle:
    """A character and its assets, in memory."""

    character: Character
    portrait: np.ndarray | None = None  # H,W,3 uint8 RGB
    expressions: dict[str, np.ndarray] = field(default_factory=dict)  # label -> sprite, RGB uint8
    motions: dict[str, str] = field(default_factory=dict)  # clip name -> BVH text
    voice_sample: bytes | None = None  # a WAV file

    def sprites(self) -> dict[str, np.ndarray]:
        """The expression sprites by label, with the portrait standing in for a missing neutral one."""
        sprites = dict(self.expressions)
        if self.portrait is not None and NEUTRAL not in sprites:
            sprites[NEUTRAL] = load_image(self.portrait, max_side=SPRITE_MAX_SIDE)
        return sprites

    def save(self, folder: str | Path) -> tuple[Path, Path]:
        """Write `<name>.png` (the card) and `<name>.zip` (card + assets) into `folder`; return both paths."""
        for label in self.expressions:
            if not re.fullmatch(LABEL, label):
                raise InputError(f"Expression label {label!r} must be lower-case letters, digits, '_' or '-'.")
        for name in self.motions:
            if not re.fullmatch(CLIP, name):
                raise InputError(f"Motion clip name {name!r} must be letters, digits, '_' or '-' (at most 60).")
        character = self.character.copy()
        character.studio["bundle"] = {  # so the card alone tells which assets its ZIP carries
            "expressions": sorted(self.expressions),
            "motions": sorted(self.motions),
            "voice_sample": self.voice_sample is not None,
        }
        face = self.portrait if self.portrait is not None else self.expressions.get(NEUTRAL)
        card = character_to_png(character, _card_picture(face) if face is not None else None)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        card_path, zip_path = folder / export_filename(character, ".png"), folder / export_filename(character, ".zip")
        card_path.write_bytes(card)
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("card.png", card)
            if face is not None:  # the portrait, or the neutral sprite standing in for it
                archive.writestr("portrait.png", _png(face))
            for label, sprite in sorted(self.expressions.items()):  # at sprite size, so any reader accepts them
                archive.writestr(f"expressions/{label}.png", _png(load_image(sprite, max_side=SPRITE_MAX_SIDE)))
            for name, bvh in sorted(self.motions.items()):
                archive.writestr(f"motions/{name}.bvh", bvh)
            if self.voice_sample is not None:
                archive.writestr("voice/sample.wav", self.voice_sample)
        return card_path, zip_path

    @classmethod
    def load(cls, path: str | Path) -> "CharacterBundle":
        """Read a bundle ZIP, or just a card (.png/.json), which gives a bundle with no assets."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"No file at {path}.")
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"{path.name} is empty.")
        if size > MAX_BUNDLE_BYTES:
            raise InputError(f"{path.name} is {size / 1e6:.0f} MB; a character bundle may be at most {MAX_BUNDLE_BYTES / 1e6:.0f} MB.")
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if magic not in ZIP_MAGIC:  # by its first bytes: a PNG card with a ZIP appended is still a card
            return cls(load_character(path))
        try:
            with zipfile.ZipFile(path) as archive:
                return cls._from_archive(archive, path.name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError):  # bad CRC, headers or offsets, cut-off data
            raise InputError(f"{path.name} is a damaged ZIP file and cannot be read.") from None
        except NotImplementedError:  # a ZIP feature Python does not read (patched data, a newer format version)
            raise InputError(f"{path.name} uses a ZIP feature we do not read; export the bundle again.") from None

    @classmethod
    def _from_archive(cls, archive: zipfile.ZipFile, name: str) -> "CharacterBundle":
        entries = _checked_entries(archive)
        if "card.png" not in entries:
            raise InputError(f"{name} has no card.png: it is not a Character Studio bundle.")
        read = lambda member: archive.read(entries[member])  # noqa: E731 - sizes were checked above
        bundle = cls(character_from_png(read("card.png")))
        images = _checked_images(archive, entries)
        if "portrait.png" in images:
            bundle.portrait = load_image(read("portrait.png"), max_pixels=MAX_PORTRAIT_PIXELS, name="portrait.png")
        for member in images:
            if member.startswith("expressions/"):
                label = member.removeprefix("expressions/").removesuffix(".png")
                bundle.expressions[label] = load_image(read(member), max_pixels=MAX_SPRITE_PIXELS,
                                                       max_side=SPRITE_MAX_SIDE, name=member)  # fmt: skip
        for member in entries:
            if member.startswith("motions/"):
                bundle.motions[member.removeprefix("motions/").removesuffix(".bvh")] = _bvh_text(read(member), member)
        if "voice/sample.wav" in entries:
            bundle.voice_sample = read("voice/sample.wav")
            _voice_info(bundle.voice_sample, "voice/sample.wav")
        return bundle


def _checked_entries(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's members that fit the layout, after refusing bombs, traversal and oversized files."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise InputError(f"This bundle has {len(infos)} files; the limit is {MAX_ENTRIES}.")
    if sum(info.file_size for info in infos) > MAX_TOTAL_BYTES:
        raise InputError(f"This bundle would unpack to more than {MAX_TOTAL_BYTES / 1e6:.0f} MB; refusing it.")
    entries = {}
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.split("/") or "\\" in name or ":" in name:
            raise InputError(f"This bundle contains an unsafe file name: {name!r}.")
        if info.file_size > MAX_ENTRY_BYTES:
            raise InputError(f"{name} in this bundle is {info.file_size / 1e6:.0f} MB; the limit per file is {MAX_ENTRY_BYTES / 1e6:.0f} MB.")
        if not LAYOUT.fullmatch(name):
            continue
        if name.startswith("expressions/") and name.removeprefix("expressions/").removesuffix(".png") not in SPRITE_LABELS:
            continue  # a sprite no emotion would ever show: never decoded
        if info.flag_bits & 0x1:
            raise InputError(f"{name} in this bundle is encrypted; export the bundle again without a password.")
        if info.compress_type not in ZIP_METHODS:
            raise InputError(f"{name} in this bundle uses a compression method we do not read (only stored or "
                             "deflated, as most tools write).")  # fmt: skip
        entries[name] = info
    return entries


def _checked_images(archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo]) -> list[str]:
    """The portrait and sprites, each checked from its header and all added up, before any is decoded."""
    images = [name for name in entries if name == "portrait.png" or name.startswith("expressions/")]
    total = 0
    for name in images:
        cap = MAX_PORTRAIT_PIXELS if name == "portrait.png" else MAX_SPRITE_PIXELS
        with archive.open(entries[name]) as member:  # Pillow reads only as far as the header
            width, height = open_header(member, name, cap).size
        total += width * height
    if total > MAX_IMAGES_PIXELS:
        raise InputError(f"The images in this bundle add up to {total / 1e6:.0f} MP; the limit is "
                         f"{MAX_IMAGES_PIXELS / 1e6:.0f} MP.")  # fmt: skip
    return images


def _voice_info(data: bytes, name: str = "The voice sample"):
    """soundfile's description of a voice sample, refusing anything but a WAV of bounded length and shape."""
    import soundfile

    if not (data[:4] == b"RIFF" and data[8:12] == b"WAVE"):
        raise InputError(f"{name} is not a WAV file (a WAV starts with RIFF...WAVE).")
    try:
        info = soundfile.info(io.BytesIO(data))
    except RuntimeError:  # libsndfile's errors
        raise InputError(f"{name} is a damaged WAV file.") from None
    if info.format not in ("WAV", "WAVEX") or info.samplerate <= 0:
        raise InputError(f"{name} is not a WAV file libsndfile can read ({info.format}).")
    if info.channels > MAX_VOICE_CHANNELS or info.samplerate > MAX_VOICE_RATE:
        raise InputError(f"{name} has {info.channels} channels at {info.samplerate} Hz; the limit is "
                         f"{MAX_VOICE_CHANNELS} channels at {MAX_VOICE_RATE} Hz.")  # fmt: skip
    if info.frames / info.samplerate > MAX_VOICE_SECONDS:
        raise InputError(f"{name} is {info.frames / info.samplerate:.0f} s long; a voice sample may be at most "
                         f"{MAX_VOICE_SECONDS:.0f} s.")  # fmt: skip
    return info


def decode_voice(data: bytes, name: str = "The voice sample") -> tuple[int, np.ndarray]:
    """A voice sample as (sample rate, int16 samples) for a player, after the same checks as a bundle's."""
    import soundfile

    info = _voice_info(data, name)
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="int16", frames=info.frames)
    except RuntimeError:
        raise InputError(f"{name} is a damaged WAV file.") from None
    return rate, samples


def _bvh_text(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name} is not a text BVH file.") from None
    if not text.lstrip().startswith("HIERARCHY"):
        raise InputError(f"{name} is not a BVH file (it does not start with HIERARCHY).")
    return text


def _card_picture(face: np.ndarray):
    """The card's picture: the face cropped to SillyTavern's 2:3 card shape and scaled to CARD_SIZE (up, if small),
    so a 192 px sprite does not become a thumbnail-sized card."""
    from PIL import Image, ImageOps

    return ImageOps.fit(Image.fromarray(face), CARD_SIZE, method=Image.Resampling.LANCZOS, centering=(0.5, 0.4))


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
