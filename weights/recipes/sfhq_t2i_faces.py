"""Cut the SFHQ-T2I contact sheets into faces the shipped face models may learn from (FLUX.1 [schnell] only).

github:SelfishGene/SFHQ-T2I-dataset (MIT, "Copyright (c) 2024 David Beniaguev") shows its text-to-image faces in
contact sheets, `figures/textual_search_*.jpg`, each ~477 px tile under a line naming the image's file and so its
generator. FLUX.1 [dev]'s licence forbids training competing models on its outputs, and the DALL-E 3 / FLUX.1 [pro]
/ SDXL terms are not plain either; FLUX.1 [schnell] is Apache-2.0 with no claim on its outputs. So this script
reads each tile's line (tesseract OCR), keeps FLUX1_schnell tiles whose name it read in full, once per image, and
writes them with a MANIFEST.csv (file, source image, sheet, box, research_only=no). A line it cannot read drops
its tile: an unreadable generator could be any of them.

    python weights/recipes/sfhq_t2i_faces.py SFHQ_REPO/figures OUT_DIR   # needs the `tesseract` program
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

KEEP = "FLUX1_schnell"
NAME = re.compile(r"(FLUX1_schnell|FLUX1_dev|FLUX1_pro|SDXL|DALLE3)_image_(\d{7})")
MIN_TILE = 200  # px: the sheets' tiles are 290-480 px; text and gutters are far smaller


def tiles(sheet: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The square photo tiles of a contact sheet (black background) as (x, y, w, h)."""
    mask = (sheet.max(axis=2) > 12).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((41, 41), np.uint8))  # text lines vanish, tiles stay
    boxes = []
    for x, y, w, h, _ in cv2.connectedComponentsWithStats(mask)[2][1:]:
        if w >= MIN_TILE and h >= MIN_TILE and 0.8 < w / h < 1.25:
            if h > w:  # the name line, closed into a block, joined the tile's top: the tiles are square
                y, h = y + h - w, w
            boxes.append((int(x), int(y), int(w), int(h)))
    if not boxes:
        return []
    usual = np.median([b[2] for b in boxes])
    return [b for b in boxes if abs(b[2] - usual) <= 3]  # a tile whose dark corner broke its outline is off


def name_lines(sheet: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> list[str]:
    """The text line above each tile, read by one tesseract run over all of them (its start-up dominates)."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, (x, y, w, h) in enumerate(boxes):
            strip = sheet[max(0, y - max(24, int(0.075 * h))):y - 1, max(0, x - w // 10):x + w + w // 10]
            strip = cv2.resize(strip, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
            paths.append(f"{folder}/{i:03d}.png")
            cv2.imwrite(paths[-1], 255 - cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY))  # dark text on white
        Path(folder, "list.txt").write_text("\n".join(paths) + "\n")
        read = subprocess.run(["tesseract", f"{folder}/list.txt", "stdout", "--psm", "7"], capture_output=True,
                              check=True, env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    return [page.strip() for page in read.stdout.decode(errors="replace").split("\f")[:len(boxes)]]


def read_name(line: str) -> tuple[str, str] | None:
    """(generator, image number) from an OCR'd name line, or None where it is not read in full."""
    found = NAME.search(re.sub(r"\s+", "_", line))  # OCR reads the underscores as spaces
    return (found.group(1), found.group(2)) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", type=Path, help="the SFHQ-T2I repository's figures/ folder")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    best: dict[str, tuple] = {}  # image number -> (tile side, sheet, pixels, box) of its largest tile
    counts: Counter = Counter()  # tiles per generator (None: unreadable)
    for path in sorted(args.figures.glob("textual_search_*.jpg")):
        sheet = cv2.imread(str(path))
        boxes = tiles(sheet)
        for (x, y, w, h), line in zip(boxes, name_lines(sheet, boxes)):
            generator, number = read_name(line) or (None, None)
            counts[generator] += 1
            if generator == KEEP and w > best.get(number, (0,))[0]:
                best[number] = (w, path.name, sheet[y:y + h, x:x + w].copy(), (x, y, w, h))
    rows = []
    for number, (_, sheet_name, pixels, box) in sorted(best.items()):
        name = f"sfhq_flux1_schnell_{number}.jpg"
        cv2.imwrite(str(args.out / name), pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows.append({"file": name, "source_image": f"{KEEP}_image_{number}.jpg", "sheet": f"figures/{sheet_name}",
                     "box": " ".join(map(str, box)), "research_only": "no"})  # fmt: skip
    with (args.out / "MANIFEST.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"tiles read: {dict(counts)}; kept {len(rows)} {KEEP} faces in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
