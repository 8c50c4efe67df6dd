"""Training data for the face model: find, align and cache faces once; serve augmented batches on any device.

`build_cache` runs MediaPipe (CPU) over a folder of photos and stores, per face, an aligned crop with
a margin, its landmarks and the outline of the real photo inside the crop, in one .npz (JPEG bytes, no
pickle) small enough to copy to a GPU machine that has no MediaPipe. `FaceSamples` then makes each
training sample from the cache: a random similarity warp (scale, rotation, shift, mirror with the
left/right landmark swap), colour jitter, a mask and a condition map drawn from the warped landmarks.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import cv2
import numpy as np
import torch

from pipelines.errors import InputError
from pipelines.face.align import align_face
from pipelines.face.eyes import mirrored_face
from pipelines.face.landmarks import (
    LEFT_EYE_OUTER,
    LEFT_LOWER_LID,
    LEFT_UPPER_LID,
    LOWER_LIP_INNER,
    MIRROR,
    NOSE_TIP,
    RIGHT_EYE_INNER,
    RIGHT_EYE_LOWER_LID,
    RIGHT_EYE_OUTER,
    RIGHT_EYE_UPPER_LID,
    RIGHT_LOWER_LID,
    RIGHT_UPPER_LID,
    UPPER_LIP_INNER,
)
from pipelines.face.simmim.conditioning import render_condition
from pipelines.face.simmim.masks import random_mask, region_mask

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
CACHE_VERSION = 1
HELD_OUT_FRACTION = 0.05  # of a folder's faces, chosen by file-name hash: never trained on, used by eval-simmim
DETECT_PAD = 0.5  # tight face crops defeat MediaPipe's face detector; padding each side by half the size fixes it
JPEG_QUALITY = 95
# Faces turned further than this (`turn`) are left out: a profile's far eye and mouth are foreshortened or hidden,
# nothing like the frontal faces the pipeline edits. US Congress portraits turn at most 0.18, openpeople's 0.07.
MAX_TURN = 0.3


def held_out(name: str) -> bool:
    """Stable train/held-out split by file name (the same on every machine and every run)."""
    digest = hashlib.sha1(Path(name).name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_FRACTION


def research_only_files(folder: Path) -> set[str]:
    """File names a MANIFEST.csv marks research_only=yes (empty when there is no manifest)."""
    manifest = folder / "MANIFEST.csv"
    if not manifest.is_file():
        return set()
    with manifest.open(newline="") as handle:
        rows = csv.DictReader(handle)
        if "research_only" not in (rows.fieldnames or []):
            return set()
        return {row["file"] for row in rows if row.get("research_only", "").strip().lower() in ("yes", "true", "1")}


def list_photos(folder: Path, public_domain_only: bool = False, exclude: tuple[str, ...] = ()) -> list[Path]:
    """The photos under `folder`, minus research-only files (when asked) and names matching an `exclude` glob."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"No folder of face photos at {folder}.")
    photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                    and not any(fnmatch(p.name, pattern) for pattern in exclude))  # fmt: skip
    if public_domain_only:
        manifest = folder / "MANIFEST.csv"
        if not manifest.is_file():
            raise InputError(f"--public-domain-only needs {manifest} with a research_only column to know which files are free.")
        restricted = research_only_files(folder)
        photos = [p for p in photos if p.name not in restricted]
    if not photos:
        raise InputError(f"No photos ({', '.join(IMAGE_SUFFIXES)}) in {folder}.")
    return photos


def detect_largest_face(landmarker, image: np.ndarray):
    """Landmarks of the largest face, detected on an edge-padded copy so tight crops still work."""
    faces = landmarker.detect(image)
    if faces:
        return faces[0].landmarks
    pad = int(round(DETECT_PAD * max(image.shape[:2])))
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    faces = landmarker.detect(padded)
    if not faces:
        return None
    landmarks = faces[0].landmarks.copy()
    landmarks[:, :2] -= pad
    return landmarks


def turn(points: np.ndarray) -> float:
    """How far a face is turned: the two nose-tip-to-outer-eye-corner distances' difference over their sum."""
    right = np.linalg.norm(points[NOSE_TIP, :2] - points[RIGHT_EYE_OUTER, :2])
    left = np.linalg.norm(points[NOSE_TIP, :2] - points[LEFT_EYE_OUTER, :2])
    return float(abs(right - left) / max(right + left, 1e-9))


