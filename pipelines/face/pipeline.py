"""Give the person in one photo a new expression: landmarks -> warp -> texture -> eyes and mouth -> paste back.

`FaceExpressionPipeline` owns the steps; the networks are the MediaPipe face landmarker and two
region `SimMIMFace` masked-image models, the eye and the mouth (plus an optional diffusers inpainting
pass on a GPU). The split of work: the landmark warp carries the person's own skin, lips, lids and
brows along the measured expression moves (what keeps them recognisable); the measured expression
texture (`expression_texture`: ratio images of real same-person pairs) adds the folds and lines a warp
cannot make and a real mouth interior; the eye model paints the white a rising lid uncovers over a
still eyeball (`eyes`); a drawn cavity or the mouth model paints the rest of a mouth that opens,
steered by a drawing of the target lips. `FaceExpressionConfig.variant` and `eye_model` pick which
parts run (`VARIANTS`; the bench compares them through `ABLATIONS`).

Only pixels inside the (dilated, feathered) mask of the face crop change; every other pixel of the
photo is returned bit for bit, at the photo's own size.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Mapping

import cv2
import numpy as np

from pipelines.errors import InputError
from pipelines.face import landmarks as fr
from pipelines.face.action_units import EXPRESSIONS, SLIDERS, expression_amounts, expression_target, smile_share
from pipelines.face.align import AlignedFace, align_face, invert, region_slice, transform_points
from pipelines.face.expression_texture import add_texture, interior_scale, shade, skin_light, smile_fold_lift
from pipelines.face.eyes import paint_eyes, still_eyeballs
from pipelines.face.sharpness import extra_blur, soften
from pipelines.face.simmim.inpaint import ModelView, inpaint
from pipelines.face.simmim.masks import (
    REGION_NAMES,
    patches_to_pixels,
    pixels_to_patches,
    region_mask,
    region_pixel_mask,
    soft_polygon,
)
from pipelines.face.warp import (
    CAVITY_MIN_GAP, face_map, identity_map, lip_seam, mouth_gap, seam_softening, shade_mouth_cavity,
    warp_with,
)
from pipelines.image_io import ImageSource, load_image

Progress = Callable[[float, str], None]  # fraction done, what is happening
# Which parts run, by name, and how the bench labels each:
VARIANTS: dict[str, str] = {
    "mouth-model": "warp + mouth SimMIM",  # the mouth model paints a newly opened mouth inside the target lips
    "warp": "warp only",  # a drawn (procedural) dark cavity with soft upper teeth, no learned model
    "simmim": "SimMIM only",  # no warp: the mouth model repaints the whole mouth from the target drawing
    "legacy": "previous model",  # warp + drawn cavity + the whole-face model's coarse colour (research-only weights)
}
# The shipped default, chosen by measurement (weights/simmim-mouth/README.md): see the note on FaceExpressionConfig.
DEFAULT_VARIANT = "warp"
PAINT_ALPHA_FLOOR = 0.02  # the soft edge of the mouth paint below this is dropped (it would mask whole patches)
# Crop pixels between a box pixel's interpolated read of the warp's map and its nearest crop pixel's read, past
# which the map jumps there (`_at_full_size`). Where the map is smooth they differ by at most half a pixel's move.
MAP_JUMP_PX = 1.0
# The configurations the bench compares with the default (config overrides by name).
ABLATIONS: dict[str, dict[str, object]] = {
    "no eye model": {"eye_model": False},
    "no expression texture": {"texture": False},
    **{label: {"variant": name} for name, label in VARIANTS.items() if name != DEFAULT_VARIANT},
}
# "feather": alpha mix; "poisson": the stronger gradient of the two, cloned seamlessly (cv2 MIXED_CLONE);
# "lowpass": SimMIM's coarse colour and shading under the warp's fine detail.
BLENDS = ("feather", "poisson", "lowpass")


@dataclass
class FaceExpressionConfig:
    variant: str = DEFAULT_VARIANT  # which parts run (a key of VARIANTS); the others exist for the ablation table
    detect_max_side: int = 1920  # faces are searched on a copy at most this large (MediaPipe shrinks it anyway)
    min_edit_size: int = 320  # side of the aligned crop the warp edits: at least this (small faces are upscaled) ...
    max_edit_size: int = 768  # ... and at most this; bigger faces are edited here and pasted back up
    min_face_px: int = 64  # faces narrower than this get a warning: too few pixels for a clean edit
    max_turn: float = 0.35  # nose offset from the eye midline, in half face widths, above which the head is "turned"
    region_threshold: float = 0.006  # a region is repainted when a landmark of it moves this fraction of the crop side
    move_threshold: float = 0.002  # warp moves below this fraction of the crop side are too faint to paste back
    mouth_edge_px: float = 1.0  # the mouth model's paint reaches this far (model px) past the target inner lip line
    # variant "legacy" only: how the whole-face model's prediction enters the warp (one of BLENDS) and its share in
    # the masked patches; its coarse colour under the warp's detail kept the most detail, its own pixels blur.
    simmim_weight: float = 1.0
    blend: str = "lowpass"
    feather: float = 0.04  # width of the soft paste-back border, as a fraction of the crop side
    # Expression ratio images (`expression_texture`): the measured folds and lines of the expression multiply the
    # warped crop, and a measured mouth interior fills a newly opened mouth; `texture_strength` scales the log ratio.
    texture: bool = True
    texture_strength: float = 1.0
    # Eyes that open wider keep their eyeball still and the eye SimMIM model paints what the rising lid uncovers
    # (`eyes`); off, the warp stretches the eye (variant legacy never uses it).
    eye_model: bool = True
    refine_strength: float = 0.35  # denoising strength of the optional diffusers pass (0 keeps, 1 repaints)
    refine_steps: int = 25
    # Expressions of a sheet edited at once (NumPy and OpenCV release the GIL): on a 2-core CPU a 1350 px
    # portrait's sheet takes 2.1 s instead of 3.9 s (bench/results/face.md). A polished sheet runs one at a time.
    sheet_threads: int = 2

    @property
    def texture_scale(self) -> float:
        """How strongly the expression texture is laid on (0 when it is off, or in the no-warp ablation)."""
        return self.texture_strength if self.texture and self.variant != "simmim" else 0.0

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise InputError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}.")
        if not 0 < self.min_edit_size <= self.max_edit_size:
            raise InputError(f"min_edit_size {self.min_edit_size} must be between 1 and max_edit_size {self.max_edit_size}.")
        if self.blend not in BLENDS:
            raise InputError(f"blend must be one of {', '.join(BLENDS)}, got {self.blend!r}.")
        if self.sheet_threads < 1:
            raise InputError(f"sheet_threads must be at least 1, got {self.sheet_threads}.")
        if not 0.0 <= self.texture_strength <= 3.0:
            raise InputError(f"texture_strength must be in [0, 3], got {self.texture_strength}.")
        if not 0.0 <= self.simmim_weight <= 1.0:
            raise InputError(f"simmim_weight must be in [0, 1], got {self.simmim_weight}.")


@dataclass
class FaceExpressionOutput:
    """The edited photo plus every intermediate the Teach view shows.

    The S x S crops are the painting model's frame: the mouth window for the mouth model (variants mouth-model,
    warp, simmim) unless only the eye model painted (then one eye's window), the whole face for the previous face
    model (legacy).
    """

    image: np.ndarray  # (H, W, 3) uint8, same size as the input
    expression: str
    intensity: float
    mask: np.ndarray  # (G, G) bool, True = patch the model repainted
    mask_image: np.ndarray  # (H, W) uint8 paste-back alpha on the photo: 0 = pixel untouched
    crop: np.ndarray  # (S, S, 3) the aligned source the model sees
    warped: np.ndarray  # (S, S, 3) the crop after the landmark warp: the model's input
    reconstruction: np.ndarray  # (S, S, 3) SimMIM's raw output (masked patches are its prediction)
    blended: np.ndarray  # (S, S, 3) the final crop
    face: np.ndarray  # (E, E, 3) the final face crop at edit resolution, for sheets and previews
    source_landmarks: np.ndarray  # (478, 2) in photo pixels
    target_landmarks: np.ndarray  # (478, 2) in photo pixels
    amounts: dict[str, float]  # action units applied
    blendshapes: dict[str, float]  # MediaPipe's scores for the source face
    patch_size: int
    face_index: int
    num_faces: int
    refined: bool = False
    warnings: list[str] = field(default_factory=list)
    # With `teach=True` when this edit hid nothing (the default paints the mouth with no learned model, the eyes only
    # when they open): the SimMIM-only edit of the same face, whose hidden patches and fill the Teach view shows.
    teaching: "FaceExpressionOutput | None" = None

    @property
    def masked_input(self) -> np.ndarray:
        """What masked image modelling hides: the crop with masked patches greyed and the patch grid drawn."""
        return patch_grid_overlay(self.warped, self.mask, self.patch_size)

    @property
    def filled(self) -> np.ndarray:
        """SimMIM's prediction in the masked patches, the warped input elsewhere (what the model contributes)."""
        mask = patches_to_pixels(self.mask, self.patch_size)[..., None]
        return np.where(mask, self.reconstruction, self.warped)

    def teach_panels(self, size: int = 256) -> dict[str, np.ndarray]:
        """The Teach views, each (size, size, 3): masked patches on the grid, the mask, the model's input, SimMIM's
        prediction for the masked patches (all from `teaching` when there is one) and this edit's result."""
        taught = self.teaching or self
        mask = patches_to_pixels(taught.mask, taught.patch_size)
        views = {
            "patches": (taught.masked_input, cv2.INTER_NEAREST),
            "mask": (np.repeat(mask[..., None], 3, axis=2).astype(np.uint8) * 255, cv2.INTER_NEAREST),
            "warped": (taught.warped, cv2.INTER_CUBIC),
            "reconstruction": (taught.filled, cv2.INTER_NEAREST),
            "result": (self.face, cv2.INTER_AREA if self.face.shape[0] > size else cv2.INTER_CUBIC),
        }
        return {name: cv2.resize(image, (size, size), interpolation=how) for name, (image, how) in views.items()}


@dataclass
class ExpressionSheet:
    """One image per expression (photo size) and a labelled grid of the faces, the source photo first."""

    images: dict[str, np.ndarray]  # label -> (H, W, 3) uint8
    grid: np.ndarray  # (rows*T, cols*T, 3) uint8
    outputs: dict[str, FaceExpressionOutput]
    warnings: list[str] = field(default_factory=list)

    def save(self, folder: Path | str, sheet_name: str | None = "sheet.png") -> list[Path]:
        """Write <label>.png per expression (SillyTavern's sprite names) and the grid; returns the paths."""
        from PIL import Image

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for label, image in self.images.items():
            paths.append(folder / f"{label}.png")
            Image.fromarray(image).save(paths[-1])
        if sheet_name:
            paths.append(folder / sheet_name)
            Image.fromarray(self.grid).save(paths[-1])
        return paths


@dataclass
class _Face:
    """A photo with its chosen face found and aligned: what every expression of a sheet shares."""

    image: np.ndarray
    landmarks: np.ndarray  # (478, 2) photo pixels
    blendshapes: dict[str, float]
    aligned: AlignedFace  # at edit resolution
    face_index: int
    num_faces: int
    warnings: list[str]

    @cached_property
    def interior_scale(self) -> np.ndarray:
        """(3,) what the measured mouth interior is multiplied by: the skin's brightness in the photo's light."""
        return interior_scale(self.aligned.crop, self.aligned.landmarks)

    @cached_property
    def skin_light(self) -> float:
        """The luminance of the face's bare skin in the aligned crop: what an eye white is told from (`eyes`)."""
        return skin_light(self.aligned.crop, self.aligned.landmarks)

    @cached_property
    def blur(self) -> float:
        """How much softer (px, in the aligned crop) the face is than a studio portrait: what the edit adds, the
        expression's lines and the painted mouth and eyes, is blurred as much (`sharpness`)."""
        crop = self.aligned.crop
        return extra_blur(crop, _face_hull(self.aligned.landmarks, crop.shape[0]))


class FaceExpressionPipeline:
    """detect -> align -> target landmarks -> warp -> texture -> eyes and mouth painted -> (refine) -> paste back."""

    def __init__(self, landmarker, model, config: FaceExpressionConfig | None = None, refiner=None, face_model=None,
                 eye_model=None):  # fmt: skip
        self.landmarker = landmarker  # pipelines.face.detector.FaceLandmarker (or anything with .detect)
        self.model = model.eval()  # the mouth SimMIMFace (config.region == "mouth")
        self.config = config or FaceExpressionConfig()
        self.refiner = refiner  # pipelines.face.refine.FaceRefiner or None
        self.face_model = face_model.eval() if face_model is not None else None  # whole-face SimMIM, variant legacy
        # The eye SimMIMFace (region "eye"); without one, eyes that open are stretched by the warp.
        self.eye_model = eye_model.eval() if eye_model is not None else None
        for name, painter, region in (("model", model, "mouth"), ("eye_model", eye_model, "eye")):
            if painter is not None and painter.config.region != region:
                raise InputError(f"The pipeline's {name} must paint the {region}; this one paints the "
                                 f"{painter.config.region}.")  # fmt: skip
        if self.config.variant == "legacy" and self.face_model is None:
            raise InputError("variant 'legacy' needs the previous whole-face model (face_model / face_simmim_path).")

    @property
    def eye_painter(self):
        """The eye model when this configuration opens eyes with it (not "no eye model" nor legacy), else None."""
        return self.eye_model if self.config.eye_model and self.config.variant != "legacy" else None

    @classmethod
    def from_pretrained(
        cls,
        simmim_path: Path | str | None = None,
        landmarker_path: Path | str | None = None,
        device: str = "auto",
        config: FaceExpressionConfig | None = None,
        refine: str | Path | None = None,
        face_simmim_path: Path | str | None = None,
        eye_simmim_path: Path | str | None = None,
    ) -> "FaceExpressionPipeline":
        """Load the landmarker, the mouth and the eye model (weights/ by default); `refine` names a diffusers
        inpainting model.

        The previous whole-face model (research-only weights) is loaded only for `config.variant == "legacy"`,
        the eye model only when `config.eye_model` asks for it.
        """
        from pipelines.device import pick_device
        from pipelines.face.detector import FaceLandmarker
        from pipelines.face.simmim import SIMMIM_EYE, SIMMIM_FACE, SIMMIM_MOUTH
        from pipelines.face.simmim.model import SimMIMFace

        device = pick_device(device)
        config = config or FaceExpressionConfig()
        model = SimMIMFace.from_pretrained(simmim_path, device, weights=SIMMIM_MOUTH)
        face_model = eye_model = None
        if config.variant == "legacy":
            face_model = SimMIMFace.from_pretrained(face_simmim_path, device, weights=SIMMIM_FACE)
        elif config.eye_model:
            eye_model = SimMIMFace.from_pretrained(eye_simmim_path, device, weights=SIMMIM_EYE)
        refiner = None
        if refine:
            from pipelines.face.refine import FaceRefiner

            refiner = FaceRefiner.from_pretrained(refine, device=device)
        # The landmarker last: a MediaPipe task must be closed, so nothing that can fail comes after it.
        return cls(FaceLandmarker.from_pretrained(landmarker_path), model, config=config, refiner=refiner,
                   face_model=face_model, eye_model=eye_model)  # fmt: skip

    def close(self) -> None:
        self.landmarker.close()

    def __enter__(self) -> "FaceExpressionPipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- checks -------------------------------------------------------------------------------------------------

    def check_inputs(self, expression: str, intensity: float, sliders: Mapping[str, float] | None,
                     face_index: int | None, refine: bool) -> None:  # fmt: skip
        """Refuse bad requests before any work, with a sentence that says what to change."""
        expression_amounts(expression, intensity, sliders)  # raises on unknown names and out-of-range values
        if face_index is not None and (not isinstance(face_index, (int, np.integer)) or face_index < 0):
            raise InputError(f"face_index must be a whole number >= 0, got {face_index!r}.")
        if refine and self.refiner is None:
            raise InputError("Refinement was asked for, but this pipeline was loaded without a diffusers inpainting model "
                             "(from_pretrained(refine=MODEL)).")

    # --- steps --------------------------------------------------------------------------------------------------

    def find_face(self, image: ImageSource, face_index: int | None = None) -> _Face:
        """Load the photo, find its faces, pick one (largest by default) and align it at edit resolution."""
        image = load_image(image)
        height, width = image.shape[:2]
        scale = min(1.0, self.config.detect_max_side / max(height, width))
        small = image if scale == 1.0 else cv2.resize(image, (round(width * scale), round(height * scale)),
                                                      interpolation=cv2.INTER_AREA)  # fmt: skip
        faces = self.landmarker.detect(small)
        if not faces:
            raise InputError("no face found in the photo: use a photo where one face is clearly visible and lit.")
        index = 0 if face_index is None else int(face_index)
        if index >= len(faces):
            raise InputError(f"face_index {index} is out of range: the photo has {len(faces)} face(s) "
                             f"(0 = largest, up to {len(faces) - 1}).")  # fmt: skip
        chosen = faces[index]
        landmarks = chosen.landmarks[:, :2].astype(np.float64) / scale
        warnings = _quality_warnings(landmarks, self.config)
        if len(faces) > 1 and face_index is None:
            warnings.append(f"{len(faces)} faces found; editing the largest (choose another with face_index).")
        size = self.config.min_edit_size
        probe = align_face(image, landmarks, size)  # a crop of known size tells the face's native resolution
        native = size / np.sqrt(abs(np.linalg.det(probe.matrix[:, :2])))
        edit_size = int(np.clip(round(native), size, self.config.max_edit_size))
        aligned = probe if edit_size == size else align_face(image, landmarks, edit_size)
        if aligned.valid is not None and not aligned.valid[_face_hull(aligned.landmarks, edit_size)].all():
            warnings.append("Part of the face is outside the photo; the missing edge was filled by repeating pixels.")
        return _Face(image, landmarks, dict(chosen.blendshapes), aligned, index, len(faces), warnings)

    def edit(self, face: _Face, expression: str = "joy", intensity: float = 1.0,
             sliders: Mapping[str, float] | None = None, refine: bool = False) -> FaceExpressionOutput:  # fmt: skip
        """Steps 3-8 for an already found face (the sheet reuses one `find_face` for every expression)."""
        cfg = self.config
        crop = face.aligned.crop
        edit_size = crop.shape[0]

        # 3. Target expression: move the landmarks (in the photo frame, where the face is not resized).
        amounts, target = expression_target(face.landmarks, expression, intensity, sliders, face.blendshapes)
        target = target.astype(np.float64)
        source_crop = face.aligned.landmarks.astype(np.float64)
        target_crop = transform_points(target, face.aligned.matrix)

        # 4. Warp the crop along the moves (not in the SimMIM-only ablation). The faint tail of the warp is pasted.
        mapping = identity_map(edit_size) if cfg.variant == "simmim" else face_map(source_crop, target_crop,
                                                                                  crop.shape[:2])  # fmt: skip
        eye_painter = self.eye_painter
        if eye_painter is not None:  # eyes that open keep their eyeball still: the lids move over it
            mapping = still_eyeballs(mapping, source_crop, target_crop)
        warped, moved = warp_with(crop, mapping)
        moved_mask = (moved > cfg.move_threshold * edit_size).astype(np.uint8)

        # 5. The expression's texture (folds, lines, shading; a real mouth interior) laid on the target geometry,
        #    and the dark line lips the warp closed meet on, in the one log ratio the paste-back shades the photo by.
        seam = lip_seam(source_crop, target_crop, crop.shape[:2], face.blur) if cfg.variant != "simmim" else \
            np.zeros(crop.shape[:2], np.float32)  # fmt: skip
        #    A smiling photo's own folds are lifted as far as the expression reverses its smile (none without texture).
        lift = smile_fold_lift(warped, target_crop, smile_share(face.blendshapes) * intensity * cfg.texture_scale)
        warped, log_ratio, interior = add_texture(warped, face.interior_scale, target_crop, amounts, cfg.texture_scale,
                                                  face.blur, seam, lift)  # fmt: skip
        moved_mask |= (np.abs(log_ratio) > 0.5 / 255).astype(np.uint8)
        if lift is not None:
            moved_mask |= (lift.max(axis=2) > 0.5 / 255).astype(np.uint8)
        shaded = warped

        # 6. Paint what the warp has no pixels for: the mouth model (or, in the ablations, a drawn cavity
        #    and the previous whole-face model).
        cavity = np.zeros(crop.shape[:2], np.float32)
        if cfg.variant in ("warp", "legacy"):
            warped, cavity = shade_mouth_cavity(warped, source_crop, target_crop, interior)
            moved_mask |= (cavity > 0).astype(np.uint8)
        if cfg.variant == "legacy":
            painted, paint_mask, view = self._paint_face(crop, warped, source_crop, target_crop)
        else:
            painted, paint_mask, view = self._paint_mouth(crop, warped, source_crop, target_crop)
        if eye_painter is not None:  # the eyeball a rising lid uncovers
            eyes = paint_eyes(eye_painter, crop, painted, source_crop, target_crop, face.skin_light)
            painted, paint_mask = eyes.image, np.maximum(paint_mask, eyes.alpha)
            moved_mask |= (eyes.reach > 0).astype(np.uint8)  # round the paint, the photo took its light
            if eyes.view is not None and not view.mask.any():
                view = eyes.view
        painted = soften(painted, face.blur, np.maximum(np.maximum(cavity, paint_mask), seam_softening(seam)))

        # 7. The painted crop into the untouched crop, through a feathered alpha.
        paste_alpha = _feather((paint_mask > 0) | moved_mask.astype(bool), max(1.0, cfg.feather * edit_size))
        blended = crop.astype(np.float32) * (1 - paste_alpha[..., None]) + painted * paste_alpha[..., None]
        result = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        resampled = _Resampled.split(blended, crop, shaded, np.maximum(cavity, paint_mask), paste_alpha, mapping,
                                     log_ratio, lift)  # fmt: skip
        refined = False
        if refine and paste_alpha.any():
            prompt = _refine_prompt(expression)
            result = self.refiner(result, paste_alpha > 0, prompt, strength=cfg.refine_strength, steps=cfg.refine_steps)
            refined = True
            resampled = None  # the refiner repainted everything: there is no photo detail left to restore

        # 8. Paste back into the photo: outside the alpha's support every pixel is the input's own.
        image, alpha_image = _paste_back(face.image, result, paste_alpha, face.aligned.matrix, resampled)
        return FaceExpressionOutput(
            image=image, expression=expression, intensity=float(intensity), mask=view.mask, mask_image=alpha_image,
            crop=view.crop, warped=view.warped, reconstruction=view.reconstruction,
            blended=view.blended_from(result), face=result,
            source_landmarks=face.landmarks.astype(np.float32), target_landmarks=target.astype(np.float32),
            amounts=amounts, blendshapes=face.blendshapes, patch_size=view.patch_size, face_index=face.face_index,
            num_faces=face.num_faces, refined=refined, warnings=list(face.warnings),
        )  # fmt: skip

    def _paint_mouth(self, crop: np.ndarray, warped: np.ndarray, source: np.ndarray,
                     target: np.ndarray) -> tuple[np.ndarray, np.ndarray, ModelView]:  # fmt: skip
        """The mouth model paints the mouth window of the warped crop; returns (crop float32, paint alpha, view).

        mouth-model: only where the target mouth opens wider than the photo's (inside the target inner lip line):
        the warp keeps the person's own lips. simmim: the whole mouth, where it is and where it goes. warp: nothing
        (the view still shows the mouth window).
        """
        model, cfg = self.model, self.config
        size, patch = model.config.image_size, model.config.patch_size
        rows, cols = region_slice("mouth", crop.shape[0])
        side = rows.stop - rows.start
        to_model = size / side
        offset = np.array([cols.start, rows.start], np.float64)
        source_m, target_m = (source - offset) * to_model, (target - offset) * to_model
        window = cv2.resize(warped[rows, cols], (size, size), interpolation=cv2.INTER_AREA)
        view = ModelView(cv2.resize(crop[rows, cols], (size, size), interpolation=cv2.INTER_AREA), window,
                          np.zeros((size // patch, size // patch), bool), patch, (rows, cols))  # fmt: skip
        if cfg.variant == "warp":  # no learned paint: the view shows the mouth window untouched
            alpha = np.zeros((size, size), np.float32)
        elif cfg.variant == "simmim":
            travel = np.linalg.norm(target_m - source_m, axis=1)[list(fr.REGIONS["mouth"])].max()
            pixels = (region_pixel_mask([source_m, target_m], ["mouth"], size) if travel > cfg.region_threshold * size
                      else np.zeros((size, size), bool))  # fmt: skip
            alpha = pixels.astype(np.float32)
        else:
            alpha = _opening(target_m, size, cfg.mouth_edge_px) if mouth_gap(target) - mouth_gap(source) >= CAVITY_MIN_GAP \
                else np.zeros((size, size), np.float32)  # fmt: skip
        painted = warped.astype(np.float32)
        if not alpha.any():
            return painted, np.zeros(crop.shape[:2], np.float32), view
        view.mask = pixels_to_patches(alpha > PAINT_ALPHA_FLOOR, patch)
        view.reconstruction = inpaint(model, window, view.mask, target_m)
        # Inside the patches the model painted, its pixels through the soft alpha; the warp everywhere else.
        alpha *= patches_to_pixels(view.mask, patch)
        back = cv2.resize(view.reconstruction, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        alpha_edit = cv2.resize(alpha, (side, side), interpolation=cv2.INTER_LINEAR)[..., None]
        painted[rows, cols] = painted[rows, cols] * (1 - alpha_edit) + back * alpha_edit
        paint_mask = np.zeros(crop.shape[:2], np.float32)
        paint_mask[rows, cols] = alpha_edit[..., 0]
        return painted, paint_mask, view

    def _paint_face(self, crop: np.ndarray, warped: np.ndarray, source: np.ndarray,
                    target: np.ndarray) -> tuple[np.ndarray, np.ndarray, ModelView]:  # fmt: skip
        """The previous design (variant legacy): the whole-face model repaints every region whose landmarks move."""
        model, cfg = self.face_model, self.config
        size, patch, edit_size = model.config.image_size, model.config.patch_size, crop.shape[0]
        to_model = size / edit_size
        travel = np.linalg.norm(target - source, axis=1)
        regions = [n for n in REGION_NAMES if travel[list(fr.REGIONS[n])].max() > cfg.region_threshold * edit_size]
        source_model, target_model = source * to_model, target * to_model
        patch_mask = np.zeros((size // patch, size // patch), dtype=bool)
        if regions:
            patch_mask |= region_mask([source_model, target_model], regions, size, patch)
        everything = (slice(0, edit_size), slice(0, edit_size))
        view = ModelView(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA),
                          cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA), patch_mask, patch, everything)
        view.reconstruction = inpaint(model, view.warped, patch_mask, target_model)
        mask_edit = cv2.resize(patches_to_pixels(patch_mask, patch).astype(np.uint8), (edit_size, edit_size),
                               interpolation=cv2.INTER_NEAREST)  # fmt: skip
        prediction = cv2.resize(view.reconstruction, (edit_size, edit_size), interpolation=cv2.INTER_CUBIC)
        mixed = self._mix(warped, prediction, mask_edit, patch / to_model, _skin(target, edit_size, patch / to_model))
        return mixed, mask_edit.astype(np.float32), view

    def _mix(self, warped: np.ndarray, prediction: np.ndarray, mask: np.ndarray, patch_px: float,
             skin: np.ndarray) -> np.ndarray:  # fmt: skip
        """The warp with SimMIM's prediction mixed into the masked patches (soft-edged by half a patch).

        Only inside the face (`skin`, soft 0..1): the model learnt faces, and its guesses of hair and
        background at the face's edge leave smudges.
        """
        weight = self.config.simmim_weight
        if weight == 0 or not mask.any():
            return warped.astype(np.float32)
        # Outside the mask SimMIM was never trained to reproduce the input (its loss is on masked pixels only),
        # so its output there is noise: keep the warp there before any smoothing spreads it across the edge.
        prediction = np.where(mask[..., None] > 0, prediction, warped)
        if self.config.blend == "poisson":
            # Seamless cloning keeps the stronger gradient of the two images at each pixel (MIXED_CLONE) and
            # matches the warp's colours at the mask border, so a flat prediction cannot wash out the lips.
            ys, xs = np.nonzero(mask)
            centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
            inner = mask.copy()
            inner[[0, -1], :] = 0  # seamlessClone needs the mask off the image border
            inner[:, [0, -1]] = 0
            prediction = cv2.seamlessClone(prediction, warped, inner * 255, centre, cv2.MIXED_CLONE)
        elif self.config.blend == "lowpass":
            # SimMIM's coarse shading and colour, the warp's fine detail: warp + blur(prediction - warp).
            difference = prediction.astype(np.float32) - warped.astype(np.float32)
            prediction = warped.astype(np.float32) + cv2.GaussianBlur(difference, (0, 0), patch_px / 2)
        soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(0.5, patch_px / 2)) * weight * skin
        return warped.astype(np.float32) * (1 - soft[..., None]) + prediction.astype(np.float32) * soft[..., None]

    # --- entry points -------------------------------------------------------------------------------------------

    def __call__(self, image: ImageSource, expression: str = "joy", intensity: float = 1.0,
                 sliders: Mapping[str, float] | None = None, face_index: int | None = None,
                 refine: bool = False, teach: bool = False) -> FaceExpressionOutput:  # fmt: skip
        """Give the chosen face of `image` the `expression` at `intensity` (0..1), plus any named sliders.

        `teach`: when the edit's own models hid nothing (the default, variant "warp", paints the mouth with no learned
        model and the eyes only when they open),
        also run the SimMIM-only edit of the same face (no warp, no texture: the mouth model hides the whole mouth
        and paints it back from a drawing of the target lips) into `teaching`, for the Teach view. It shares this
        pipeline's landmarker and model: nothing is loaded.
        """
        self.check_inputs(expression, intensity, sliders, face_index, refine)
        face = self.find_face(image, face_index)
        out = self.edit(face, expression, intensity, sliders, refine)
        if teach and not out.mask.any():
            teacher = FaceExpressionPipeline(self.landmarker, self.model, config=replace(self.config, variant="simmim"))
            out.teaching = teacher.edit(face, expression, intensity, sliders)
        return out

    def expression_sheet(self, image: ImageSource, intensity: float = 1.0, face_index: int | None = None,
                         expressions: tuple[str, ...] = EXPRESSIONS, refine: bool = False,
                         progress: Progress | None = None, tile: int = 256) -> ExpressionSheet:  # fmt: skip
        """Every expression of one face: per-label photos (joy.png, ...) and a labelled grid."""
        for expression in expressions:
            self.check_inputs(expression, intensity, None, face_index, refine)
        face = self.find_face(image, face_index)
        face.interior_scale, face.blur, face.skin_light  # measured once here, not by each thread
        outputs = {}
        with ThreadPoolExecutor(1 if refine else self.config.sheet_threads) as pool:
            edits = pool.map(lambda expression: self.edit(face, expression, intensity, refine=refine), expressions)
            for step, expression in enumerate(expressions):
                if progress:
                    progress(step / len(expressions), expression)
                outputs[expression] = next(edits)
        if progress:
            progress(1.0, "done")
        grid = _label_grid([("photo", face.aligned.crop)] + [(label, out.face) for label, out in outputs.items()], tile)
        return ExpressionSheet({k: v.image for k, v in outputs.items()}, grid, outputs, list(face.warnings))


# --- helpers ----------------------------------------------------------------------------------------------------------


def _quality_warnings(landmarks: np.ndarray, config: FaceExpressionConfig) -> list[str]:
    """Say when a result will be weak: a tiny face or a head turned far from the camera."""
    warnings = []
    oval = landmarks[list(fr.FACE_OVAL)]
    width = float(oval[:, 0].max() - oval[:, 0].min())
    if width < config.min_face_px:
        warnings.append(f"The face is only {width:.0f} px wide (under {config.min_face_px} px); the edit will be "
                        "coarse. A closer or larger photo works better.")  # fmt: skip
    eyes_mid = (landmarks[fr.RIGHT_EYE_CENTER] + landmarks[fr.LEFT_EYE_CENTER]) / 2
    across = landmarks[fr.LEFT_EYE_CENTER] - landmarks[fr.RIGHT_EYE_CENTER]
    across /= max(np.linalg.norm(across), 1e-6)
    half_width = max(np.abs((oval - eyes_mid) @ across).max(), 1e-6)
    turn = abs(float((landmarks[fr.NOSE_TIP] - eyes_mid) @ across)) / half_width
    if turn > config.max_turn:
        warnings.append("The head is turned far from the camera; expressions are made for frontal faces, so this "
                        "one is a best effort.")  # fmt: skip
    return warnings


def _face_hull(landmarks: np.ndarray, size: int) -> np.ndarray:
    hull = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(landmarks[list(fr.FACE_OVAL)]).astype(np.int32)), 1)
    return hull.astype(bool)


def _opening(landmarks: np.ndarray, size: int, edge_px: float) -> np.ndarray:
    """(size, size) float32 alpha: 1 inside the inner lip line (grown by `edge_px`), soft at its edge."""
    return soft_polygon(np.asarray(landmarks)[list(fr.LIPS_INNER)], size, edge_px, 0.7)


def _skin(landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    """(size, size) float32: 1 well inside the face oval, fading to 0 at its edge over `margin` px."""
    inside = _face_hull(landmarks, size).astype(np.uint8)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    return np.clip(distance / max(margin, 1.0), 0.0, 1.0).astype(np.float32)


def _feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """A soft alpha that is 1 on `mask`, fades out over `radius` px around it, and is exactly 0 beyond."""
    distance = cv2.distanceTransform(1 - mask.astype(np.uint8), cv2.DIST_L2, 5)  # 0 on the mask
    alpha = np.clip(1.0 - distance / (radius + 1.0), 0.0, 1.0)
    alpha = alpha * alpha * (3 - 2 * alpha)  # smoothstep: no visible ramp edges
    return np.where(distance <= np.ceil(radius), alpha, 0.0).astype(np.float32)  # (a distance, not a slow dilation)


@dataclass
class _Resampled:
    """The edit crop split into the photo's own pixels (warped and shaded) and what was painted over them, so that
    the paste-back can read the photo's part from the photo itself, once, at full size.

    The crop is the photo resampled to edit size and again by the warp; pasted back, a third resampling blurs
    it (the edited region kept about 0.65 of the photo's Laplacian energy that way).
    """

    mapping: np.ndarray  # (E, E, 2) the warp's backward map in crop pixels
    log_ratio: np.ndarray  # (E, E) the expression texture's shading
    kept: np.ndarray  # (E, E) 0..1, how much of each pixel is the shaded photo (not painted over)
    painted: np.ndarray  # (E, E, 3) float32, the rest: result - crop * (1 - alpha) - shaded * kept * alpha
    lift: np.ndarray | None = None  # (E, E, 3) the photo's own smile folds lifted (`smile_fold_lift`)

    @classmethod
    def split(cls, result: np.ndarray, crop: np.ndarray, shaded: np.ndarray, covered: np.ndarray,
              alpha: np.ndarray, mapping: np.ndarray, log_ratio: np.ndarray,
              lift: np.ndarray | None = None) -> "_Resampled":  # fmt: skip
        kept = np.clip(1.0 - covered, 0.0, 1.0).astype(np.float32)
        a = alpha[..., None]
        painted = result - crop.astype(np.float32) * (1 - a) - shaded.astype(np.float32) * (kept[..., None] * a)
        return cls(mapping, log_ratio, kept, painted.astype(np.float32), lift)


def _at_full_size(image: np.ndarray, region: np.ndarray, alpha: np.ndarray, parts: _Resampled,
                  to_box: Callable[..., np.ndarray], back: np.ndarray) -> np.ndarray:  # fmt: skip
    """(h, w, 3) float32: the edit crop rebuilt in the photo's box, its photo-derived part read from the photo.

    crop * (1 - alpha) + shaded * kept * alpha + painted, where the crop is the photo itself and the shaded
    crop is the photo read once through the warp, then shaded; only `painted` is resampled from the crop.

    The warp's map jumps where closed lips meet (each lip reads its own lip, `warp.lips_read_lips`): a box pixel
    whose read is interpolated across the jump read the teeth between the source's lips, so there it takes the
    nearest crop pixel's read. Where the box's pixels fall between the crop's (a web photo's face, enlarged to
    `min_edit_size` to edit, pasted back at its own size), every other one did: smiles relaxed to neutral on GENKI-4K
    and US Congress web photos showed a dotted line of teeth between the closed lips.
    """
    reads = to_box(parts.mapping)  # per box pixel: where in the crop the warp reads
    nearest = to_box(parts.mapping, cv2.INTER_NEAREST)
    across = np.abs(reads - nearest).max(axis=2, keepdims=True) > MAP_JUMP_PX
    reads = np.where(across, nearest, reads)
    photo_xy = cv2.transform(reads, back.astype(np.float32))  # ... and where that is in the photo
    # Lanczos (an 8x8 windowed sinc), not bicubic: a warp reads most pixels at a fraction of a pixel, where bicubic
    # already blurs 1-2 px detail (hair strands, lashes, pores): surprise and fear kept 0.85-0.87 of the photo's
    # Laplacian energy with it, 0.90-0.93 with Lanczos, for +25 ms on a 512 px edit.
    warped = cv2.remap(image, photo_xy[..., 0], photo_xy[..., 1], cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE)
    shaded = shade(warped, to_box(parts.log_ratio), None if parts.lift is None else to_box(parts.lift))
    a = alpha[..., None]
    kept = to_box(parts.kept)[..., None] * a
    return region * (1 - a) + shaded * kept + to_box(parts.painted, cv2.INTER_CUBIC)


def _paste_back(image: np.ndarray, crop: np.ndarray, alpha: np.ndarray, matrix: np.ndarray,
                resampled: _Resampled | None = None):  # fmt: skip
    """Put the edited crop back at full resolution; pixels where the warped alpha is 0 are copied unchanged.

    Only the rectangle the alpha reaches on the photo is resampled, so a 40 MP photo costs no more than a small
    one. With `resampled`, the photo's own pixels in the result are read from the photo at full size
    (`_at_full_size`).
    """
    height, width = image.shape[:2]
    back = invert(matrix)
    side = crop.shape[0]
    corners = transform_points(np.array([[0, 0], [side, 0], [0, side], [side, side]], np.float64), back)
    x0, y0 = np.floor(corners.min(axis=0)).astype(int).clip(0, [width, height])
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int).clip(0, [width, height])
    alpha_full = np.zeros((height, width), np.float32)
    out = image.copy()
    if x1 <= x0 or y1 <= y0:
        return out, alpha_full.astype(np.uint8)
    shifted = back.copy()
    shifted[:, 2] -= (x0, y0)  # draw straight into the footprint's box
    alpha_box = cv2.warpAffine(alpha, shifted, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR, borderValue=0.0)
    alpha_box[alpha_box < 1.0 / 255] = 0.0
    alpha_full[y0:y1, x0:x1] = alpha_box
    left, top, box_width, box_height = cv2.boundingRect((alpha_box > 0).astype(np.uint8))
    if box_width:
        # From here on only the rectangle the alpha reaches.
        bottom, right = top + box_height, left + box_width
        shifted[:, 2] -= (left, top)
        box = (int(right - left), int(bottom - top))
        alpha_box = alpha_box[top:bottom, left:right]

        def to_box(array: np.ndarray, how: int = cv2.INTER_LINEAR) -> np.ndarray:
            return cv2.warpAffine(array, shifted, box, flags=how, borderMode=cv2.BORDER_REPLICATE)

        region = out[y0 + top : y0 + bottom, x0 + left : x0 + right]
        if resampled is None:
            crop_box = to_box(crop, cv2.INTER_CUBIC).astype(np.float32)
        else:
            crop_box = _at_full_size(image, region, alpha_box, resampled, to_box, back)
        # Where the alpha is 0 this is the region's own value plus 0.5, which truncates back to it: bit-identical.
        mixed = region + (crop_box - region) * alpha_box[..., None]
        region[:] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out, np.round(alpha_full * 255).astype(np.uint8)


def _refine_prompt(expression: str) -> str:
    mood = "calm, neutral" if expression == "neutral" else expression
    return f"a photo of a person's face with a natural {mood} expression, realistic skin, sharp details"


def patch_grid_overlay(crop: np.ndarray, patch_mask: np.ndarray, patch_size: int) -> np.ndarray:
    """The crop with the patch grid drawn and masked patches filled grey: the model's view of the task."""
    out = crop.copy()
    pixels = patches_to_pixels(patch_mask, patch_size)
    out[pixels] = (0.25 * out[pixels] + 0.75 * 128).astype(np.uint8)
    grid_colour = np.array([255, 255, 255], np.float32)
    size = out.shape[0]
    for line in range(0, size, patch_size):
        out[line, :] = (0.6 * out[line, :] + 0.4 * grid_colour).astype(np.uint8)
        out[:, line] = (0.6 * out[:, line] + 0.4 * grid_colour).astype(np.uint8)
    return out


def _label_grid(items: list[tuple[str, np.ndarray]], tile: int, columns: int = 4) -> np.ndarray:
    """Tiles with their label underneath, `columns` per row, on white."""
    label_h = max(18, tile // 9)
    rows = -(-len(items) // columns)
    cols = min(columns, len(items))
    grid = np.full((rows * (tile + label_h), cols * tile, 3), 255, np.uint8)
    for i, (label, image) in enumerate(items):
        r, c = divmod(i, columns)
        y, x = r * (tile + label_h), c * tile
        grid[y : y + tile, x : x + tile] = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA)
        scale = label_h / 30
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.putText(grid, label, (x + (tile - tw) // 2, y + tile + (label_h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (40, 40, 40), 1, cv2.LINE_AA)  # fmt: skip
    return grid


__all__ = ["EXPRESSIONS", "SLIDERS", "ExpressionSheet", "FaceExpressionConfig", "FaceExpressionOutput",
           "FaceExpressionPipeline", "patch_grid_overlay"]  # fmt: skip
