"""load_image: every odd input becomes upright RGB uint8, and bad files are refused with a sentence."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipelines.image_io import load_image


def _png_bytes(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=kwargs.pop("format", "PNG"), **kwargs)
    return buffer.getvalue()


def test_rgba_is_composited_on_white():
    rgba = Image.new("RGBA", (4, 3), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    out = load_image(_png_bytes(rgba))
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    assert tuple(out[1, 1]) == (255, 255, 255) and tuple(out[0, 0]) == (0, 0, 255)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16", "I", "F"])
def test_modes_become_rgb(mode):
    base = Image.fromarray(np.tile(np.arange(0, 250, 50, dtype=np.uint8), (2, 1)))
    if mode in ("I;16", "I"):
        image = Image.fromarray((np.asarray(base).astype(np.uint16) * 257)).convert(mode)
    elif mode == "F":
        image = Image.fromarray(np.asarray(base).astype(np.float32) / 255.0, mode="F")
    else:
        image = base.convert(mode)
    out = load_image(image)
    assert out.shape == (2, 5, 3) and out.dtype == np.uint8
    gray = out.mean(axis=2)[0]
    assert np.all(np.diff(gray) > 0), f"{mode}: ramp lost, got {gray}"


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (6, 2), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    data = _png_bytes(image, format="JPEG", exif=exif.tobytes())
    assert load_image(data).shape == (6, 2, 3)


def test_paths_and_arrays(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (3, 3), (10, 20, 30)).save(path)
    assert tuple(load_image(path)[1, 1]) == (10, 20, 30)
    assert tuple(load_image(str(path))[0, 0]) == (10, 20, 30)
    assert load_image(np.zeros((2, 2), dtype=np.float64)).shape == (2, 2, 3)
    assert tuple(load_image(np.full((2, 2, 4), 65535, dtype=np.uint16))[0, 0]) == (255, 255, 255)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"this is not an image at all"), "not an image"),
        (lambda p: p.write_bytes(_png_bytes(Image.new("RGB", (64, 64)))[:60]), "corrupt"),
    ],
)
def test_bad_files_are_refused(tmp_path, make, words):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ValueError, match=words):
        load_image(path)


def test_pixel_cap_and_missing_file(tmp_path):
    data = _png_bytes(Image.new("L", (300, 300)))
    with pytest.raises(ValueError, match="MP limit"):
        load_image(data, max_pixels=10_000)
    with pytest.raises(ValueError, match="No image file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ValueError, match="empty"):
        load_image(b"")
    with pytest.raises(ValueError, match="NaN"):
        load_image(np.full((2, 2, 3), np.nan))


def test_a_very_long_strip_is_refused_from_its_header():
    """Found by bench/fuzz.py: a 2 x 20,000,000 PNG (40 MP, under the pixel cap) took 14 s and 955 MB to decode."""
    from pipelines.errors import InputError
    from tests import hostile_files as hostile

    with pytest.raises(InputError, match="a side may be at most"):
        load_image(hostile.png_bomb_bytes(2, 20_000_000, bits=8))


def test_max_side_keeps_the_aspect_and_shrinks_only_large_images():
    wide = _png_bytes(Image.new("RGB", (400, 100), "red"))
    assert load_image(wide, max_side=200).shape == (50, 200, 3)
    assert load_image(wide, max_side=1000).shape == (100, 400, 3)
