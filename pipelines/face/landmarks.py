"""Named MediaPipe face-mesh landmark indices, so no other module writes a bare landmark number.

MediaPipe's names follow the subject: LEFT_EYE is the person's left eye, which appears on the RIGHT
side of a (non-mirrored) photo. The contours are MediaPipe's own `FaceLandmarksConnections`
(lips, eyes, brows, irises, face oval) written out in drawing order; the cheek patches were picked
by plotting the mesh on a frontal portrait. `MIRROR` maps each landmark to its left/right twin, for
flipping a face horizontally (training augmentation) without turning a left eye into a right one.
"""

from __future__ import annotations

# --- contours (closed loops, in drawing order) ---------------------------------------------------------------
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
# Each lid's edge, corners included: the upper inner corner -> over the top -> outer corner (the second half of
# each eye loop), the lower outer corner -> along the bottom -> inner corner (the first half).
RIGHT_UPPER_LID = RIGHT_EYE[8:] + RIGHT_EYE[:1]
LEFT_UPPER_LID = LEFT_EYE[8:] + LEFT_EYE[:1]
RIGHT_LOWER_LID = RIGHT_EYE[:9]
LEFT_LOWER_LID = LEFT_EYE[:9]
# Brows: the lower edge outer->inner, then the upper edge inner->outer, so the tuple is a closed outline.
RIGHT_BROW = (46, 53, 52, 65, 55, 107, 66, 105, 63, 70)
LEFT_BROW = (276, 283, 282, 295, 285, 336, 296, 334, 293, 300)
RIGHT_IRIS = (469, 470, 471, 472)
LEFT_IRIS = (474, 475, 476, 477)
RIGHT_CHEEK = (117, 118, 101, 36, 205, 187, 147, 123, 116)
LEFT_CHEEK = (346, 347, 330, 266, 425, 411, 376, 352, 345)
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2)  # open line, top of the bridge to under the tip
NOSE_WINGS = (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64)  # closed loop round the nostrils
NOSE = tuple(dict.fromkeys(NOSE_BRIDGE + NOSE_WINGS))  # every nose point once
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip

# --- single points ----------------------------------------------------------------------------------------------
MOUTH_RIGHT_CORNER = 61  # the person's right mouth corner (image left)
MOUTH_LEFT_CORNER = 291
UPPER_LIP_TOP = 0  # outer edge of the upper lip, on the midline
LOWER_LIP_BOTTOM = 17
UPPER_LIP_INNER = 13  # inner edges: the gap between them is how open the mouth is
LOWER_LIP_INNER = 14
CHIN = 152
FOREHEAD_TOP = 10
NOSE_TIP = 1
RIGHT_EYE_OUTER = 33
RIGHT_EYE_INNER = 133
LEFT_EYE_INNER = 362
LEFT_EYE_OUTER = 263
RIGHT_EYE_UPPER_LID = 159
RIGHT_EYE_LOWER_LID = 145
LEFT_EYE_UPPER_LID = 386
LEFT_EYE_LOWER_LID = 374
RIGHT_EYE_CENTER = 468  # iris centres: the most stable eye positions for alignment
LEFT_EYE_CENTER = 473
RIGHT_BROW_INNER = 107
RIGHT_BROW_OUTER = 70
RIGHT_BROW_TOP = 105
LEFT_BROW_INNER = 336
LEFT_BROW_OUTER = 300
LEFT_BROW_TOP = 334

# --- regions the inpainting model masks and repaints ------------------------------------------------------------
REGIONS: dict[str, tuple[int, ...]] = {
    "mouth": LIPS_OUTER + LIPS_INNER,
    "eyes": RIGHT_EYE + LEFT_EYE + RIGHT_IRIS + LEFT_IRIS + (RIGHT_EYE_CENTER, LEFT_EYE_CENTER),
    "brows": RIGHT_BROW + LEFT_BROW,
    "cheeks": RIGHT_CHEEK + LEFT_CHEEK,
    "mouth_interior": LIPS_INNER,  # the opening between the lips: teeth, tongue, the dark cavity
    "upper_lids": RIGHT_UPPER_LID + LEFT_UPPER_LID,
}
# The same regions as separate closed outlines (each eye, each brow on its own), for filling masks.
REGION_PARTS: dict[str, tuple[tuple[int, ...], ...]] = {
    "mouth": (LIPS_OUTER,),
    "eyes": (RIGHT_EYE, LEFT_EYE),  # the irises sit inside the lids (and inside the dilation)
    "brows": (RIGHT_BROW, LEFT_BROW),
    "cheeks": (RIGHT_CHEEK, LEFT_CHEEK),
    "mouth_interior": (LIPS_INNER,),
    # Between each upper lid's edge and the line joining the eye corners: what an eye that opens wider uncovers.
    "upper_lids": (RIGHT_UPPER_LID, LEFT_UPPER_LID),
}

# --- left/right mirror ------------------------------------------------------------------------------------------
NUM_MESH_POINTS = 468  # face mesh without the irises
NUM_LANDMARKS = 478
# The mesh's points on the facial midline map to themselves under a horizontal flip.
MIDLINE = (0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 94, 151, 152, 164, 168, 175, 195, 197, 199, 200)
# The mesh numbers one side's points 0..247 (midline excluded) and their twins 248..467 in the same order;
# this was checked by matching landmarks detected on 12 frontal portraits and on their mirror images.
_FIRST_TWIN = 248
# Iris points: centre, then four points going round; the mirror of "image-right of the right iris" is
# "image-left of the left iris", so the ring order reverses between the eyes.
_IRIS_TWINS = ((RIGHT_EYE_CENTER, LEFT_EYE_CENTER), (469, 476), (470, 475), (471, 474), (472, 477))


def _mirror_table() -> tuple[int, ...]:
    table = list(range(NUM_LANDMARKS))
    one_side = [i for i in range(_FIRST_TWIN) if i not in MIDLINE]
    for a, b in zip(one_side, range(_FIRST_TWIN, NUM_MESH_POINTS), strict=True):
        table[a], table[b] = b, a
    for a, b in _IRIS_TWINS:
        table[a], table[b] = b, a
    return tuple(table)


MIRROR: tuple[int, ...] = _mirror_table()  # landmarks of a flipped face: flipped_xy[MIRROR] with x -> width - x
