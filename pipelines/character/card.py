"""Characters as Character Card V2 (`chara_card_v2`): the model, JSON/PNG import and export, and validation.

The card format is the one SillyTavern and most character hubs exchange, so a character built here
can be used there and back. A PNG card is an ordinary image with the card as base64 JSON in a
`tEXt` chunk named `chara`. Cards come from strangers, so every reader here caps sizes before
parsing, checks types field by field and answers a malformed card with one clear `InputError`;
embedded images are checked from their headers, and image paths are followed only for the shipped presets.
Our own settings (voice, portrait, expression sprites, motions) live under
`extensions["character_studio"]`; every other extension key is carried through untouched.
"""

from __future__ import annotations

import base64
import binascii
import copy
import io
import json
import re
import struct
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path

from pipelines.errors import InputError
from pipelines.weights import REPO_ROOT

SPEC = "chara_card_v2"
SPEC_VERSION = "2.0"
STUDIO_KEY = "character_studio"  # our namespace inside data.extensions
PNG_KEYWORD = "chara"  # SillyTavern's tEXt keyword for the base64 card

MAX_CARD_BYTES = 20 * 1024 * 1024  # a PNG card is an image plus JSON; 20 MB covers real cards with room
MAX_JSON_BYTES = 5 * 1024 * 1024  # the JSON itself: big lorebooks reach ~1 MB, 5 MB is generous
MAX_NAME_CHARS = 200
MAX_FIELD_CHARS = 200_000  # one text field (description, examples...); beyond this no model context could hold it
MAX_LIST_ITEMS = 1000  # greetings, tags or lorebook entries
MAX_JSON_DEPTH = 64  # nesting deeper than this is an attack, not a character
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# V2 text fields, in card order; each is a plain string in the card.
TEXT_FIELDS = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
LIST_FIELDS = ("alternate_greetings", "tags")
# V1 (TavernAI) flat cards used these older names for some fields.
V1_ALIASES = {"char_name": "name", "char_persona": "description", "world_scenario": "scenario",
              "char_greeting": "first_mes", "example_dialogue": "mes_example"}


@dataclass
class Character:
    """One character, field for field the `data` object of a V2 card."""

    name: str
    description: str = ""  # who the character is: appearance, background, how they speak
    personality: str = ""  # a short summary of traits
    scenario: str = ""  # where and why the conversation happens
    first_mes: str = ""  # the greeting that opens a chat
    mes_example: str = ""  # example dialogue, blocks separated by <START>
    creator_notes: str = ""  # for humans, never sent to the model
    system_prompt: str = ""  # replaces the default system prompt; "{{original}}" keeps it inside
    post_history_instructions: str = ""  # sent after the chat history, where it weighs most
    creator: str = ""
    character_version: str = ""
    alternate_greetings: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    character_book: dict | None = None  # lorebook: {"entries": [{"keys": [...], "content": ...}, ...], ...}
    extensions: dict = field(default_factory=dict)  # other tools' keys are kept as they came
    # Not part of the card: the folder the card file was read from, against which its relative sprite paths
    # resolve (the presets ship their sprites beside them), so no server path is ever written into a card.
    source_dir: Path | None = field(default=None, compare=False, repr=False)

    @property
    def studio(self) -> dict:
        """Our settings (voice, portrait, expressions, motions), created on first access."""
        return self.extensions.setdefault(STUDIO_KEY, {})

    def to_card(self) -> dict:
        """The V2 card as a JSON-ready dict."""
        data = {name: getattr(self, name) for name in TEXT_FIELDS}
        data["alternate_greetings"] = list(self.alternate_greetings)
        data["tags"] = list(self.tags)
        if self.character_book is not None:
            data["character_book"] = copy.deepcopy(self.character_book)
        data["extensions"] = copy.deepcopy(self.extensions)
        return {"spec": SPEC, "spec_version": SPEC_VERSION, "data": data}

    @classmethod
    def from_card(cls, card: object) -> "Character":
        """Build from a parsed V2 card or a V1 flat card, checking every field's type."""
        if not isinstance(card, dict):
            raise InputError(f"A character card must be a JSON object, got {type(card).__name__}.")
        if card.get("spec") == SPEC or "data" in card:
            data = card.get("data")
            if not isinstance(data, dict):
                raise InputError("This V2 character card has no 'data' object.")
        elif card.get("spec") not in (None, ""):
            raise InputError(f"Unsupported card spec {card.get('spec')!r}: expected '{SPEC}' or a V1 card.")
        else:  # V1: the fields sit at the top level, maybe under their TavernAI names
            data = {V1_ALIASES.get(k, k): v for k, v in card.items()}
        values = {name: _text(data, name) for name in TEXT_FIELDS}
        if not values["name"].strip():
            raise InputError("This character card has no name.")
        if len(values["name"]) > MAX_NAME_CHARS:
            raise InputError(f"The character name is {len(values['name'])} characters long; the limit is {MAX_NAME_CHARS}.")
        values.update({name: _string_list(data, name) for name in LIST_FIELDS})
        values["character_book"] = _book(data.get("character_book"))
        extensions = data.get("extensions") or {}
        if not isinstance(extensions, dict):
            raise InputError("The card's 'extensions' must be an object.")
        if not isinstance(extensions.get(STUDIO_KEY, {}), dict):
            raise InputError(f"The card's extensions['{STUDIO_KEY}'] must be an object.")
        _check_embedded_images(extensions.get(STUDIO_KEY, {}))
        values["extensions"] = copy.deepcopy(extensions)
        return cls(**values)

    def copy(self) -> "Character":
        return Character(**{f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)})


