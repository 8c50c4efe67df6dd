"""Turning noisy per-frame landmarks into steady motion: gap filling, One Euro smoothing, root and feet.

All functions are pure (arrays in, arrays out) and work on whole clips, frame axis first.
"""

from __future__ import annotations

import numpy as np

from pipelines.errors import InputError


def long_runs(mask: np.ndarray, max_length: int) -> np.ndarray:
    """(T,) True inside runs of consecutive True in `mask` longer than `max_length` frames."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    out = np.zeros(len(mask), dtype=bool)
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if stop - start > max_length:
            out[start:stop] = True
    return out


def fill_gaps(values: np.ndarray, valid: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill frames where a joint is not `valid` by linear interpolation between its neighbours.

    values: (T, J, D); valid: (T, J) bool. Gaps of at most `max_gap` frames are short enough that a
    straight line is a fair guess; longer gaps are filled the same way (so the clip stays playable)
    but returned as `long_gap` (T, J) so callers can say where the motion is made up. Frames before
    the first or after the last valid one hold that value. A joint never valid is filled the same way
    from the frames where it has any finite value (MediaPipe's own guess for a hidden joint) and is
    marked as a long gap throughout; only a joint with no finite value at all stays NaN.
    """
    filled = np.array(values, dtype=float, copy=True)
    long_gap = np.zeros(valid.shape, dtype=bool)
    frames = np.arange(len(values))
    for j in range(valid.shape[1]):
        ok = valid[:, j]
        if ok.all():
            continue
        if not ok.any():
            long_gap[:, j] = True
            ok = np.isfinite(filled[:, j]).all(axis=-1)
            if not ok.any():
                continue
        for d in range(values.shape[2]):
            filled[~ok, j, d] = np.interp(frames[~ok], frames[ok], filled[ok, j, d])
        long_gap[:, j] |= long_runs(~ok, max_gap)
    return filled, long_gap


