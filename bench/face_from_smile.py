"""Neutral from a smiling photo: the edit against the same person's real neutral photo.

Every test person with a real smile (faces-dev's London set, openpeople P001-P010) is edited from the SMILING photo
to neutral and compared with their real neutral photo: where the lips land (the mean distance of the lip landmarks
from the real neutral's, in face units, both laid onto the smile by the stable points as the moves are measured:
`expression_moves.landmark_move`), how much joy the judges still read (fer's joy probability, and its neutral
probability) and how far dlib's embedding lies from the real neutral photo, each against the smiling photo left as
it is. The tuning people (the London tuning half, P001-P007) apart from the held-out ones. Writes
bench/results/face_from_smile.md.

    python bench/face_from_smile.py [--data ../shared/data] [--judges-python .venv-judges/bin/python] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.face import run_judges, test_people  # noqa: E402
from bench.report import table, write_result  # noqa: E402
from pipelines.face import landmarks as fr  # noqa: E402
from pipelines.face.expression_moves import landmark_move  # noqa: E402

LIPS = sorted(set(fr.LIPS_OUTER) | set(fr.LIPS_INNER))
GROUPS = {"tuning (London tuning half, P001-P007)": "tuned", "held out (London other half, P008-P010)": "held-out"}


def lip_errors(smile: np.ndarray, real: np.ndarray, edit: np.ndarray) -> tuple[float, float]:
    """(the smiling photo's lips, the edit's) mean distance from the real neutral lips, face units."""
    truth = landmark_move(smile, real)[LIPS]
    return (float(np.linalg.norm(truth, axis=1).mean()),
            float(np.linalg.norm(truth - landmark_move(smile, edit)[LIPS], axis=1).mean()))  # fmt: skip


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
    lips: dict[str, tuple[float, float]] = {}
    with FaceExpressionPipeline.from_pretrained(device="cpu") as pipe:
        for person in people:
            smile = pipe.find_face(person.real["joy"])
            real = pipe.find_face(person.neutral)
            out = pipe.edit(smile, "neutral")
            lips[person.id] = lip_errors(smile.landmarks, real.landmarks, out.target_landmarks)
            Image.fromarray(out.image).save(folder / f"edit__{person.id}.png")
            shutil.copyfile(person.real["joy"], folder / f"smile__{person.id}{person.real['joy'].suffix}")
            shutil.copyfile(person.neutral, folder / f"real__{person.id}{person.neutral.suffix}")
    judged = run_judges(folder, args.judges_python, folder / "judges.json")
    images, labels = judged["images"], judged["labels"]

    def scores(kind: str, pid: str) -> dict | None:
        return next((v for k, v in images.items() if k.startswith(f"{kind}__{pid}.") and v and v.get("probs")), None)

    rows = []
    for name, suffix in GROUPS.items():
        members = [p.id for p in people if p.group.endswith(suffix)]
        fer = {kind: {label: np.mean([scores(kind, pid)["probs"]["fer"][labels.index(label)] for pid in members])
                      for label in ("joy", "neutral")} for kind in ("smile", "edit", "real")}  # fmt: skip
        distance = {kind: np.mean([np.linalg.norm(np.subtract(scores(kind, pid)["encoding"],
                                                              scores("real", pid)["encoding"])) for pid in members])
                    for kind in ("smile", "edit")}  # fmt: skip
        error = np.mean([lips[pid] for pid in members], axis=0)
        rows.append([name, str(len(members)), f"{error[0]:.3f} / {error[1]:.3f}",
                     " / ".join(f"{fer[k]['joy']:.2f}" for k in ("smile", "edit", "real")),
                     " / ".join(f"{fer[k]['neutral']:.2f}" for k in ("smile", "edit", "real")),
                     f"{distance['smile']:.2f} / {distance['edit']:.2f}"])  # fmt: skip
    body = "\n".join([
        "Each person's SMILING photo edited to neutral, against their real neutral photo. Lips: mean distance of the",
        "lip landmarks from the real neutral's (face units: the distance between the iris centres), the smiling",
        "photo's / the edit's target. fer: mean probability, the smiling photo / the edit / the real neutral photo.",
        "dlib: embedding distance to the real neutral photo, the smiling photo's / the edit's.", "",
        table(["people", "n", "lips: photo / edit", "fer joy", "fer neutral", "dlib to the real neutral"], rows),
    ])  # fmt: skip
    write_result("face_from_smile", "Neutral from a smiling photo", body)
    if args.keep is None:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
