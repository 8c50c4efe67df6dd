"""Facial expressions as landmark moves: FACS action units, presets built from them, and named sliders.

Everything here is a pure function over a (478, 2) MediaPipe landmark array (any pixel frame), so
it can be tested with hand-placed points and reused by any renderer. Moves are expressed in a face
frame — x from the person's right eye to their left eye, y down the face, one unit = the distance
between the iris centres — so a preset does the same thing to a tilted, small or large face.

The expressions are measured, not designed: each is the mean landmark move of real people from
their neutral face to that expression (`expression_moves`). The named sliders are FACS action units
(AU): each moves a few handle points and lets the move fall off smoothly (Gaussian) over nearby
landmarks, gated so that, e.g., raising the brows never drags the eyelids along. Nothing moves the
irises: a widened eye must show more of the eye, not a bigger iris.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from pipelines.errors import InputError
from pipelines.face import landmarks as fr
from pipelines.labels import LABELS, NEUTRAL

EXPRESSIONS = LABELS  # one sprite per label
SLIDERS = ("smile", "brow_raise", "brow_furrow", "eye_open", "jaw_open")  # named, freely combined controls
SLIDER_RANGE = (-1.0, 1.0)  # negative values reverse a move: smile -1 turns the corners down and in
MAX_AMOUNT = 1.5  # a preset plus sliders may overshoot 1 a little; beyond this faces tear

# Each expression (but neutral) is one measured move (`expression_moves`): the mean landmark move from neutral
# to that expression over real same-person pairs, scaled by the intensity and by its strength here. Fear's mean
# move is a faint fear: the people's mouths and brows go different ways, and what they share, wide eyes, is
# small in landmarks. Calibrated on the training people only (P001-P007, fer's mean fear rise; their real fear
# rises 0.54), with the eye model painting the white: x1 0.02, x1.3 0.10, x1.5 0.18 (x1.5 without the eye model
# 0.04); dlib's edit-to-source distance 0.30 / 0.35 / 0.38 (their real fear: 0.37). Re-checked once the lids kept
# their measured size (`expression_moves.mean_move`): x1.3 0.18, x1.5 0.28 (distance 0.36 / 0.40). The others stay
# at x1 (x1.3 raises sadness 0.39 -> 0.46 for fer but not for whattheface, and disgust past its real distance).
# Joy's measured move is the openpeople people's wide, toothy grin; real photos of real people smile smaller and
# keep more of their look. Calibrated on real smiles: the faces-dev tuning half (london_001, 004, 006, 012, 025)
# with P001-P007, strength x1 / x0.8 / x0.75 / x0.7: dlib's edit-to-source distance on the London five 0.27 /
# 0.25 / 0.24 / 0.24 (their real smiles: 0.24), on P001-P007 0.27 / 0.24 / 0.23 / 0.22 (real 0.31); fer's joy
# rise 0.95 / 0.84 / 0.79 / 0.74 on the London five (real 0.59) and 0.72 / 0.64 / 0.60 / 0.55 on P001-P007 (real
# 0.83). x0.75 is the strongest smile within the real smiles' distance; it still shows teeth.
PRESET_STRENGTH = {"joy": 0.75, "fear": 1.5}
# Parts of its measured move a preset lays on again. The mean move flattens what the people do to different degrees,
# and the warp rounds off what it moves most locally: MediaPipe reads the edits of the training people (P001-P007)
# with less of it than their real photos show. Sadness's inner brows rise 0.023 face units against the eyes (real:
# 0.037) and come 0.006 closer (real: 0.018); with the brows at x2, 0.035 and 0.015, and fer's sadness rise goes
# 0.40 -> 0.50 on them (real 0.64) and 0.42 -> 0.47 on the London tuning half, dlib's edit-to-source distance 0.33
# -> 0.36 (real 0.37); the corners of the mouth already drop as far as the real ones (0.044 against 0.045; lips at
# x1.6 changed nothing). Anger's brows come down 0.034 (real: 0.050); at x1.5, 0.046, and fer's anger rise goes
# 0.46 -> 0.55 (P001-P007) and 0.59 -> 0.70 (London), whattheface's 0.41 -> 0.47 and 0.33 -> 0.40, the distance 0.35
# -> 0.37 (real 0.38). Disgust's upper lip comes 0.064 closer to the nose (real: 0.082); with the lips at x1.6,
# 0.090, and fer's disgust rise goes 0.49 -> 0.61 on P001-P007 (real 0.73) and 0.06 -> 0.08 on the London tuning
# half (fer reads those as anger either way), the distance 0.41 -> 0.44 (real 0.48). Fear, laid on at x1.5 for its
# eyes, overshot with its mouth (corners 0.102 below the eyes against the real 0.073, lips parted 0.142 against
# 0.093) and fell short with its brows (raised 0.064 against 0.076): lips back at x1 and brows at x1.8 read 0.087,
# 0.110 and 0.079, and fer's fear rise goes 0.66 -> 0.72 (London) and 0.28 -> 0.30 (P001-P007), the distance 0.357
# -> 0.355 (real 0.37). Left as measured: surprise's brows (0.049 against 0.081; at x1.6 the judges gained nothing
# and the distance rose 0.29 -> 0.34).
# Tried and left out: a sadness chin raise (AU17: jaw_open -0.15, or -0.3 with the face outline held, in the
# preset). whattheface, which reads little of our sadness, rises more with it on the tuning people (P001-P007:
# -0.01 -> 0.06 / 0.06, share 57 % -> 86 % / 71 %; 40 GENKI-4K web photos drawn apart from the bench's: 0.04 ->
# 0.07 / 0.12), fer a little (0.50 -> 0.53 / 0.58), but dlib's edit-to-source distance on P001-P007 goes 0.367 ->
# 0.387 / 0.424, past their real sadness (0.372). Raising only the lower lip and the skin under it cost nearly as
# much distance (0.386) and gave whattheface nothing (0.02). Where whattheface sees sadness at all: pasting regions of
# the real sad photo into the neutral one (openpeople P001-P010, laid into one frame), brows and eyes together raise
# it 0.11 (the whole real photo 0.10), the lower face alone -0.01. Yet our sadness with each person's OWN measured
# texture and own landmark positions (their real photo's, every point) gives it nothing on P001-P007 (-0.03; the
# shipped edit -0.01): what it reads in real sad eyes and brows is neither where the points go nor the skin's
# shading, but what lies in the eye openings and the brows, which the warp only moves and the skin's ratio image
# leaves alone.
PRESET_EXTRAS = {
    "sadness": {"sadness_brows": 1.0},
    "anger": {"anger_brows": 0.5},
    "fear": {"fear_lips": -0.5, "fear_brows": 0.3},
    "disgust": {"disgust_lips": 0.6},
}
# Hand-sized action units a preset adds to its measured move. Sadness's upper lids droop (AU41; `eye_open` at -0.3:
# 0.027 face units down over the iris). The training people's real sad eyes barely narrow (P001-P007: opening 0.140 ->
# 0.135 of the eye distance, MediaPipe on their photos), so the measured move has almost no droop; but on the tuning
# photos beyond them the judges see sadness in it: eye_open 0 / -0.3 / -0.45 / -0.6, 40 GENKI-4K web photos drawn apart
# from the bench's: whattheface's sadness rise 0.049 / 0.070 / 0.074 / 0.076, fer's 0.30 / 0.34 / 0.35 / 0.37,
# pyemotion's 0.23 / 0.32 / 0.35 / 0.39; the London tuning half's whattheface 0.117 / 0.133 / 0.140 / 0.147; P001-P007
# unchanged (-0.00). dlib's edit-to-source distance on P001-P007 0.372 / 0.374 / 0.383 / 0.386 (their real sadness
# 0.372): -0.3 keeps most of the gain for the least of the person.
# Fear's upper lids rise further (AU5; `eye_open` at +0.3: 0.027 face units more over the iris). Real scared eyes show
# white above the iris; the measured move, a mean over people whose mouths and brows disagree, keeps too little of it,
# and fer read most of our scared faces beyond the London ones as surprised or neutral. eye_open 0 / +0.25 / +0.4 /
# +0.8 on the tuning people, fer's fear rise London half 0.72 / 0.76 / 0.77 / 0.75, P001-P007 0.26 / 0.30 / 0.31 /
# 0.37, a 40-photo GENKI-4K tuning draw 0.28 / 0.30 / 0.32 / 0.32 (whattheface 0.06 / 0.06 / 0.07 / 0.08); dlib's
# edit-to-source distance 0.33 / 0.33 / 0.34 / 0.36, 0.36 / 0.37 / 0.38 / 0.41 (their real fear 0.36), 0.38 / 0.39 /
# 0.39 / 0.42. Past +0.4 the eyes stare. The measured move at x1.3 instead of x1.5 with eye_open +0.5 / +0.7 gave the
# same rises for 0.01-0.02 less distance (0.71 / 0.26 / 0.31 and 0.72 / 0.30 / 0.30): within the people's noise.
# Since the eye paint lifts the old lid's shadow too (eyes.LIGHT_EDGE), +0.3 reads as well: bench/face.py on
# openpeople, fer's fear P001-P007 0.30 against 0.31 at +0.4, and dlib's distance over P001-P010 0.37 (their real
# fear 0.37) against 0.38.
PRESET_UNITS = {"sadness": {"eye_open": -0.3}, "fear": {"eye_open": 0.3}}
PRESETS: dict[str, dict[str, float]] = {
    label: ({} if label == NEUTRAL else {label: PRESET_STRENGTH.get(label, 1.0), **PRESET_EXTRAS.get(label, {}),
                                          **PRESET_UNITS.get(label, {})})
    for label in EXPRESSIONS
}

# Every expression first undoes the source's own smile and open mouth (`relaxed_landmarks`). A smile is read from
# MediaPipe's mouthSmile score: on neutral photos it runs up to 0.65 (the shape of the person's mouth), so what lies
# above the dead zone is smiling, and at SMILE_FULL the photo shows the whole measured joy move, which is reversed.
# Fitted on same-person smiles whose real neutral photo is known (the London tuning half's and openpeople P001-P007's),
# against their real neutral mouths (mean distance of the lip points, face units): dead zone 0.5 with the whole move at
# 0.85 / 0.95 / 1.05: 0.032 / 0.030 / 0.033; dead zone 0.4 / 0.6 with it at 0.95: 0.030 / 0.031 (the photo left as it
# is: 0.100; the hand-sized smile unit before: 0.077). Held out in bench/face_from_smile.py. Only the mouth: on neutral
# photos MediaPipe scores eyeSquint, browDown and browOuterUp at 0.2-0.7, the person's anatomy.
NEUTRAL_DEAD_ZONE = 0.5
SMILE_FULL = 0.95
SMILE_SCORES = ("mouthSmileLeft", "mouthSmileRight")
# Then the lower lip rises over what stays open (`close_mouth`). Real neutral mouths part their lips by at most 0.008
# of the mouth's width (20 London and openpeople neutral photos), smiles that show teeth by 0.03-0.19; a relaxed
# mouth may stand a little open, so lips parted less than the first of these are left as they are, and more than
# the second close fully. The upper lip stays: what the reversed smile leaves open is the lower lip's (the upper lip
# coming down as in the real smiles, 45 %, fitted no better: 0.0297 against 0.0295). So do the chin and jaw: swung
# up with the lip, as the real ones do, they pulled the skin below a web photo's chin off the crop's edge (a smear),
# and the lips landed no closer (0.029 / 0.036 against 0.030 / 0.036, tuning / held out).
RELAXED_PARTING = (0.03, 0.08)


@dataclass
class FaceFrame:
    """Landmarks seen in the face frame, plus the lip and eye point groups the action units move."""

    points: np.ndarray  # (478, 2) pixels, as given
    origin: np.ndarray  # midpoint between the iris centres
    axes: np.ndarray  # (2, 2): rows are the face's x (towards the person's left eye) and y (down) in pixels/unit
    uv: np.ndarray  # (478, 2) landmark coordinates in face units
    upper_lip: np.ndarray  # indices of the upper lip (outer and inner contour, corners excluded)
    lower_lip: np.ndarray  # indices of the lower lip (same)
    upper_lip_outer: np.ndarray
    lower_lip_outer: np.ndarray

    def to_pixels(self, duv: np.ndarray) -> np.ndarray:
        """Turn (N, 2) moves in face units into pixel moves."""
        return duv @ self.axes


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    """Build the face frame of `landmarks` ((478, 2) or (478, 3); z is ignored)."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] != fr.NUM_LANDMARKS or points.shape[1] < 2:
        raise InputError(f"landmarks must be an array of shape ({fr.NUM_LANDMARKS}, 2); got {points.shape}.")
    points = points[:, :2]
    right_eye, left_eye = points[fr.RIGHT_EYE_CENTER], points[fr.LEFT_EYE_CENTER]
    across = left_eye - right_eye
    unit = float(np.hypot(*across))
    if not np.isfinite(unit) or unit < 1e-6:
        raise InputError("The two eye centres coincide; these landmarks do not describe a face.")
    x_axis = across / unit
    y_axis = np.array([-x_axis[1], x_axis[0]])  # x turned a quarter clockwise on screen: points down the face
    axes = np.stack([x_axis, y_axis]) * unit
    origin = (right_eye + left_eye) / 2
    uv = (points - origin) @ np.stack([x_axis, y_axis]).T / unit
    upper_outer, lower_outer = split_lip_loop(fr.LIPS_OUTER, uv, fr.LOWER_LIP_BOTTOM)
    upper_inner, lower_inner = split_lip_loop(fr.LIPS_INNER, uv, fr.LOWER_LIP_INNER)
    return FaceFrame(
        points=points, origin=origin, axes=axes, uv=uv,
        upper_lip=np.array(upper_outer + upper_inner), lower_lip=np.array(lower_outer + lower_inner),
        upper_lip_outer=np.array(upper_outer), lower_lip_outer=np.array(lower_outer),
    )  # fmt: skip


