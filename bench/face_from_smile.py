"""Expressions from a smiling photo: each edit against the same person's real neutral photo, or its edit.

Every test person with a real smile (faces-dev's London set, openpeople P001-P010) is edited from the SMILING photo.
Neutral is compared with their real neutral photo: where the lips land (the mean distance of the lip landmarks
from the real neutral's, in face units, both laid onto the smile by the stable points as the moves are measured:
`expression_moves.landmark_move`), how much joy the judges still read (fer's joy probability, and its neutral
probability) and how far dlib's embedding lies from the real neutral photo, each against the smiling photo left as
it is, and how the closed lips meet (their seam's darkness, shadowed corners, a dotted seam at the photo's own
resolution). Every other expression is compared with the same expression edited from the real neutral photo (what
the studio makes of a face at rest): the lips' distance from that edit's, the judges' probability of the expression
and of joy (the mean of the judges). The tuning people (the London tuning half, P001-P007) apart from the held-out
ones. Then smiling portraits of people never tuned on and without a neutral photo (`smiling_portraits`), each
expression's probability and the joy left in it, and how dotted their neutral edits' seams are. Writes
bench/results/face_from_smile.md.

    python bench/face_from_smile.py [--data ../shared/data] [--judges-python .venv-judges/bin/python] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.face import EMOTIONS, NEUTRAL, Scores, run_judges, test_people  # noqa: E402
from bench.report import table, write_result  # noqa: E402
from pipelines.face import landmarks as fr  # noqa: E402
from pipelines.face.action_units import SMILE_SCORES  # noqa: E402
from pipelines.face.align import align_face, transform_points  # noqa: E402
from pipelines.face.expression_moves import landmark_move  # noqa: E402
from pipelines.face.expression_texture import luminance  # noqa: E402
from pipelines.face.warp import lip_edges  # noqa: E402

LIPS = sorted(set(fr.LIPS_OUTER) | set(fr.LIPS_INNER))
CONGRESS_SMILES, CONGRESS_MIN_SMILE = 30, 0.8
GROUPS = {"tuning (London tuning half, P001-P007)": "tuned", "held out (London other half, P008-P010)": "held-out"}


def lip_errors(smile: np.ndarray, reference: np.ndarray, edit: np.ndarray) -> tuple[float, float]:
    """(the smiling photo's lips, the edit's) mean distance from the reference's lips, face units."""
    truth = landmark_move(smile, reference)[LIPS]
    return (float(np.linalg.norm(truth, axis=1).mean()),
            float(np.linalg.norm(truth - landmark_move(smile, edit)[LIPS], axis=1).mean()))  # fmt: skip


def smiling_portraits(pipe, data: Path) -> list[tuple[str, Path, object]]:
    """(id, photo, found face) of the first `CONGRESS_SMILES` US Congress portraits of faces-train's checking half (odd
    index, as bench/face_teeth.py splits them) that MediaPipe scores smiling (`CONGRESS_MIN_SMILE`): public domain,
    no neutral photo of the same person, never tuned on."""
    from pipelines.errors import InputError

    manifest = data / "faces-train" / "MANIFEST.csv"
    if not manifest.is_file():
        return []
    with manifest.open(newline="") as f:
        files = [r["file"] for r in csv.DictReader(f) if r["source_id"] == "uscongress"][1::2]
    found = []
    for file in files:
        try:
            face = pipe.find_face(path := data / "faces-train" / file)
        except InputError:
            continue
        if max(face.blendshapes.get(name, 0.0) for name in SMILE_SCORES) >= CONGRESS_MIN_SMILE:
            found.append((file.removesuffix(".jpg"), path, face))
        if len(found) == CONGRESS_SMILES:
            break
    return found


