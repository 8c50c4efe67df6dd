"""How well does a mouth model paint the inside of a real open mouth? Held-out people, three fills, one table.

Every open-mouth panel (happy, surprised, scared, shocked, playful) of openpeople P008–P010 — people no face
model was trained or tuned on — is cut to the mouth window; the inside of the inner lip line is hidden and
filled by the mouth SimMIM (with its lip drawing, and with the drawing blanked) and by the pipeline's drawn
cavity, then compared with the real pixels there: L1 (0–255) and the Laplacian energy relative to the real
mouth (sharpness). Writes bench/results/face_mouth.md and a picture grid (real | SimMIM | drawn | no drawing).

    python bench/face_mouth.py [--model weights/simmim-mouth] [--data ../shared/data/faces-expressive/openpeople]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.face import landmarks as fr  # noqa: E402
from pipelines.face.align import align_face  # noqa: E402
from pipelines.face.pipeline import PAINT_ALPHA_FLOOR, _opening  # noqa: E402
from pipelines.face.simmim.masks import patches_to_pixels, pixels_to_patches  # noqa: E402
from pipelines.face.warp import shade_mouth_cavity  # noqa: E402

PEOPLE = ("P008", "P009", "P010")
OPEN_MOUTHS = ("happy", "surprised", "scared", "shocked", "playful")
FAR_AWAY = -1e4  # landmarks drawn here leave the condition map empty: the model paints unsteered


def laplacian_energy(image: np.ndarray, where: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[where].mean())


def main() -> int:
    import torch
    from PIL import Image

    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.simmim.inpaint import inpaint
    from pipelines.face.simmim.model import SimMIMFace
    from pipelines.image_io import load_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="mouth model folder (default weights/simmim-mouth)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces-expressive/openpeople"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/face_mouth.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = SimMIMFace.from_pretrained(args.model, "cpu")
    size, patch = model.config.image_size, model.config.patch_size
    scores: dict[str, list[tuple[float, float]]] = {"SimMIM": [], "drawn cavity": [], "SimMIM, drawing blanked": []}
    rows = []
    with FaceLandmarker.from_pretrained() as landmarker:
        for person in PEOPLE:
            for expression in OPEN_MOUTHS:
                image = load_image(args.data / f"{person}_{expression}.jpg")
                faces = landmarker.detect(image)
                if not faces:
                    continue
                window = align_face(image, faces[0].landmarks, size, region="mouth")
                points = window.landmarks.astype(np.float64)
                alpha = _opening(points, size, 1.0)
                alpha[alpha < PAINT_ALPHA_FLOOR] = 0
                if (alpha > 0.5).sum() < 60:  # lips (nearly) closed: nothing to paint
                    continue
                mask = pixels_to_patches(alpha > 0, patch)
                alpha *= patches_to_pixels(mask, patch)
                closed = points.copy()
                closed[list(fr.LIPS_INNER), 1] = points[list(fr.LIPS_INNER), 1].mean()
                fills = {
                    "SimMIM": inpaint(model, window.crop, mask, points),
                    "drawn cavity": shade_mouth_cavity(window.crop.copy(), closed, points)[0],
                    "SimMIM, drawing blanked": inpaint(model, window.crop, mask,
                                                                              np.full_like(points, FAR_AWAY)),
                }  # fmt: skip
                inside, row = alpha > 0.5, [window.crop]
                real_energy = max(laplacian_energy(window.crop, inside), 1e-6)
                for name, fill in fills.items():
                    shown = (window.crop * (1 - alpha[..., None]) + fill * alpha[..., None]).round().astype(np.uint8)
                    l1 = float(np.abs(shown[inside].astype(float) - window.crop[inside]).mean())
                    scores[name].append((l1, laplacian_energy(shown, inside) / real_energy))
                    row.append(shown)
                rows.append(np.hstack(row))
    lines = [f"# Mouth fills on held-out real open mouths ({len(rows)} mouths, openpeople {', '.join(PEOPLE)})", "",
             f"Model: `{args.model or 'weights/simmim-mouth'}`. Machine: {platform.machine()}, {platform.system()}.", "",
             "| fill | L1 to the real mouth (0-255) | Laplacian energy / real |", "| --- | --- | --- |"]  # fmt: skip
    lines += [f"| {name} | {np.mean([s[0] for s in v]):.1f} | {np.mean([s[1] for s in v]):.2f} |" for name, v in scores.items()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    Image.fromarray(np.vstack(rows)).save(args.out.with_suffix(".png"))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