def split_lip_loop(loop: tuple[int, ...], uv: np.ndarray, lower_member: int) -> tuple[list[int], list[int]]:
    """Cut a closed lip contour at its two corners (its leftmost and rightmost points along `uv`'s x: the face frame
    or an upright crop).

    A closed mouth puts the upper and lower inner lip on top of each other, so only the contour's order
    can tell them apart; the arc that holds `lower_member` is the lower lip.
    """
    u = uv[list(loop), 0]
    a, b = sorted((int(np.argmin(u)), int(np.argmax(u))))
    arc_one, arc_two = list(loop[a + 1 : b]), list(loop[b + 1 :] + loop[:a])
    return (arc_two, arc_one) if lower_member in arc_one else (arc_one, arc_two)


# --- weights ------------------------------------------------------------------------------------------------------


def _gauss(uv: np.ndarray, centre: np.ndarray, sigma_u: float, sigma_v: float | None = None) -> np.ndarray:
    sigma_v = sigma_u if sigma_v is None else sigma_v
    d = uv - centre
    return np.exp(-0.5 * ((d[:, 0] / sigma_u) ** 2 + (d[:, 1] / sigma_v) ** 2))


def _ramp(values: np.ndarray, zero_at: float, one_at: float) -> np.ndarray:
    """0 at `zero_at`, 1 at `one_at`, linear between, clamped."""
    return np.clip((values - zero_at) / (one_at - zero_at), 0.0, 1.0)


