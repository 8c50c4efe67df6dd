"""Open mouths: the default's mouth interior against real open mouths of the same people.

For every openpeople person and every emotion whose real photo opens the mouth, the neutral and the expressive
photo are laid into one aligned frame (`expression_texture.measured_pairs`, as the texture was measured), and the
inside of the REAL expressive mouth is painted the way an edit paints it: the drawn cavity (`shade_mouth_cavity`)
under a measured interior, at the neutral photo's light (`interior_scale`). L1 (0-255) inside the real opening
against the real pixels, per interior: the default's (`mouth_interior`), the expression's own measured interior,
joy's measured teeth, joy's teeth in the expression's own light (`in_own_light`, fear's until it took joy's lit
teeth), and the drawn cavity alone.
The interiors were measured on P001-P007; P008-P010 are held out. Writes bench/results/face_teeth.md and a grid
(.png: real | each interior, held-out people).

Then web photos (faces-train, where present: GENKI-4K, which the texture was neither measured nor tuned on, and the
US Congress portraits, half of which `CORNER_LIGHT` was fitted on): how much of a smile's opening its teeth fill,
real smiles against the default's joy on closed-mouth photos (each edit's face found again), as the share of the
opening brighter than 3/4 of the skin, the opening's mean and 90th-percentile brightness over the skin's; and the
opening's brightness by tenth from corner to corner.

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
# US Congress portraits (faces-train, public domain) have no smile label: photos with an open mouth are the real
# smiles, the rest are edited. `expression_texture.CORNER_LIGHT` was fitted on the first half (every other photo).
CONGRESS_HALVES = ("US Congress, fitting half", "US Congress, checking half")
TOOTH_DETAIL_SIGMA = 2.0  # px at et.SIZE: finer than this is the teeth's own detail (a tooth is 6-8 px wide there)


def in_own_light(teeth: et.Interior, own: et.Interior, sigma: float) -> et.Interior:
    """`teeth`'s detail finer than `sigma` px in the light and colour of `own` (two interiors on the same mouth):
    own + (teeth - their local mean) * how much darker own is there (never brighter), on own's alpha."""
    weight = np.clip(teeth[1], 1e-3, 1.0)
    mean = cv2.GaussianBlur(teeth[0] * weight[..., None], (0, 0), sigma) / np.maximum(
        cv2.GaussianBlur(weight, (0, 0), sigma), 1e-3)[..., None]  # fmt: skip
    shade = np.clip(et.luminance(own[0]) / np.maximum(et.luminance(mean), 1e-3), 0.0, 1.0)
    return own[0] + (teeth[0] - mean) * shade[..., None], own[1]


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
        "joy's teeth in own light": in_own_light(teeth, own, TOOTH_DETAIL_SIGMA),
        "drawn cavity": None,
    }


def opening_light(crop: np.ndarray, points: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """Of an aligned face's mouth opening: (its height over its width, [share brighter than 3/4 of the skin, mean
    and 90th-percentile brightness over the skin's], its mean brightness over the skin's in each tenth of the way
    from the person's right mouth corner to the left), or None if the mouth is all but closed."""
    points = np.asarray(points, np.float64)[:, :2]
    inside = et._polygon_mask(points, (fr.LIPS_INNER,), crop.shape[0])
    if inside.sum() < 30:
        return None
    right, left = points[fr.MOUTH_RIGHT_CORNER], points[fr.MOUTH_LEFT_CORNER]
    light = et.luminance(crop) / float(et.luminance(et.skin_colour(crop, points)))
    ys, xs = np.nonzero(inside)
    tenth = np.clip(((xs - right[0]) / (left[0] - right[0]) * 10).astype(int), 0, 9)
    across = np.array([light[ys[tenth == k], xs[tenth == k]].mean() if (tenth == k).any() else np.nan
                       for k in range(10)])  # fmt: skip
    inner = light[inside]
    fill = np.array([np.mean(inner > 0.75), inner.mean(), np.percentile(inner, 90)])
    return mouth_gap(points) / np.linalg.norm(left - right), fill, across


def web_smiles(folder: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Rows of the web photos' tables (how much the teeth fill; the light across the opening): real smiles, then
    the default's joy on photos whose mouths are closed, per source (GENKI-4K's draw, the two US Congress halves)."""
    from pipelines.errors import InputError
    from pipelines.face.pipeline import FaceExpressionPipeline

    with (folder / "MANIFEST.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    photos = []  # (source, file, real smile or None: decided by the photo's opening)
    genki = [r for r in rows if r["source_id"] == "genki4k"]
    for label, real in (("1", True), ("0", False)):
        kind = [r["file"] for r in genki if r["genki_smile_label"] == label]
        drawn = np.random.default_rng(WEB_SEED).permutation(len(kind))[:WEB_PHOTOS]
        photos += [("GENKI-4K", kind[i], real) for i in drawn]
    congress = [r["file"] for r in rows if r["source_id"] == "uscongress"]
    photos += [(CONGRESS_HALVES[i % 2], file, None) for i, file in enumerate(congress)]
    found: dict[tuple[str, bool], list[tuple[np.ndarray, np.ndarray]]] = {}
    with FaceExpressionPipeline.from_pretrained(device="cpu") as pipe:
        for source, file, real in photos:
            try:
                face = pipe.find_face(folder / file)
                if real is None:
                    seen = opening_light(face.aligned.crop, face.aligned.landmarks)
                    real = seen is not None and seen[0] >= OPEN
                if not real:
                    face = pipe.find_face(pipe.edit(face, "joy").image)
            except InputError:
                continue
            seen = opening_light(face.aligned.crop, face.aligned.landmarks)
            if seen is not None and seen[0] >= OPEN:
                found.setdefault((source, real), []).append(seen[1:])
    fills, lights = [], []
    for (source, real), values in sorted(found.items(), key=lambda item: (item[0][0], not item[0][1])):
        who = f"{source}: " + ("real smiles" if real else "the default's joy")
        fill, across = (np.nanmedian([v[k] for v in values], axis=0) for k in (0, 1))
        fills.append([who, str(len(values)), *(f"{v:.2f}" for v in fill)])
        lights.append([who, str(len(values)), *(f"{v:.2f}" for v in across)])
    return fills, lights


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
        fills, lights = web_smiles(args.web)
        body += "\n".join([
            "", "", "### Web photos: how much of a smile's opening the teeth fill", "",
            f"GENKI-4K (faces-train; draw seed {WEB_SEED}, {WEB_PHOTOS} photos of each kind asked) and the US Congress",
            "portraits (faces-train, public domain: an open mouth is a real smile, the others are edited), openings at",
            f"least {OPEN} as tall as wide; medians. Real smiles against the default's joy on closed-mouth photos (its",
            "face found again in the edit). Brightness over the skin's luminance.", "",
            table(["", "smiles", "share brighter than 3/4 of the skin", "mean", "90th percentile"], fills), "",
            "### Web photos: the light across a smile's opening", "",
            "The opening's median brightness over the skin's, by tenth of the way from the person's right mouth corner",
            "to the left (the same photos).", "",
            table(["", "smiles", *(f"{k + 1}/10" for k in range(10))], lights),
        ])  # fmt: skip
    write_result("face_teeth", "Open mouths: mouth interiors against the real open mouths of the same people", body)
    width = max(t.shape[1] for t in tiles)
    Image.fromarray(np.vstack([np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in tiles])).save(grid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
