"""The inside of a mouth that opens, taken from real open mouths: teeth, tongue and shadow a warp cannot make.

A warp has no pixels for a mouth that opens wider than in the photo, and a drawn cavity reads as a dark
band (or, with a drawn teeth strip, a plastic mouthguard). "Bringing Portraits to Life" (Averbuch-Elor et
al., SIGGRAPH Asia 2017) fills that hole in a warped portrait with the mouth interior of a real face; so
does this module, from a small shipped set of real open mouths. Each donor is stored in a mouth frame (its
inner-lip corners at fixed points of a small canvas) with its inner-lip contour; at edit time the donor whose
opening has the closest shape, among those of the same emotion (joy: a smile's teeth; surprise and fear: a
dropped jaw), is warped so its inner lips land on the target's, brought to the photo's brightness, and shown
through the opening.

Source of the shipped donors (`mouth_interiors.npz`): openpeople 0.1.2 (MIT, "Copyright (c) 2026 Prompt Haus"),
the happy, surprised, scared and disgusted photos of P001-P007, the people the expression moves were measured
on; P008-P010 and the London set are kept for evaluation. `python -m pipelines.face.mouth_interiors FOLDER`
rebuilds the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from pipelines.face import landmarks as fr
from pipelines.face.align import invert, similarity_matrix, transform_points

DONORS_FILE = Path(__file__).with_name("mouth_interiors.npz")
CANVAS = (64, 96)  # rows, columns of a donor's mouth frame
CORNERS_AT = np.array([[20.0, 32.0], [76.0, 32.0]])  # where the inner-lip corners sit on the canvas (x, y)
INNER_CORNERS = (78, 308)  # the inner-lip corners among fr.LIPS_INNER
MIN_OPENING = 0.12  # gap / width of the inner lips: a donor mouth must be at least this open to show its inside
DONOR_EMOTIONS = {"joy": "happy", "surprise": "surprised", "fear": "scared", "disgust": "disgusted"}
# A thin opening is mostly its soft edge, where the donor's lip red tints the teeth: toned down, they read as teeth.
SATURATION = 0.6
BRIGHTNESS_RANGE = (0.7, 1.15)  # how far a donor is brightened or darkened to the photo's light (lip colour varies too)


@dataclass(frozen=True)
class Donors:
    """Real open mouths in the mouth frame."""

    pixels: np.ndarray  # (N, 64, 96, 3) uint8
    inner: np.ndarray  # (N, 20, 2) float32: fr.LIPS_INNER on the canvas
    labels: np.ndarray  # (N,) str: the emotion each was photographed with
    lip_tone: np.ndarray  # (N,) float32: mean luminance of the donor's lips, for matching the photo's light


@lru_cache(maxsize=1)
def shipped_donors() -> Donors:
    with np.load(DONORS_FILE, allow_pickle=False) as data:
        return Donors(data["pixels"], data["inner"], data["labels"], data["lip_tone"])


def opening(inner: np.ndarray) -> float:
    """How open a mouth is, as the inner lips' gap over their width (shape, not size)."""
    inner = np.asarray(inner, np.float64)
    width = np.linalg.norm(inner[0] - inner[10])  # LIPS_INNER starts and turns at the two corners
    gap = np.linalg.norm(inner[5] - inner[15])  # 14 (lower) and 13 (upper) on the midline
    return float(gap / max(width, 1e-6))


def pick_donor(donors: Donors, label: str, inner: np.ndarray) -> int:
    """The donor of `label` (any emotion when none) whose opening is shaped most like `inner`."""
    same = np.flatnonzero(donors.labels == label)
    candidates = same if same.size else np.arange(len(donors.labels))
    shape = opening(inner)
    return int(candidates[np.argmin([abs(opening(donors.inner[i]) - shape) for i in candidates])])


def to_canvas(landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) similarity from image pixels to the mouth frame of these (478, 2) landmarks."""
    corners = np.asarray(landmarks, np.float64)[list(INNER_CORNERS), :2]
    return similarity_matrix(corners, CORNERS_AT)


def lip_luminance(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean luminance of the lips (between the outer and inner contour), the light the mouth interior is under."""
    points = np.asarray(landmarks, np.float64)[:, :2]
    lips = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(points[list(fr.LIPS_OUTER)]).astype(np.int32)], 1)
    cv2.fillPoly(lips, [np.round(points[list(fr.LIPS_INNER)]).astype(np.int32)], 0)
    if not lips.any():
        return float(image.reshape(-1, 3).mean())
    return float(image[lips.astype(bool)].astype(np.float64).mean())