def _tent(values: np.ndarray, zero_a: float, peak: float, zero_b: float) -> np.ndarray:
    """1 at `peak`, falling linearly to 0 at `zero_a` and at `zero_b`."""
    return np.minimum(_ramp(values, zero_a, peak), _ramp(values, zero_b, peak))


def _sides(f: FaceFrame):
    """Per side of the face: sign of x, eye centre, upper lid, lower lid, brow outline, inner brow point."""
    return (
        (np.sign(f.uv[fr.RIGHT_EYE_CENTER, 0]), fr.RIGHT_EYE_CENTER, fr.RIGHT_EYE_UPPER_LID, fr.RIGHT_EYE_LOWER_LID,
         fr.RIGHT_BROW, fr.RIGHT_BROW_INNER, fr.RIGHT_CHEEK, fr.MOUTH_RIGHT_CORNER),
        (np.sign(f.uv[fr.LEFT_EYE_CENTER, 0]), fr.LEFT_EYE_CENTER, fr.LEFT_EYE_UPPER_LID, fr.LEFT_EYE_LOWER_LID,
         fr.LEFT_BROW, fr.LEFT_BROW_INNER, fr.LEFT_CHEEK, fr.MOUTH_LEFT_CORNER),
    )  # fmt: skip


def _above_lid(f: FaceFrame, upper_lid: int) -> np.ndarray:
    """1 from the brows up, fading to 0 at the upper lid: brow moves must not drag the eye along."""
    v = f.uv[:, 1]
    return _ramp(v, f.uv[upper_lid, 1], f.uv[upper_lid, 1] - 0.25)


