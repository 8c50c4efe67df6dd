"""Expressions measured on real before/after pairs: how each landmark moves from neutral to joy, anger, ...

For each person with a neutral photo and an expressive one, MediaPipe's landmarks of the expressive
face are laid onto the neutral face by a similarity fitted to points an expression barely moves (eye
corners, the top of the nose), then written in the neutral face's frame (`action_units.FaceFrame`:
one unit = the distance between the iris centres). The mean over people is the expression's move
field, shipped in `expression_moves.npz` beside this file and applied by `action_units` as the
presets. This replaced hand-sized action units: on people kept out of the measurement, the measured
moves land 1.4-2.2x closer to the real expressions' landmarks (`python -m pipelines.face.expression_moves`
prints the table).

Two things are not taken from the data, on purpose: the irises do not move (a gaze change is not an
expression, and moving the iris ring scales the iris), and nothing moves by less than MediaPipe's
jitter (`NOISE_FLOOR`), so an expression leaves the forehead and jawline it does not use alone.

Source of the shipped measurement: openpeople 0.1.2 (MIT, "Copyright (c) 2026 Prompt Haus"), people
P001-P007; P008-P010 and the London set are kept for evaluation.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from pipelines.face import landmarks as fr
from pipelines.face.action_units import IRISES, face_frame
from pipelines.face.align import similarity_matrix, transform_points

MOVES_FILE = Path(__file__).with_name("expression_moves.npz")
# Points an expression barely moves: eye corners (inner, outer, and the points beside them) and the nose bridge.
STABLE_POINTS = (33, 133, 362, 263, 130, 359, 243, 463, 168, 6, 197)
# Each eye's lid points: both lids' edges without the two corners, which are tied to the skull.
LIDS = tuple(upper[1:-1] + lower[1:-1] for upper, lower in ((fr.RIGHT_UPPER_LID, fr.RIGHT_LOWER_LID),
                                                             (fr.LEFT_UPPER_LID, fr.LEFT_LOWER_LID)))  # fmt: skip
NOISE_FLOOR = 0.006  # face units: mean moves shorter than this are MediaPipe jitter, not expression
# The openpeople expression names for our labels.
OPENPEOPLE_NAMES = {"joy": "happy", "sadness": "sad", "anger": "angry", "surprise": "surprised", "fear": "scared",
                    "disgust": "disgusted"}  # fmt: skip
TRAIN_PEOPLE = tuple(f"P{i:03d}" for i in range(1, 8))
HELD_OUT_PEOPLE = tuple(f"P{i:03d}" for i in range(8, 11))


def landmark_move(neutral: np.ndarray, expressive: np.ndarray) -> np.ndarray:
    """(478, 2) move in the neutral face's units from `neutral` to `expressive` landmarks of one person."""
    neutral, expressive = np.asarray(neutral, np.float64)[:, :2], np.asarray(expressive, np.float64)[:, :2]
    onto = similarity_matrix(expressive[list(STABLE_POINTS)], neutral[list(STABLE_POINTS)])
    frame = face_frame(neutral)
    laid = transform_points(expressive, onto)
    per_unit = frame.axes / np.sum(frame.axes[0] ** 2)  # pixels -> face units (the axes are orthogonal, equal length)
    return (laid - frame.origin) @ per_unit.T - frame.uv