def seam_light(crop: np.ndarray, landmarks: np.ndarray) -> float:
    """How dark closed lips meet: across five columns of the middle of the mouth (an aligned crop and its landmarks),
    the darkest light within 2.5 px of the lips' meeting line over the median light of the lips away from it
    (the median of the five)."""
    light = luminance(crop)
    inner = landmarks[list(fr.LIPS_INNER), 0]
    ratios = []
    for x in inner.min() + np.array([0.3, 0.4, 0.5, 0.6, 0.7]) * (inner.max() - inner.min()):
        top, bottom = (e[0] for e in lip_edges(landmarks, fr.LIPS_OUTER, fr.LOWER_LIP_BOTTOM, np.array([x])))
        up, low = (e[0] for e in lip_edges(landmarks, fr.LIPS_INNER, fr.LOWER_LIP_INNER, np.array([x])))
        meet, ys = (up + low) / 2, np.arange(int(top), int(bottom) + 1)
        column = light[ys, int(round(x))]
        lips = column[(np.abs(ys - meet) > 3) & (ys > top + 1) & (ys < bottom - 1)]
        ratios.append(column[np.abs(ys - meet) <= 2.5].min() / np.median(lips))
    return float(np.median(ratios))


def seam_dots(image: np.ndarray, landmarks: np.ndarray) -> float:
    """How dotted the closed lips' meeting line is, at the photo's own resolution: along the photo's columns across
    the middle four fifths of the mouth, the mean light within 1.5 px of the meeting line, and how far each column's
    lies from the mean of its two neighbours, on average, over the lips' median light (an upright face's image and
    its landmarks). A line there in one pixel and missing in the next, or teeth showing through it in every other
    pixel, scores high; real closed lips meet on an even line."""
    light = luminance(image)
    inner = landmarks[list(fr.LIPS_INNER), 0]
    xs = np.arange(np.ceil(inner.min() + 0.1 * np.ptp(inner)), inner.max() - 0.1 * np.ptp(inner)).astype(int)
    top, bottom = lip_edges(landmarks, fr.LIPS_OUTER, fr.LOWER_LIP_BOTTOM, xs)
    meet = np.mean(lip_edges(landmarks, fr.LIPS_INNER, fr.LOWER_LIP_INNER, xs), axis=0)
    band, lips = [], []
    for x, t, b, m in zip(xs, top, bottom, meet):
        band.append(light[int(np.ceil(m - 1.5)) : int(m + 1.5) + 1, x].mean())
        ys = np.arange(int(np.ceil(t)), int(b) + 1)
        lips.extend(light[ys[np.abs(ys - m) > 1.5], x])
    band = np.asarray(band, np.float64)
    return float(np.mean(np.abs(band[1:-1] - (band[:-2] + band[2:]) / 2)) / np.median(lips))


def corner_shadow(image: np.ndarray, landmarks: np.ndarray) -> float:
    """How much of the mouth's corners is in deep shadow: the share of the pixels within 0.15 mouth widths of each
    corner that are darker than 0.6 of the median light 0.2-0.35 mouth widths from it (the skin around), the mean of
    the two corners (an image and its landmarks, any size). Closed real mouths show a small dark commissure there;
    a grin the warp closed showed its shadowed corners as wedges past the lips' ends."""
    light = luminance(image)
    corners = landmarks[[fr.MOUTH_LEFT_CORNER, fr.MOUTH_RIGHT_CORNER], :2]
    width = float(np.linalg.norm(corners[0] - corners[1]))
    reach = int(np.ceil(0.35 * width))
    shares = []
    for x, y in corners:
        top, left = max(int(y) - reach, 0), max(int(x) - reach, 0)
        window = light[top : int(y) + reach + 1, left : int(x) + reach + 1]
        ys, xs = np.mgrid[top : top + window.shape[0], left : left + window.shape[1]]
        d = np.hypot(xs - x, ys - y) / width
        skin = np.median(window[(d > 0.2) & (d < 0.35)])
        shares.append(float((window[d < 0.15] < 0.6 * skin).mean()))
    return float(np.mean(shares))