def _along_lip(f: FaceFrame) -> np.ndarray:
    """1 on the lip midline, falling towards the corners (which a lip-centre move should barely shift)."""
    return np.clip(1.0 - np.abs(f.uv[:, 0] - _mouth_centre(f)) / max(_mouth_width(f) / 2, 1e-6), 0.0, 1.0) ** 0.7


def _on(indices: np.ndarray | tuple[int, ...], weights: np.ndarray | float = 1.0) -> np.ndarray:
    mask = np.zeros(fr.NUM_LANDMARKS)
    mask[np.asarray(indices, dtype=int)] = 1.0
    return mask * weights


# --- action units: each returns (478, 2) moves in face units at amount 1 ------------------------------------------


def _corner_move(f: FaceFrame, out: float, down: float, sigma: float) -> np.ndarray:
    """Pull both mouth corners `out` (away from the midline) and `down`, dragging the skin around them."""
    moves = np.zeros((fr.NUM_LANDMARKS, 2))
    for side, *_rest, corner in _sides(f):
        moves += _gauss(f.uv, f.uv[corner], sigma)[:, None] * (side * out, down)
    return moves


def smile(f: FaceFrame) -> np.ndarray:
    """AU12 lip corner puller + AU6 cheek raiser: corners up more than out (as measured), cheeks lifted."""
    moves = _corner_move(f, out=0.10, down=-0.11, sigma=0.22)
    for side, _eye, _up, _low, _brow, _inner, cheek, _corner in _sides(f):
        centre = f.uv[list(cheek)].mean(axis=0)
        moves += _gauss(f.uv, centre, 0.3)[:, None] * (side * 0.015, -0.05)
    return moves