def mean_move(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The mean (478, 2) move over (neutral, expressive) pairs, irises still and jitter removed.

    The lids move up and down as seen from the eyeball: the irises stay where they are (see the module note), so
    each eye's lid points move by their height change relative to that eye's iris. Measured against the eye
    corners, a wide-eyed face's iris goes down (surprise and fear: 0.02 units) and its upper lid barely up
    (0.016): against the iris the lid rises 0.04 units and shows the white above it, as in the photos. A glance
    to the side moves no lid.

    The noise floor spares the lids: their moves are small (a squint closes an eye by 0.02 units) but MediaPipe
    places lid edges against the iris far more steadily than forehead points, and shrinking them by the floor
    left the eyes too open. On the training people the real eye opening (the gap between the middles of the
    upper and lower lid) changes by x0.80 in joy, x0.75 disgust, x0.88 anger, x1.35 surprise; with the floor on
    the lids the moves gave x0.88 / 0.83 / 0.95 / 1.26, without it x0.80 / 0.74 / 0.88 / 1.34.
    """
    if not pairs:
        raise ValueError("mean_move needs at least one (neutral, expressive) pair.")
    move = np.mean([landmark_move(n, e) for n, e in pairs], axis=0)
    lid_points = [point for lids in LIDS for point in lids]
    for lids, iris in ((LIDS[0], fr.RIGHT_EYE_CENTER), (LIDS[1], fr.LEFT_EYE_CENTER)):
        move[list(lids), 1] -= move[iris, 1]
    move[list(IRISES)] = 0.0
    length = np.linalg.norm(move, axis=1, keepdims=True)
    kept = np.clip((length - NOISE_FLOOR) / np.maximum(length, 1e-9), 0.0, None)
    kept[lid_points] = 1.0
    return move * kept


@lru_cache(maxsize=1)
def measured_moves() -> dict[str, np.ndarray]:
    """label -> (478, 2) float64 move in face units, from the shipped measurement."""
    with np.load(MOVES_FILE, allow_pickle=False) as data:
        return {label: data[label].astype(np.float64) for label in data.files}


# --- measuring (needs MediaPipe and the openpeople photos) ----------------------------------------------------------


def detect_folder(folder: Path, names: list[str]) -> dict[str, np.ndarray]:
    """MediaPipe landmarks (478, 2) of the largest face of each named photo in `folder` (missing faces left out)."""
    from pipelines.face.detector import FaceLandmarker
    from pipelines.image_io import load_image

    found = {}
    with FaceLandmarker.from_pretrained(num_faces=1) as landmarker:
        for name in names:
            faces = landmarker.detect(load_image(folder / name))
            if faces:
                found[name] = faces[0].landmarks[:, :2]
    return found


def openpeople_pairs(folder: Path, people: tuple[str, ...]) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """label -> [(neutral, expressive) landmarks] for `people` of the openpeople folder."""
    names = [f"{p}_{e}.jpg" for p in people for e in ("neutral", *OPENPEOPLE_NAMES.values())]
    found = detect_folder(folder, [n for n in names if (folder / n).is_file()])
    pairs = {}
    for label, name in OPENPEOPLE_NAMES.items():
        pairs[label] = [(found[f"{p}_neutral.jpg"], found[f"{p}_{name}.jpg"]) for p in people
                        if f"{p}_neutral.jpg" in found and f"{p}_{name}.jpg" in found]  # fmt: skip
    return pairs


def landmark_error(move: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean distance (face units, mesh points) between `move` applied to each neutral and the real expression."""
    mesh = slice(0, fr.NUM_MESH_POINTS)
    return float(np.mean([np.linalg.norm(move[mesh] - landmark_move(n, e)[mesh], axis=1).mean() for n, e in pairs]))


def main(argv: list[str] | None = None) -> int:
    """Measure the moves on openpeople's training people, save them, and score them on the held-out people."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pipelines.face.expression_moves", description=main.__doc__)
    parser.add_argument("folder", type=Path, help="faces-expressive/openpeople (P001_neutral.jpg, P001_happy.jpg, ...)")
    parser.add_argument("--out", type=Path, default=MOVES_FILE)
    args = parser.parse_args(argv)
    train = openpeople_pairs(args.folder, TRAIN_PEOPLE)
    moves = {label: mean_move(pairs).astype(np.float32) for label, pairs in train.items()}
    np.savez(args.out, **moves)
    held_out = openpeople_pairs(args.folder, HELD_OUT_PEOPLE)
    print(f"wrote {args.out}; mean landmark error on {', '.join(HELD_OUT_PEOPLE)} (face units):")
    print("| expression | no move | measured move |\n| --- | --- | --- |")
    for label, pairs in held_out.items():
        print(f"| {label} | {landmark_error(np.zeros_like(moves[label]), pairs):.4f} | "
              f"{landmark_error(moves[label], pairs):.4f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