def main(argv=None) -> int:
    from PIL import Image

    from pipelines.face.pipeline import FaceExpressionPipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=BENCH.parent.parent / "shared/data")
    parser.add_argument("--judges-python", type=Path, default=BENCH.parent / ".venv-judges/bin/python")
    parser.add_argument("--keep", type=Path, help="keep the images and the judges' scores in this folder")
    args = parser.parse_args(argv)
    people = [p for p in test_people(args.data) if "joy" in p.real and p.group != "genki"]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="face_from_smile_"))
    folder.mkdir(parents=True, exist_ok=True)
    lips: dict[tuple[str, str], tuple[float, float]] = {}  # (person, label) -> (photo, edit) errors
    seams: dict[str, tuple[float, float]] = {}  # person -> (the neutral edit's, the real neutral photo's) seam light
    corners: dict[str, tuple[float, float]] = {}  # person -> (the same) corner shadow
    dots: dict[str, tuple[float, float]] = {}  # person -> (the same) dotted seam, at the photos' own resolution
    with FaceExpressionPipeline.from_pretrained(device="cpu") as pipe:
        for person in people:
            smile, rest = pipe.find_face(person.real["joy"]), pipe.find_face(person.neutral)
            relaxed = pipe.edit(smile, NEUTRAL)
            lips[person.id, NEUTRAL] = lip_errors(smile.landmarks, rest.landmarks, relaxed.target_landmarks)
            edited = align_face(relaxed.image, smile.landmarks, smile.aligned.crop.shape[0])  # the photo as delivered
            seams[person.id] = (seam_light(edited.crop, transform_points(relaxed.target_landmarks, edited.matrix)),
                                seam_light(rest.aligned.crop, rest.aligned.landmarks))  # fmt: skip
            corners[person.id] = (corner_shadow(relaxed.image, relaxed.target_landmarks),
                                  corner_shadow(rest.image, rest.landmarks))  # fmt: skip
            dots[person.id] = (seam_dots(relaxed.image, relaxed.target_landmarks),
                               seam_dots(rest.image, rest.landmarks))  # fmt: skip
            Image.fromarray(relaxed.image).save(folder / f"smile__{person.id}__{NEUTRAL}.png")
            for label in EMOTIONS:
                edit, reference = pipe.edit(smile, label), pipe.edit(rest, label)
                lips[person.id, label] = lip_errors(smile.landmarks, reference.target_landmarks,
                                                    edit.target_landmarks)  # fmt: skip
                Image.fromarray(edit.image).save(folder / f"smile__{person.id}__{label}.png")
                Image.fromarray(reference.image).save(folder / f"rest__{person.id}__{label}.png")
            for label, path in ((NEUTRAL, person.neutral), ("joy", person.real["joy"])):
                shutil.copyfile(path, folder / f"real__{person.id}__{label}{path.suffix}")
        portraits = smiling_portraits(pipe, args.data)
        portrait_dots = []  # each portrait's neutral edit's dotted seam
        for pid, path, face in portraits:
            shutil.copyfile(path, folder / f"real__{pid}__joy{path.suffix}")
            for label in (NEUTRAL, *EMOTIONS[1:]):
                edit = pipe.edit(face, label)
                Image.fromarray(edit.image).save(folder / f"smile__{pid}__{label}.png")
                if label == NEUTRAL:
                    portrait_dots.append(seam_dots(edit.image, edit.target_landmarks))
    scores = Scores(run_judges(folder, args.judges_python, folder / "judges.json"))

    def prob(source: str, pid: str, label: str, of: str, judges=("fer",)) -> float:
        return float(np.mean([scores.probs(source, pid, label, j)[scores.labels.index(of)] for j in judges]))

    def distance(source: str, pid: str, label: str) -> float:
        return float(np.linalg.norm(scores.encoding(source, pid, label) - scores.encoding("real", pid, NEUTRAL)))

    neutral_rows, rows = [], []
    for name, suffix in GROUPS.items():
        members = [p.id for p in people if p.group.endswith(suffix)]
        images = (("real", "joy"), ("smile", NEUTRAL), ("real", NEUTRAL))  # the smiling photo, the edit, the truth
        neutral_rows.append([
            name, str(len(members)), "%.3f / %.3f" % tuple(np.mean([lips[p, NEUTRAL] for p in members], axis=0)),
            *[" / ".join(f"{np.mean([prob(s, p, l, of) for p in members]):.2f}" for s, l in images)
              for of in ("joy", NEUTRAL)],
            " / ".join(f"{np.mean([distance(s, p, l) for p in members]):.2f}" for s, l in images[:2]),
            "%.2f / %.2f" % tuple(np.median([seams[p] for p in members], axis=0)),
            "%.3f / %.3f" % tuple(np.median([corners[p] for p in members], axis=0)),
            "%.3f / %.3f" % tuple(np.median([dots[p] for p in members], axis=0)),
        ])  # fmt: skip
        for label in EMOTIONS:
            mean = {(source, of): np.mean([prob(source, p, label, of, scores.judges) for p in members])
                    for source in ("smile", "rest") for of in (label, "joy")}  # fmt: skip
            rows.append([
                name if label == EMOTIONS[0] else "", label,
                "%.3f / %.3f" % tuple(np.mean([lips[p, label] for p in members], axis=0)),
                f"{mean['smile', label]:.2f} / {mean['rest', label]:.2f}",
                f"{mean['smile', 'joy']:.2f} / {mean['rest', 'joy']:.2f}" if label != "joy" else "",
            ])  # fmt: skip
    portrait_rows = [[label, *[f"{np.mean([prob(s, pid, l, of, scores.judges) for pid, _, _ in portraits]):.2f}"
                               for s, l, of in (("smile", label, label), ("real", "joy", label),
                                                ("smile", label, "joy"))]]
                     for label in (NEUTRAL, *EMOTIONS[1:])]  # fmt: skip
    body = "\n".join([
        "Each person's SMILING photo edited to neutral, against their real neutral photo. Lips: mean distance of the",
        "lip landmarks from the real neutral's (face units: the distance between the iris centres), the smiling",
        "photo's / the edit's target. fer: mean probability, the smiling photo / the edit / the real neutral photo.",
        "dlib: embedding distance to the real neutral photo, the smiling photo's / the edit's. Seam: how dark the",
        "closed lips meet (the darkest light on their meeting line over the lips' own, median; `seam_light`), the",
        "edited photo's / the real neutral photo's, both in the edit's aligned crop. Corners: the share of the mouth's",
        "corners in deep shadow (`corner_shadow`, median), the edited photo's / the real neutral photo's. Dots: how",
        "unevenly the closed lips meet along the mouth at the photo's own resolution (`seam_dots`, median), the same.",
        "", table(["people", "n", "lips: photo / edit", "fer joy", "fer neutral", "dlib to the real neutral",
                   "seam: edit / real", "corners: edit / real", "dots: edit / real"], neutral_rows),
        "", "Each emotion edited from the SMILING photo, against the same emotion edited from the real neutral photo.",
        "Lips: mean distance of the lip landmarks from the edit-from-neutral's target, the smiling photo's / the",
        "edit's target (face units). Judges: the mean probability over the judges "
        f"({', '.join(scores.judges)}), the edit from the smile / from the neutral photo.", "",
        table(["people", "emotion", "lips: photo / edit", "judges: the emotion", "judges: joy"], rows),
        "", f"{len(portraits)} smiling US Congress portraits (public domain; faces-train's checking half, MediaPipe's",
        f"smile score >= {CONGRESS_MIN_SMILE}; no neutral photo of them): the judges' mean probability of each",
        "expression in the edit and in the smiling photo, and of joy left in the edit (the smiling photos: "
        f"{np.mean([prob('real', pid, 'joy', 'joy', scores.judges) for pid, _, _ in portraits]):.2f}). Their neutral",
        f"edits' closed lips at the photos' 160 px (`seam_dots`, median): {np.median(portrait_dots):.3f}.", "",
        table(["expression", "edit", "smiling photo", "joy in the edit"], portrait_rows),
    ])  # fmt: skip
    write_result("face_from_smile", "Expressions from a smiling photo", body)
    if args.keep is None:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