def _text(data: dict, name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"The card field '{name}' must be text, got {type(value).__name__}.")
    if len(value) > MAX_FIELD_CHARS:
        raise InputError(f"The card field '{name}' is {len(value):,} characters long; the limit is {MAX_FIELD_CHARS:,}.")
    return value


def _string_list(data: dict, name: str) -> list[str]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"The card field '{name}' must be a list of texts.")
    if len(value) > MAX_LIST_ITEMS:
        raise InputError(f"The card field '{name}' has {len(value)} items; the limit is {MAX_LIST_ITEMS}.")
    if any(len(v) > MAX_FIELD_CHARS for v in value):
        raise InputError(f"An item of '{name}' is longer than {MAX_FIELD_CHARS:,} characters.")
    return list(value)


def _book(book: object) -> dict | None:
    """Check the lorebook's shape (entries with keys and content); unknown keys stay as they are."""
    if book is None:
        return None
    if not isinstance(book, dict):
        raise InputError("The card's 'character_book' must be an object.")
    entries = book.get("entries", [])
    if not isinstance(entries, list):
        raise InputError("The lorebook's 'entries' must be a list.")
    if len(entries) > MAX_LIST_ITEMS:
        raise InputError(f"The lorebook has {len(entries)} entries; the limit is {MAX_LIST_ITEMS}.")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(f"Lorebook entry {i} must be an object.")
        try:
            _string_list(entry, "keys")
            _string_list(entry, "secondary_keys")
            _text(entry, "content")
        except ValueError as err:
            raise InputError(f"Lorebook entry {i}: {err}") from None
    return copy.deepcopy(book)


# --- JSON ---------------------------------------------------------------------------------------


def character_from_json(raw: str | bytes) -> Character:
    """Parse a card from JSON text, refusing oversized or deeply nested input before building it."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_JSON_BYTES:
            raise InputError(f"This card's JSON is {len(raw) / 1e6:.1f} MB; the limit is {MAX_JSON_BYTES / 1e6:.0f} MB.")
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("This card is not UTF-8 text, so it is not a JSON character card.") from None
    if len(raw.encode("utf-8")) > MAX_JSON_BYTES:
        raise InputError(f"This card's JSON is larger than {MAX_JSON_BYTES / 1e6:.0f} MB.")
    if _nesting(raw) > MAX_JSON_DEPTH:
        raise InputError(f"This card's JSON is nested more than {MAX_JSON_DEPTH} levels deep; it is not a character card.")
    try:
        card = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InputError(f"This card is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}).") from None
    return Character.from_card(card)


def _nesting(raw: str) -> int:
    """Deepest bracket nesting outside strings: checked before json.loads, whose recursion could blow the stack."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def character_to_json(character: Character) -> str:
    return json.dumps(character.to_card(), ensure_ascii=False, indent=2)


# --- PNG ----------------------------------------------------------------------------------------


def _png_chunks(data: bytes):
    """Yield (type, body) for each chunk of a PNG, checking lengths so a truncated file fails cleanly."""
    if not data.startswith(PNG_SIGNATURE):
        raise InputError("This file is not a PNG image.")
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise InputError("This PNG is truncated (a chunk header is cut off).")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 8 + length + 4  # header, body, CRC
        if end > len(data):
            raise InputError("This PNG is truncated (a chunk runs past the end of the file).")
        yield kind, data[pos + 8 : pos + 8 + length]
        pos = end
        if kind == b"IEND":
            return


def character_from_png(data: bytes) -> Character:
    """Read the card from a PNG's `chara` tEXt chunk (base64 JSON), as SillyTavern writes it."""
    if len(data) > MAX_CARD_BYTES:
        raise InputError(f"This card image is {len(data) / 1e6:.1f} MB; the limit is {MAX_CARD_BYTES / 1e6:.0f} MB.")
    for kind, body in _png_chunks(data):
        if kind != b"tEXt":
            continue
        keyword, _, text = body.partition(b"\0")
        if keyword.decode("latin-1") != PNG_KEYWORD:
            continue
        try:
            raw = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            raise InputError("The PNG's 'chara' chunk is not valid base64.") from None
        return character_from_json(raw)
    raise InputError("This PNG has no character card in it (no 'chara' text chunk).")