def _smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Exponential smoothing weight of a first-order low-pass filter with `cutoff` Hz at step `dt`.

    The exact discretisation (1 - e^(-dt/tau)), not the paper's 1 / (1 + tau/dt): with it a run of
    steps of dt smooths exactly as much as one step of their sum, so the filter is the same at 30,
    60 or 120 frames a second.
    """
    return 1.0 - np.exp(-2.0 * np.pi * cutoff * dt)


def one_euro(values: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float = 1.0) -> np.ndarray:
    """One Euro filter (Casiez, Roussel and Vogel, CHI 2012) along axis 0 of `values` (T, ...).

    A low-pass filter whose cutoff rises with speed: `min_cutoff` (Hz) sets how much a still pose
    is steadied (lower = steadier), `beta` how fast the cutoff opens for quick moves (higher = less
    smoothing of fast moves). Each scalar channel is filtered on its own. A live tracker must run
    it causally and accept lag; we have the whole clip, so it runs forwards and then backwards:
    the two lags cancel (zero phase) and the smoothing is applied twice. The ends are padded with
    the clip's point reflection (as scipy's filtfilt does), so the first and last frames do not
    keep the lag of a filter that has just started.

    Both parameters are in Hz, and the filter is built to mean the same at any frame rate: the
    smoothing weight is the exact exponential one, and the speed that opens the cutoff is the
    signal's own (the paper differentiates against the previous filtered value, whose lag depends on
    the rate). A 60 fps clip is smoothed like the same motion filmed at 30 fps.
    """
    if min_cutoff <= 0 or beta < 0:
        raise InputError(f"One Euro needs min_cutoff > 0 and beta >= 0, got {min_cutoff} and {beta}")
    x = np.asarray(values, dtype=float)
    pad = min(len(x) - 1, int(round(fps / 2)))
    if pad > 0:
        x = np.concatenate([2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2 : -pad - 2 : -1]])
    forward = _one_euro_pass(x, fps, min_cutoff, beta, d_cutoff)
    both = _one_euro_pass(forward[::-1], fps, min_cutoff, beta, d_cutoff)[::-1]
    return both[pad : len(both) - pad].copy() if pad > 0 else both.copy()


def _one_euro_pass(x: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    dt = 1.0 / fps
    alpha_d = _smoothing_factor(d_cutoff, dt)
    out[0] = x[0]
    speed = np.zeros_like(x[0])
    for t in range(1, len(x)):
        speed = speed + alpha_d * ((x[t] - x[t - 1]) / dt - speed)  # the signal's own speed: the same at any rate
        alpha = _smoothing_factor(min_cutoff + beta * np.abs(speed), dt)
        out[t] = out[t - 1] + alpha * (x[t] - out[t - 1])
    return out


def mean_acceleration(positions: np.ndarray, fps: float) -> float:
    """Jitter measure: mean norm of the second difference of positions (T, J, 3), in units/s^2.

    Frames with NaN (no pose) are skipped, so a raw track with holes can be compared with its
    cleaned version on the frames both have.
    """
    acc = (positions[2:] - 2 * positions[1:-1] + positions[:-2]) * fps**2
    norms = np.linalg.norm(acc, axis=-1)
    return float(np.nanmean(norms)) if np.isfinite(norms).any() else float("nan")


def fit_image_scale(image_xy: np.ndarray, world_xy: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Scale s (pixels per metre) and translation t with image ~ s * world + t.

    MediaPipe's world landmarks share the camera's x/y axes, so their projection onto the image
    plane differs from the image landmarks only by a scale and a shift (weak perspective). The
    shift is where the world origin (the hip centre) is in the image; the scale gives the depth.
    Both sides are foreshortened alike, so a leg pointing at the camera does not fool the scale.
    The scale is the ratio of the two point clouds' weighted spreads: the least-squares value
    when the two agree, and never negative or near zero when a bad frame makes them disagree.
    """
    w = weights / max(weights.sum(), 1e-9)
    mi = (w[:, None] * image_xy).sum(axis=0)
    mw = (w[:, None] * world_xy).sum(axis=0)
    spread_image = (w * ((image_xy - mi) ** 2).sum(axis=1)).sum()
    spread_world = (w * ((world_xy - mw) ** 2).sum(axis=1)).sum()
    scale = float(np.sqrt(spread_image / max(spread_world, 1e-12)))
    return scale, mi - scale * mw


