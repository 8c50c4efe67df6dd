"""The face bench's scoring maths on hand-made numbers (no judges environment, no models)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from bench.face import Person, Scores, identity_rows, recognition_rows
from bench.face_scores import (
    emotion_verdict,
    judge_can_tell,
    rank1,
    rise,
    sharpness_ratio,
    summarise_rises,
    untouched_outside,
)

LABELS = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]


def probs(**named: float) -> list[float]:
    """A 7-class vector with the named classes set and the rest of the mass on neutral."""
    vector = [named.get(label, 0.0) for label in LABELS]
    vector[-1] = 1.0 - sum(vector[:-1])
    return vector


def test_rise_is_the_target_probability_gain():
    before, after = np.array(probs(joy=0.1)), np.array(probs(joy=0.7))
    assert rise(before, after, LABELS.index("joy")) == np.float64(0.7) - np.float64(0.1)
    assert rise(after, before, LABELS.index("joy")) < 0


def test_share_ignores_noise_and_ratio_compares_with_the_real_rise():
    summary = summarise_rises([0.5, 0.3, 0.005, -0.205], [0.8, 0.8, 0.8, 0.8], can_tell=True)
    assert math.isclose(summary.mean, 0.15)
    assert summary.share == 0.5  # 0.005 is below RISE_EPSILON: not a rise
    assert math.isclose(summary.ratio, 0.15 / 0.8)
    assert not summary.passes(min_ratio=0.6, min_share=0.9)
    good = summarise_rises([0.5, 0.6, 0.7], [0.8, 0.9, 1.0], can_tell=True)
    assert good.share == 1.0 and math.isclose(good.ratio, 0.6 / 0.9) and good.passes(0.6, 0.9)


def test_a_judge_blind_to_an_emotion_gives_no_ratio_and_never_passes():
    assert judge_can_tell([0.5, 0.4, 0.6])
    assert not judge_can_tell([0.05, 0.04, 0.06])  # mean rise under 0.10
    assert not judge_can_tell([0.9, 0.9, -0.1, -0.1, 0.9])  # rises in only 60 % of real pairs
    blind = summarise_rises([0.9, 0.9], [0.02, 0.02], can_tell=False)
    assert math.isnan(blind.ratio) and not blind.passes(0.0, 0.0)


def test_rank1_finds_the_nearest_gallery_person():
    gallery = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ids = ["a", "b", "c"]
    probes = np.array([[0.1, 0.0], [0.6, 0.0], [0.4, 0.1]])
    assert rank1(probes, ["a", "b", "b"], gallery, ids).tolist() == [True, True, False]


def test_sharpness_ratio_is_one_for_the_photo_and_drops_with_blur():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    region = np.zeros((64, 64), bool)
    region[16:48, 16:48] = True
    assert math.isclose(sharpness_ratio(photo, photo, region), 1.0)
    blurred = cv2.GaussianBlur(photo, (0, 0), 2.0)
    assert sharpness_ratio(blurred, photo, region) < 0.5


def test_untouched_outside_checks_only_where_alpha_is_zero():
    photo = np.zeros((8, 8, 3), np.uint8)
    alpha = np.zeros((8, 8), np.uint8)
    alpha[2:4, 2:4] = 255
    edited = photo.copy()
    edited[2:4, 2:4] = 200
    assert untouched_outside(edited, photo, alpha)
    edited[0, 0] = 1
    assert not untouched_outside(edited, photo, alpha)


def judged(images: dict[str, list[float]], encodings: dict[str, list[float]]) -> dict:
    """A judges' JSON as bench/judges.py writes it, with one judge ("j") and 2-d 'encodings'."""
    return {"labels": LABELS, "judges": ["j"],
            "images": {name: {"box": [0, 1, 1, 0], "probs": {"j": p}, "encoding": encodings[name]}
                       for name, p in images.items()}}  # fmt: skip


