"""A whole character in one bundle: the card PNG plus a ZIP with its sprites, motions and voice.

The card PNG alone works in any Character Card V2 tool (SillyTavern and friends); the ZIP carries what
those tools have no place for. Its layout follows SillyTavern's expression sprites:

    card.png                  the card (also given beside the ZIP), so the ZIP alone restores everything
    portrait.png              the main portrait
    expressions/<label>.png   one sprite per emotion label: joy.png, sadness.png, ...
    motions/<name>.bvh        motion clips
    voice/sample.wav          a sample of the character's voice

Bundles come from strangers, so reading one never touches the disk with a name from the archive, caps
every size before decompressing, and refuses names that try to climb out of the layout.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.character.card import Character, character_from_png, character_to_png, export_filename, load_character
from pipelines.errors import InputError
from pipelines.image_io import load_image
from pipelines.labels import NEUTRAL

MAX_BUNDLE_BYTES = 200 * 1024 * 1024  # the studio's upload limit
MAX_ENTRY_BYTES = 25 * 1024 * 1024  # one sprite, clip or voice sample, uncompressed
MAX_TOTAL_BYTES = 300 * 1024 * 1024  # everything, uncompressed: stops zip bombs before they inflate
MAX_ENTRIES = 256
CARD_SIZE = (400, 600)  # width, height of the card picture: the 2:3 portrait SillyTavern shows cards at
LABEL = r"[a-z][a-z0-9_\-]{0,39}"
CLIP = r"[\w\-]{1,60}"
LAYOUT = re.compile(rf"^(card\.png|portrait\.png|expressions/{LABEL}\.png|motions/{CLIP}\.bvh|voice/sample\.wav)$")


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
        if self.portrait is not None:
            sprites.setdefault(NEUTRAL, self.portrait)
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
            for label, sprite in sorted(self.expressions.items()):
                archive.writestr(f"expressions/{label}.png", _png(sprite))
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
        if not zipfile.is_zipfile(path):
            return cls(load_character(path))
        with zipfile.ZipFile(path) as archive:
            entries = _checked_entries(archive)
            if "card.png" not in entries:
                raise InputError(f"{path.name} has no card.png: it is not a Character Studio bundle.")
            read = lambda name: archive.read(entries[name])  # noqa: E731 - sizes were checked above
            bundle = cls(character_from_png(read("card.png")))
            if "portrait.png" in entries:
                bundle.portrait = load_image(read("portrait.png"))
            for name in entries:
                kind, _, leaf = name.partition("/")
                if kind == "expressions":
                    bundle.expressions[leaf.removesuffix(".png")] = load_image(read(name))
                elif kind == "motions":
                    bundle.motions[leaf.removesuffix(".bvh")] = _bvh_text(read(name), name)
            if "voice/sample.wav" in entries:
                bundle.voice_sample = read("voice/sample.wav")
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
        if LAYOUT.match(name):
            entries[name] = info
    return entries


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