def character_to_png(character: Character, image=None) -> bytes:
    """Encode `image` (PIL image, path or None for the character's portrait / a drawn placeholder) with the card."""
    from PIL import Image

    if image is None:
        image = portrait_image(character) or placeholder_portrait(character.name)
    elif not isinstance(image, Image.Image):
        image = Image.open(image)
    buffer = io.BytesIO()
    image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(buffer, format="PNG")
    png = buffer.getvalue()
    payload = base64.b64encode(character_to_json(character).encode("utf-8"))
    body = PNG_KEYWORD.encode("latin-1") + b"\0" + payload
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    iend = png.rindex(b"IEND") - 4  # the IEND chunk starts with its 4-byte length
    return png[:iend] + chunk + png[iend:]


def placeholder_portrait(name: str, size: int = 256):
    """A plain portrait with the character's initial, for cards exported before any face exists."""
    from PIL import Image, ImageDraw

    hue = zlib.crc32(name.encode("utf-8")) % 360
    image = Image.new("HSV", (size, size), (int(hue * 255 / 360), 90, 200)).convert("RGB")
    initial = (name.strip()[:1] or "?").upper()
    font = _font_for(initial, size // 2)
    if font is not None:  # no font with this glyph (e.g. CJK on a bare system): a plain tile beats a tofu box
        ImageDraw.Draw(image).text((size / 2, size / 2), initial, fill="white", anchor="mm", font=font)
    return image


CJK_FONTS = ("NotoSansCJK-Regular.ttc", "NotoSerifCJK-Regular.ttc", "NotoSerifCJK-Bold.ttc", "wqy-microhei.ttc", "msyh.ttc")


def _font_for(char: str, size: int):
    from PIL import ImageFont

    if char.isascii():
        return ImageFont.load_default(size)
    for name in CJK_FONTS:  # Pillow searches the system font folders for a bare file name
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return None


# --- files ---------------------------------------------------------------------------------------


def load_character(source: str | Path | bytes) -> Character:
    """Load a card from a .json/.png path or raw bytes (PNG recognised by its signature)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"No character card at {path}.")
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise InputError(f"{path.name} is {size / 1e6:.1f} MB; a character card may be at most {MAX_CARD_BYTES / 1e6:.0f} MB.")
        character = load_character(path.read_bytes())
        character.source_dir = path.parent
        return character
    if source.startswith(PNG_SIGNATURE):
        return character_from_png(source)
    return character_from_json(source)


def save_character(character: Character, path: str | Path, image=None) -> Path:
    """Write the card as JSON or PNG, chosen by the file suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(character_to_json(character), encoding="utf-8")
    elif suffix == ".png":
        path.write_bytes(character_to_png(character, image))
    else:
        raise InputError(f"A character card is saved as .json or .png, not {suffix or 'a file without suffix'}.")
    return path


def safe_stem(text: str, limit: int = 60, fallback: str = "character") -> str:
    """A file-name stem from any text: letters, digits (CJK too), '_' and '-' only, at most `limit` long."""
    return re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE).strip("_")[:limit] or fallback


def export_filename(character: Character, suffix: str) -> str:
    """A safe file name from the character's name."""
    return f"{safe_stem(character.name)}{suffix}"


# --- presets -------------------------------------------------------------------------------------

PRESETS_DIR = REPO_ROOT / "examples" / "characters"


def list_presets(folder: Path = PRESETS_DIR) -> dict[str, Path]:
    """Shipped example characters, by display name."""
    presets = {}
    for path in sorted(folder.glob("*.json")):
        presets[load_character(path).name] = path
    return presets


# --- portrait and expression sprites -------------------------------------------------------------
#
# A card names its images as data URIs (portable) or as file paths. Paths are followed only for the shipped
# presets, inside their own folder: an uploaded card sits in the temp folder beside other visitors' uploads,
# and a path from it could show any image on the server. Embedded images are checked from their headers when
# the card is read, so a data-URI bomb is refused before anything is decoded, and are shown at sprite size.

TRUSTED_IMAGE_DIRS = (PRESETS_DIR,)  # cards read from inside these folders may name image files inside them
SPRITE_MAX_SIDE = 1024  # sprites are shown a few hundred pixels high; larger ones are shrunk to this when read
MAX_CARD_IMAGE_PIXELS = 4_000_000  # one embedded image (a 2000 x 2000 sprite)
MAX_CARD_IMAGES_PIXELS = 16_000_000  # all of a card's embedded images together: what showing the card may decode
CARD_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
MAX_SPRITE_BYTES = 10 * 1024 * 1024  # an image file a preset names