def jaw_open(f: FaceFrame) -> np.ndarray:
    """AU26/27 jaw drop: the lower lip, chin and jaw swing down; the upper lip stays."""
    v, u = f.uv[:, 1], f.uv[:, 0]
    corners_v = (f.uv[fr.MOUTH_LEFT_CORNER, 1] + f.uv[fr.MOUTH_RIGHT_CORNER, 1]) / 2
    chin_v = f.uv[fr.CHIN, 1]
    # Below the mouth, points move more the lower they are (the jaw turns about the ears) and the nearer the midline.
    below = _ramp(v, corners_v, corners_v + 0.35 * (chin_v - corners_v)) * np.exp(-0.5 * (u / 0.9) ** 2)
    below[f.upper_lip] = 0.0
    lip = _on(f.lower_lip, 0.35 + 0.65 * _along_lip(f))
    weight = np.maximum(below, lip)
    weight[[fr.MOUTH_LEFT_CORNER, fr.MOUTH_RIGHT_CORNER]] = 0.3
    moves = np.zeros((fr.NUM_LANDMARKS, 2))
    moves[:, 1] = weight * 0.25
    return moves


def _brow_move(f: FaceFrame, *, at_inner: bool, sigma_u: float, move: tuple[float, float]) -> np.ndarray:
    """Move each brow (and the skin above it) by `move` = (towards the midline, down), from its centre or inner end."""
    moves = np.zeros((fr.NUM_LANDMARKS, 2))
    for side, _eye, upper_lid, _low, brow, inner, _cheek, _corner in _sides(f):
        centre = f.uv[inner] if at_inner else f.uv[list(brow)].mean(axis=0)
        weight = _gauss(f.uv, centre, sigma_u, 0.35) * _above_lid(f, upper_lid)
        moves += weight[:, None] * (-side * move[0], move[1])
    return moves