def build_cache(
    folders: Path | str | list[Path | str],
    out_path: Path | str,
    image_size: int = 128,
    margin: int = 16,
    public_domain_only: bool = False,
    limit: int | None = None,
    progress: bool = True,
    region: str = "face",
    exclude: tuple[str, ...] = (),
    max_turn: float = MAX_TURN,
) -> dict:
    """Detect, align (to `region`'s window) and store every face under `folders`; returns counts.

    `margin` px of context on each side; `exclude` holds file-name globs to leave out (people kept for
    evaluation, e.g. "P008_*"); faces turned further than `max_turn` (`turn`) are skipped.
    """
    from pipelines.face.detector import FaceLandmarker
    from pipelines.image_io import load_image

    folders = [Path(f) for f in (folders if isinstance(folders, (list, tuple)) else [folders])]
    listed = [(folder, path) for folder in folders for path in list_photos(folder, public_domain_only, exclude)]
    listed = listed[:limit]
    photos = [path for _, path in listed]
    restricted = set().union(*(research_only_files(folder) for folder in folders))
    canvas = image_size + 2 * margin
    shift = np.array([[0, 0, margin], [0, 0, margin]], dtype=np.float64)
    blobs, landmarks, quads, names, flags = [], [], [], [], []
    skipped = []
    iterator = listed
    if progress:
        from tqdm import tqdm

        iterator = tqdm(listed, desc="finding faces", unit="photo")
    with FaceLandmarker.from_pretrained(num_faces=1) as landmarker:
        for folder, path in iterator:
            try:
                image = load_image(path)
            except ValueError as err:
                skipped.append(f"{path.name}: {err}")
                continue
            points = detect_largest_face(landmarker, image)
            if points is None:
                skipped.append(f"{path.name}: no face found")
                continue
            turned = turn(points)
            if turned > max_turn:
                skipped.append(f"{path.name}: turned away ({turned:.2f} > {max_turn})")
                continue
            for view, view_points in _views(image, points[:, :2], region):
                aligned = align_face(view, view_points, image_size, region)
                matrix = aligned.matrix + shift  # the same alignment, with `margin` px more on every side
                crop = cv2.warpAffine(view, matrix, (canvas, canvas), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if not ok:
                    skipped.append(f"{path.name}: JPEG encoding failed")
                    continue
                height, width = image.shape[:2]
                corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)
                blobs.append(jpeg.reshape(-1))
                landmarks.append((aligned.landmarks + margin).astype(np.float32))
                quads.append(corners @ matrix[:, :2].T + matrix[:, 2])
                names.append(f"{folder.name}/{path.relative_to(folder)}")  # both eyes of a photo share its split
                flags.append(path.name in restricted)
    if not blobs:
        raise InputError(f"No usable face in any of the {len(photos)} photos under {', '.join(map(str, folders))}"
                         f" ({skipped[0]}{', ...' if len(skipped) > 1 else ''}).")
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out_path,
        version=np.array(CACHE_VERSION),
        region=np.array(region),
        image_size=np.array(image_size),
        margin=np.array(margin),
        jpeg=np.concatenate(blobs),
        offsets=offsets,
        landmarks=np.stack(landmarks).astype(np.float16) if canvas <= 1024 else np.stack(landmarks),
        quads=np.stack(quads).astype(np.float32),
        names=np.array(names, dtype=str),
        research_only=np.array(flags, dtype=bool),
        held_out=np.array([held_out(n) for n in names], dtype=bool),
    )
    return {"faces": len(blobs), "photos": len(photos), "skipped": skipped}