def test_bench_compares_each_edit_with_its_own_persons_real_expression():
    people = [Person("P001", "openpeople tuned", Path("n.jpg"), {"joy": Path("h.jpg")}),
              Person("P002", "openpeople held-out", Path("n.jpg"), {"joy": Path("h.jpg")})]  # fmt: skip
    images = {
        "real__P001__neutral.jpg": probs(joy=0.1), "real__P001__joy.jpg": probs(joy=0.9),
        "real__P002__neutral.jpg": probs(joy=0.0), "real__P002__joy.jpg": probs(joy=0.6),
        "default__P001__joy.png": probs(joy=0.5), "default__P002__joy.png": probs(joy=0.0),
    }  # fmt: skip
    encodings = {"real__P001__neutral.jpg": [0, 0], "real__P001__joy.jpg": [0.55, 0],
                 "real__P002__neutral.jpg": [1, 0], "real__P002__joy.jpg": [1, 0.2],
                 "default__P001__joy.png": [0.6, 0], "default__P002__joy.png": [1, 0.1]}  # fmt: skip
    scores = Scores(judged(images, encodings))
    joy = recognition_rows(scores, people, "default", people)["joy", "j"]
    assert math.isclose(joy.mean, 0.2)  # (0.4 + 0.0) / 2
    assert joy.share == 0.5
    assert math.isclose(joy.reference, 0.7)  # the same people's real rises: (0.8 + 0.6) / 2
    joy = identity_rows(scores, people, "default", people)["joy"]
    assert joy.found == [False, True]  # P001's joy (0.6, 0) is nearer P002's neutral (1, 0) than its own (0, 0)
    assert joy.real_found == [False, True]  # so is P001's real smile (0.55, 0); P002's (1, 0.2) stays nearest its own
    assert np.allclose(joy.distances, [0.6, 0.1]) and np.allclose(joy.real_distances, [0.55, 0.2])
    assert joy.missed == 0


def test_an_emotion_passes_with_two_judges_or_with_every_judge_that_can_tell_it():
    good = summarise_rises([0.5, 0.6], [0.8, 0.8], can_tell=True)
    weak = summarise_rises([0.1, 0.6], [0.8, 0.8], can_tell=True)  # ratio 44 %
    blind = summarise_rises([0.0, 0.0], [0.01, 0.01], can_tell=False)
    assert emotion_verdict([good, good, weak], 0.6, 0.9) == "PASS"
    assert emotion_verdict([good, weak, weak], 0.6, 0.9) == "fail"
    assert emotion_verdict([good, blind, blind], 0.6, 0.9) == "PASS (1 judge can tell)"
    assert emotion_verdict([weak, blind, blind], 0.6, 0.9) == "fail"
    assert emotion_verdict([blind, blind], 0.6, 0.9) == "fail"


def test_eye_sharpness_is_measured_inside_the_eye_openings_only():
    from bench.face import MIN_EYE_PX, edit_stats, eye_openings
    from pipelines.face import landmarks as fr

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    points = np.zeros((fr.NUM_LANDMARKS, 2))
    for eye, centre in zip(fr.REGION_PARTS["eyes"], (60.0, 140.0)):  # each eye loop drawn as a 30 x 14 px ellipse
        turn = np.linspace(0, 2 * np.pi, len(eye), endpoint=False)
        points[list(eye)] = np.stack([centre + 15 * np.cos(turn), 100 + 7 * np.sin(turn)], axis=1)
    eyes = eye_openings(points, photo.shape)
    assert eyes[100, 60] and eyes[100, 140] and not eyes[100, 100] and not eyes[80, 60]

    edited = photo.copy()
    edited[eyes] = cv2.GaussianBlur(photo, (0, 0), 2.0)[eyes]  # soft eyes in a sharp face
    alpha = np.full(photo.shape[:2], 255, np.uint8)
    stats = edit_stats(photo, edited, alpha, eyes)
    assert stats.eye_sharpness < 0.5 < 0.9 < stats.sharpness
    assert edit_stats(photo, photo, alpha, eyes).eye_sharpness == 1.0
    tiny = np.zeros_like(eyes)
    tiny[100, 60 : 60 + MIN_EYE_PX - 1] = True
    assert math.isnan(edit_stats(photo, edited, alpha, tiny).eye_sharpness)
