"""Training data for the face model: find, align and cache faces once; serve augmented batches on any device.

`build_cache` runs MediaPipe (CPU) over a folder of photos and stores, per face, an aligned crop with
a margin, its landmarks and the outline of the real photo inside the crop, in one .npz (JPEG bytes, no
pickle) small enough to copy to a GPU machine that has no MediaPipe. `FaceBatches` then does all
augmentation on the training device in batches: a random similarity warp (scale, rotation, shift,
mirror), colour jitter, masks and condition maps drawn from the warped landmarks.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from pipelines.face_align import align_face
from pipelines.face_regions import MIRROR
from pipelines.simmim.conditioning import render_condition_batch
from pipelines.simmim.masks import REGION_NAMES, random_mask, region_pixel_mask_batch
from pipelines.simmim.raster import inside_outline, pixel_centres

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
CACHE_VERSION = 1
HELD_OUT_FRACTION = 0.05  # of a folder's faces, chosen by file-name hash: never trained on, used by eval-simmim
DETECT_PAD = 0.5  # tight face crops defeat MediaPipe's face detector; padding each side by half the size fixes it
JPEG_QUALITY = 95


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


def list_photos(folder: Path, public_domain_only: bool = False) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"No folder of face photos at {folder}.")
    photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if public_domain_only:
        manifest = folder / "MANIFEST.csv"
        if not manifest.is_file():
            raise ValueError(f"--public-domain-only needs {manifest} with a research_only column to know which files are free.")
        restricted = research_only_files(folder)
        photos = [p for p in photos if p.name not in restricted]
    if not photos:
        raise ValueError(f"No photos ({', '.join(IMAGE_SUFFIXES)}) in {folder}.")
    return photos


def _detect_padded(landmarker, image: np.ndarray):
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


def build_cache(
    folder: Path | str,
    out_path: Path | str,
    image_size: int = 128,
    margin: int = 16,
    public_domain_only: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> dict:
    """Detect, align and store every face under `folder`; returns counts. `margin` px of context on each side."""
    from pipelines.face_landmarks import FaceLandmarker
    from pipelines.image_io import load_image

    photos = list_photos(Path(folder), public_domain_only)[:limit]
    restricted = research_only_files(Path(folder))
    canvas = image_size + 2 * margin
    shift = np.array([[0, 0, margin], [0, 0, margin]], dtype=np.float64)
    blobs, landmarks, quads, names, flags = [], [], [], [], []
    skipped = []
    iterator = photos
    if progress:
        from tqdm import tqdm

        iterator = tqdm(photos, desc="finding faces", unit="photo")
    with FaceLandmarker.from_pretrained(num_faces=1) as landmarker:
        for path in iterator:
            try:
                image = load_image(path)
            except ValueError as err:
                skipped.append(f"{path.name}: {err}")
                continue
            points = _detect_padded(landmarker, image)
            if points is None:
                skipped.append(f"{path.name}: no face found")
                continue
            aligned = align_face(image, points, image_size)
            matrix = aligned.matrix + shift  # the same alignment, with `margin` px more on every side
            crop = cv2.warpAffine(image, matrix, (canvas, canvas), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                skipped.append(f"{path.name}: JPEG encoding failed")
                continue
            height, width = image.shape[:2]
            corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)
            blobs.append(jpeg.reshape(-1))
            landmarks.append((aligned.landmarks + margin).astype(np.float32))
            quads.append(corners @ matrix[:, :2].T + matrix[:, 2])
            names.append(str(path.relative_to(folder)))
            flags.append(path.name in restricted)
    if not blobs:
        raise ValueError(f"No face was found in any of the {len(photos)} photos under {folder}.")
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out_path,
        version=np.array(CACHE_VERSION),
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

    @classmethod
    def load(cls, path: Path | str) -> "FaceCache":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No face cache at {path}; build it with `train-simmim --data DIR --cache {path}`.")
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"]) != CACHE_VERSION:
                raise ValueError(f"{path} is a version {int(data['version'])} cache; rebuild it (delete the file).")
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
            )

    def select(self, keep: np.ndarray) -> "FaceCache":
        return FaceCache(self.crops[keep], self.landmarks[keep], self.quads[keep], self.names[keep],
                         self.research_only[keep], self.held_out[keep], self.image_size, self.margin)  # fmt: skip

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
    region_mask_share: float = 0.5  # batches mix random patch masks and face-region masks half and half
    random_ratio: tuple[float, float] = (0.10, 0.75)
    random_block: int = 2  # random masks come in 2x2-patch squares (16 px at patch 8)
    condition_dropout: float = 0.1  # sometimes train without a condition, so the model also works unsteered


REGION_CHANCE = {"mouth": 0.6, "eyes": 0.5, "brows": 0.3, "cheeks": 0.25}  # per region, when a region mask is drawn


class FaceBatches:
    """Augmented batches (pixels [-1,1], patch mask, condition, loss weight) made on `device` from a FaceCache."""

    def __init__(self, cache: FaceCache, patch_size: int, device: str = "cpu", augment: Augment | None = None,
                 seed: int = 0):  # fmt: skip
        self.cache = cache
        self.size = cache.image_size
        self.patch = patch_size
        self.grid = self.size // patch_size
        self.device = torch.device(device)
        self.augment = augment or Augment()
        self.crops = torch.from_numpy(cache.crops).to(self.device).permute(0, 3, 1, 2).contiguous()  # uint8 (N,3,C,C)
        self.landmarks = torch.from_numpy(cache.landmarks).to(self.device)
        self.quads = torch.from_numpy(cache.quads).to(self.device)
        self.mirror = torch.tensor(MIRROR, device=self.device)
        self.pixels = pixel_centres(self.size, self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.numpy_rng = np.random.default_rng(seed)

    def _uniform(self, n: int, low: float, high: float) -> torch.Tensor:
        return torch.rand(n, device=self.device, generator=self.generator) * (high - low) + low

    def _matrices(self, n: int) -> torch.Tensor:
        """(n, 2, 3) maps output pixel -> crop-canvas pixel (the inverse warp grid_sample needs)."""
        a = self.augment
        scale = self._uniform(n, 1 - a.scale, 1 + a.scale)
        angle = self._uniform(n, -a.rotate_deg, a.rotate_deg) * (math.pi / 180)
        shift = self._uniform(2 * n, -a.shift_px, a.shift_px).reshape(n, 2)
        flip = torch.rand(n, device=self.device, generator=self.generator) < a.flip
        centre = (self.size - 1) / 2
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        linear = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], 1)  # R(-angle) / scale
        sign = torch.where(flip, -1.0, 1.0)
        linear = linear * torch.stack([sign, torch.ones_like(sign)], -1)[:, None, :]  # mirror x first
        # out q -> q' = mirror(q) (about the centre) -> p = linear (q' - c - shift) + c + margin
        offset = centre + self.cache.margin - (linear @ (torch.full((n, 2), centre, device=self.device) + shift)[..., None])[..., 0]
        return torch.cat([linear, offset[..., None]], dim=2), flip

    def batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        n, size = len(indices), self.size
        inverse, flip = self._matrices(n)
        canvas = self.crops.shape[-1]
        # sample: output pixel q -> canvas pixel p, normalised for grid_sample (align_corners=True: centres at ends)
        q = self.pixels  # (P, 2)
        p = q @ inverse[:, :, :2].transpose(1, 2) + inverse[:, None, :, 2]  # (n, P, 2)
        grid = (p / (canvas - 1) * 2 - 1).reshape(n, size, size, 2)
        source = self.crops[indices].float() / 255.0
        image = torch.nn.functional.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=True)
        image = self._jitter(image)
        # forward map canvas -> output for landmarks and the photo outline
        forward = _invert_affine(inverse)
        landmarks = self.landmarks[indices] @ forward[:, :, :2].transpose(1, 2) + forward[:, None, :, 2]
        landmarks = torch.where(flip[:, None, None], landmarks[:, self.mirror], landmarks)
        quads = self.quads[indices] @ forward[:, :, :2].transpose(1, 2) + forward[:, None, :, 2]
        valid = inside_outline(quads, q) | (inside_outline(torch.flip(quads, dims=[1]), q))  # either winding
        inside_canvas = ((p >= 0) & (p <= canvas - 1)).all(-1)
        valid = (valid & inside_canvas).reshape(n, 1, size, size)
        masks = self._masks(landmarks)
        condition = render_condition_batch(landmarks, size)
        keep = (torch.rand(n, device=self.device, generator=self.generator) >= self.augment.condition_dropout)
        condition = condition * keep[:, None, None, None]
        return {"pixel_values": image * 2 - 1, "bool_masked_pos": masks, "condition": condition,
                "valid": valid, "landmarks": landmarks}  # fmt: skip

    def _jitter(self, image: torch.Tensor) -> torch.Tensor:
        a, n = self.augment, image.shape[0]
        brightness = self._uniform(n, 1 - a.brightness, 1 + a.brightness)[:, None, None, None]
        contrast = self._uniform(n, 1 - a.contrast, 1 + a.contrast)[:, None, None, None]
        saturation = self._uniform(n, 1 - a.saturation, 1 + a.saturation)[:, None, None, None]
        gain = self._uniform(3 * n, 1 - a.channel_gain, 1 + a.channel_gain).reshape(n, 3, 1, 1)
        image = image * brightness * gain
        mean = image.mean(dim=(1, 2, 3), keepdim=True)
        image = (image - mean) * contrast + mean
        gray = image.mean(dim=1, keepdim=True)
        image = (image - gray) * saturation + gray
        return image.clamp(0.0, 1.0)

    def _masks(self, landmarks: torch.Tensor) -> torch.Tensor:
        """(n, G*G) bool: random patch squares for some samples, face-region masks for the others."""
        a, n, grid = self.augment, landmarks.shape[0], self.grid
        ratios = self.numpy_rng.uniform(*a.random_ratio, size=n)
        random = np.stack([random_mask(grid, r, self.numpy_rng, block=a.random_block) for r in ratios])
        random = torch.from_numpy(random).to(self.device).reshape(n, -1)
        areas = {name: region_pixel_mask_batch(landmarks, (name,), self.size).reshape(n, -1) for name in REGION_NAMES}
        regions = torch.zeros_like(areas["mouth"])
        chosen = torch.zeros(n, dtype=torch.bool, device=self.device)
        for name in REGION_NAMES:
            pick = torch.rand(n, device=self.device, generator=self.generator) < REGION_CHANCE[name]
            regions |= areas[name] & pick[:, None]
            chosen |= pick
        regions |= areas["mouth"] & ~chosen[:, None]  # every region mask covers at least one region
        patches = regions.reshape(n, grid, self.patch, grid, self.patch).any(dim=(2, 4)).reshape(n, -1)
        use_region = torch.rand(n, device=self.device, generator=self.generator) < a.region_mask_share
        return torch.where(use_region[:, None], patches, random)


def _invert_affine(matrix: torch.Tensor) -> torch.Tensor:
    linear = torch.linalg.inv(matrix[:, :, :2])
    return torch.cat([linear, -(linear @ matrix[:, :, 2:])], dim=2)
