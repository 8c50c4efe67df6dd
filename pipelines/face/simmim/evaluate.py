"""How good is a SimMIM face model? Masked-region error against classical fills, and how well it obeys landmarks.

On faces it never trained on (the faces-dev portraits and the held-out split of the training folder):
1. Fill quality: mask the mouth or the eyes (the same patch masks the pipeline uses) and compare the
   model's fill with cv2.inpaint (Telea) and a mean-colour fill, by L1 and PSNR over the masked pixels.
2. Obedience: paste the fill back into the photo, run MediaPipe on it and measure how far the detected
   mouth/eye landmarks are from the landmarks the model was told to draw (mean px in the crop). The
   model is run with the true condition, with the condition zeroed, and with a target: the mouth
   (or eyes) of the evaluation face whose shape differs most from this one, pasted into this face's
   landmarks. Only a model that follows its condition moves the features towards the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from pipelines.face import landmarks as fr
from pipelines.face.align import align_face, invert, transform_points
from pipelines.face.simmim.conditioning import render_condition
from pipelines.face.simmim.masks import patches_to_pixels, region_mask

REGION_POINTS = {  # landmarks whose detected position is compared with the condition, per masked region
    "mouth": fr.LIPS_OUTER + fr.LIPS_INNER,
    "eyes": fr.RIGHT_EYE + fr.LEFT_EYE,
}
TELEA_RADIUS = 5  # px, as in the baseline measurement (docs: simmim-baseline.md)
RING_PX = 6  # the mean-colour fill uses the visible pixels within this distance of the hole


@dataclass
class EvalFace:
    """A face to test on: the aligned crop and its landmarks, plus the photo it came from for re-detection."""

    name: str
    crop: np.ndarray  # (S, S, 3) uint8
    landmarks: np.ndarray  # (478, 2) crop px
    context: np.ndarray  # (H, W, 3) uint8: the photo (or cached canvas) around the crop
    matrix: np.ndarray  # (2, 3) context px -> crop px
    source: str = ""  # "faces-dev" or "held-out"


def dev_faces(folder: Path | str, size: int, landmarker) -> list[EvalFace]:
    """Every photo in `folder` with a detectable face, aligned like the pipeline aligns it."""
    from pipelines.image_io import load_image

    faces = []
    for path in sorted(Path(folder).glob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        image = load_image(path)
        found = landmarker.detect(image)
        if not found:
            continue
        aligned = align_face(image, found[0].landmarks, size)
        faces.append(EvalFace(path.name, aligned.crop, aligned.landmarks, image, aligned.matrix, "faces-dev"))
    return faces


def held_out_faces(cache, limit: int | None = None) -> list[EvalFace]:
    """The cache's held-out split (never trained on): the canvas with its margin is the context."""
    from pipelines.face.simmim.data import FaceCache

    cache: FaceCache
    size, margin = cache.image_size, cache.margin
    shift = np.array([[1.0, 0.0, -margin], [0.0, 1.0, -margin]])
    faces = []
    for index in np.flatnonzero(cache.held_out)[:limit]:
        canvas = cache.crops[index]
        faces.append(EvalFace(str(cache.names[index]), canvas[margin:margin + size, margin:margin + size].copy(),
                              cache.landmarks[index] - margin, canvas, shift, "held-out"))  # fmt: skip
    return faces


