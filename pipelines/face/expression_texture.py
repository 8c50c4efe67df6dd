"""Expression texture: the lines, folds and shading a landmark warp cannot make, and the inside of an open mouth.

A warp only moves the person's own pixels, so a warped smile has no nasolabial fold, a warped frown no
glabellar lines, a warped open mouth no teeth. Liu, Shan & Zhang ("Expressive expression mapping with
ratio images", SIGGRAPH 2001) carry that texture from other people: with two photos of one person, A
(neutral) and A' (expressive), both mapped into the same face geometry, the per-pixel ratio A'/A is the
expression's shading with the person's skin, colour and lighting divided out; multiplying another face
B, warped to the expression's geometry, by that ratio gives B the folds and lines.

Here, for each emotion, from same-person pairs of openpeople's training people (P001-P007):

1. each pair is laid into one aligned face frame (`align.align_face`; the expressive photo through the
   similarity that puts its stable points on the neutral's, as `expression_moves` measures moves), then both
   photos are warped (`warp.backward_map`) onto the emotion's CANONICAL geometry: the mean neutral face
   of the training people moved by the shipped expression move — exactly the geometry the pipeline's
   target has at intensity 1;
2. ratio: log of the luminance ratio expressive/neutral after a small blur, with slow changes (exposure,
   light: `LOW_CUT`) removed and clipped (`LOG_RATIO_RANGE`), only on skin
   (the face oval without the brows, the eye openings and the mouth opening), faded out at the oval's
   edge; then the per-pixel median over people, whose fine detail is kept only along lines (`lines_only`: the
   rest is the people's pores and stubble, a dirty mottle on smooth skin) and which never brightens the lips and
   their rim (`lip_rim`: misplaced lip edges). Luminance only, so the ratio carries no one's skin colour;
3. mouth interior (teeth, tongue, shadow): the colour inside the canonical inner lip line over a brightness
   taken from the person's own skin (`interior_reference`), averaged over people; where the canonical mouth is
   closed there is none. The teeth are then lit towards the corners of the mouth as real smiles are
   (`lit_to_the_corners`: openpeople's synthetic grins are near black there).

At edit time the maps are warped from the canonical geometry onto the photo's TARGET landmarks, the
crop's pixels are multiplied by exp(amount * log ratio), darkening each channel as skin darkens
(`SHADE_CHANNELS`), its lines and folds deepened by `GAINS` and its broad shading scaled by `BROAD_SHARE` (amount =
the expression's intensity), and the mouth opening is filled with the interior (joy's teeth where the expression
bares them: `TEETH_FROM`) times this photo's `interior_scale`.
The median over people rather than one person's map or the mean: `python -m pipelines.face.expression_texture`
prints, leaving each training person out in turn, how much of that person's real texture each choice explains;
the median keeps the folds every person shares and outvotes one person's beard, moles and hair strands, and
the line-only detail and the lip rim explain more again (fear 0.04 -> 0.11, anger 0.17 -> 0.21; surprise
0.29 -> 0.28). A shrinkage of the median towards no change where the people disagree explained still a little
more, but the judges saw less of sadness, anger and disgust with it (fer on P001-P007, disgust 0.49 -> 0.24).

Source of the shipped maps (`expression_texture.npz`, float16): openpeople 0.1.2 (MIT, "Copyright (c)
2026 Prompt Haus"; the licence text ships beside it as LICENSE_MIT_openpeople.txt), people P001-P007; P008-P010
and the London set are kept for evaluation. The teeth's light towards the mouth corners (`CORNER_LIGHT`, three
numbers) was fitted on half of the US Congress portraits in faces-train (public domain).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from pipelines.face import landmarks as fr
from pipelines.face.action_units import move_landmarks
from pipelines.face.align import AlignedFace, align_face, similarity_matrix, transform_points
from pipelines.face.sharpness import soften
from pipelines.face.warp import backward_map

TEXTURE_FILE = Path(__file__).with_name("expression_texture.npz")
SIZE = 256  # side of the canonical frame (an aligned face crop); about the training photos' own resolution
BLUR_SIGMA = 0.7  # px at SIZE: removes JPEG noise, keeps lines that are 2 px wide
# Ratios beyond these are misregistration (a lid edge, a hair), not shade. Lines and folds darken a lot; skin that
# catches more light (a raised cheek) brightens a little, and a bright ratio on pale skin would burn it out.
LOG_RATIO_RANGE = (float(np.log(1 / 1.8)), float(np.log(1.25)))
LOW_CUT = 0.06  # shading that varies more slowly than a Gaussian of this fraction of SIZE is lighting, not expression
DETAIL_SIGMA = 2.0  # px at SIZE: finer detail of the people's median is kept only along lines (`lines_only`)
BROAD_SIGMA = 4.0  # px at SIZE: the gains deepen the darkening finer than this (`deepened`)
LIP_RIM = 10  # px at SIZE around the lips where no brightening is kept (`lip_rim`)
EDGE_FADE = 0.04  # the ratio fades to 1 over this fraction of SIZE inside the face oval
OPENING_GROW = 2  # px at SIZE: eye and mouth openings are cut out this much wider (their rims jitter)
# How strongly each emotion's lines and folds (`deepened`) are laid on at intensity 1, calibrated on the training
# people only (P001-P007, fer's mean target rise; their real expressions rise 0.64 sadness, 0.79 anger, 0.73
# disgust), with dlib's edit-to-source distance: sadness x3 / x4.5 / x6: 0.34 / 0.40 / 0.41 (distance 0.30 / 0.32 /
# 0.34), anger 0.42 / 0.48 / 0.51 (0.32 / 0.36 / 0.40), disgust x1.5 / x2.5 / x3.5: 0.31 / 0.47 / 0.58 (0.40 /
# 0.42 / 0.44). Looked at on pale and dark skin: past x4.5 sadness and anger turn blotchy again. Deepening all the
# darkening instead (x3) gave about the same rises (sadness 0.42, anger 0.46) but a grey beard shadow round the
# mouth of pale faces and bruised upper lids. Joy (78 %) and surprise (44 %, x2 46 %) stay at x1; fear barely
# moves (x1 0.00, x3 0.01). Disgust re-checked once folds darkened in skin's colour (`SHADE_CHANNELS`), with the
# London tuning half (fer reads most of their disgust as anger): x2.5 / x3.5 / x4.5 give 0.61 / 0.68 / 0.71 on
# P001-P007 and 0.08 / 0.12 / 0.15 on London, distance 0.45 / 0.47 / 0.48 (their real disgust: 0.48) and 0.41 /
# 0.44 / 0.47; x3.5 deepens the nose wrinkle and the folds beside it and still keeps the person.
GAINS = {"sadness": 4.5, "anger": 4.5, "disgust": 3.5}
# How much of each emotion's broad shading (`deepened`) is kept. Surprise's and fear's is the training people's
# light on a lifted brow and a dropped jaw: the judges barely need it and dlib reads it as another face. On the
# tuning people (P001-P007 with the London tuning half), broad shading x1 / x0.5 / x0: surprise fer rise 0.74 /
# 0.74 / 0.71 (London) and 0.64 / 0.63 / 0.62 (P001-P007), edit-to-source distance 0.32 / 0.30 / 0.29 (their real
# surprise: 0.34); fear 0.66 / 0.66 / 0.66 and 0.32 / 0.28 / 0.23, distance 0.39 / 0.36 / 0.34 (real: 0.37). The
# other emotions need theirs: at x0.5 joy's fer rise falls 0.51 -> 0.43 on P001-P007, disgust's 0.49 -> 0.33.
BROAD_SHARE = {"surprise": 0.0, "fear": 0.5}
# How each colour channel darkens against the luminance where a line or fold darkens skin: log(channel ratio) =
# slope * log(luminance ratio). Skin is not grey: light that enters it comes back reddened, so a crease loses blue
# and green faster than red. `pair_shading_channels` on real photos, the London tuning half's smiles against their
# neutral photos: 0.88 / 1.06 / 1.12 (the held-out half: 0.86 / 1.08 / 1.11). openpeople's synthetic training pairs
# agree in red and green but overstate blue: 0.87 / 1.06 / 1.21 over every emotion (`main` prints it). Darkening
# every channel alike (slopes 1), pale faces' folds and chins turned grey-green, like a smudge of dirt.
SHADE_CHANNELS = (0.88, 1.06, 1.12)
# Expressions that bare the teeth show joy's measured interior, framed by their own lips. Teeth are the same teeth
# whatever the expression; what differs is how much of them the lips uncover. Joy's wide grins register every
# person's teeth in one place, and their median keeps separate teeth; the seven disgusted and scared mouths open
# differently, and their median was a flat grey-blue band (a mouthguard). Surprise's jaw drop keeps its own dark
# cavity (with joy's teeth, fer's surprise rise fell 0.65 -> 0.32 on the tuning people). On the tuning people
# (P001-P007, the London tuning half; a 40-photo GENKI-4K tuning draw) fer's rise: disgust 0.45 -> 0.44 (GENKI 0.20
# -> 0.24), fear 0.46 -> 0.50 (GENKI 0.32 -> 0.36); dlib's edit-to-source distance disgust 0.457 -> 0.457, fear
# 0.348 -> 0.361 (P001-P007's real fear: 0.36).
# They show them as measured, in joy's light. Fear's teeth were for a while joy's tooth-sized detail in the light
# of fear's own measured mouths (the dim mean of open scared mouths with and without teeth: bench/face_teeth.py's
# "joy's teeth in own light"): per pixel the closest to the real scared mouths (L1 20.1 / 27.3 on P001-P007 /
# held-out P008-P010, joy's lit teeth 77.8 / 60.9: a grey mean is nearest to teeth that do not line up), but every
# fear edit showed a grey, toothless band, where the held-out people's real fear bares white teeth. With joy's
# lit teeth, on the tuning people (P001-P007 / the London tuning half / 60 GENKI-4K web photos drawn apart from the
# bench's): fer's fear rise 0.30 / 0.76 / 0.29 -> 0.33 / 0.71 / 0.29, whattheface's 0.13 / 0.20 / 0.06 -> 0.15 /
# 0.17 / 0.11; dlib's edit-to-source distance 0.370 / 0.335 / 0.384 -> 0.387 / 0.346 / 0.387. Dark (surprise's
# cavity) or teeth under the upper lip alone, fear read as surprise (fer's GENKI rise 0.23-0.24). Where a web photo's
# lips were already parted the opening is taller, and so is its block of teeth.
TEETH_FROM = {"disgust": "joy", "fear": "joy"}
# The interiors were measured at SIZE px, where an open mouth is some 45 x 16 px. Resampled onto a bigger crop, the
# pixel steps of their alpha's edge, with the light rows where the lower lip's inner side was measured, drew a dashed
# light line along the lower lip of every surprise and fear edit of a studio portrait (and along the lower edge of
# joy's teeth). A Gaussian of this many px at SIZE over colour and alpha together (`soften_interior`) smooths the
# steps away; looked at 2x on edits at 320 px, 0.5 left faint dashes, 0.8 none, and the teeth keep their gaps. It
# softens a little at SIZE too: bench/face_teeth.py's L1 to the real mouths (held-out P008-P010) joy 22.3 -> 23.1,
# surprise 16.4 -> 17.8, fear 27.3 -> 27.5, disgust 25.0 -> 24.4 (painted at SIZE, where there are no steps).
INTERIOR_ALIAS_SIGMA = 0.8
# How bright the teeth's interior is in the outer three tenths of the opening from each corner (over
# `interior_reference`; `lit_to_the_corners`). openpeople's synthetic grins are near black there (0.12 / 0.34 / 0.82
# and 0.25 / 0.37 / 0.91 at the other corner, the middle 1.1-1.2): every smile we made had dark wedges at its
# corners. Real smiles are lit further out. Fitted on the US Congress portraits (faces-train, public domain; every
# other photo: open mouths are the real smiles, closed ones were edited) so that our smiles' openings match theirs
# by tenth from corner to corner (bench/face_teeth.py; brightness over the skin's). On the other half, the second
# tenth from each corner 0.42 / 0.45 -> 0.59 / 0.58 (real 0.59 / 0.54), the mean error over the ten tenths 0.055 ->
# 0.044; on GENKI-4K web photos (never fitted on) 0.50 / 0.52 -> 0.66 / 0.63 (real 0.81 / 0.78), mean error 0.131 ->
# 0.078, and the share of the opening brighter than 3/4 of the skin 0.71 -> 0.78 (real 0.84); on the London studio
# portraits (10 edits; their 4 open real smiles) 0.44 / 0.51 -> 0.67 / 0.69 (real 0.64 / 0.68). Further from
# openpeople's own open mouths (L1 0-255, joy P001-P007 / P008-P010: 20.3 / 21.6 -> 24.0 / 22.3; disgust, which
# bares the same teeth, 46.3 / 28.3 -> 48.2 / 25.0). The judges, on the 20 studio people and a 40-photo GENKI
# tuning draw: joy's fer rise 0.73 -> 0.73, dlib's edit-to-source distance +0.001 on average (half of them closer),
# disgust's fer rise 0.32 -> 0.31, fear's unchanged.
CORNER_LIGHT = (0.15, 0.68, 0.98)
# The mouth interior's brightness follows the skin's luminance to this power (`interior_reference`).
INTERIOR_GAMMA = 0.5
INTERIOR_PIVOT = 150.0  # a skin luminance (0-255) where the reference is the luminance itself
# The interior keeps this share of its measured colourfulness: openpeople's (synthetic) teeth are warmer than real
# photos' (blue over red 0.84 against 0.91 in the London tuning half's smiles); at 0.5 the predicted teeth give 0.92.
INTERIOR_CHROMA = 0.5
# Teeth take the photo's white balance, read from the whites of the eyes: on 253 GENKI-4K web photos of open smiles
# (any light) the teeth's blue over red ran 0.68-0.97 and followed the sclera's (correlation 0.8). Predicted as the
# fixed ivory hue times (sclera hue / WHITE_HUE) ** CAST_SHARE, the teeth's hue was off by 0.060 / 0.072 (first / second
# half of the photos; mean abs of RGB over luminance) with a share of 0, 0.033 / 0.038 with 0.5, 0.035 / 0.034 with
# 0.75; on openpeople P001-P007 (tuning) 0.033 -> 0.016 at 0.5. Studio photos share one white balance and keep
# their teeth (London held-out half 0.019 -> 0.018).
# Where the eye whites cannot be read (closed, in shadow, behind sunglasses: 120 of 797 GENKI-4K open smiles with
# teeth), the skin's hue against the web faces' median skin hue stands in, at the same share: it mixes the person's
# pigment with the light, so it does less than the sclera (on the faces whose sclera can be read: 0.069 against
# 0.045), but on those 120 the teeth's hue error fell 0.101 / 0.106 -> 0.088 / 0.088 (fitting / checking half;
# shares 0 / 0.25 / 0.5 / 0.75 / 1 on the fitting half's faces 0.083 / 0.075 / 0.073 / 0.076 / 0.083).
WHITE_HUE = (1.054, 0.979, 0.964)  # the London tuning half's sclera, RGB over luminance: the light the ivory was set in
SKIN_HUE = (1.242, 0.915, 0.820)  # the median skin, RGB over luminance, of the fitting half of those open smiles
CAST_SHARE = 0.5
SCLERA_MIN_PX = 40  # at SIZE: fewer visible eye-white pixels (eyes nearly closed) say nothing of the light
SCLERA_MIN_LIGHT = 0.6  # eye whites darker than this share of the skin's luminance are not eye whites (sunglasses)
# A channel recorded this bright may be clipped: the light was stronger than the photo could hold. A fold darkens
# the light, not the record: in an overexposed face (19 % of 145 GENKI-4K web faces have > 5 % of their skin
# clipped) the clipped red of the skin was darkened from 255 and the fold came out grey-blue, where a camera would
# have recorded it redder. `restore_clipped` rebuilds a clipped channel from the pixel's other channels and the
# skin's hue before shading. Checked by overexposing neutral photos (x1.4 and x1.8, clipped), shading them with each
# expression's texture and comparing with the overexposed shaded photo: mean error on the darkened clipped pixels
# (0-255) 8.1 -> 2.5 on openpeople P001-P007, 7.6 -> 3.0 on P008-P010 and the London held-out half.
CLIP_LEVEL = 250
# A smiling photo's own folds, lifted where an expression reverses the smile (`smile_fold_lift`): each channel's
# darkness is read against a blur of this fraction of the crop (the skin around a fold), and lifted where joy's
# measured folds lie, by at most this many times their depth there.
FOLD_SURROUND = 0.03
FOLD_PRIOR = 2.0


Interior = tuple[np.ndarray, np.ndarray]  # (H, W, 3) RGB mouth interior, (H, W) where it is known


@dataclass(frozen=True)
class ExpressionTexture:
    """One emotion's texture in the canonical frame (SIZE x SIZE)."""

    shape: np.ndarray  # (478, 2) float64: the canonical landmarks the maps are drawn on
    log_ratio: np.ndarray  # (SIZE, SIZE) float32: log(expressive / neutral) luminance; 0 = unchanged
    interior: np.ndarray  # (SIZE, SIZE, 3) float32: mouth interior colour over `interior_reference`
    interior_alpha: np.ndarray  # (SIZE, SIZE) float32: where `interior` is known (0 when the mouth stays closed)


