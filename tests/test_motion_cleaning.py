"""Cleaning and tracking: gap filling, One Euro, root and feet, following one person. Synthetic data only."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.motion import cleaning
from pipelines.motion.landmarks import NUM_LANDMARKS
from pipelines.motion.landmarks import PoseLandmark as L
from pipelines.motion.tracking import link_people, rank_people

FPS = 30.0


def test_fill_gaps_interpolates_short_gaps_and_marks_long_ones():
    frames = np.arange(40, dtype=float)
    values = np.stack([frames, 2 * frames], axis=1)[:, :, None].repeat(3, axis=2)  # (T, 2 joints, 3)
    valid = np.ones((40, 2), dtype=bool)
    valid[5:8, 0] = False  # a 3-frame gap: short
    valid[20:32, 1] = False  # a 12-frame gap: long
    valid[:2, 0] = False  # before the first sighting: held
    broken = np.where(valid[:, :, None], values, np.nan)
    filled, long_gap = cleaning.fill_gaps(broken, valid, max_gap=5)
    assert np.allclose(filled[2:, 0], values[2:, 0])  # linear data comes back exactly
    assert np.allclose(filled[:2, 0], values[2, 0])
    assert np.allclose(filled[:, 1], values[:, 1])
    assert not long_gap[:, 0].any()
    assert long_gap[20:32, 1].all() and long_gap[:, 1].sum() == 12


def test_fill_gaps_marks_a_joint_never_seen():
    values = np.zeros((10, 1, 3))
    _, long_gap = cleaning.fill_gaps(values, np.zeros((10, 1), dtype=bool), max_gap=3)
    assert long_gap.all()


def test_one_euro_removes_jitter_but_follows_the_motion():
    rng = np.random.default_rng(0)
    t = np.arange(150) / FPS
    # A hand swinging 30 cm at 0.8 Hz, with 1 cm of landmark noise.
    clean = np.stack([0.3 * np.sin(2 * np.pi * 0.8 * t), 0.15 * np.cos(2 * np.pi * 0.5 * t), 0 * t], axis=1)[:, None]
    noisy = clean + rng.normal(scale=0.01, size=clean.shape)
    smooth = cleaning.one_euro(noisy, FPS, min_cutoff=1.5, beta=0.5)
    # Jitter is the acceleration of the error: the true motion's own acceleration is not noise.
    assert cleaning.mean_acceleration(smooth - clean, FPS) < cleaning.mean_acceleration(noisy - clean, FPS) / 5
    # It still follows the real motion (forward-backward: no lag), within a few centimetres.
    assert np.abs(smooth - clean).max() < 0.05


def test_one_euro_beta_keeps_fast_moves_sharp():
    rng = np.random.default_rng(1)
    t = np.arange(90) / FPS
    clean = np.sin(2 * np.pi * 1.5 * t)[:, None]
    noisy = clean + rng.normal(scale=0.01, size=clean.shape)
    lagging = cleaning.one_euro(noisy, FPS, min_cutoff=0.5, beta=0.0)
    quick = cleaning.one_euro(noisy, FPS, min_cutoff=0.5, beta=2.0)
    assert np.abs(quick - clean).mean() < np.abs(lagging - clean).mean()


def test_one_euro_rejects_bad_parameters():
    with pytest.raises(ValueError, match="min_cutoff"):
        cleaning.one_euro(np.zeros((5, 3)), FPS, min_cutoff=0.0, beta=0.1)


def test_image_scale_fit_recovers_scale_and_hip_position():
    rng = np.random.default_rng(2)
    world = rng.normal(scale=0.4, size=(20, 3))
    image = 180.0 * world[:, :2] + np.array([320.0, 200.0])
    scale, origin = cleaning.fit_image_scale(image, world[:, :2], np.ones(20))
    assert scale == pytest.approx(180.0) and np.allclose(origin, [320.0, 200.0])


def test_root_depth_doubles_when_the_person_looks_half_as_big():
    world = np.random.default_rng(3).normal(scale=0.4, size=(1, 12, 3)).repeat(2, axis=0)
    pixels = np.stack([200.0 * world[0, :, :2] + 320, 100.0 * world[1, :, :2] + 320])
    root, scales, _ = cleaning.estimate_root(pixels, world, np.ones((2, 12)), 640, 640, fov_degrees=60)
    assert scales == pytest.approx([200.0, 100.0])
    assert root[1, 2] == pytest.approx(2 * root[0, 2])


def test_foot_contacts_find_the_planted_foot():
    planted = np.zeros((30, 2, 2)) + [300.0, 400.0]
    swinging = planted + np.linspace(0, 300, 30)[:, None, None] * [1.0, 0.0]  # 300 px/s at 100 px/m = 3 m/s
    ppm = np.full(30, 100.0)
    assert cleaning.foot_contacts(planted, ppm, FPS, max_speed=0.5).all()
    assert not cleaning.foot_contacts(swinging, ppm, FPS, max_speed=0.5).any()


def test_lock_feet_stops_a_planted_foot_from_sliding():
    frames = 40
    foot = np.stack([np.linspace(0.3, -0.3, frames), np.full(frames, -0.9), np.zeros(frames)], axis=1)  # foot swings back
    image_root = np.stack([np.linspace(0, 0.5, frames), np.full(frames, 0.9), np.zeros(frames)], axis=1)
    image_root += np.random.default_rng(4).normal(scale=0.02, size=image_root.shape)  # noisy estimate
    contact = np.ones(frames, dtype=bool)
    root = cleaning.lock_feet(image_root, [foot], [contact])
    world_foot = root + foot
    assert np.ptp(world_foot[:, [0, 2]], axis=0).max() < 1e-9  # the foot stays put on the floor
    free = cleaning.lock_feet(image_root, [foot], [~contact])
    assert np.allclose(free, image_root)  # no contact: the image estimate is kept


def test_ground_height_puts_planted_soles_on_the_floor_and_keeps_a_jump():
    frames = 30
    sole = np.full(frames, -0.95)  # the lowest sole is 0.95 m below the root
    image = np.full(frames, 2.0)
    image[10:20] += np.sin(np.linspace(0, np.pi, 10)) * 0.4  # a jump the image sees
    planted = np.ones(frames, dtype=bool)
    planted[10:20] = False
    height = cleaning.ground_height(image, sole, planted)
    assert np.allclose(height[planted], 0.95)
    assert height[14] == pytest.approx(0.95 + image[14] - 2.0)


def _body(cx: float, cy: float, size: float) -> np.ndarray:
    """33 image points of a stick figure centred on the hips at (cx, cy), `size` tall."""
    rng = np.random.default_rng(int(cx * 1000))
    points = np.column_stack([cx + rng.uniform(-0.2, 0.2, NUM_LANDMARKS) * size, cy + rng.uniform(-0.5, 0.5, NUM_LANDMARKS) * size])
    points[[L.LEFT_HIP, L.RIGHT_HIP]] = [[cx + 0.05 * size, cy], [cx - 0.05 * size, cy]]
    points[L.NOSE] = [cx, cy - 0.5 * size]
    points[L.LEFT_ANKLE] = [cx, cy + 0.5 * size]
    return points


def test_tracking_follows_the_larger_central_person_not_the_passer_by():
    frames = []
    for t in range(40):
        subject = _body(0.5 + 0.002 * t, 0.5, 0.6)
        passer = _body(0.95 - 0.02 * t, 0.6, 0.3)
        bodies = [passer, subject] if t % 2 else [subject, passer]  # MediaPipe's order is arbitrary
        if 15 <= t < 20:
            bodies = [passer]  # the subject is hidden for a moment
        frames.append(bodies)
    tracks = link_people(frames, max_missing=30, fps=30.0)
    ranked = rank_people(frames, tracks, fps=30.0)
    assert len(ranked) == 2
    subject_track = tracks[ranked[0]]
    for t, k in subject_track.items():
        assert abs(frames[t][k][L.LEFT_HIP, 0] - (0.5 + 0.002 * t) - 0.03) < 1e-9  # always the subject's hips
    assert len(subject_track) == 35  # every frame the subject is visible, none of the passer-by's


def test_tracking_merges_a_person_returned_twice():
    frames = [[_body(0.5, 0.5, 0.6), _body(0.505, 0.5, 0.58)] for _ in range(10)]
    assert len(link_people(frames, max_missing=30, fps=30.0)) == 1


@pytest.mark.parametrize("fast_fps", [60.0, 120.0])
def test_one_euro_smooths_the_same_motion_the_same_at_any_frame_rate(fast_fps):
    """Settings are in Hz: the same motion sampled at 30 and at 60 or 120 fps comes out the same at the
    shared instants, to well within the smoothing's own effect."""

    def smoothed(fps):
        t = np.arange(0, 3, 1 / fps)
        motion = np.sin(2 * np.pi * 0.7 * t) + 0.3 * np.sin(2 * np.pi * 3 * t)
        return cleaning.one_euro(motion[:, None], fps, 1.5, 0.5)[:, 0], motion

    slow, motion = smoothed(30.0)
    fast, _ = smoothed(fast_fps)
    effect = np.abs(slow - motion).max()
    assert np.abs(slow - fast[:: int(fast_fps / 30)]).max() < 0.2 * effect


