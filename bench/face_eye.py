"""How well does the eye model paint what a rising lid uncovers? Held-out real eyes, three fills, one table.

Every photo of people no face model was trained or tuned on — openpeople P008–P010 (all 16 expressions and the
portrait) and the London set (faces-dev) — is cut to each eye's window (the left eye mirrored, as the pipeline
does). The band a lid rising from halfway down the eye would uncover (between the real upper lid and that
lowered one, grown over both edges: exactly what the pipeline repaints) is hidden and filled by the eye SimMIM
(with its lid and iris drawing, and with the drawing blanked) and by OpenCV's inpainting (Telea), then compared
with the real pixels there: L1 (0–255) and the Laplacian energy relative to the real eye (sharpness). Wide-open
eyes (surprised, scared, shocked) are also scored alone. Writes bench/results/face_eye.md and a picture grid
(real | SimMIM | Telea | no drawing, the band outlined in the real one).

    python bench/face_eye.py [--model weights/simmim-eye] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.face_mouth import FAR_AWAY, laplacian_energy  # noqa: E402
from pipelines.face.align import align_face  # noqa: E402
from pipelines.face.eyes import mirrored_face, uncovered_band  # noqa: E402
from pipelines.face.simmim.data import lowered_lids  # noqa: E402
from pipelines.face.simmim.masks import region_mask  # noqa: E402

PEOPLE = ("P008", "P009", "P010")
WIDE_EYES = ("surprised", "scared", "shocked")
LID_DROP = 0.5  # the lid is drawn down this share of the way to the lower lid: the band it uncovers rising back
TELEA_RADIUS = 3


def photos(data: Path) -> list[Path]:
    people = sorted(p for p in (data / "faces-expressive" / "openpeople").glob("P0*.jpg") if p.name[:4] in PEOPLE)
    return people + sorted((data / "faces-dev").glob("*.jpg"))


def main() -> int:
    import torch
    from PIL import Image

    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.simmim import SIMMIM_EYE
    from pipelines.face.simmim.inpaint import inpaint
    from pipelines.face.simmim.model import SimMIMFace
    from pipelines.image_io import load_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="eye model folder (default weights/simmim-eye)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/face_eye.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = SimMIMFace.from_pretrained(args.model, "cpu", weights=SIMMIM_EYE)
    size, patch = model.config.image_size, model.config.patch_size
    fills = ("SimMIM", "OpenCV inpaint (Telea)", "SimMIM, drawing blanked")
    scores: dict[str, dict[str, list[tuple[float, float]]]] = {"all": {f: [] for f in fills}, "wide": {f: [] for f in fills}}
    rows = []
    with FaceLandmarker.from_pretrained() as landmarker:
        for path in photos(args.data):
            image = load_image(path)
            faces = landmarker.detect(image)
            if not faces:
                continue
            for view, points in ((image, faces[0].landmarks[:, :2]), mirrored_face(image, faces[0].landmarks[:, :2])):
                window = align_face(view, points, size, region="eye")
                real = window.landmarks.astype(np.float64)
                lowered = lowered_lids(real, LID_DROP)
                mask = region_mask([lowered, real], ["upper_lids"], size, patch)
                alpha = uncovered_band(lowered, real, size, patch, mask)
                inside = alpha > 0.5
                if inside.sum() < 20:
                    continue
                filled = {
                    "SimMIM": inpaint(model, window.crop, mask, real),
                    "OpenCV inpaint (Telea)": cv2.inpaint(window.crop, (alpha > 0).astype(np.uint8), TELEA_RADIUS,
                                                          cv2.INPAINT_TELEA),
                    "SimMIM, drawing blanked": inpaint(model, window.crop, mask, np.full_like(real, FAR_AWAY)),
                }  # fmt: skip
                real_energy = max(laplacian_energy(window.crop, inside), 1e-6)
                outlined = window.crop.copy()
                contours, _ = cv2.findContours(inside.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                cv2.drawContours(outlined, contours, -1, (0, 255, 0), 1)
                row = [outlined]
                wide = any(f"_{name}." in path.name for name in WIDE_EYES)
                for name, fill in filled.items():
                    shown = (window.crop * (1 - alpha[..., None]) + fill * alpha[..., None]).round().astype(np.uint8)
                    score = (float(np.abs(shown[inside].astype(float) - window.crop[inside]).mean()),
                             laplacian_energy(shown, inside) / real_energy)  # fmt: skip
                    scores["all"][name].append(score)
                    if wide:
                        scores["wide"][name].append(score)
                    row.append(shown)
                if wide or len(rows) % 6 == 0:
                    rows.append(np.hstack(row))
    count, wide_count = len(scores["all"]["SimMIM"]), len(scores["wide"]["SimMIM"])
    lines = [f"## Eye fills on held-out real eyes ({count} eyes: openpeople {', '.join(PEOPLE)} and faces-dev)", "",
             f"Model: `{args.model or 'weights/simmim-eye'}`. Machine: {platform.machine()}, {platform.system()}. "
             f"The band a lid rising from {LID_DROP:.0%} of the way down uncovers, hidden and filled.", "",
             f"| fill | L1 to the real eye, all (0-255) | sharpness / real, all | L1, {wide_count} wide-open eyes | "
             "sharpness, wide-open |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for name in fills:
        every, wide = np.array(scores["all"][name]), np.array(scores["wide"][name])
        lines.append(f"| {name} | {every[:, 0].mean():.1f} | {every[:, 1].mean():.2f} | "
                     f"{wide[:, 0].mean():.1f} | {wide[:, 1].mean():.2f} |")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    grid = np.vstack(rows[:24])
    Image.fromarray(cv2.resize(grid, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)).save(args.out.with_suffix(".png"))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