def _check_embedded_images(settings: dict) -> None:
    """Refuse a card whose embedded portrait or sprites are not images, or are too large, from their headers."""
    expressions = settings.get("expressions") or {}
    if not isinstance(expressions, dict):
        raise InputError("The card's expression sprites must be an object (label → image).")
    refs = {"portrait": settings.get("portrait"), **{f"sprite {label!r}": ref for label, ref in expressions.items()}}
    total = 0
    for what, ref in refs.items():
        if isinstance(ref, str) and ref.startswith("data:"):
            width, height = _embedded_image(ref, f"The card's {what}").size
            total += width * height
    if total > MAX_CARD_IMAGES_PIXELS:
        raise InputError(f"The card's embedded images add up to {total / 1e6:.1f} MP; the limit is "
                         f"{MAX_CARD_IMAGES_PIXELS / 1e6:.0f} MP.")  # fmt: skip


def _embedded_image(ref: str, name: str):
    """The image in a `data:image/...;base64,` URI, opened but not decoded (its size is checked)."""
    from pipelines.image_io import open_header

    header, _, payload = ref.partition(",")
    if not (header.startswith("data:image/") and header.endswith(";base64")):
        raise InputError(f"{name} is not an embedded image (a data:image/...;base64 URI).")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{name} is not valid base64.") from None
    return open_header(io.BytesIO(raw), name, MAX_CARD_IMAGE_PIXELS, CARD_IMAGE_FORMATS)


def _trusted_file(ref: str, base_dir: Path | None) -> Path | None:
    """The file `ref` names, if the card was read from a trusted folder and the file lies inside that folder."""
    if base_dir is None:
        return None
    try:
        base = base_dir.resolve()
        root = next((d.resolve() for d in TRUSTED_IMAGE_DIRS if base.is_relative_to(d.resolve())), None)
        path = (base / ref).resolve()  # an absolute `ref` replaces the base; resolve() undoes any "..", links
    except (OSError, ValueError):  # a NUL byte, a name too long
        return None
    if root is None or not path.is_relative_to(root) or not path.is_file() or path.stat().st_size > MAX_SPRITE_BYTES:
        return None
    return path


def _image_from_ref(ref: object, base_dir: Path | None):
    """The image a card names (data URI, or a file if the card is trusted), at most SPRITE_MAX_SIDE, or None."""
    from PIL import Image

    from pipelines.image_io import open_header

    if not isinstance(ref, str) or not ref:
        return None
    try:
        if ref.startswith("data:"):
            image = _embedded_image(ref, "The image")
        else:
            path = _trusted_file(ref, base_dir)
            if path is None:
                return None
            image = open_header(io.BytesIO(path.read_bytes()), path.name, MAX_CARD_IMAGE_PIXELS, CARD_IMAGE_FORMATS)
        image.draft("RGB", (SPRITE_MAX_SIDE, SPRITE_MAX_SIDE))  # JPEG decodes straight at a smaller scale
        image.load()
        image.thumbnail((SPRITE_MAX_SIDE, SPRITE_MAX_SIDE), Image.Resampling.LANCZOS)
        return image
    except (InputError, OSError, SyntaxError, EOFError):  # a broken sprite: fall back to the label, not a crash
        return None


def voice_of(character: Character):
    """The character's voice (extensions.character_studio.voice) as a checked `Voice`; defaults where unset."""
    from pipelines.speech.pipeline import Voice

    return Voice.from_dict(character.extensions.get(STUDIO_KEY, {}).get("voice"))


def portrait_image(character: Character, base_dir: Path | None = None):
    """The character's main portrait (extensions.character_studio.portrait), or None."""
    return _image_from_ref(character.extensions.get(STUDIO_KEY, {}).get("portrait"), base_dir or character.source_dir)


def expression_image(character: Character, emotion: str, base_dir: Path | None = None):
    """The sprite for `emotion`: the `expressions` map (label → data URI, or a path for a preset), else
    `<expressions_dir>/<emotion>.png` (a preset's expression sheet), else the neutral sprite, else None."""
    studio = character.extensions.get(STUDIO_KEY, {})
    expressions = studio.get("expressions") or {}
    folder = studio.get("expressions_dir")
    base_dir = base_dir or character.source_dir
    for label in (emotion, "neutral"):
        if isinstance(expressions, dict) and label in expressions:
            image = _image_from_ref(expressions[label], base_dir)
            if image is not None:
                return image
        if isinstance(folder, str) and folder:
            image = _image_from_ref(str(Path(folder) / f"{label}.png"), base_dir)
            if image is not None:
                return image
    return None