def _views(image: np.ndarray, points: np.ndarray, region: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The photo as the region's model sees it: once, or for the eye model also mirrored (its left eye as a right)."""
    return [(image, points)] + ([mirrored_face(image, points)] if region == "eye" else [])


@dataclass
class FaceCache:
    """The decoded cache: crops (N, C, C, 3) uint8 with C = image_size + 2 * margin, landmarks in crop pixels."""

    crops: np.ndarray
    landmarks: np.ndarray  # (N, 478, 2) float32
    quads: np.ndarray  # (N, 4, 2) float32: the source photo's corners in crop pixels
    names: np.ndarray
    research_only: np.ndarray
    held_out: np.ndarray
    image_size: int
    margin: int
    region: str = "face"  # the window of the aligned face the crops show (pipelines.face.align.REGION_BOXES)

    @classmethod
    def load(cls, path: Path | str) -> "FaceCache":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No face cache at {path}; build it with `train-simmim --data DIR --cache {path}`.")
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"]) != CACHE_VERSION:
                raise InputError(f"{path} is a version {int(data['version'])} cache; rebuild it (delete the file).")
            offsets = data["offsets"]
            jpeg = data["jpeg"]
            crops = np.stack([
                cv2.cvtColor(cv2.imdecode(jpeg[offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                for i in range(len(offsets) - 1)
            ])  # fmt: skip
            return cls(
                crops=crops,
                landmarks=data["landmarks"].astype(np.float32),
                quads=data["quads"].astype(np.float32),
                names=data["names"],
                research_only=data["research_only"],
                held_out=data["held_out"],
                image_size=int(data["image_size"]),
                margin=int(data["margin"]),
                region=str(data["region"]) if "region" in data.files else "face",
            )

    def select(self, keep: np.ndarray) -> "FaceCache":
        return FaceCache(self.crops[keep], self.landmarks[keep], self.quads[keep], self.names[keep],
                         self.research_only[keep], self.held_out[keep], self.image_size, self.margin, self.region)  # fmt: skip

    def __len__(self) -> int:
        return len(self.crops)


@dataclass
class Augment:
    """Training-time variation. Small on purpose: the pipeline always feeds aligned, upright faces."""

    scale: float = 0.08  # zoom in or out by up to 8 %
    rotate_deg: float = 8.0
    shift_px: float = 4.0
    flip: float = 0.5  # chance of a mirror image (landmarks swap left and right)
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.25
    channel_gain: float = 0.06  # white balance
    region_mask_share: float | None = None  # share of face-region masks (the rest random); None: REGION_MASK_SHARE
    random_ratio: tuple[float, float] = (0.10, 0.75)
    random_block: int = 2  # random masks come in 2x2-patch squares (16 px at patch 8)
    condition_dropout: float = 0.1  # sometimes train without a condition, so the model also works unsteered


# Per model region: the face regions a region mask hides, each drawn with this chance (the first if none is).
REGION_CHANCE = {
    "face": {"mouth": 0.6, "eyes": 0.5, "brows": 0.3, "cheeks": 0.25},
    # The mouth model must paint a whole mouth interior (teeth, cavity) from the lip drawing, often the lips too.
    "mouth": {"mouth_interior": 0.7, "mouth": 0.3},
    # The eye model must paint what a lid that rises uncovers (white, the iris's top, the lid's edge and lashes)
    # from the drawn lid and iris, seeing the rest of the eye; sometimes the whole eye.
    "eye": {"upper_lids": 0.8, "eyes": 0.2},
}
REGION_MASK_SHARE = {"face": 0.5, "mouth": 0.8, "eye": 0.85}  # the rest of the batches get random patch squares
SAMPLE_REGIONS = {"face": ("mouth", "eyes"), "mouth": ("mouth_interior",), "eye": ("upper_lids",)}  # sample grids hide
# Eye models: in use the mask covers the lid's old edge and its new, higher one; training widens the upper-lid
# mask the same way, as if the lid had come down from up to this share of the eye's height.
LID_DROP = 0.6


def augment_face(crop: np.ndarray, landmarks: np.ndarray, quad: np.ndarray, size: int, margin: int,
                 augment: Augment, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One random view of a cached face: (image (S,S,3) float32 0..1, landmarks (478,2), valid (S,S) bool)."""
    a = augment
    scale = rng.uniform(1 - a.scale, 1 + a.scale)
    angle = np.deg2rad(rng.uniform(-a.rotate_deg, a.rotate_deg))
    shift = rng.uniform(-a.shift_px, a.shift_px, size=2)
    centre = (size - 1) / 2
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    # canvas pixel -> output pixel: undo the margin, turn and zoom about the face centre, shift
    offset = centre + shift - rotation @ np.full(2, centre + margin)
    matrix = np.hstack([rotation, offset[:, None]])
    flip = rng.random() < a.flip
    if flip:  # then mirror about the vertical centre line
        matrix = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0.0, 0.0, 1.0]])
    image = cv2.warpAffine(crop, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    photo = np.zeros(crop.shape[:2], dtype=np.uint8)
    cv2.fillConvexPoly(photo, np.round(quad).astype(np.int32), 1)  # where the canvas holds real photo pixels
    valid = cv2.warpAffine(photo, matrix, (size, size), flags=cv2.INTER_NEAREST, borderValue=0).astype(bool)
    points = landmarks @ matrix[:, :2].T + matrix[:, 2]
    if flip:
        points = points[list(MIRROR)]
    image = colour_jitter(image, a, rng)
    return image, points.astype(np.float32), valid


def colour_jitter(image: np.ndarray, a: Augment, rng: np.random.Generator) -> np.ndarray:
    """(S,S,3) uint8 -> float32 0..1 with a random white balance, brightness, contrast and saturation.

    Each step is linear in the pixel (gains; contrast about the gained image's mean; saturation about each pixel's
    grey), so they fold into one 3x3 matrix and offset applied in a single pass: a seventh of the time of applying
    them one by one, and augmentation is what bounds a GPU run's steps when its machine has few cores.
    """
    gain = rng.uniform(1 - a.brightness, 1 + a.brightness) * rng.uniform(1 - a.channel_gain, 1 + a.channel_gain, 3)
    contrast = rng.uniform(1 - a.contrast, 1 + a.contrast)
    saturation = rng.uniform(1 - a.saturation, 1 + a.saturation)
    mean = float(np.dot(cv2.mean(image)[:3], gain)) / 3 / 255  # the gained image's mean over pixels and channels
    to_grey = (saturation * np.eye(3) + (1 - saturation) / 3) * contrast * gain / 255  # rows: output channels
    matrix = np.hstack([to_grey, np.full((3, 1), (1 - contrast) * mean)])  # saturation keeps a grey offset grey
    return np.clip(cv2.transform(image.astype(np.float32), matrix), 0.0, 1.0)


def training_mask(landmarks: np.ndarray, size: int, patch: int, augment: Augment, rng: np.random.Generator,
                  region: str = "face") -> np.ndarray:  # fmt: skip
    """(G*G,) bool: random patch squares or a mix of face regions drawn from the landmarks (`region`'s model)."""
    grid = size // patch
    share = REGION_MASK_SHARE[region] if augment.region_mask_share is None else augment.region_mask_share
    if rng.random() >= share:
        ratio = rng.uniform(*augment.random_ratio)
        return random_mask(grid, ratio, rng, block=augment.random_block).reshape(-1)
    chances = REGION_CHANCE[region]
    regions = [name for name, chance in chances.items() if rng.random() < chance] or [next(iter(chances))]
    landmark_sets = [landmarks]
    if region == "eye":
        landmark_sets.append(lowered_lids(landmarks, rng.uniform(0.0, LID_DROP)))
    return region_mask(landmark_sets, regions, size, patch).reshape(-1)


def lowered_lids(landmarks: np.ndarray, share: float) -> np.ndarray:
    """The landmarks with each upper lid's edge moved `share` of the way down to its lower lid (corners kept)."""
    points = np.array(landmarks, dtype=np.float64)
    for upper_lid, lower_lid in ((RIGHT_UPPER_LID, RIGHT_LOWER_LID), (LEFT_UPPER_LID, LEFT_LOWER_LID)):
        upper, lower = list(upper_lid[1:-1]), list(lower_lid[-2:0:-1])  # the points above and below, inner to outer
        points[upper] += share * (points[lower] - points[upper])
    return points


class FaceSamples(torch.utils.data.Dataset):
    """Map-style dataset keyed by (face index, seed): the same key gives the same augmented sample."""

    def __init__(self, cache: FaceCache, patch_size: int, augment: Augment | None = None):
        self.cache = cache
        self.size = cache.image_size
        self.patch = patch_size
        self.augment = augment or Augment()

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = key
        rng = np.random.default_rng(seed)
        c = self.cache
        image, points, valid = augment_face(c.crops[index], c.landmarks[index], c.quads[index], self.size, c.margin,
                                            self.augment, rng)  # fmt: skip
        mask = training_mask(points, self.size, self.patch, self.augment, rng, c.region)
        condition = render_condition(points, self.size)
        if rng.random() < self.augment.condition_dropout:
            condition[:] = 0.0
        return {
            "pixel_values": torch.from_numpy(image).permute(2, 0, 1) * 2 - 1,
            "bool_masked_pos": torch.from_numpy(mask),
            "condition": torch.from_numpy(condition),
            "valid": torch.from_numpy(valid)[None],
            "landmarks": torch.from_numpy(points),
        }


class RandomKeys(torch.utils.data.Sampler):
    """Endless (face index, seed) keys, drawn from one seeded generator: a run is reproducible."""

    def __init__(self, count: int, seed: int, start: int = 0, chances: np.ndarray | None = None):
        self.count, self.seed, self.start, self.chances = count, seed, start, chances

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.start])
        while True:
            yield int(rng.choice(self.count, p=self.chances)), int(rng.integers(2**62))


# Mouth models: a wide-open mouth (the dark cavity, both rows of teeth) is rare in portraits, so faces whose lips
# stand this far apart (a fraction of the crop side) are drawn this many times as often.
WIDE_OPEN_GAP = 0.15
WIDE_OPEN_WEIGHT = 4.0
# Eye models: so are eyes open wide enough to show white above the iris (lid gap over eye width; a portrait's
# median is 0.31, the surprised and scared photos' 0.41).
WIDE_EYE_OPENING = 0.37


def sample_chances(cache: FaceCache) -> np.ndarray | None:
    """How often each face is drawn (None: uniformly); mouth and eye caches favour wide-open mouths and eyes."""
    points = cache.landmarks
    if cache.region == "mouth":
        wide = np.linalg.norm(points[:, LOWER_LIP_INNER] - points[:, UPPER_LIP_INNER], axis=1) > WIDE_OPEN_GAP * cache.image_size
    elif cache.region == "eye":
        gap = np.linalg.norm(points[:, RIGHT_EYE_UPPER_LID] - points[:, RIGHT_EYE_LOWER_LID], axis=1)
        wide = gap > WIDE_EYE_OPENING * np.linalg.norm(points[:, RIGHT_EYE_OUTER] - points[:, RIGHT_EYE_INNER], axis=1)
    else:
        return None
    weights = np.where(wide, WIDE_OPEN_WEIGHT, 1.0)
    return weights / weights.sum()


def batches(cache: FaceCache, patch_size: int, batch_size: int, augment: Augment | None = None, seed: int = 0,
            start: int = 0, workers: int = 0):  # fmt: skip
    """An endless iterator of augmented batches (dicts of CPU tensors)."""
    samples = FaceSamples(cache, patch_size, augment)
    loader = torch.utils.data.DataLoader(
        samples, batch_size=batch_size, sampler=RandomKeys(len(cache), seed, start, sample_chances(cache)),
        num_workers=workers,
        persistent_workers=workers > 0, pin_memory=torch.cuda.is_available(),
    )  # fmt: skip
    return iter(loader)


def fixed_batch(cache: FaceCache, patch_size: int, count: int, regions: tuple[str, ...] | None = None) -> dict:
    """`count` un-augmented faces with a region mask, for sample grids that are comparable across steps."""
    regions = SAMPLE_REGIONS[cache.region] if regions is None else regions
    size = cache.image_size
    crop = slice(cache.margin, cache.margin + size)
    items = []
    for index in range(min(count, len(cache))):
        points = cache.landmarks[index] - cache.margin
        items.append({
            "pixel_values": torch.from_numpy(cache.crops[index, crop, crop].astype(np.float32) / 127.5 - 1).permute(2, 0, 1),
            "bool_masked_pos": torch.from_numpy(region_mask([points], list(regions), size, patch_size).reshape(-1)),
            "condition": torch.from_numpy(render_condition(points, size)),
        })  # fmt: skip
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}
