"""Open mouths: the default's mouth interior against real open mouths of the same people.

For every openpeople person and every emotion whose real photo opens the mouth, the neutral and the expressive
photo are laid into one aligned frame (`expression_texture.measured_pairs`, as the texture was measured), and the
inside of the REAL expressive mouth is painted the way an edit paints it: the drawn cavity (`shade_mouth_cavity`)
under a measured interior, at the neutral photo's light (`interior_scale`). L1 (0-255) inside the real opening
against the real pixels, per interior: the default's (`mouth_interior`), the expression's own measured interior,
joy's measured teeth, joy's teeth in the expression's own light (`in_own_light`), and the drawn cavity alone.
The interiors were measured on P001-P007; P008-P010 are held out. Writes bench/results/face_teeth.md and a grid
(.png: real | each interior, held-out people).

Then web photos (GENKI-4K in faces-train, where present; the texture was neither measured nor tuned on them): how
much of a smile's opening its teeth fill, real smiles against the default's joy on non-smiling photos (each edit's
face found again), as the share of the opening brighter than 3/4 of the skin, the opening's mean and
90th-percentile brightness over the skin's.

    python bench/face_teeth.py [--data ../shared/data/faces-expressive/openpeople] [--web ../shared/data/faces-train]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.report import RESULTS, table, write_result  # noqa: E402
from pipelines.face import expression_texture as et  # noqa: E402
from pipelines.face import landmarks as fr  # noqa: E402
from pipelines.face.warp import mouth_gap, shade_mouth_cavity  # noqa: E402

PEOPLE = tuple(f"P{i:03d}" for i in range(1, 11))
HELD_OUT = ("P008", "P009", "P010")
LABELS = ("joy", "surprise", "fear", "disgust")  # the emotions whose real photos open the mouth
MIN_OPENING = 2.0  # px at et.SIZE: a real mouth opening less than this over the neutral's has no inside to compare
TEETH = "joy"
WEB_PHOTOS = 300  # of each kind, smiling and not, drawn with WEB_SEED (the face bench's GENKI people are seed 0's)
WEB_SEED = 4
OPEN = 0.1  # an opening at least this tall for its width shows teeth: the smiles compared


def interiors(label: str, target: np.ndarray, scale: np.ndarray) -> dict[str, et.Interior | None]:
    """Each candidate interior of `label` on the `target` landmarks (aligned crop at et.SIZE)."""
    textures = et.shipped_textures()
    mapping = et.canonical_map(textures[label], target, et.SIZE)
    own = et.interior_for(textures[label], mapping, scale)
    teeth = et.interior_for(textures[TEETH], et.canonical_map(textures[TEETH], target, et.SIZE), scale)
    return {
        "default": et.mouth_interior(label, mapping, target, et.SIZE, scale),
        "own measured": own,
        "joy's teeth": teeth,
        "joy's teeth in own light": et.in_own_light(teeth, own, et.TOOTH_DETAIL_SIGMA),
        "drawn cavity": None,
    }


def teeth_fill(crop: np.ndarray, points: np.ndarray) -> tuple[float, np.ndarray] | None:
    """(the opening's height over its width, [share brighter than 3/4 of the skin, mean and 90th-percentile
    brightness over the skin's]) of an aligned face, or None if its mouth is all but closed."""
    points = np.asarray(points, np.float64)[:, :2]
    inside = et._polygon_mask(points, (fr.LIPS_INNER,), crop.shape[0])
    if inside.sum() < 30:
        return None
    width = np.linalg.norm(points[fr.MOUTH_LEFT_CORNER] - points[fr.MOUTH_RIGHT_CORNER])
    skin = float(et.luminance(et.skin_colour(crop, points)))
    light = et.luminance(crop[inside]) / skin
    return mouth_gap(points) / width, np.array([np.mean(light > 0.75), light.mean(), np.percentile(light, 90)])


def web_smiles(folder: Path) -> list[list[str]]:
    """Rows of the web photos' table: real smiles, then the default's joy."""
    from pipelines.errors import InputError
    from pipelines.face.pipeline import FaceExpressionPipeline

    with (folder / "MANIFEST.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["source_id"] == "genki4k"]
    fills: dict[str, list[np.ndarray]] = {"real smiles": [], "the default's joy": []}
    with FaceExpressionPipeline.from_pretrained(device="cpu") as pipe:
        for label, name in (("1", "real smiles"), ("0", "the default's joy")):
            kind = [r["file"] for r in rows if r["genki_smile_label"] == label]
            for i in np.random.default_rng(WEB_SEED).permutation(len(kind))[:WEB_PHOTOS]:
                try:
                    face = pipe.find_face(folder / kind[i])
                    if label == "0":
                        face = pipe.find_face(pipe.edit(face, "joy").image)
                except InputError:
                    continue
                fill = teeth_fill(face.aligned.crop, face.aligned.landmarks)
                if fill is not None and fill[0] >= OPEN:
                    fills[name].append(fill[1])
    return [[name, str(len(values)), *(f"{v:.2f}" for v in np.median(values, axis=0))]
            for name, values in fills.items() if values]  # fmt: skip


def main(argv=None) -> int:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=BENCH.parent.parent / "shared/data/faces-expressive/openpeople")
    parser.add_argument("--web", type=Path, default=BENCH.parent.parent / "shared/data/faces-train")
    args = parser.parse_args(argv)
    pairs = et.measured_pairs(args.data, PEOPLE)
    errors: dict[tuple[str, str, bool], list[float]] = {}
    tiles = []
    for label in LABELS:
        for person, (neutral, neutral_points, real, real_points, _shape) in pairs[label].items():
            if mouth_gap(real_points) - mouth_gap(neutral_points) < MIN_OPENING:
                continue
            inside = et._polygon_mask(real_points, fr.REGION_PARTS["mouth_interior"], et.SIZE)
            scale = et.interior_scale(neutral, neutral_points)
            lips = real_points[list(fr.LIPS_OUTER), :2]
            (x0, y0), (x1, y1) = np.floor(lips.min(axis=0) - 6).astype(int), np.ceil(lips.max(axis=0) + 6).astype(int)
            row = [real[y0:y1, x0:x1]]
            for name, interior in interiors(label, real_points, scale).items():
                painted, _ = shade_mouth_cavity(real, neutral_points, real_points, interior)
                error = float(np.abs(painted[inside].astype(float) - real[inside].astype(float)).mean())
                errors.setdefault((label, name, person in HELD_OUT), []).append(error)
                row.append(painted[y0:y1, x0:x1])
            if person in HELD_OUT:
                height = min(r.shape[0] for r in row)
                tiles.append(np.hstack([cv2.resize(r[:height], None, fx=3, fy=3) for r in row]))
    names = list(dict.fromkeys(name for _label, name, _held in errors))  # in the order `interiors` gives
    rows = []
    for label in LABELS:
        for name in names:
            tuned, held = errors.get((label, name, False), []), errors.get((label, name, True), [])
            rows.append([label, name, f"{np.mean(tuned):.1f} ({len(tuned)})" if tuned else "n/a",
                         f"{np.mean(held):.1f} ({len(held)})" if held else "n/a"])  # fmt: skip
    grid = RESULTS / "face_teeth.png"
    body = "\n".join([
        "L1 (0-255) inside the real expressive photo's mouth opening, painted as an edit paints it (drawn cavity under",
        "the interior, at the neutral photo's light); mean over people (count). The interiors were measured on",
        "openpeople P001-P007; P008-P010 are held out. `default` is the pipeline's choice for that emotion.", "",
        table(["emotion", "interior", "P001-P007 (measured on)", "P008-P010 (held out)"], rows), "",
        f"Grid: bench/results/{grid.name} (held-out mouths; columns: real, {', '.join(names)}).",
    ])  # fmt: skip
    if (args.web / "MANIFEST.csv").is_file():
        body += "\n".join([
            "", "", "### Web photos: how much of a smile's opening the teeth fill", "",
            f"GENKI-4K (faces-train; draw seed {WEB_SEED}, {WEB_PHOTOS} photos of each kind asked), openings at least",
            f"{OPEN} as tall as wide; medians. Real smiles against the default's joy on non-smiling photos (its face",
            "found again in the edit). Brightness over the skin's luminance.", "",
            table(["", "smiles", "share brighter than 3/4 of the skin", "mean", "90th percentile"],
                  web_smiles(args.web)),
        ])  # fmt: skip
    write_result("face_teeth", "Open mouths: mouth interiors against the real open mouths of the same people", body)
    width = max(t.shape[1] for t in tiles)
    Image.fromarray(np.vstack([np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in tiles])).save(grid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
