"""The face bench's scoring maths, kept pure (numpy + OpenCV) so it is tested without the judges environment.

An expression classifier's single label is unreliable (60-75 % on posed photos), so an edit is scored by the
RISE of the target class's probability from the neutral photo to the edit, and that rise is compared with the
rise the same person's REAL expression gives. Identity is scored by rank-1 identification: is the edit's
nearest neighbour, among the neutral photos of every test person, its own source?
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# A judge that sees the real expressions rise less than this on average, or in fewer than this share of the
# people, cannot tell that emotion: its ratio for it would be noise, so it is left out of that emotion's verdict.
MIN_REAL_RISE = 0.10
MIN_REAL_SHARE = 0.8
# A probability that moves by less than this has not risen: fer itself reports probabilities to 0.01, and the
# torch judges put 1e-6 wiggles on classes they never predict.
RISE_EPSILON = 0.01


def rise(before: np.ndarray, after: np.ndarray, label_index: int) -> float:
    """How much the probability of class `label_index` goes up from `before` to `after` (7-class vectors)."""
    return float(after[label_index] - before[label_index])


def judge_can_tell(real_rises: list[float]) -> bool:
    """Whether a judge sees this emotion in real photos: a clear mean rise, in most people."""
    real = np.asarray(real_rises, float)
    return bool(real.size and real.mean() >= MIN_REAL_RISE and (real > RISE_EPSILON).mean() >= MIN_REAL_SHARE)


@dataclass
class RiseSummary:
    """The rises of one emotion's edits under one judge, against the real expressions' rises."""

    mean: float  # mean rise of the edits
    share: float  # share of edits whose target probability rose (by more than RISE_EPSILON)
    reference: float  # mean rise of the real expressions the edits are compared with
    judge_can_tell: bool  # False: the judge does not see this emotion even in real photos

    @property
    def ratio(self) -> float:
        """The edits' mean rise over the real expressions' (nan when the judge cannot tell this emotion)."""
        return self.mean / self.reference if self.judge_can_tell and self.reference > 0 else float("nan")

    def passes(self, min_ratio: float, min_share: float) -> bool:
        return bool(self.judge_can_tell and self.ratio >= min_ratio and self.share >= min_share)


def summarise_rises(edit_rises: list[float], reference_rises: list[float], can_tell: bool) -> RiseSummary:
    """Summarise edits' rises; `reference_rises` are the real rises they are compared with (one per edit)."""
    edits, reference = np.asarray(edit_rises, float), np.asarray(reference_rises, float)
    nan = float("nan")
    return RiseSummary(
        mean=float(edits.mean()) if edits.size else nan,
        share=float((edits > RISE_EPSILON).mean()) if edits.size else nan,
        reference=float(reference.mean()) if reference.size else nan,
        judge_can_tell=can_tell,
    )


def emotion_verdict(summaries: list[RiseSummary], min_ratio: float, min_share: float, judges_needed: int = 2) -> str:
    """The goal for one emotion: at least `judges_needed` judges pass. When fewer judges can tell the emotion
    at all (even real photos barely move them), it can only be shown with those: then every one must pass."""
    able = [s for s in summaries if s.judge_can_tell]
    passing = sum(s.passes(min_ratio, min_share) for s in summaries)
    if passing >= judges_needed:
        return "PASS"
    if able and len(able) < judges_needed and passing == len(able):
        return f"PASS ({len(able)} judge can tell)"
    return "fail"


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """face_recognition's distance: Euclidean between 128-d dlib encodings (same person < 0.6 by its rule)."""
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))


def rank1(probes: np.ndarray, true_ids: list[str], gallery: np.ndarray, gallery_ids: list[str]) -> np.ndarray:
    """For each probe encoding, whether its nearest gallery encoding belongs to its own person (bool array)."""
    probes, gallery = np.atleast_2d(np.asarray(probes, float)), np.atleast_2d(np.asarray(gallery, float))
    distances = np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    return np.array([gallery_ids[n] == t for n, t in zip(nearest, true_ids, strict=True)], dtype=bool)


def sharpness(image: np.ndarray, region: np.ndarray) -> float:
    """RMS of the Laplacian (the square root of its energy) of the grey image inside `region` (bool H x W)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) if image.ndim == 3 else image.astype(np.float32)
    laplacian = cv2.Laplacian(gray, cv2.CV_32F, ksize=1)
    return float(np.sqrt(np.mean(laplacian[region] ** 2))) if region.any() else float("nan")


def sharpness_ratio(edited: np.ndarray, photo: np.ndarray, region: np.ndarray) -> float:
    """Sharpness of the edited region over the same region of the source photo (1 = as sharp; blur lowers it)."""
    return sharpness(edited, region) / max(sharpness(photo, region), 1e-6)


def untouched_outside(edited: np.ndarray, photo: np.ndarray, alpha: np.ndarray) -> bool:
    """Whether every pixel where the paste-back alpha is 0 is bit-identical to the photo."""
    keep = alpha == 0
    return bool(np.array_equal(edited[keep], photo[keep]))
