"""MotionCapturePipeline: a video of a person in, a retargeted MotionClip (BVH- and GLB-ready) out.

Steps: read the video at its own frame rate (up to 60 fps) -> search whole frames for people a few
times a second and rank them -> follow the chosen one through every frame on an enlarged crop ->
fill gaps and smooth (One Euro, in Hz) -> measure the person's bone lengths -> solve joint rotations
on a named humanoid skeleton -> place the root from the image, pin planted feet (root, then leg IK)
-> a finite MotionClip, optionally with a browser-playable three-panel preview. No UI code here.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from pipelines.errors import InputError
from pipelines.motion import cleaning, ik, solvers
from pipelines.motion.clip import MotionClip
from pipelines.motion.landmarks import BODY, PoseLandmark, PoseTrack, world_to_character
from pipelines.motion.preview import project_onto_source, render_preview
from pipelines.motion.skeleton import BoneLengths, Skeleton, build_skeleton, forward_kinematics, measure_lengths
from pipelines.motion.tracking import follow_person, track_poses
from pipelines.motion.video import MIN_FRAMES, VideoInfo, output_size, probe, read_frames
from pipelines.weights import WeightsNotFoundError, WeightSpec, resolve

L = PoseLandmark
POSE_MODEL = WeightSpec(
    name="pose_landmarker_full.task",
    how_to_get="Download pose_landmarker_full.task from https://storage.googleapis.com/mediapipe-models/"
    "pose_landmarker/pose_landmarker_full/float16/latest/pose_landmarker_full.task into weights/.",
)
# Segments whose length must not change in a clip: used to measure how much raw landmarks wobble.
LIMBS = (
    (L.LEFT_SHOULDER, L.LEFT_ELBOW), (L.LEFT_ELBOW, L.LEFT_WRIST), (L.RIGHT_SHOULDER, L.RIGHT_ELBOW),
    (L.RIGHT_ELBOW, L.RIGHT_WRIST), (L.LEFT_HIP, L.LEFT_KNEE), (L.LEFT_KNEE, L.LEFT_ANKLE),
    (L.RIGHT_HIP, L.RIGHT_KNEE), (L.RIGHT_KNEE, L.RIGHT_ANKLE),
)
FEET = ((L.LEFT_HEEL, L.LEFT_FOOT_INDEX), (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX))
FOOT_JOINTS = ("LeftToes", "RightToes")  # the ball of the foot: the point that stays put while a foot is planted
EXPECTED_SHARE = 0.9  # decoding fewer than this share of the frames the container promises means a damaged file
PROPORTIONS = ("video", "default")  # bone lengths measured from the video, or a standard adult's
Progress = Callable[[float, str], None]


@dataclass
class MotionCaptureConfig:
    """How a video becomes a clip; every field has a default that works for phone videos."""

    max_seconds: float = 60.0  # longest range one run processes; longer videos need a trim range
    max_fps: float = 60.0  # frames analysed per second: the source's own rate up to this (and so is the BVH's)
    max_side: int = 1280  # long side of the frames read: a far, small person is cropped from these and enlarged
    detect_fps: float = 10.0  # rate of the whole-frame search for people; between searches each person is followed
    num_poses: int = 2  # bodies the whole-frame search may return: more than one lets us follow the central person
    tiles: int = 3  # a search that finds nobody looks again in tiles x tiles enlarged parts (people too small to see)
    min_visibility: float = 0.5  # landmarks MediaPipe is less sure are in view count as missing and are filled
    max_gap_seconds: float = 0.5  # missing stretches up to this long are interpolated quietly; longer ones are reported
    min_cutoff: float = 1.5  # One Euro minimum cutoff (Hz): lower = steadier, but quick moves get rounded off
    beta: float = 0.5  # One Euro speed coefficient: higher = fast moves are smoothed less (sharper, more jitter)
    lock_feet: bool = True  # pin planted feet so they do not slide (by moving the root)
    leg_ik: bool = True  # and bend the legs so each planted foot stays exactly where it landed (two-bone IK)
    ik_fade_seconds: float = 0.15  # after a foot lifts, its IK correction fades out over this long
    contact_speed: float = 0.8  # m/s: a foot slower than this in the image is planted (walk: stance < 0.9, swing 2-4.5)
    fov_degrees: float = 65.0  # camera field of view across the long side (phones ~65-75); sets the root's depth
    proportions: str = "video"  # "video": bone lengths measured from the first frames; "default": standard adult
    measure_seconds: float = 2.0  # how much of the start is used to measure bone lengths
    preview_height: int = 480  # pixel height of the preview video
    landmark_cache: int = 4  # recent video ranges whose landmarks are kept: new smoothing is instant, another person quick


@dataclass
class MotionCaptureOutput:
    """The clip plus everything needed to judge it."""

    clip: MotionClip  # one frame per processed video frame
    track: PoseTrack  # raw MediaPipe landmarks (NaN where no person)
    cleaned: np.ndarray  # (T, 33, 3) filled and smoothed world landmarks, character axes (Y up)
    contacts: np.ndarray  # (T, 2) left/right foot planted
    made_up: np.ndarray  # (T,) frames inside a long stretch without a person: their pose is interpolated
    lengths: BoneLengths  # the bone lengths the skeleton was built with
    stats: dict[str, float]  # measured quality and speed (see `_stats`)
    warnings: list[str] = field(default_factory=list)  # plain sentences for the user
    preview: Path | None = None  # side-by-side MP4, when asked for
    fit: np.ndarray | None = None  # (T, J, 2) the clip's joints drawn back onto the source frames (0-1 image coordinates)
    sightings: PoseTrack | None = None  # the whole-frame search's track of this person (every `search_step`-th frame)
    search_step: int = 1  # frames between two searches


class MotionCapturePipeline:
    """Video -> MotionClip. Holds the model path and a small cache of recent landmark results; each
    call gets its own landmarker (VIDEO mode needs increasing timestamps per instance), so one
    pipeline serves many users at once."""

    def __init__(self, model_path: str | Path, config: MotionCaptureConfig | None = None):
        self.model_path = Path(model_path)
        self.config = config or MotionCaptureConfig()
        self._landmarks: OrderedDict[tuple, tuple] = OrderedDict()
        self._cache_lock = threading.Lock()
        if self.config.proportions not in PROPORTIONS:
            raise InputError(f"proportions must be one of {', '.join(PROPORTIONS)}, got {self.config.proportions!r}")

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, config: MotionCaptureConfig | None = None, device: str = "auto"
    ) -> MotionCapturePipeline:
        """Load from a .task file or a folder holding pose_landmarker_full.task (default: weights/).

        MediaPipe's Python Tasks run this model on the CPU; `device` is accepted for a uniform API
        and must be "cpu" or "auto".
        """
        if device not in ("cpu", "auto"):
            raise InputError(f"the pose landmarker runs on the CPU; device {device!r} is not supported")
        if path is None or Path(path).is_dir():
            model = resolve(POSE_MODEL, root=path)
        else:
            model = Path(path)
            if not model.is_file():
                raise WeightsNotFoundError(f"Pose model file not found: {model}. {POSE_MODEL.how_to_get}")
        return cls(model, config)

    def check_inputs(
        self, video: str | Path, start: float | None, end: float | None, min_cutoff: float, beta: float, person: int = 0
    ) -> None:
        """Refuse a request that cannot work, before any file is opened; the video itself is probed in the call."""
        if not video:
            raise InputError("no video was given")
        if person < 0:
            raise InputError(f"person must be 0 (the main person) or more, got {person}")
        if min_cutoff <= 0:
            raise InputError(f"smoothing min cutoff must be above 0 Hz, got {min_cutoff}")
        if beta < 0:
            raise InputError(f"smoothing beta must be 0 or more, got {beta}")
        if start is not None and start < 0:
            raise InputError(f"start must be 0 s or later, got {start} s")
        if start is not None and end is not None and end <= start:
            raise InputError(f"end ({end:.2f} s) must come after start ({start:.2f} s)")

    def _frame_range(self, info: VideoInfo, start: float | None, end: float | None) -> tuple[float, float]:
        """The (start, duration) to read, once the probe has told the video's length."""
        start = float(start or 0.0)
        if info.duration and start >= info.duration:
            raise InputError(f"start {start:.2f} s is past the end of the {info.duration:.2f} s video")
        stop = float(end) if end is not None else (info.duration or start + self.config.max_seconds)
        if info.duration:
            stop = min(stop, info.duration)
        if stop <= start:
            raise InputError(f"end ({stop:.2f} s) must come after start ({start:.2f} s)")
        if stop - start > self.config.max_seconds + 1e-6:
            raise InputError(
                f"the selected range is {stop - start:.1f} s; one run handles at most {self.config.max_seconds:.0f} s: "
                "set a start and end to pick a part of the video"
            )
        return start, stop - start

    def __call__(
        self,
        video: str | Path,
        start: float | None = None,
        end: float | None = None,
        min_cutoff: float | None = None,
        beta: float | None = None,
        person: int = 0,
        preview: str | Path | None = None,
        progress: Progress | None = None,
    ) -> MotionCaptureOutput:
        """Capture `video` (optionally the `start`-`end` seconds) as a clip; `person` 0 is the largest,
        most central, most present person, 1 the next, and so on. `preview`: MP4 path to write."""
        cfg = self.config
        min_cutoff = cfg.min_cutoff if min_cutoff is None else float(min_cutoff)
        beta = cfg.beta if beta is None else float(beta)
        report = progress or (lambda fraction, message: None)
        began = time.perf_counter()

        # 1. Check the request, probe the video, decide the frame rates and the size of the frames read.
        person = int(person)
        self.check_inputs(video, start, end, min_cutoff, beta, person)
        info = probe(video)
        start, duration = self._frame_range(info, start, end)
        fps = min(info.fps or cfg.max_fps, cfg.max_fps)
        step = max(1, int(round(fps / cfg.detect_fps)))  # every step-th frame is searched for people
        size = output_size(info.width, info.height, cfg.max_side)
        expected = max(1, int(round(duration * fps)))
        stat = info.path.stat()
        key = (str(info.path.resolve()), stat.st_mtime_ns, stat.st_size, start, duration, fps, size, step)

        # 2. Find the people (whole frames, a few times a second), unless this very range was just searched.
        def search():
            report(0.0, "finding the people")
            searched = max(1, expected // step)
            return track_poses(
                read_frames(info.path, fps / step, size, start, duration), self.model_path, fps / step, searched,
                cfg.num_poses, on_frame=lambda i: report(0.3 * min(i + 1, searched) / searched, f"search {i + 1}/{searched}"),
                tiles=cfg.tiles,
            )  # fmt: skip

        (people, _), _ = self._cached(("people", *key), search)
        if not people:
            raise InputError(
                f"no person was found in {info.path.name}; film one person, whole body in view if possible"
            )
        if person >= len(people):
            raise InputError(f"person {person} was asked for, but only {len(people)} found (0 is the main one)")

        # 3. Follow the chosen person through every frame, on a crop around them (the slow part).
        def follow():
            report(0.3, "following the person")
            return follow_person(
                read_frames(info.path, fps, size, start, duration), self.model_path, fps, people[person], step,
                on_frame=lambda i: report(0.3 + 0.5 * min(i + 1, expected) / expected, f"pose {i + 1}/{expected}"),
            )  # fmt: skip

        (track, decoded), reused = self._cached(("follow", *key, person), follow)
        track = copy.copy(track)  # callers may set fields; the cache keeps its own
        track.start = start
        landmarks_seconds = time.perf_counter() - began
        if decoded < MIN_FRAMES:
            raise InputError(f"only {decoded} frame(s) could be decoded from {info.path.name}; it needs a real video")
        # Fewer frames than the container promised: cut off or damaged (browser recordings may promise nothing).
        damaged = info.duration > 0 and decoded < EXPECTED_SHARE * expected

        # 4-6. Clean, measure the person, solve rotations, place the root and the feet.
        output = self.retarget(track, min_cutoff, beta, report)
        output.sightings, output.search_step = people[person], step
        output.stats["landmarks_reused"] = float(reused)  # then the speeds below are not MediaPipe's
        output.stats["landmarks_fps"] = track.num_frames / landmarks_seconds
        if damaged:
            output.warnings.insert(
                0,
                f"The video ended early: {decoded} of {expected} expected frames could be decoded "
                "(the file may be cut off or damaged); the clip covers what was readable.",
            )

        # 7. Preview, H.264 for browsers: the source with its landmarks, the clip drawn back on it, the skeleton.
        if preview is not None:
            report(0.92, "rendering the preview")
            source = read_frames(info.path, fps, output_size(info.width, info.height, 2 * cfg.preview_height), start, duration)
            output.preview = render_preview(
                preview, output.clip, source, track, output.made_up, cfg.preview_height, fit=output.fit
            )
        output.stats["end_to_end_fps"] = track.num_frames / (time.perf_counter() - began)
        report(1.0, "done")
        return output

    def retarget(
        self, track: PoseTrack, min_cutoff: float | None = None, beta: float | None = None, progress: Progress | None = None
    ) -> MotionCaptureOutput:
        """Landmarks -> clip (steps 4-6 of `__call__`): re-run this to try other settings without MediaPipe."""
        cfg = self.config
        min_cutoff = cfg.min_cutoff if min_cutoff is None else float(min_cutoff)
        beta = cfg.beta if beta is None else float(beta)
        report = progress or (lambda fraction, message: None)
        fps = track.fps
        if track.num_frames < MIN_FRAMES:
            raise InputError(f"a clip needs at least {MIN_FRAMES} frames; this one has {track.num_frames}")
        if not track.detected.any():
            raise InputError(f"no person was found in any of the {track.num_frames} frames; film one person, whole body in view")

        # 3. Clean: fill what MediaPipe missed, then smooth.
        report(0.82, "cleaning the landmarks")
        valid = track.detected[:, None] & (track.visibility >= cfg.min_visibility)
        max_gap = max(1, int(round(cfg.max_gap_seconds * fps)))
        world, long_gap = cleaning.fill_gaps(track.world, valid, max_gap)
        pixels, _ = cleaning.fill_gaps(track.pixels(), valid, max_gap)
        made_up = cleaning.long_runs(~track.detected, max_gap)
        world = cleaning.one_euro(world, fps, min_cutoff, beta)
        pixels = cleaning.one_euro(pixels, fps, min_cutoff, beta)
        points = world_to_character(world)

        # 4. The character: bone lengths from the first seconds (or defaults), T-pose skeleton.
        first = slice(0, max(MIN_FRAMES, int(cfg.measure_seconds * fps)))
        measured = measure_lengths(track.world[first], np.where(valid, track.visibility, 0.0)[first])
        lengths = measured if cfg.proportions == "video" else BoneLengths()
        skeleton = build_skeleton(lengths)

        # 5. Joint rotations.
        report(0.86, "solving joint rotations")
        rotations = solvers.solve_clip(points, skeleton)

        # 6. Root travel from the image, scaled to the character, with planted feet pinned.
        report(0.9, "placing the root and feet")
        weights = np.where(valid, np.maximum(track.visibility, 1e-3), 1e-3)[:, list(BODY)]
        root_camera, pixels_per_metre, origin = cleaning.estimate_root(
            pixels[:, list(BODY)], world[:, list(BODY)], weights, track.width, track.height, cfg.fov_degrees
        )
        character_scale = (lengths.upper_leg + lengths.lower_leg) / (measured.upper_leg + measured.lower_leg)
        travel, travel_note = cleaning.hold_travel(root_camera, valid[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE]].any())
        root = world_to_character(travel) * character_scale
        contacts = np.stack(
            [cleaning.foot_contacts(pixels[:, list(foot)], pixels_per_metre, fps, cfg.contact_speed) for foot in FEET],
            axis=1,
        )
        contacts &= valid[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE]]  # a hidden foot is not known to be planted
        planted = contacts if cfg.lock_feet else np.zeros_like(contacts)
        root = self._place_root(skeleton, rotations, root, planted)
        clip = MotionClip(fps, skeleton, root, rotations.as_quat().reshape(track.num_frames, len(skeleton.joints), 4))
        if cfg.leg_ik:
            clip = ik.plant_feet(clip, planted, cfg.ik_fade_seconds)
        clip.check_finite()  # the guarantee: whatever the video, no NaN reaches a file or the preview

        stats = self._stats(track, points, clip, valid, contacts)
        notes = self._warnings(track, long_gap, made_up, fps) + ([travel_note] if travel_note else [])
        fit = project_onto_source(clip, pixels_per_metre, origin, character_scale, (track.width, track.height))
        return MotionCaptureOutput(clip, track, points, contacts, made_up, lengths, stats, notes, fit=fit)

    def _cached(self, key: tuple, compute: Callable[[], tuple]) -> tuple[tuple, bool]:
        """`compute()`'s result for `key`, and whether it was already known (kept for `landmark_cache` videos)."""
        with self._cache_lock:
            known = self._landmarks.get(key)
        if known is not None:
            return known, True
        result = compute()
        with self._cache_lock:
            self._landmarks[key] = result
            while len(self._landmarks) > 2 * self.config.landmark_cache:  # a search and a followed person per video
                self._landmarks.popitem(last=False)  # forget the oldest
        return result, False

    @staticmethod
    def _place_root(skeleton: Skeleton, rotations: Rotation, root: np.ndarray, contacts: np.ndarray) -> np.ndarray:
        """Pin planted feet (see `cleaning.lock_feet`) and keep the soles on a floor at height 0."""
        frames = len(root)
        joints, ends = forward_kinematics(skeleton, rotations, np.zeros((frames, 3)))
        feet = [joints[:, skeleton.index(name)] for name in FOOT_JOINTS]
        root = cleaning.lock_feet(root, feet, [contacts[:, 0], contacts[:, 1]])
        lowest_sole = np.concatenate([np.stack(feet, axis=1), ends], axis=1)[..., 1].min(axis=1)
        root[:, 1] = cleaning.ground_height(root[:, 1], lowest_sole, contacts.any(axis=1))
        return root

    @staticmethod
    def _stats(
        track: PoseTrack, cleaned: np.ndarray, clip: MotionClip, valid: np.ndarray, contacts: np.ndarray
    ) -> dict[str, float]:
        """Quality numbers: share of frames with a pose, jitter, bone-length constancy, foot slide
        (`__call__` adds speed)."""
        raw = world_to_character(track.world)
        body = list(BODY)
        cleaned_on_raw = np.where(np.isnan(raw), np.nan, cleaned)  # compare on the same frames
        joints, _ = clip.positions()
        local = joints - clip.root_positions[:, None]

        def spread(lengths: np.ndarray) -> float:  # worst relative std of a segment length over the clip
            seen = np.isfinite(lengths).sum(axis=0) >= 2  # a segment never seen twice has no spread to measure
            if not seen.any():
                return float("nan")
            lengths = lengths[:, seen]
            return float(np.max(np.nanstd(lengths, axis=0) / np.nanmean(lengths, axis=0)))

        raw_limbs = np.stack([np.linalg.norm(raw[:, a] - raw[:, b], axis=-1) for a, b in LIMBS], axis=1)
        raw_limbs[~np.stack([valid[:, a] & valid[:, b] for a, b in LIMBS], axis=1)] = np.nan
        clip_bones = np.stack(
            [np.linalg.norm(joints[:, j] - joints[:, p], axis=-1) for j, p in enumerate(clip.parents) if p >= 0], axis=1
        )
        frames = track.num_frames
        return {
            "frames": frames,
            "fps": track.fps,
            "pose_share": float(track.detected.mean()),
            "jitter_raw": cleaning.mean_acceleration(raw[:, body], track.fps),
            "jitter_cleaned": cleaning.mean_acceleration(cleaned_on_raw[:, body], track.fps),
            "jitter_skeleton": cleaning.mean_acceleration(local, track.fps),
            "bone_spread_raw": spread(raw_limbs),
            "bone_spread_clip": spread(clip_bones),
            "foot_skate_cm": ik.foot_skate(clip, contacts),
        }

    @staticmethod
    def _warnings(track: PoseTrack, long_gap: np.ndarray, made_up: np.ndarray, fps: float) -> list[str]:
        """Plain sentences about what the clip had to guess."""
        notes = []
        missing = int((~track.detected).sum())
        if missing:
            notes.append(f"No person in {missing} of {track.num_frames} frames; the pose there is interpolated.")
        if made_up.any():
            seconds = made_up.sum() / fps
            notes.append(f"{seconds:.1f} s of the clip is a long stretch without a clear pose (marked in the preview).")
        hidden = long_gap[track.detected].mean(axis=0)  # frames with nobody at all are reported above
        guessed = [L(j).name.lower().replace("_", " ") for j in np.flatnonzero(hidden > 0.2) if L(j) in BODY]
        if guessed:
            notes.append(f"Hidden or out of view for long stretches: {', '.join(guessed)}; their motion is estimated.")
        return notes