def estimate_root(
    pixels: np.ndarray, world: np.ndarray, weights: np.ndarray, width: int, height: int, fov_degrees: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame hip-centre position in camera space (T, 3; metres, MediaPipe axes), image scale (T,) and
    where the hip centre is in the image (T, 2; pixels): the last two map the body onto the picture.

    pixels: (T, N, 2) image points; world: (T, N, 3) the same points in world landmarks; weights:
    (T, N) visibility. The scale is in pixels per metre. A pinhole camera with `fov_degrees`
    across the frame's long side gives the focal length f; depth is f / s, and the hip centre's
    image position back-projects to x, y. The absolute depth is only as good as the field-of-view
    guess, but changes of depth (walking toward the camera) and sideways travel come out in
    proportion.
    """
    focal = 0.5 * max(width, height) / np.tan(np.radians(fov_degrees) / 2)
    centre = np.array([width / 2, height / 2])
    root = np.empty((len(pixels), 3))
    scales = np.empty(len(pixels))
    origins = np.empty((len(pixels), 2))
    for t in range(len(pixels)):
        scales[t], origins[t] = fit_image_scale(pixels[t], world[t, :, :2], weights[t])
        depth = focal / max(scales[t], 1e-6)
        root[t, :2] = (origins[t] - centre) * depth / focal
        root[t, 2] = depth
    return root, scales, origins


CONTACT_WINDOW_SECONDS = 0.067  # foot speed is measured over +- this long (2 frames at 30 fps, 4 at 60)


def foot_contacts(foot_pixels: np.ndarray, pixels_per_metre: np.ndarray, fps: float, max_speed: float) -> np.ndarray:
    """(T,) True where a foot is planted: its points barely move in the image.

    foot_pixels: (T, K, 2) the heel and toe of one foot in pixels; pixels_per_metre: (T,) image
    scale. With a still camera a planted foot stays put in the image, which is a more reliable
    signal than depth, so speed is measured there (over +-`CONTACT_WINDOW_SECONDS`, to average out
    pixel noise, the same span of time at any frame rate) and converted to metres per second; the
    faster of heel and toe counts.
    """
    window = max(1, int(round(CONTACT_WINDOW_SECONDS * fps)))
    frames = len(foot_pixels)
    later = foot_pixels[np.minimum(np.arange(frames) + window, frames - 1)]
    earlier = foot_pixels[np.maximum(np.arange(frames) - window, 0)]
    span = np.minimum(np.arange(frames) + window, frames - 1) - np.maximum(np.arange(frames) - window, 0)
    step = np.linalg.norm(later - earlier, axis=-1).max(axis=1) / np.maximum(span, 1)
    speed = step * fps / np.maximum(pixels_per_metre, 1e-6)
    return speed < max_speed


def lock_feet(root: np.ndarray, foot_offsets: list[np.ndarray], contacts: list[np.ndarray]) -> np.ndarray:
    """Root trajectory (T, 3) whose planted feet do not slide over the floor (x and z; height is
    `ground_height`'s job).

    root: a first estimate (from the image); foot_offsets: per foot, its position relative to the
    root in each frame (from the retargeted skeleton); contacts: per foot, (T,) planted or not.
    Work in velocities: while a foot is planted the root moves exactly opposite to the foot's own
    motion relative to the root, so the foot stays fixed in the world; with no foot planted the
    root keeps the image estimate's velocity. Integrating gives a path without jumps.
    """
    velocity = np.diff(root, axis=0)
    for t in range(1, len(root)):
        planted = [-(off[t] - off[t - 1]) for off, c in zip(foot_offsets, contacts) if c[t] and c[t - 1]]
        if planted:
            velocity[t - 1, [0, 2]] = np.mean(planted, axis=0)[[0, 2]]
    return root[0] + np.concatenate([np.zeros((1, 3)), np.cumsum(velocity, axis=0)])


def ground_height(image_height: np.ndarray, lowest_sole: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """Root height (T,) that puts the floor at 0.

    image_height: the root's height as the image suggests (noisy, but it sees jumps);
    lowest_sole: (T,) height of the lowest sole point relative to the root; planted: (T,) some
    foot is on the floor. When a foot is planted the lowest sole touches the floor exactly. In
    between (a jump, a running stride) the height follows a straight line between the planted
    frames plus the image's own rise and fall above its straight line, so jumps keep their arc.
    With no planted frame at all the image height is used, shifted so the soles go down to 0.
    """
    frames = np.arange(len(planted))
    if not planted.any():
        return image_height - np.percentile(image_height + lowest_sole, 5)
    on_floor = -lowest_sole
    line = np.interp(frames, frames[planted], on_floor[planted])
    image_line = np.interp(frames, frames[planted], image_height[planted])
    return np.where(planted, on_floor, line + image_height - image_line)


def hold_travel(root_camera: np.ndarray, legs_seen: bool) -> tuple[np.ndarray, str | None]:
    """The root's travel from frame 0 (T, 3; camera axes) and a sentence when it could not be measured.

    Travel comes from the body's size and place in the image; without legs in view the size, and so the
    depth, has nothing to stand on, so the character stays in place. Frames whose estimate is not a
    finite number hold the nearest measured frame's place. Never returns a NaN.
    """
    frames = len(root_camera)
    if not legs_seen:
        return np.zeros((frames, 3)), (
            "The legs were never clearly in view, so how far the person travelled could not be measured; "
            "the character moves in place."
        )
    known = np.isfinite(root_camera).all(axis=1)
    if not known.any():
        return np.zeros((frames, 3)), "The person's travel could not be measured; the character moves in place."
    note = None
    if not known.all():
        steps = np.arange(frames)
        root_camera = np.stack([np.interp(steps, steps[known], root_camera[known, d]) for d in range(3)], axis=1)
        note = f"The person's travel could not be measured in {int((~known).sum())} frames; the character holds its place there."
    return root_camera - root_camera[0], note
