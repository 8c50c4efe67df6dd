"""The Face tab's live preview: milliseconds per redraw while a slider is dragged (target: at most 150 ms).

The preview finds the face once per photo, then each redraw moves the landmarks, warps a small crop and has the
eye model paint the eyes that open (`pipelines/face/preview.py`). Reference in the same run: the full edit of the same photo and controls,
which is what runs when the slider is released. One thread, as on a busy 2-core CPU.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import percentiles, table, write_result  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PHOTOS = sorted((REPO / "examples" / "faces").glob("*_neutral.jpg"))[:5]
# A drag: the intensity sliding up, then the jaw and smile sliders moving, on a few expressions.
DRAG = [("joy", i / 10, {}) for i in range(1, 11)] + [
    ("surprise", 0.8, {"jaw_open": j / 10}) for j in range(-5, 6)
] + [("sadness", 0.7, {"smile": s / 10}) for s in range(-5, 6)]  # fmt: skip
EYES_OPEN = {"surprise": " (eyes open: the eye model paints them)"}
FULL_EDITS = 3  # per photo: the full edit is slow, a few calls tell its speed


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from pipelines.face.pipeline import FaceExpressionPipeline
    from pipelines.face.preview import PREVIEW_SIZE, PreviewFace, render_preview

    redraws, finds, full = {expression: [] for expression, _, _ in DRAG}, [], []
    with FaceExpressionPipeline.from_pretrained(device="cpu") as pipe:
        pipe(PHOTOS[0], "joy", 0.5)  # warm-up: first calls pay for lazy imports
        for photo in PHOTOS:
            start = time.perf_counter()
            face = PreviewFace.from_face(pipe.find_face(photo), pipe.config.texture_scale)
            finds.append(time.perf_counter() - start)
            for expression, intensity, sliders in DRAG:
                start = time.perf_counter()
                render_preview(face, expression, intensity, sliders, pipe.eye_painter)
                redraws[expression].append(time.perf_counter() - start)
            for expression, intensity, sliders in DRAG[:: len(DRAG) // FULL_EDITS][:FULL_EDITS]:
                start = time.perf_counter()
                pipe(photo, expression, intensity, sliders)
                full.append(time.perf_counter() - start)
    every_redraw = [seconds for per_expression in redraws.values() for seconds in per_expression]
    rows = []
    for label, seconds in (("preview redraw (each slider move)", every_redraw),
                           *((f"- {expression} drag{EYES_OPEN.get(expression, '')}", redraws[expression])
                             for expression in redraws),
                           ("find the face (once per photo)", finds), ("full edit (on release; reference)", full)):
        p50, p95 = percentiles(seconds)
        rows.append([label, len(seconds), f"{p50 * 1000:.0f}", f"{p95 * 1000:.0f}"])
    ratio = percentiles(full)[0] / percentiles(every_redraw)[0]
    body = (
        f"{len(PHOTOS)} London-set photos (512 px), a drag of {len(DRAG)} slider positions each, one torch thread; "
        f"preview crop {PREVIEW_SIZE} px.\n\n"
        + table(["step", "calls", "p50 (ms)", "p95 (ms)"], rows)
        + f"\n\nA redraw costs 1/{ratio:.1f} of a full edit (p50 against p50, same run)."
    )
    write_result("preview", "Face tab live preview", body)


if __name__ == "__main__":
    main()
