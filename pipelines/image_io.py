"""Turn whatever a user hands us (path, bytes, PIL image, array) into one RGB uint8 array, or refuse clearly.

Every face/photo pipeline reads images through `load_image`, so odd files are handled in one place:
phone photos come upright (EXIF orientation), transparent PNGs sit on white instead of black, 16-bit,
palette, CMYK and float images become plain 8-bit RGB, and broken or gigantic files are refused with
a sentence that says what is wrong instead of a Pillow traceback or an out-of-memory crash.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipelines.errors import InputError

# Above this many pixels a photo is refused: 40 MP covers any phone or DSLR shot, while a decompression
# bomb (a tiny file that expands to gigabytes) or a panorama would stall the machine for minutes.
MAX_IMAGE_PIXELS = 40_000_000
# A side longer than this is refused too: Pillow decodes row by row, so a 2 x 20,000,000 strip (40 MP, under the
# pixel cap) took 14 s and 955 MB in the fuzz run, against 3 s for a square 40 MP photo.
MAX_IMAGE_SIDE = 20_000

ImageSource = Union[str, os.PathLike, bytes, bytearray, Image.Image, np.ndarray]


def load_image(source: ImageSource, *, max_pixels: int = MAX_IMAGE_PIXELS, max_side: int | None = None,
               name: str | None = None) -> np.ndarray:
    """Return `source` as an (H, W, 3) uint8 RGB array, upright, or raise InputError saying why not.

    `max_side` shrinks the result (aspect kept) so its longer side is at most that many pixels: sprites are
    kept at display size. `name` is how messages call the image (default: the file name or "the uploaded data").
    """
    if isinstance(source, np.ndarray):
        return _fit(_array_to_rgb(source, max_pixels), max_side)
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, max_pixels, name or "the image", max_side)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise InputError(f"{name or 'The image data'} is empty (0 bytes).")
        return _open_and_convert(io.BytesIO(bytes(source)), max_pixels, name or "the uploaded data", max_side)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"No image file at {path}.")
        if path.stat().st_size == 0:
            raise InputError(f"The file {path.name} is empty (0 bytes), so it is not an image.")
        with open(path, "rb") as handle:
            return _open_and_convert(handle, max_pixels, name or path.name, max_side)
    raise InputError(f"Cannot read an image from a {type(source).__name__}; give a path, bytes, PIL image or array.")


def open_header(stream, name: str, max_pixels: int = MAX_IMAGE_PIXELS, formats: tuple[str, ...] | None = None) -> Image.Image:
    """Open an image without decoding its pixels, refusing unknown formats and sizes over the caps.

    Only the header is read, so a bomb costs nothing here: callers check every image of a card or bundle this
    way (and add up their sizes) before decoding any of them. `formats` limits the Pillow formats accepted.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InputError(f"{name} is too large to open safely ({err}).") from err
    except UnidentifiedImageError as err:
        kinds = f" ({', '.join(formats)})" if formats else ""
        raise InputError(f"{name} is not an image file we can read{kinds}.") from err
    except (OSError, SyntaxError, ValueError) as err:  # a header Pillow parses but rejects
        raise InputError(f"{name} has a corrupt image header and cannot be read.") from err
    _check_size(image.size, max_pixels, name)
    return image


def _open_and_convert(stream, max_pixels: int, name: str, max_side: int | None = None) -> np.ndarray:
    # Pillow's own bomb guard warns at 89 MP and raises at 2x that; we check the header size ourselves
    # (before any pixel is decoded) against our lower cap, and turn Pillow's errors into sentences.
    image = open_header(stream, name, max_pixels)
    if max_side and image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))  # JPEG decodes straight at 1/2, 1/4 or 1/8 scale: cheaper
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InputError(f"{name} is too large to open safely ({err}).") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:  # truncated JPEG, broken PNG chunk, ...
        raise InputError(f"{name} looks corrupt or truncated and cannot be decoded: {err}.") from err
    return _pil_to_rgb(image, max_pixels, name, max_side)


def _check_size(size: tuple[int, int], max_pixels: int, name: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InputError(f"{name} has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise InputError(
            f"{name} is {width}x{height} = {width * height / 1e6:.1f} MP, over the {max_pixels / 1e6:.0f} MP limit; "
            "resize it first."
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise InputError(f"{name} is {width}x{height}; a side may be at most {MAX_IMAGE_SIDE:,} pixels.")


def _pil_to_rgb(image: Image.Image, max_pixels: int, name: str, max_side: int | None = None) -> np.ndarray:
    return _fit(_pil_to_full_rgb(image, max_pixels, name), max_side)


def _fit(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink an RGB array (aspect kept) so its longer side is at most `max_side`; smaller ones pass as they are."""
    if not max_side or max(rgb.shape[:2]) <= max_side:
        return rgb
    small = Image.fromarray(rgb)
    small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(small).copy()


def _pil_to_full_rgb(image: Image.Image, max_pixels: int, name: str) -> np.ndarray:
    _check_size(image.size, max_pixels, name)
    image = ImageOps.exif_transpose(image)  # phone photos store "rotate me" in EXIF instead of rotating pixels
    mode = image.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _array_to_rgb(np.asarray(image), max_pixels)
    return np.asarray(image.convert("RGB")).copy()


def _array_to_rgb(array: np.ndarray, max_pixels: int) -> np.ndarray:
    """Arrays: (H,W), (H,W,1), (H,W,3) or (H,W,4); uint8 as is, other ints scaled by their range, floats as 0..1."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(f"An image array must be (H, W), (H, W, 3) or (H, W, 4); got shape {array.shape}.")
    _check_size((array.shape[1], array.shape[0]), max_pixels, "the image array")
    if array.dtype == np.uint8:
        out = array
    elif array.dtype == np.bool_:
        out = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise InputError("The image array holds NaN or infinite values.")
        out = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.integer):
        # 16-bit PNGs and TIFFs use the full 0..65535 range; 32-bit "I" images from Pillow usually do too.
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
        out = (np.clip(array.astype(np.float64), 0, top) * (255.0 / top) + 0.5).astype(np.uint8)
    else:
        raise InputError(f"Unsupported image array type {array.dtype}.")
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    elif out.shape[2] == 4:
        alpha = out[:, :, 3:4].astype(np.float32) / 255.0
        out = (out[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(out)