def interior(image: np.ndarray, landmarks: np.ndarray, label: str, donors: Donors | None = None) -> np.ndarray:
    """(H, W, 3) float32: a real mouth interior laid into the opening of `landmarks` (target, image pixels).

    Only the pixels inside the inner lips matter (the caller shows it through the opening's alpha); the donor
    canvas covers the lips around it too, so a soft alpha edge never reaches past the donor's pixels.
    """
    donors = donors or shipped_donors()
    points = np.asarray(landmarks, np.float64)[:, :2]
    target_inner = transform_points(points[list(fr.LIPS_INNER)], to_canvas(points))
    index = pick_donor(donors, DONOR_EMOTIONS.get(label, label), target_inner)
    # On the canvas: move the donor's inner lips onto the target's (a smooth field, as the face warp does).
    donor = donors.pixels[index]
    shaped = _reshape(donor, donors.inner[index], target_inner)
    light = np.clip(lip_luminance(image, points) / max(float(donors.lip_tone[index]), 1.0), *BRIGHTNESS_RANGE)
    shaped = shaped.astype(np.float32) * light
    grey = shaped.mean(axis=2, keepdims=True)
    shaped = np.clip(grey + SATURATION * (shaped - grey), 0, 255)
    height, width = image.shape[:2]
    return cv2.warpAffine(shaped, invert(to_canvas(points)), (width, height), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE).clip(0, 255)  # fmt: skip


def _reshape(donor: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Warp the donor canvas so its inner-lip points `source` land on `target` (piecewise linear over the
    target's triangles; the canvas corners stay put)."""
    from scipy.interpolate import LinearNDInterpolator

    rows, cols = CANVAS
    frame = np.array([[0, 0], [cols - 1, 0], [0, rows - 1], [cols - 1, rows - 1]], np.float64)
    source = np.concatenate([np.asarray(source, np.float64), frame])
    target = np.concatenate([np.asarray(target, np.float64), frame])
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float64)
    field = LinearNDInterpolator(target, source - target, fill_value=0.0)(xs, ys)
    return cv2.remap(donor, (xs + field[..., 0]).astype(np.float32), (ys + field[..., 1]).astype(np.float32),
                     cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


# --- building the shipped donors (needs MediaPipe and the openpeople photos) ------------------------------------------


def build(folder: Path, people: tuple[str, ...]) -> Donors:
    """The open mouths among `people`'s expressive photos, in the mouth frame."""
    from pipelines.face.expression_moves import detect_folder
    from pipelines.image_io import load_image

    names = [f"{p}_{e}.jpg" for p in people for e in DONOR_EMOTIONS.values() if (folder / f"{p}_{e}.jpg").is_file()]
    found = detect_folder(folder, names)
    pixels, inner, labels, tones = [], [], [], []
    for name, landmarks in found.items():
        matrix = to_canvas(landmarks)
        mouth = transform_points(landmarks[list(fr.LIPS_INNER)], matrix)
        if opening(mouth) < MIN_OPENING:
            continue
        image = load_image(folder / name)
        pixels.append(cv2.warpAffine(image, matrix, CANVAS[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE))
        inner.append(mouth.astype(np.float32))
        labels.append(name.rsplit("_", 1)[1].removesuffix(".jpg"))
        tones.append(lip_luminance(image, landmarks))
    return Donors(np.stack(pixels), np.stack(inner), np.array(labels), np.array(tones, np.float32))


def main(argv: list[str] | None = None) -> int:
    """Extract the open mouths of openpeople's training people and save them beside this module."""
    import argparse

    from pipelines.face.expression_moves import TRAIN_PEOPLE

    parser = argparse.ArgumentParser(prog="python -m pipelines.face.mouth_interiors", description=main.__doc__)
    parser.add_argument("folder", type=Path, help="faces-expressive/openpeople (P001_happy.jpg, ...)")
    parser.add_argument("--out", type=Path, default=DONORS_FILE)
    args = parser.parse_args(argv)
    donors = build(args.folder, TRAIN_PEOPLE)
    np.savez_compressed(args.out, pixels=donors.pixels, inner=donors.inner, labels=donors.labels,
                        lip_tone=donors.lip_tone)  # fmt: skip
    counts = {label: int((donors.labels == label).sum()) for label in DONOR_EMOTIONS.values()}
    print(f"wrote {args.out}: {len(donors.labels)} open mouths {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