# --- fills ------------------------------------------------------------------------------------------------------
def telea_fill(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return cv2.inpaint(crop, mask.astype(np.uint8), TELEA_RADIUS, cv2.INPAINT_TELEA)


def mean_fill(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((2 * RING_PX + 1,) * 2, np.uint8)).astype(bool) & ~mask
    out = crop.copy()
    out[mask] = crop[ring].mean(axis=0).round().astype(np.uint8)
    return out


def model_fill(model, crops: np.ndarray, patch_masks: np.ndarray, conditions: np.ndarray, batch: int = 32) -> np.ndarray:
    """(N,S,S,3) uint8 crops, (N,G,G) masks, (N,C,S,S) conditions -> crops with the masked patches repainted."""
    outputs = []
    size, patch = model.config.image_size, model.config.patch_size
    for start in range(0, len(crops), batch):
        pixels = torch.from_numpy(crops[start:start + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
        mask = torch.from_numpy(patch_masks[start:start + batch]).reshape(len(pixels), -1)
        condition = torch.from_numpy(conditions[start:start + batch]).float()
        device = next(model.parameters()).device
        with torch.no_grad():
            out = model(pixels.to(device), mask.to(device), condition.to(device)).float().cpu()
        out = ((out.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        pixel_mask = np.stack([patches_to_pixels(m.reshape(size // patch, -1).numpy(), patch) for m in mask])
        outputs.append(np.where(pixel_mask[..., None], out, crops[start:start + batch]))
    return np.concatenate(outputs)


def masked_l1_psnr(filled: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    diff = filled[mask].astype(np.float64) - truth[mask].astype(np.float64)
    mse = float(np.mean(diff**2))
    return float(np.mean(np.abs(diff))), (10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf"))


# --- obedience ----------------------------------------------------------------------------------------------
def detect_in_crop(face: EvalFace, filled_crop: np.ndarray, pixel_mask: np.ndarray, landmarker) -> np.ndarray | None:
    """Paste the repainted pixels back into the face's photo, detect, and return landmarks in crop px."""
    from pipelines.face.simmim.data import detect_largest_face

    height, width = face.context.shape[:2]
    back = invert(face.matrix)
    warped = cv2.warpAffine(filled_crop, back, (width, height), flags=cv2.INTER_LINEAR)
    where = cv2.warpAffine(pixel_mask.astype(np.uint8) * 255, back, (width, height), flags=cv2.INTER_LINEAR) > 127
    photo = face.context.copy()
    photo[where] = warped[where]
    points = detect_largest_face(landmarker, photo)
    return None if points is None else transform_points(points, face.matrix)


def swap_target(faces: list[EvalFace], index: int, points: list[int]) -> int:
    """The face whose `points` differ most from this face's: the hardest, most visible target to follow."""
    own = faces[index].landmarks[points]
    distances = [np.linalg.norm(f.landmarks[points] - own, axis=1).mean() if i != index else -1.0
                 for i, f in enumerate(faces)]  # fmt: skip
    return int(np.argmax(distances))


@dataclass
class EvalReport:
    fill: dict = field(default_factory=dict)  # (source, region) -> method -> [l1, psnr] means
    obedience: dict = field(default_factory=dict)  # (source, region, test) -> {"error": px, "faces": n, "missed": n}
    counts: dict = field(default_factory=dict)
    grid: np.ndarray | None = None


def evaluate(model, faces: list[EvalFace], landmarker, regions=("mouth", "eyes"), grid_faces: int = 6) -> EvalReport:
    """Run every measurement over `faces` (grouped by their source) and build a sample grid from the first few."""
    model.eval()
    size, patch = model.config.image_size, model.config.patch_size
    report = EvalReport()
    for source in sorted({f.source for f in faces}):
        group = [f for f in faces if f.source == source]
        report.counts[source] = len(group)
        crops = np.stack([f.crop for f in group])
        own = [f.landmarks for f in group]
        zero = np.zeros((len(group), model.config.cond_channels, size, size), np.float32)
        real = np.stack([render_condition(points, size) for points in own])
        for region in regions:
            masks = np.stack([region_mask([points], [region], size, patch) for points in own])
            pixel_masks = np.stack([patches_to_pixels(m, patch) for m in masks])
            fills = {
                "SimMIM": model_fill(model, crops, masks, real),
                "SimMIM, condition zeroed": model_fill(model, crops, masks, zero),
                "cv2.inpaint (Telea)": np.stack([telea_fill(c, m) for c, m in zip(crops, pixel_masks)]),
                "mean-colour fill": np.stack([mean_fill(c, m) for c, m in zip(crops, pixel_masks)]),
            }
            report.fill[(source, region)] = {
                name: np.mean([masked_l1_psnr(f, c, m) for f, c, m in zip(filled, crops, pixel_masks)], axis=0).tolist()
                for name, filled in fills.items()
            }
            # obedience to the true landmarks, with and without the condition
            idx = list(REGION_POINTS[region])
            for test, filled in (("own landmarks", fills["SimMIM"]), ("own landmarks, condition zeroed",
                                                                        fills["SimMIM, condition zeroed"])):  # fmt: skip
                report.obedience[(source, region, test)] = _obedience(group, filled, pixel_masks, own, idx, landmarker)
            # another expression's landmarks for this region: mask both, condition on the target
            targets = []
            for i, face in enumerate(group):
                target = face.landmarks.copy()
                target[idx] = group[swap_target(group, i, idx)].landmarks[idx]
                targets.append(target)
            swap_masks = np.stack([region_mask([a, b], [region], size, patch) for a, b in zip(own, targets)])
            swap_pixels = np.stack([patches_to_pixels(m, patch) for m in swap_masks])
            swap_cond = np.stack([render_condition(t, size) for t in targets])
            swapped = model_fill(model, crops, swap_masks, swap_cond)
            swapped_zero = model_fill(model, crops, swap_masks, zero)
            report.obedience[(source, region, "target landmarks")] = _obedience(
                group, swapped, swap_pixels, targets, idx, landmarker)  # fmt: skip
            report.obedience[(source, region, "target landmarks, condition zeroed")] = _obedience(
                group, swapped_zero, swap_pixels, targets, idx, landmarker)  # fmt: skip
            report.obedience[(source, region, "no edit: source vs target landmarks")] = {
                "error": float(np.mean([np.linalg.norm(a[idx] - b[idx], axis=1).mean() for a, b in zip(own, targets)])),
                "faces": len(group), "missed": 0,
            }  # fmt: skip
            if source == "faces-dev" and region == "mouth":
                report.grid = _grid(crops, pixel_masks, fills, swapped, swap_cond, grid_faces)
    return report


def _obedience(group, filled, pixel_masks, wanted, idx, landmarker) -> dict:
    errors, missed = [], 0
    for face, crop, mask, target in zip(group, filled, pixel_masks, wanted):
        points = detect_in_crop(face, crop, mask, landmarker)
        if points is None:
            missed += 1
            continue
        errors.append(float(np.linalg.norm(points[idx] - target[idx], axis=1).mean()))
    return {"error": float(np.mean(errors)) if errors else float("nan"), "faces": len(errors), "missed": missed}


def _grid(crops, pixel_masks, fills, swapped, swap_cond, count) -> np.ndarray:
    from pipelines.face.simmim.train import condition_picture, sample_grid

    n = min(count, len(crops))
    hole = crops[:n].copy()
    hole[pixel_masks[:n]] = 96
    columns = [crops[:n], hole, fills["mean-colour fill"][:n], fills["cv2.inpaint (Telea)"][:n],
               fills["SimMIM, condition zeroed"][:n], fills["SimMIM"][:n], condition_picture(torch.from_numpy(swap_cond[:n])),
               swapped[:n]]  # fmt: skip
    return sample_grid(columns)


GRID_CAPTION = ("Columns: photo | mouth mask | mean-colour fill | cv2.inpaint (Telea) | SimMIM, condition zeroed | "
                "SimMIM | target landmarks (another face's mouth) | SimMIM following them")  # fmt: skip


def markdown(report: EvalReport, model_name: str, grid_path: str | None = None) -> str:
    lines = [f"# SimMIM face model: held-out evaluation ({model_name})", "",
             "Produced by `python -m pipelines eval-simmim`. Faces: " +
             ", ".join(f"{n} {s}" for s, n in report.counts.items()) + " (none were trained on). Crops are "
             "aligned like the Face pipeline aligns them; masks are the pipeline's region patch masks.", "",
             "## Fill quality over the masked pixels (L1 on 0-255, lower is better / PSNR dB, higher is better)", ""]  # fmt: skip
    methods = list(next(iter(report.fill.values())))
    lines.append("| faces | mask | " + " | ".join(methods) + " |")
    lines.append("| --- | --- |" + " --- |" * len(methods))
    for (source, region), scores in report.fill.items():
        cells = [f"{scores[m][0]:.2f} / {scores[m][1]:.2f}" for m in methods]
        best = min(range(len(methods)), key=lambda i: scores[methods[i]][0])
        cells[best] = f"**{cells[best]}**"
        lines.append(f"| {source} | {region} | " + " | ".join(cells) + " |")
    lines += ["", "## Does the fill follow the landmarks it is given?", "",
              "Mean distance (px in the aligned crop) between the landmarks MediaPipe finds on the repainted photo and "
              "the landmarks the model was asked to draw (mouth: lip contours; eyes: lid contours). 'missed' = no face "
              "found after the edit.", "",
              "| faces | region | test | error (px) | faces measured | missed |", "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for (source, region, test), value in report.obedience.items():
        lines.append(f"| {source} | {region} | {test} | {value['error']:.2f} | {value['faces']} | {value['missed']} |")
    if grid_path:
        lines += ["", f"Sample grid: `{grid_path}`. {GRID_CAPTION}."]
    return "\n".join(lines) + "\n"