def test_foot_contacts_measure_speed_over_the_same_time_at_any_rate():
    """A foot that drifts at 0.3 m/s with 3 px of landmark noise is planted at 30 and at 60 fps alike (measured
    over two frames, the 60 fps noise would lift it in one frame out of eight)."""
    rng = np.random.default_rng(1)
    for fps in (30.0, 60.0):
        t = np.arange(0, 2, 1 / fps)
        foot = np.stack([100 + 0.3 * 200 * t, np.full_like(t, 300)], axis=1)[:, None].repeat(2, axis=1)
        foot = foot + rng.normal(scale=3.0, size=foot.shape)
        assert cleaning.foot_contacts(foot, np.full(len(t), 200.0), fps, max_speed=0.8).mean() > 0.95


def test_a_crop_maps_back_to_the_frame_it_was_cut_from():
    """The follower cuts a square around the person and enlarges it; a point found in the crop must land on the
    same pixel of the frame."""
    from pipelines.motion.tracking import CROP_SIZE, crop_window, cut_crop

    frame = np.zeros((360, 640, 3), np.uint8)
    frame[200, 500] = 255  # one bright pixel inside the body's box
    body = np.tile([[480.0, 150.0]], (NUM_LANDMARKS, 1))
    body[L.LEFT_ANKLE] = [520.0, 260.0]
    centre, side = crop_window(body)
    crop = cut_crop(frame, centre, side)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    y, x = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    back = centre - side / 2 + (np.array([x, y]) + 0.5) * side / CROP_SIZE
    assert np.abs(back - [500, 200]).max() <= side / CROP_SIZE + 0.5


def test_tiles_cover_the_whole_frame_with_overlap():
    from pipelines.motion.tracking import _tiles

    frame = np.zeros((360, 640, 3), np.uint8)
    covered = np.zeros(frame.shape[:2], int)
    for x0, y0, tile in _tiles(frame, 3):
        covered[y0 : y0 + tile.shape[0], x0 : x0 + tile.shape[1]] += 1
    assert covered.min() >= 1 and (covered > 1).mean() > 0.2