def brow_raise(f: FaceFrame) -> np.ndarray:
    """AU1+AU2 inner and outer brow raiser: the whole brow goes up."""
    return _brow_move(f, at_inner=False, sigma_u=0.45, move=(0.0, -0.12))


def brow_furrow(f: FaceFrame) -> np.ndarray:
    """AU4 brow lowerer: brows down and drawn together."""
    return _brow_move(f, at_inner=True, sigma_u=0.5, move=(0.06, 0.12))


def _lid_move(f: FaceFrame, upper: float, lower: float) -> np.ndarray:
    """Move the upper lid by `upper` and the lower lid by `lower` (face units, + is down), eye corners fixed."""
    moves = np.zeros((fr.NUM_LANDMARKS, 2))
    v = f.uv[:, 1]
    for _side, eye, upper_lid, lower_lid, _brow, _inner, _cheek, _corner in _sides(f):
        across = _gauss(f.uv, f.uv[eye], 0.22, 10.0)  # strongest over the iris, zero at the eye corners
        centre_v, up_v, low_v = f.uv[eye, 1], f.uv[upper_lid, 1], f.uv[lower_lid, 1]
        moves[:, 1] += across * _tent(v, centre_v, up_v, up_v - 0.2) * upper
        moves[:, 1] += across * _tent(v, centre_v, low_v, low_v + 0.3) * lower
    return moves


def eye_open(f: FaceFrame) -> np.ndarray:
    """AU5 upper lid raiser: eyes wide open (negative: lids droop)."""
    return _lid_move(f, upper=-0.09, lower=0.02)


def brow_points(f: FaceFrame) -> np.ndarray:
    """Indices of the brows and the forehead: every point above the middle between the upper lids and the brows'
    lowest point."""
    lowest_brow = f.uv[list(fr.REGIONS["brows"]), 1].max()
    lids = f.uv[[fr.RIGHT_EYE_UPPER_LID, fr.LEFT_EYE_UPPER_LID], 1].min()
    return np.flatnonzero(f.uv[:, 1] < (lowest_brow + lids) / 2)


# A measured move's parts, for a preset that needs more of one part than the people's mean gives.
PARTS: dict[str, Callable[[FaceFrame], np.ndarray]] = {
    "lips": lambda f: np.array(fr.REGIONS["mouth"]),
    "brows": brow_points,
}


def _measured(label: str, part: str | None = None) -> Callable[[FaceFrame], np.ndarray]:
    """The measured move of `label` (face units, see expression_moves) as an action unit; `<label>_<part>` moves
    only that part's points."""
    def move(f: FaceFrame) -> np.ndarray:
        from pipelines.face.expression_moves import measured_moves  # it measures with face_frame from here

        measured = measured_moves()[label]
        if part is None:
            return measured
        points = PARTS[part](f)
        only = np.zeros_like(measured)
        only[points] = measured[points]
        return only

    move.__name__ = label if part is None else f"{label}_{part}"
    move.__doc__ = f"The mean real {label} move{f' of the {part}' if part else ''}, measured on same-person pairs."
    return move


ACTION_UNITS: dict[str, Callable[[FaceFrame], np.ndarray]] = {
    fn.__name__: fn
    for fn in (smile, jaw_open, brow_raise, brow_furrow, eye_open,
               *(_measured(label, part) for part in (None, *PARTS) for label in EXPRESSIONS if label != NEUTRAL))
}  # fmt: skip
IRISES = tuple(range(fr.NUM_MESH_POINTS, fr.NUM_LANDMARKS))  # never moved: eyes open by their lids, not a bigger iris


# --- public API -----------------------------------------------------------------------------------------------------