@lru_cache(maxsize=1)
def shipped_textures() -> dict[str, ExpressionTexture]:
    """label -> ExpressionTexture, from the shipped measurement."""
    with np.load(TEXTURE_FILE, allow_pickle=False) as data:
        labels = sorted({key.split("/")[0] for key in data.files})
        return {label: ExpressionTexture(*(data[f"{label}/{part}"].astype(np.float32 if part != "shape" else np.float64)
                                           for part in ("shape", "log_ratio", "interior", "interior_alpha")))
                for label in labels}  # fmt: skip


# --- masks and colours shared by measuring and applying ------------------------------------------------------------


def _polygon_mask(points: np.ndarray, loops: tuple[tuple[int, ...], ...], size: int, grow: int = 0) -> np.ndarray:
    """(size, size) bool: inside any of the landmark loops, grown by `grow` px."""
    canvas = np.zeros((size, size), np.uint8)
    for loop in loops:
        cv2.fillPoly(canvas, [np.round(points[list(loop)] * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    if grow > 0:
        canvas = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return canvas.astype(bool)


def _hulls(points: np.ndarray, groups: tuple[tuple[int, ...], ...], size: int) -> np.ndarray:
    """(size, size) bool: inside the convex hull of any of the landmark groups."""
    canvas = np.zeros((size, size), np.uint8)
    for group in groups:
        cv2.fillConvexPoly(canvas, cv2.convexHull(np.round(points[list(group)]).astype(np.int32)), 1)
    return canvas.astype(bool)


def _oval(points: np.ndarray, size: int) -> np.ndarray:
    return _hulls(points, (fr.FACE_OVAL,), size)


def skin_weight(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float32: 1 on the face's skin, 0 on the brows, in the eye and mouth openings and outside the oval.

    Soft at the oval's edge (hair and background lie beyond it) and round the brows (the warp moves their
    hair, and a ratio of hair against skin would paint a ghost brow); hard at the openings, whose inside is
    another material (eyes, teeth) that a skin ratio must not touch.
    """
    points = np.asarray(points, np.float64)[:, :2]
    oval = _oval(points, size).astype(np.uint8)
    fade = cv2.distanceTransform(oval, cv2.DIST_L2, 5) / max(1.0, EDGE_FADE * size)
    grow = max(1, round(OPENING_GROW * size / SIZE))
    openings = _polygon_mask(points, (fr.RIGHT_EYE, fr.LEFT_EYE, fr.LIPS_INNER), size, grow)
    brows = _hulls(points, (fr.RIGHT_BROW, fr.LEFT_BROW), size).astype(np.float32)
    brows = cv2.GaussianBlur(cv2.dilate(brows, np.ones((2 * grow + 1,) * 2, np.uint8)), (0, 0), grow)
    return (np.clip(fade, 0.0, 1.0) * ~openings * (1.0 - brows)).astype(np.float32)


def skin_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(3,) float: the median colour of the face's bare skin (no eyes, brows, lips), what lighting makes of it."""
    points = np.asarray(points, np.float64)[:, :2]
    size = image.shape[0]
    grow = max(1, round(3 * size / SIZE))
    features = _polygon_mask(points, (fr.RIGHT_EYE, fr.LEFT_EYE, fr.LIPS_OUTER), size, grow)
    bare = skin_weight(points, size) > 0.5
    bare &= ~features
    pixels = image[bare] if bare.any() else image.reshape(-1, 3)
    return np.median(pixels.astype(np.float64), axis=0)


def skin_light(image: np.ndarray, points: np.ndarray) -> float:
    """The luminance of the face's bare skin (`skin_colour`)."""
    return float(luminance(skin_colour(image, points)))


def luminance(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def interior_reference(skin: np.ndarray) -> float:
    """The brightness a mouth interior is measured against and restored from: the skin's luminance, compressed.

    Teeth and tongue have their own colours: what their brightness shares with the skin's is the photo's exposure,
    not the person's pigment, and in one photo the two cannot be told apart. Checked on real smiles (the brightest
    30 % inside the inner lips against the prediction from the same person's neutral photo; 0-255, mean over
    channels), interior over the skin's RGB (before) / over its luminance^0 (a fixed colour) / ^0.3 / ^0.5 / ^1:
    London tuning half (4 smiles with teeth) 33.6 / 23.2 / 16.0 / 18.1 / 30.5, held-out half (3) 18.3 / 25.1 /
    18.7 / 14.8 / 16.7, openpeople P001-P010 leaving each out 27.0 / 13.8 / 15.1 / 15.5 / 24.9 (with
    INTERIOR_CHROMA's 0.5 at ^0.5: 18.0 / 15.5). Over the skin's RGB, the training people's warm skin (its blue half
    its red) turned pale faces' teeth bluish-white and clipped; over its luminance (^1) pale faces' teeth clipped
    in red: yellow. These are studio photos of one exposure, where a fixed colour does well; 0.5 rather than the
    tuning half's 0.3 keeps the teeth of a dim photo from glowing (its skin is dark for the exposure's sake, and
    so are its teeth).
    """
    light = float(luminance(np.asarray(skin, np.float32)))
    return INTERIOR_PIVOT * (max(light, 1.0) / INTERIOR_PIVOT) ** INTERIOR_GAMMA


def outside_iris(points: np.ndarray, iris: tuple[int, ...], centre: int, size: int) -> np.ndarray:
    """(size, size) bool: away from one iris (1.1x its mean radius round `centre`), where an eye opening shows white."""
    radius = 1.1 * np.linalg.norm(points[list(iris)] - points[centre], axis=1).mean()
    ys, xs = np.mgrid[0:size, 0:size]
    return (xs - points[centre, 0]) ** 2 + (ys - points[centre, 1]) ** 2 > radius**2


def sclera_colour(image: np.ndarray, points: np.ndarray, skin: np.ndarray) -> np.ndarray | None:
    """(3,) float: the colour of the whites of the eyes (the brighter half of each eye opening outside the iris), or
    None where too little of them shows or what shows is too dark, against the face's `skin` colour
    (`skin_colour`), to be an eye white."""
    points = np.asarray(points, np.float64)[:, :2]
    size = image.shape[0]
    white = np.zeros((size, size), bool)
    for eye, iris, centre in ((fr.RIGHT_EYE, fr.RIGHT_IRIS, fr.RIGHT_EYE_CENTER),
                              (fr.LEFT_EYE, fr.LEFT_IRIS, fr.LEFT_EYE_CENTER)):  # fmt: skip
        opening = cv2.erode(_polygon_mask(points, (eye,), size).astype(np.uint8), np.ones((3, 3), np.uint8))
        white |= opening.astype(bool) & outside_iris(points, iris, centre, size)
    pixels = image[white].astype(np.float64)
    if len(pixels) < SCLERA_MIN_PX * (size / SIZE) ** 2:
        return None
    light = luminance(pixels)
    colour = pixels[light >= np.median(light)].mean(axis=0)
    return colour if luminance(colour) >= SCLERA_MIN_LIGHT * luminance(skin) else None


def interior_scale(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(3,) float32: what the measured mouth interior is multiplied by on this face (an aligned crop and its
    landmarks): the skin's brightness (`interior_reference`) in the photo's white balance, read from the eye
    whites (`WHITE_HUE`), or from the skin's hue where they cannot be read (`SKIN_HUE`)."""
    skin = skin_colour(image, points)
    sclera = sclera_colour(image, points, skin)
    seen, usual = (skin, SKIN_HUE) if sclera is None else (sclera, WHITE_HUE)
    cast = (seen / max(float(luminance(seen)), 1.0) / np.asarray(usual)) ** CAST_SHARE
    return (interior_reference(skin) * cast / luminance(cast)).astype(np.float32)  # the light's colour only


# --- applying -----------------------------------------------------------------------------------------------------


def canonical_map(texture: ExpressionTexture, target: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 2) float32: for each pixel of a `size` crop whose face has `target` landmarks, where to
    read the canonical maps (SIZE px frame) — a warp from the canonical geometry onto the target's."""
    scale = size / SIZE
    mapping = backward_map(texture.shape * scale, np.asarray(target, np.float64)[:, :2], (size, size))
    return mapping / np.float32(scale)


def log_ratio_at(log_ratio: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """(size, size) float32: a canonical log ratio warped by `mapping` (0 where the canonical face has none)."""
    return cv2.remap(log_ratio, mapping[..., 0], mapping[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)  # fmt: skip


def restore_clipped(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: `image` (uint8 RGB) with each channel clipped at `CLIP_LEVEL` inside `where` (bool mask)
    raised to what the pixel's unclipped channels say it was, at the hue of the unclipped pixels there (skin). A
    pixel clipped in every channel gets the least light that clips them all at that hue: as bright as its partly
    clipped neighbours, not darker. A region with nothing unclipped keeps its record."""
    restored = image.astype(np.float32)
    clipped = image >= CLIP_LEVEL
    skin = where & ~clipped.any(axis=2)
    touched = where & clipped.any(axis=2)
    if not touched.any() or not skin.any():
        return restored
    pixels = restored[skin][:: max(1, int(skin.sum()) // 4096)]  # a few thousand pixels tell the hue
    hue = np.maximum(np.median(pixels / np.maximum(luminance(pixels), 1.0)[:, None], axis=0), 1e-3)
    values, known = restored[touched], ~clipped[touched]
    seen = known.any(axis=1)
    light = np.full(len(values), CLIP_LEVEL / hue.min(), np.float32)
    light[seen] = (values[seen] / hue * known[seen]).sum(axis=1) / known[seen].sum(axis=1)
    restored[touched] = np.where(known, values, np.maximum(values, light[:, None] * hue))
    return restored


def shade(image: np.ndarray, log_ratio: np.ndarray, lift: np.ndarray | None = None) -> np.ndarray:
    """`image` (uint8 RGB) times exp(`log_ratio`): darkening as skin darkens (`SHADE_CHANNELS`), brightening alike
    in every channel; times exp(`lift`) (H, W, 3), channel by channel, where given (`smile_fold_lift`).

    Darkening applies to the light before the camera clipped it (`restore_clipped`). Brightening stops where a
    channel would clip: past that the colour would shift towards yellow or white.
    """
    darker = log_ratio < 0
    darkening = np.minimum(log_ratio, 0)[..., None] * np.asarray(SHADE_CHANNELS, np.float32)
    exponent = darkening + np.maximum(log_ratio, 0)[..., None]
    brighter = log_ratio > 0
    if lift is not None:
        exponent, brighter = exponent + lift, brighter | (lift > 0).any(axis=2)
    ratio = np.exp(exponent, dtype=np.float32)
    brightest = np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])  # (faster than max(axis=2))
    headroom = np.float32(255.0) / np.maximum(brightest, 1).astype(np.float32)
    ratio = np.where(brighter[..., None], np.minimum(ratio, headroom[..., None]), ratio)
    light = restore_clipped(image, darker) if (brightest[darker] >= CLIP_LEVEL).any() else image
    return np.clip(light * ratio + np.float32(0.5), 0, 255).astype(np.uint8)


def deepened(log_ratio: np.ndarray, gain: float, broad_share: float = 1.0) -> np.ndarray:
    """The canonical log ratio with its lines and folds (the darkening finer than BROAD_SIGMA) times `gain`, its
    broad shading times `broad_share`, the fine brightening as measured.

    Broad shading and brightening are where a stronger texture shows first as a flaw: on pale skin, broad darkening
    round the mouth turns into a grey beard shadow, brightening into cream blobs.
    """
    broad = cv2.GaussianBlur(log_ratio, (0, 0), BROAD_SIGMA)
    fine = log_ratio - broad
    return np.float32(broad_share) * broad + np.where(fine < 0, np.float32(gain) * fine, fine)


@lru_cache(maxsize=1)
def _smile_folds() -> np.ndarray:
    """Where a smile's folds lie in joy's canonical frame: the darkening of its measured log ratio, broad
    (`BROAD_SIGMA`), positive."""
    return np.maximum(-cv2.GaussianBlur(shipped_textures()["joy"].log_ratio, (0, 0), BROAD_SIGMA), 0.0)


def smile_fold_lift(image: np.ndarray, target: np.ndarray, amount: float) -> np.ndarray | None:
    """(H, W, 3) float32 log ratio, channel by channel, that lifts the photo's OWN smile folds: `image` is a face
    crop of a smiling photo warped to `target` (crop px) by an expression that reverses `amount` of its smile
    (`action_units.smile_share` times the intensity). None when there is nothing to lift.

    The landmarks relax a smile, but its nasolabial folds stay in the pixels: fer read 0.53 joy in the tuning
    people's smiles edited to neutral. Dividing out joy's measured folds lifted the skin beside a person's own folds
    where theirs lie elsewhere (bright halos), and lifting luminance alone left each fold a thin orange line (a fold is
    redder than the skin beside it). Here each channel of the photo is lifted by its own darkness against the skin
    around (`FOLD_SURROUND`), only where joy's folds lie, by one share across a fold's profile: at most `FOLD_PRIOR`
    times joy's fold depth over the deepest darkness nearby (capped pixel by pixel, the shoulders of a deep fold
    lifted whole and its core in part: a thin drawn line where the crease had been).
    """
    if amount <= 0:
        return None
    size = image.shape[0]
    folds = log_ratio_at(_smile_folds(), canonical_map(shipped_textures()["joy"], target, size))
    fine = max(BLUR_SIGMA * size / SIZE, 0.5)
    colour = image.astype(np.float32)
    darkness = np.log(cv2.GaussianBlur(colour, (0, 0), FOLD_SURROUND * size) + 4.0) - np.log(_blur(colour, fine) + 4.0)
    grey = luminance(darkness)
    across = max(3, 2 * round(FOLD_SURROUND * size / 2) + 1)  # the share follows the fold's darkest line nearby
    deepest = cv2.dilate(np.maximum(grey, 0.0), np.ones((across, across), np.uint8))
    share = np.clip(FOLD_PRIOR * folds / np.maximum(deepest, 1e-3), 0.0, 1.0)
    return _blur((np.float32(amount) * share[..., None] * np.maximum(darkness, 0.0)).astype(np.float32), fine)


@lru_cache(maxsize=16)
def _deepened_map(label: str) -> np.ndarray:
    return deepened(shipped_textures()[label].log_ratio, GAINS.get(label, 1.0), BROAD_SHARE.get(label, 1.0))


def interior_for(texture: ExpressionTexture, mapping: np.ndarray, scale: np.ndarray) -> Interior:
    """The mouth interior at this photo's brightness and light (`interior_scale`), warped by `mapping`: ((size, size,
    3) RGB, (size, size) alpha)."""
    interior = cv2.remap(texture.interior, mapping[..., 0], mapping[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)  # fmt: skip
    alpha = cv2.remap(texture.interior_alpha, mapping[..., 0], mapping[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)  # fmt: skip
    return _unpremultiplied(interior, alpha) * np.asarray(scale, np.float32), alpha


def _unpremultiplied(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The interior's own colour where it is partly known. The maps hold colour x alpha (black where the mouth is
    closed); read between pixels or blurred, the rim takes in that black, and laid on through the alpha it would
    darken twice: a dark outline round the teeth. Read as colour, the interiors came closer to openpeople's real
    open mouths (bench/face_teeth.py, L1 0-255, held-out P008-P010): joy 22.6 -> 21.6, surprise 16.8 -> 16.4, fear
    28.6 -> 27.3 (disgust 28.1 -> 28.3)."""
    known = alpha > 1e-3  # a small part of the crop: only the mouth
    straight = np.zeros_like(colour)
    straight[known] = colour[known] / alpha[known][:, None]
    return straight


def soften_interior(interior: Interior, blur: float) -> Interior:
    """`interior` as soft as the photo (`sharpness.extra_blur`): colour and alpha blurred together, so the rim keeps
    the interior's colour and only its coverage fades. Blurred apart, the teeth of the default's smiles on GENKI-4K
    web photos (blur 1-2 px) filled 64 % of the opening (the share brighter than 3/4 of the skin; the opening's mean
    0.89 of the skin's), real smiles' 84 % (0.99); together 71 % (0.92) (bench/face_teeth.py)."""
    if blur <= 0:
        return interior
    colour, alpha = interior
    rows, cols = np.nonzero(alpha.any(axis=1))[0], np.nonzero(alpha.any(axis=0))[0]
    if not len(rows):
        return interior
    # Only round the mouth: beyond the blur's reach of it both maps are 0 and stay 0 (a whole 768 px crop cost 70 ms).
    reach = int(np.ceil(4 * blur)) + 2  # past OpenCV's kernel radius (4 sigma), so the box's border sees only zeros
    box = (slice(max(rows[0] - reach, 0), rows[-1] + reach + 1), slice(max(cols[0] - reach, 0), cols[-1] + reach + 1))
    softened, straight = np.zeros_like(alpha), np.zeros_like(colour)
    softened[box] = soften(alpha[box], blur)
    straight[box] = _unpremultiplied(soften(colour[box] * alpha[box][..., None], blur), softened[box])
    return straight, softened


def add_texture(image: np.ndarray, scale: np.ndarray, target: np.ndarray, amounts: Mapping[str, float],
                strength: float = 1.0, blur: float = 0.0, base: np.ndarray | None = None,
                lift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, Interior | None]:  # fmt: skip
    """The measured texture of each expression in `amounts` (at that amount times `strength`) on a face crop
    whose landmarks are `target` (crop px), e.g. the crop after the expression's warp, blurred by `blur` px (a
    photo softer than the studio portraits it was measured on: `sharpness.extra_blur`). `base`: a log ratio (H, W),
    already as soft as the photo, shaded in with it (the line closed lips meet on: `warp.lip_seam`); `lift`: the
    photo's own smile folds lifted, channel by channel (`smile_fold_lift`).

    Returns (the shaded crop, the log ratio it was shaded by (H, W), the mouth interior times this face's `scale`
    (`interior_scale`) with its alpha, or None). Sliders (and neutral) carry no texture.
    """
    textures = shipped_textures()
    size = image.shape[0]
    log_ratio = np.zeros(image.shape[:2], np.float32)
    interior = None
    for name, amount in amounts.items():
        if name not in textures or amount * strength <= 0:
            continue
        mapping = canonical_map(textures[name], target, size)
        log_ratio += np.float32(amount * strength) * log_ratio_at(_deepened_map(name), mapping)
        if interior is None:  # a preset is one expression; its mouth
            interior = mouth_interior(name, mapping, target, size, scale)
    log_ratio = soften(log_ratio, blur)
    if base is not None:
        log_ratio = log_ratio + base
    if interior is not None:
        interior = soften_interior(interior, blur)
    shaded = shade(image, log_ratio, lift) if log_ratio.any() or lift is not None else image
    return shaded, log_ratio, interior


def mouth_interior(label: str, mapping: np.ndarray, target: np.ndarray, size: int, scale: np.ndarray) -> Interior:
    """`label`'s mouth interior on the `target` landmarks (`mapping`: its canonical map, `scale`: `interior_scale`):
    its own measured one, or borrowed teeth (`TEETH_FROM`) as measured, in their light."""
    textures = shipped_textures()
    if label not in TEETH_FROM:
        interior = interior_for(textures[label], mapping, scale)
    else:
        donor = textures[TEETH_FROM[label]]
        interior = interior_for(donor, canonical_map(donor, target, size), scale)
    return soften_interior(interior, INTERIOR_ALIAS_SIGMA * size / SIZE)


# --- measuring (needs MediaPipe and the openpeople photos) ----------------------------------------------------------


def lay_onto(neutral: AlignedFace, expressive_image: np.ndarray, neutral_points: np.ndarray,
             expressive_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The expressive photo in the neutral's aligned frame (via the stable points): (crop, landmarks)."""
    from pipelines.face.expression_moves import STABLE_POINTS

    onto = similarity_matrix(expressive_points[list(STABLE_POINTS)], neutral_points[list(STABLE_POINTS)])
    matrix = neutral.matrix[:, :2] @ np.vstack([onto, [0, 0, 1]])[:2]
    matrix[:, 2] += neutral.matrix[:, 2]
    size = neutral.crop.shape[0]
    crop = cv2.warpAffine(expressive_image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return crop, transform_points(expressive_points, matrix)


def _to_shape(image: np.ndarray, points: np.ndarray, shape: np.ndarray) -> np.ndarray:
    mapping = backward_map(points, shape, image.shape[:2])
    return cv2.remap(image, mapping[..., 0], mapping[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _on_shape(neutral_crop: np.ndarray, neutral_points: np.ndarray, expressive_crop: np.ndarray,
              expressive_points: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Both photos of a pair (aligned crops, SIZE px) warped onto `shape`, as float32."""
    return (_to_shape(neutral_crop, neutral_points, shape).astype(np.float32),
            _to_shape(expressive_crop, expressive_points, shape).astype(np.float32))  # fmt: skip


def _blur(y: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    return cv2.GaussianBlur(y, (0, 0), sigma)


def _local_log_ratio(expressive: np.ndarray, neutral: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """log(expressive / neutral) of one channel after a small blur, less what changes slower than LOW_CUT: lines,
    folds and a bulge's shading, not the exposure or broad light of the two photos (a normalised blur over the
    skin alone, so the openings leave no halo)."""
    log_ratio = np.log((_blur(expressive) + 4.0) / (_blur(neutral) + 4.0))
    spread = LOW_CUT * SIZE
    return log_ratio - _blur(log_ratio * skin, spread) / np.maximum(_blur(skin, spread), 1e-3)


def pair_texture(neutral_crop: np.ndarray, neutral_points: np.ndarray, expressive_crop: np.ndarray,
                 expressive_points: np.ndarray, shape: np.ndarray) -> ExpressionTexture:  # fmt: skip
    """One person's texture: both photos (aligned crops, SIZE px) warped onto `shape`, then compared."""
    neutral, expressive = _on_shape(neutral_crop, neutral_points, expressive_crop, expressive_points, shape)
    skin = skin_weight(shape, SIZE)
    log_ratio = _local_log_ratio(luminance(expressive), luminance(neutral), skin)
    log_ratio = np.clip(log_ratio, *LOG_RATIO_RANGE) * skin
    opening = _polygon_mask(shape, (fr.LIPS_INNER,), SIZE).astype(np.float32)
    interior = expressive / np.float32(interior_reference(skin_colour(neutral_crop, neutral_points)))
    grey = luminance(interior)[..., None]
    interior = (grey + np.float32(INTERIOR_CHROMA) * (interior - grey)) * opening[..., None]
    return ExpressionTexture(shape, log_ratio.astype(np.float32), interior.astype(np.float32), opening)


def pair_shading_channels(neutral_crop: np.ndarray, neutral_points: np.ndarray, expressive_crop: np.ndarray,
                          expressive_points: np.ndarray, shape: np.ndarray) -> np.ndarray:  # fmt: skip
    """(3,): how fast each RGB channel darkens against the luminance where this pair's skin darkens (log ratio
    between -0.06 and -0.6: lines and folds, not a misregistered edge): the least-squares slope through 0."""
    neutral, expressive = _on_shape(neutral_crop, neutral_points, expressive_crop, expressive_points, shape)
    skin = skin_weight(shape, SIZE)
    log_ratio = _local_log_ratio(luminance(expressive), luminance(neutral), skin)
    darker = (skin > 0.9) & (log_ratio < -0.06) & (log_ratio > -0.6)
    x = log_ratio[darker]
    return np.array([np.dot(_local_log_ratio(expressive[..., c], neutral[..., c], skin)[darker], x) / np.dot(x, x)
                     for c in range(3)])  # fmt: skip


def lines_only(log_ratio: np.ndarray) -> np.ndarray:
    """`log_ratio` with its fine detail kept only where it is a line (a fold, a wrinkle), smooth elsewhere.

    Below a blur of DETAIL_SIGMA px the map holds lines and speckle; the structure tensor's coherence
    ((l1 - l2) / (l1 + l2))^2 is near 1 along a line and near 0 in a blotch. Speckle is what seven people's pores and
    stubble leave on the chin and cheeks, and laid on smooth skin it reads as dirt; the shading of a bulge is slow
    and stays in the blurred part.
    """
    smooth = cv2.GaussianBlur(log_ratio, (0, 0), DETAIL_SIGMA)
    gx, gy = cv2.Sobel(log_ratio, cv2.CV_32F, 1, 0), cv2.Sobel(log_ratio, cv2.CV_32F, 0, 1)
    xx, yy, xy = (cv2.GaussianBlur(g, (0, 0), 2 * DETAIL_SIGMA) for g in (gx * gx, gy * gy, gx * gy))
    root = np.sqrt((xx - yy) ** 2 + 4 * xy**2)
    coherence = (root / np.maximum(xx + yy, 1e-12)) ** 2
    return (smooth + (log_ratio - smooth) * coherence).astype(np.float32)


def lip_rim(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float32: 1 on the lips and LIP_RIM px (at SIZE) around them, soft-edged.

    There the people's ratios brighten in every emotion, as spots at the mouth corners and a band under a pouting
    lower lip: the dark lip edge and its shadow in the neutral photo against skin in the expressive one, i.e.
    where the landmarks put the lip line a little off. Laid on another person's lips, those spots are pale,
    yellowish blobs; darkening there (a smile's shadowed corners, the fold under the lower lip) is kept.
    """
    grow = max(1, round(LIP_RIM * size / SIZE))
    rim = _polygon_mask(np.asarray(points, np.float64)[:, :2], (fr.LIPS_OUTER,), size, grow).astype(np.float32)
    return cv2.GaussianBlur(rim, (0, 0), grow / 3)


def combined_log_ratio(log_ratios: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """(SIZE, SIZE): the shipped log ratio of the people's maps (P, SIZE, SIZE) on the canonical `shape`: their
    per-pixel median (one person's beard or mole is outvoted), fine detail only along lines (`lines_only`), no
    brightening on the lip rim (`lip_rim`)."""
    log_ratio = lines_only(np.median(log_ratios, axis=0))
    log_ratio = np.where(log_ratio > 0, log_ratio * (1.0 - lip_rim(shape, SIZE)), log_ratio)
    return (log_ratio * (skin_weight(shape, SIZE) > 0)).astype(np.float32)  # the blur spread into openings and brows


def across_mouth(shape: np.ndarray) -> np.ndarray:
    """(SIZE,): where each column of the canonical frame lies between the mouth corners of `shape`: 0 at the
    person's right corner, 1 at the left."""
    right, left = shape[fr.MOUTH_RIGHT_CORNER, 0], shape[fr.MOUTH_LEFT_CORNER, 0]
    return (np.arange(SIZE) - right) / (left - right)


def light_by_tenth(texture: ExpressionTexture) -> np.ndarray:
    """(10,): the mouth interior's mean brightness (over `interior_reference`) in each tenth of the way from the
    person's right mouth corner to the left, over the opening less its faint rim."""
    ys, xs = np.nonzero(texture.interior_alpha > 0.05)
    tenth = np.clip((across_mouth(texture.shape)[xs] * 10).astype(int), 0, 9)
    light = luminance(texture.interior[ys, xs]) / texture.interior_alpha[ys, xs]
    return np.array([light[tenth == k].mean() for k in range(10)])


def lit_to_the_corners(texture: ExpressionTexture) -> ExpressionTexture:
    """`texture` with its mouth interior brightened towards the corners: one gain per column of the canonical frame,
    taking the mean brightness of each of the outer three tenths of the opening from each corner (`light_by_tenth`)
    to `CORNER_LIGHT` at that tenth's centre, linear in between, 1 over the middle. The teeth keep their gaps and
    their colour."""
    measured = light_by_tenth(texture)
    wanted = np.concatenate([CORNER_LIGHT, measured[3:7], CORNER_LIGHT[::-1]])
    centres = (np.arange(10) + 0.5) / 10
    across = across_mouth(texture.shape)
    gain = np.interp(across, centres, wanted) / np.interp(across, centres, measured)
    return replace(texture, interior=texture.interior * gain[None, :, None].astype(texture.interior.dtype))


def mean_texture(textures: list[ExpressionTexture]) -> ExpressionTexture:
    """The people's texture (they share the canonical shape): `combined_log_ratio`, and the median mouth interior
    (one person's odd tooth is outvoted)."""
    shape = textures[0].shape
    return ExpressionTexture(shape, combined_log_ratio(np.array([t.log_ratio for t in textures]), shape),
                             *(np.median([getattr(t, part) for t in textures], axis=0)
                               for part in ("interior", "interior_alpha")))  # fmt: skip


Pair = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # the arguments of pair_texture


def measured_pairs(folder: Path, people: tuple[str, ...]) -> dict[str, dict[str, Pair]]:
    """label -> person -> (neutral crop, its landmarks, expressive crop, its landmarks, canonical shape): each
    openpeople pair laid into one aligned frame, on the canonical shape of `people`'s mean neutral face moved by
    that expression."""
    from pipelines.face.expression_moves import OPENPEOPLE_NAMES, detect_folder
    from pipelines.image_io import load_image

    names = [f"{p}_{e}.jpg" for p in people for e in ("neutral", *OPENPEOPLE_NAMES.values())]
    found = detect_folder(folder, [n for n in names if (folder / n).is_file()])
    neutrals = {p: align_face(load_image(folder / f"{p}_neutral.jpg"), found[f"{p}_neutral.jpg"], SIZE)
                for p in people if f"{p}_neutral.jpg" in found}  # fmt: skip
    canonical = np.mean([aligned.landmarks for aligned in neutrals.values()], axis=0).astype(np.float64)
    out: dict[str, dict[str, Pair]] = {}
    for label, tag in OPENPEOPLE_NAMES.items():
        shape = move_landmarks(canonical, {label: 1.0}).astype(np.float64)
        out[label] = {}
        for person, aligned in neutrals.items():
            name = f"{person}_{tag}.jpg"
            if name not in found:
                continue
            crop, points = lay_onto(aligned, load_image(folder / name), found[f"{person}_neutral.jpg"], found[name])
            out[label][person] = (aligned.crop, aligned.landmarks, crop, points, shape)
    return out


def measure(pairs: dict[str, dict[str, Pair]]) -> dict[str, dict[str, ExpressionTexture]]:
    """label -> person -> that person's texture (`measured_pairs`)."""
    return {label: {person: pair_texture(*pair) for person, pair in people.items()} for label, people in pairs.items()}


def shading_channels(pairs: dict[str, dict[str, Pair]]) -> np.ndarray:
    """(3,): `pair_shading_channels`, the mean over every pair: what SHADE_CHANNELS ships."""
    return np.mean([pair_shading_channels(*pair) for people in pairs.values() for pair in people.values()], axis=0)


def _explained(prediction: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> float:
    """Share of the true log ratio's energy that the prediction explains (1 = exact, 0 = as good as no texture)."""
    return 1.0 - float(np.sum(weight * (prediction - truth) ** 2) / max(np.sum(weight * truth**2), 1e-9))


def leave_one_out(per_person: dict[str, dict[str, ExpressionTexture]]) -> dict[str, dict[str, float]]:
    """label -> {how the map is made: mean explained share}: each person's real ratio predicted from the others'.

    "shipped": `combined_log_ratio`; "median", "mean": plain, over the other people; "one person":
    each other person alone, averaged over them.
    """
    scores: dict[str, dict[str, float]] = {}
    for label, people in per_person.items():
        rows: dict[str, list[float]] = {"shipped": [], "median": [], "mean": [], "one person": []}
        for person, truth in people.items():
            others = np.array([t.log_ratio for p, t in people.items() if p != person])
            weight = skin_weight(truth.shape, SIZE)
            rows["shipped"].append(_explained(combined_log_ratio(others, truth.shape), truth.log_ratio, weight))
            rows["median"].append(_explained(np.median(others, axis=0), truth.log_ratio, weight))
            rows["mean"].append(_explained(np.mean(others, axis=0), truth.log_ratio, weight))
            rows["one person"].append(np.mean([_explained(o, truth.log_ratio, weight) for o in others]))
        scores[label] = {name: float(np.mean(values)) for name, values in rows.items()}
    return scores


def save(textures: dict[str, ExpressionTexture], path: Path) -> None:
    arrays = {f"{label}/{part}": getattr(t, part).astype(np.float16 if part != "shape" else np.float32)
              for label, t in textures.items() for part in ("shape", "log_ratio", "interior", "interior_alpha")}
    np.savez_compressed(path, **arrays)


def main(argv: list[str] | None = None) -> int:
    """Measure the mean textures on openpeople's training people and save them, the teeth lit to the corners."""
    import argparse

    from pipelines.face.expression_moves import TRAIN_PEOPLE

    parser = argparse.ArgumentParser(prog="python -m pipelines.face.expression_texture", description=main.__doc__)
    parser.add_argument("folder", type=Path, help="faces-expressive/openpeople (P001_neutral.jpg, P001_happy.jpg, ...)")
    parser.add_argument("--out", type=Path, default=TEXTURE_FILE)
    args = parser.parse_args(argv)
    pairs = measured_pairs(args.folder, TRAIN_PEOPLE)
    per_person = measure(pairs)
    textures = {label: mean_texture(list(people.values())) for label, people in per_person.items()}
    for teeth in set(TEETH_FROM.values()):
        textures[teeth] = lit_to_the_corners(textures[teeth])
    save(textures, args.out)
    print(f"wrote {args.out} from {', '.join(TRAIN_PEOPLE)}; leave-one-person-out, share of a person's real "
          "expression texture explained by the others' map:")
    print("| expression | shipped | median | mean | one person |\n| --- | --- | --- | --- | --- |")
    for label, row in leave_one_out(per_person).items():
        print(f"| {label} | {row['shipped']:.3f} | {row['median']:.3f} | {row['mean']:.3f} | {row['one person']:.3f} |")
    red, green, blue = shading_channels(pairs)
    shipped = " / ".join(f"{c:.2f}" for c in SHADE_CHANNELS)
    print(f"Where a line or fold darkens skin, red / green / blue darken {red:.2f} / {green:.2f} / {blue:.2f} times "
          f"as fast as the luminance (SHADE_CHANNELS ships {shipped}, measured on real photos).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
