"""The scripts in weights/recipes/ that made the face models' data: the parts that run without tesseract or a GPU."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

RECIPES = Path(__file__).resolve().parents[1] / "weights" / "recipes"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contact_sheet_tiles_are_found_under_their_name_lines():
    """Square photos on black, each under a white text line, one with a black corner: every tile, exactly."""
    sfhq = _load("sfhq_t2i_faces")
    rng = np.random.default_rng(0)
    sheet = np.zeros((760, 1100, 3), np.uint8)
    placed = [(20, 80, 300), (360, 80, 300), (700, 80, 300), (20, 440, 300)]
    for x, y, side in placed:
        sheet[y:y + side, x:x + side] = rng.integers(40, 255, (side, side, 3), dtype=np.uint8)
        cv2.putText(sheet, "FLUX1_schnell_image_0012345.jpg", (x + 30, y - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1)  # fmt: skip
    sheet[440:500, 20:80] = 0  # a dark corner of a photo
    found = sorted(sfhq.tiles(sheet), key=lambda b: (b[1], b[0]))
    assert len(found) == len(placed)
    for (x, y, side), box in zip(sorted(placed, key=lambda p: (p[1], p[0])), found):
        assert np.abs(np.array(box) - (x, y, side, side)).max() <= 2  # the name line is not part of the tile


def test_only_a_fully_read_schnell_name_is_kept():
    sfhq = _load("sfhq_t2i_faces")
    lines = ("9g FLUX1 schnell image 0054310.jpg FL", "FLUX1 dev image 0003626.jpg", "SDXL image 0012156.jpg",
             "FLUX1 schnell image 00543.jpg", "‘Bee NW ~")  # fmt: skip
    assert sfhq.read_name(lines[0]) == (sfhq.KEEP, "0054310")
    assert [line for line in lines if (sfhq.read_name(line) or (None,))[0] == sfhq.KEEP] == [lines[0]]