def expression_amounts(
    expression: str = "neutral",
    intensity: float = 1.0,
    sliders: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """How much of each action unit: the preset scaled by `intensity`, plus the sliders."""
    if expression not in PRESETS:
        raise InputError(f"Unknown expression {expression!r}; choose one of {', '.join(EXPRESSIONS)}.")
    if not 0.0 <= float(intensity) <= 1.0:
        raise InputError(f"intensity must be between 0 and 1, got {intensity}.")
    amounts = {name: value * float(intensity) for name, value in PRESETS[expression].items()}
    for name, value in (sliders or {}).items():
        if name not in SLIDERS:
            raise InputError(f"Unknown slider {name!r}; the sliders are {', '.join(SLIDERS)}.")
        low, high = SLIDER_RANGE
        if not low <= float(value) <= high:
            raise InputError(f"slider {name} must be between {low} and {high}, got {value}.")
        amounts[name] = amounts.get(name, 0.0) + float(value)
    return {name: float(np.clip(value, -MAX_AMOUNT, MAX_AMOUNT)) for name, value in amounts.items() if value != 0.0}


def move_landmarks(landmarks: np.ndarray, amounts: Mapping[str, float]) -> np.ndarray:
    """Apply action units (name -> amount) to `landmarks`; returns new (478, 2) float32 pixel positions."""
    frame = face_frame(landmarks)
    moves = np.zeros((fr.NUM_LANDMARKS, 2))
    for name, amount in amounts.items():
        if name not in ACTION_UNITS:
            raise InputError(f"Unknown action unit {name!r}; known: {', '.join(ACTION_UNITS)}.")
        moves += ACTION_UNITS[name](frame) * amount
    moves[list(IRISES)] = 0.0
    return (frame.points + frame.to_pixels(moves)).astype(np.float32)


def _mouth_width(f: FaceFrame) -> float:
    return abs(f.uv[fr.MOUTH_LEFT_CORNER, 0] - f.uv[fr.MOUTH_RIGHT_CORNER, 0])


def _mouth_centre(f: FaceFrame) -> float:
    """Midway between the mouth corners, face units along the face's x."""
    return (f.uv[fr.MOUTH_LEFT_CORNER, 0] + f.uv[fr.MOUTH_RIGHT_CORNER, 0]) / 2


def _midline_gap(f: FaceFrame) -> float:
    """How far the inner lips stand apart on the midline, face units (negative: crossed)."""
    return f.uv[fr.LOWER_LIP_INNER, 1] - f.uv[fr.UPPER_LIP_INNER, 1]


def close_mouth(f: FaceFrame) -> np.ndarray:
    """The lower lip raised until the inner lips on the midline stand as a relaxed mouth's do: parted more than
    `RELAXED_PARTING` allows they meet, partly between its two ends. The skin below follows, fading out before the
    chin: the chin and jawline stay. (478, 2) face units."""
    v, u = f.uv[:, 1], f.uv[:, 0]
    gap, width = _midline_gap(f), _mouth_width(f)
    closing = float(_ramp(np.array(gap / max(width, 1e-6)), *RELAXED_PARTING))
    lip_v, chin_v = f.uv[fr.LOWER_LIP_BOTTOM, 1], f.uv[fr.CHIN, 1]
    across = (u - _mouth_centre(f)) / (0.6 * width)
    skin = _ramp(v, lip_v + 0.6 * (chin_v - lip_v), lip_v) * np.exp(-0.5 * across**2)
    skin[f.upper_lip] = 0.0
    weight = np.maximum(skin * (v > f.uv[fr.UPPER_LIP_INNER, 1]), _on(f.lower_lip, 0.35 + 0.65 * _along_lip(f)))
    weight[[fr.MOUTH_LEFT_CORNER, fr.MOUTH_RIGHT_CORNER]] = 0.0
    moves = np.zeros((fr.NUM_LANDMARKS, 2))
    moves[:, 1] = -weight * closing * gap
    return moves


def smile_share(blendshapes: Mapping[str, float]) -> float:
    """0..1: how much of the measured joy move a photo shows, from MediaPipe's smile scores (`NEUTRAL_DEAD_ZONE`,
    `SMILE_FULL`); every expression reverses it first (`relaxed_landmarks`)."""
    score = max(float(blendshapes.get(name, 0.0)) for name in SMILE_SCORES)
    return float(np.clip((score - NEUTRAL_DEAD_ZONE) / (SMILE_FULL - NEUTRAL_DEAD_ZONE), 0.0, 1.0))


def relaxed_landmarks(landmarks: np.ndarray, blendshapes: Mapping[str, float], intensity: float = 1.0,
                      any_opening: bool = True) -> np.ndarray:  # fmt: skip
    """The photo's face with its own smile and open mouth undone, by `intensity` ((478, 2) float32 pixels): the share
    of the measured joy move that MediaPipe's smile score shows (`NEUTRAL_DEAD_ZONE`, `SMILE_FULL`) reversed, then
    the lower lip raised over what stays open (`close_mouth`), the lips kept in order (`_lips_in_order`).

    Without `any_opening` only the smile's share of the opening closes: a mouth open for another reason (talking,
    a photo already surprised) stays for the expression laid on it."""
    source = face_frame(landmarks)
    smiled = smile_share(blendshapes)
    unsmiled = face_frame(move_landmarks(source.points, {"joy": -smiled * float(intensity)}))
    closing = float(intensity) * (1.0 if any_opening else smiled)
    closed = face_frame(unsmiled.points + unsmiled.to_pixels(close_mouth(unsmiled) * closing))
    return _lips_in_order(closed, source).astype(np.float32)


def _lips_in_order(f: FaceFrame, source: FaceFrame) -> np.ndarray:
    """`f`'s points (moved from `source`) with the lower inner lip no further above the upper than on the source (a
    reversed smile closes a closed-lipped smile's lips past each other, and crossed lips fold the warp); where an open
    mouth has closed on the midline to less than a relaxed mouth's parting (as at the studio's default intensity,
    0.8), the lips meet all along: a sliver of teeth between lips that nearly meet read as a grimace."""
    upper, lower = split_lip_loop(fr.LIPS_INNER, f.uv, fr.LOWER_LIP_INNER)
    line = sorted(upper, key=lambda i: f.uv[i, 0])

    def gaps(frame: FaceFrame) -> np.ndarray:  # each lower inner lip point below the upper lip's line
        return frame.uv[lower, 1] - np.interp(frame.uv[lower, 0], frame.uv[line, 0], frame.uv[line, 1])

    floor, gap = np.minimum(gaps(source), 0.0), gaps(f)
    relaxed = RELAXED_PARTING[0] * _mouth_width(source)
    met = _midline_gap(source) > relaxed and _midline_gap(f) <= relaxed  # an open mouth closed to a relaxed parting
    uv = f.uv.copy()
    uv[lower, 1] += (floor if met else np.maximum(gap, floor)) - gap
    return f.origin + uv @ f.axes


def expression_target(landmarks: np.ndarray, expression: str = "neutral", intensity: float = 1.0,
                      sliders: Mapping[str, float] | None = None, blendshapes: Mapping[str, float] | None = None,
                      ) -> tuple[dict[str, float], np.ndarray]:  # fmt: skip
    """(the action units' amounts, the target landmarks (478, 2) float32) of `expression` on a face. Every
    expression starts from the face at rest: the photo's smile (read from MediaPipe's `blendshapes`) relaxed by the
    same intensity (`relaxed_landmarks`), so sadness on a grin is sadness, not a grin with its corners a little
    lower, joy on a smile is joy once, and intensity 0 is still the photo. Neutral closes any open mouth; the others
    only what the smile opened (closing a talking web photo's mouth before fear opened it again read as less fear
    and made sharper seams: GENKI held draw, fer 43 -> 36 % of the real rise, edits over 1.2x as sharp 15 -> 23 %)."""
    amounts = expression_amounts(expression, intensity, sliders)
    start = landmarks
    if blendshapes:
        start = relaxed_landmarks(landmarks, blendshapes, intensity, any_opening=expression == NEUTRAL)
    return amounts, move_landmarks(start, amounts)
