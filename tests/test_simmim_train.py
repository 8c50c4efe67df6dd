"""Training and evaluation of the SimMIM face model, end to end on a handful of faces and a tiny model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from pipelines.face import landmarks as fr
from pipelines.face.simmim.data import Augment, FaceCache, augment_face, build_cache, held_out, list_photos
from pipelines.face.simmim.train import learning_rate, masked_losses
from tests.conftest import EXAMPLES, WEIGHTS

# building the face cache and re-detecting faces run MediaPipe
pytestmark = pytest.mark.skipif(not (WEIGHTS / "face_landmarker.task").is_file(), reason="face_landmarker.task missing")

TINY = ["--image-size", "32", "--patch-size", "8", "--hidden-size", "32", "--layers", "2", "--heads", "2",
        "--refine-channels", "4", "--batch-size", "4", "--warmup-steps", "1", "--quiet", "--threads", "1"]  # fmt: skip


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Four portraits and a MANIFEST.csv marking two of them research-only."""
    folder = tmp_path_factory.mktemp("faces")
    names = sorted(p.name for p in (EXAMPLES / "faces").glob("*.jpg"))[:4]
    for name in names:
        shutil.copy(EXAMPLES / "faces" / name, folder / name)
    rows = ["file,research_only"] + [f"{n},{'yes' if i % 2 else 'no'}" for i, n in enumerate(names)]
    (folder / "MANIFEST.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def tiny_cache(photo_folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "faces.npz"
    report = build_cache(photo_folder, path, image_size=32, margin=4, progress=False)
    assert report["faces"] == 4 and not report["skipped"]
    return path


def test_cache_holds_aligned_faces_and_flags(tiny_cache):
    cache = FaceCache.load(tiny_cache)
    assert cache.crops.shape == (4, 40, 40, 3) and cache.landmarks.shape == (4, 478, 2)
    assert cache.research_only.tolist() == [False, True, False, True]
    right, left = cache.landmarks[:, fr.RIGHT_EYE_CENTER], cache.landmarks[:, fr.LEFT_EYE_CENTER]
    assert (right[:, 0] < left[:, 0]).all() and np.abs(right[:, 1] - left[:, 1]).max() < 1.5  # upright, level


def test_turned_faces_are_left_out(photo_folder, tmp_path):
    from pipelines.errors import InputError
    from pipelines.face.simmim.data import MAX_TURN, turn

    build_cache(photo_folder, tmp_path / "all.npz", image_size=32, margin=4, progress=False)
    frontal = FaceCache.load(tmp_path / "all.npz").landmarks[0]
    assert turn(frontal) < MAX_TURN / 2
    profile = frontal.copy()
    right = np.array(fr.RIGHT_EYE)
    profile[right] += (frontal[fr.NOSE_TIP] - frontal[right]) * 0.6  # the far eye closes in on the nose
    assert turn(profile) > MAX_TURN
    with pytest.raises(InputError, match=r"No usable face .*turned away \(0\.\d\d > 0\.0\)"):
        build_cache(photo_folder, tmp_path / "none.npz", image_size=32, margin=4, progress=False, max_turn=0.0)


def test_public_domain_filter_and_held_out_split(photo_folder):
    assert len(list_photos(photo_folder, public_domain_only=True)) == 2
    assert len(list_photos(photo_folder)) == 4
    names = [f"face_{i}.jpg" for i in range(2000)]
    share = np.mean([held_out(n) for n in names])
    assert 0.03 < share < 0.07 and held_out("a.jpg") == held_out("other/dir/a.jpg")


def test_flip_mirrors_the_image_and_swaps_left_and_right(tiny_cache):
    cache = FaceCache.load(tiny_cache)
    still = Augment(scale=0, rotate_deg=0, shift_px=0, brightness=0, contrast=0, saturation=0, channel_gain=0)
    flipped = Augment(**{**still.__dict__, "flip": 1.0})
    still.flip = 0.0
    args = (cache.crops[0], cache.landmarks[0], cache.quads[0], 32, cache.margin)
    image, points, valid = augment_face(*args, still, np.random.default_rng(0))
    image_f, points_f, _ = augment_face(*args, flipped, np.random.default_rng(0))
    assert np.allclose(image_f, image[:, ::-1], atol=1 / 255)
    assert np.allclose(points, cache.landmarks[0] - cache.margin, atol=1e-3)
    # the person's right eye is still on the image left, and it is the old left eye, mirrored
    assert points_f[fr.RIGHT_EYE_CENTER, 0] < points_f[fr.LEFT_EYE_CENTER, 0]
    assert np.allclose(points_f[fr.RIGHT_EYE_CENTER], (31 - points[fr.LEFT_EYE_CENTER, 0], points[fr.LEFT_EYE_CENTER, 1]),
                       atol=1e-3)  # fmt: skip
    assert valid.all()


def test_colour_jitter_is_the_steps_folded_into_one_matrix(tiny_cache):
    """One pass equals gains, then contrast about the mean, then saturation about each pixel's grey, then a clip."""
    from pipelines.face.simmim.data import colour_jitter

    strong = Augment(brightness=0.5, contrast=0.5, saturation=0.9, channel_gain=0.3)
    for index, crop in enumerate(FaceCache.load(tiny_cache).crops):
        rng = np.random.default_rng(index)
        gain = rng.uniform(0.5, 1.5) * rng.uniform(0.7, 1.3, 3)
        contrast, saturation = rng.uniform(0.5, 1.5), rng.uniform(0.1, 1.9)
        image = crop.astype(np.float64) / 255 * gain
        image = (image - image.mean()) * contrast + image.mean()
        grey = image.mean(axis=2, keepdims=True)
        expected = np.clip((image - grey) * saturation + grey, 0, 1)
        np.testing.assert_allclose(colour_jitter(crop, strong, np.random.default_rng(index)), expected, atol=1e-5)


def test_losses_and_schedule():
    target = torch.rand(2, 3, 16, 16) * 2 - 1
    weight = torch.ones(2, 1, 16, 16)
    l1, edge = masked_losses(target, target, weight)
    assert l1 == 0 and edge == 0
    flat = target.mean(dim=(2, 3), keepdim=True).expand_as(target)  # the "flat block" failure
    l1_flat, edge_flat = masked_losses(flat, target, weight)
    assert l1_flat > 0 and edge_flat > 0
    only_left = weight.clone()
    only_left[..., 8:] = 0
    shifted = target.clone()
    shifted[..., 8:] += 1  # errors outside the weighted pixels do not count
    assert masked_losses(shifted, target, only_left)[0] == 0
    from pipelines.face.simmim.train import TrainConfig

    cfg = TrainConfig(out="x", lr=1e-3, min_lr=1e-5, warmup_steps=10)
    assert learning_rate(0, 100, cfg) == pytest.approx(1e-4) and learning_rate(9, 100, cfg) == pytest.approx(1e-3)
    assert learning_rate(100, 100, cfg) == pytest.approx(1e-5)


def test_training_needs_an_output_folder(capsys):
    """Without --out the command stops before touching anything (its old default was the shipped weights' folder)."""
    from pipelines.__main__ import build_parser

    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["train-simmim", "--data", "faces"])
    assert stop.value.code == 2 and "--out" in capsys.readouterr().err


def test_train_three_steps_then_resume(tiny_cache, tmp_path):
    from pipelines.__main__ import main
    from pipelines.face.simmim.model import SimMIMFace

    out = tmp_path / "run"
    common = ["--device", "cpu", "train-simmim", "--cache", str(tiny_cache), "--out", str(out), *TINY]
    assert main([*common, "--steps", "3", "--sample-every", "2", "--checkpoint-every", "2"]) == 0
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000002.png", "step_000003.png"]
    state = json.loads((out / "checkpoint" / "trainer.json").read_text())
    assert state["step"] == 3
    first = SimMIMFace.from_pretrained(out / "checkpoint")
    assert main([*common, "--steps", "5", "--resume"]) == 0
    assert json.loads((out / "checkpoint" / "trainer.json").read_text())["step"] == 5
    resumed = SimMIMFace.from_pretrained(out / "checkpoint")
    changed = [not torch.equal(a, b) for a, b in zip(first.state_dict().values(), resumed.state_dict().values())]
    assert any(changed)  # two more steps moved the weights
    from safetensors.torch import load_file

    moments = load_file(str(out / "checkpoint" / "optimizer.safetensors"))
    assert any(k.endswith(".exp_avg_sq") for k in moments) and float(moments["0.step"]) == 5.0


def test_two_processes_average_their_gradients(tiny_cache, tmp_path):
    """torchrun on a CPU (gloo): rank 0 draws the batches a single process would, so what it saves differs from the
    single process's weights only by rank 1's gradients, which DDP averages in (the discriminator's too)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from pipelines.__main__ import main
    from pipelines.face.simmim.model import SimMIMFace

    def args(out):
        return ["--device", "cpu", "train-simmim", "--cache", str(tiny_cache), "--out", str(out), *TINY, "--steps", "2",
                "--adv-loss", "0.1"]  # fmt: skip

    alone, again, pair = tmp_path / "alone", tmp_path / "again", tmp_path / "pair"
    assert main(args(alone)) == 0 and main(args(again)) == 0
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "pipelines"]
    done = subprocess.run([*launch, *args(pair)], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "training in 2 processes (gloo)" in done.stdout and done.stdout.count("saved ") == 1  # rank 0 writes
    assert json.loads((pair / "checkpoint" / "trainer.json").read_text())["step"] == 2

    def weights(out):
        return SimMIMFace.from_pretrained(out).state_dict()

    single, repeat, averaged = weights(alone), weights(again), weights(pair)
    assert all(torch.equal(single[k], repeat[k]) for k in single)  # one process is deterministic ...
    assert any(not torch.equal(single[k], averaged[k]) for k in single)  # ... so rank 1's gradients made the change


def test_the_discriminators_term_joins_at_adv_start(tiny_cache, tmp_path):
    """Before --adv-start the generator learns as without a discriminator (bit for bit); from it, otherwise."""
    from pipelines.__main__ import main
    from pipelines.face.simmim.model import SimMIMFace

    def weights(name, *extra):
        out = tmp_path / name
        assert main(["--device", "cpu", "train-simmim", "--cache", str(tiny_cache), "--out", str(out), *TINY,
                     "--steps", "3", "--save-dtype", "float32", *extra]) == 0  # fmt: skip
        return SimMIMFace.from_pretrained(out).state_dict()

    plain, late, early = weights("plain"), weights("late", "--adv-loss", "0.5", "--adv-start", "1.0"), weights(
        "early", "--adv-loss", "0.5", "--adv-start", "0.0")  # fmt: skip
    assert all(torch.equal(plain[k], late[k]) for k in plain)
    assert any(not torch.equal(plain[k], early[k]) for k in plain)


def test_a_resumed_run_fits_its_time_budget(tiny_cache, tmp_path, capsys):
    from pipelines.__main__ import main

    out = tmp_path / "run"
    common = ["--device", "cpu", "train-simmim", "--cache", str(tiny_cache), "--out", str(out), *TINY]
    assert main([*common, "--steps", "3"]) == 0
    (out / "checkpoint" / "optimizer.safetensors").unlink()  # the weights alone still resume (fresh moments)
    (out / "checkpoint" / "trainer.json").write_text(json.dumps({"step": 40, "total_steps": None}))  # go on
    capsys.readouterr()
    assert main([*common, "--resume", "--max-minutes", "0.1"]) == 0
    assert "planning" in capsys.readouterr().out  # measured from the resumed step, not from step 10 of a fresh run
    assert json.loads((out / "checkpoint" / "trainer.json").read_text())["total_steps"] > 70


def test_resuming_a_finished_run_with_a_time_budget_trains_on(tiny_cache, tmp_path, capsys):
    """A run that reached the end of its schedule, resumed with --max-minutes, trains for that long again (the
    next of several CPU sessions) instead of stopping at once."""
    from pipelines.__main__ import main

    out = tmp_path / "run"
    common = ["--device", "cpu", "train-simmim", "--cache", str(tiny_cache), "--out", str(out), *TINY]
    assert main([*common, "--steps", "3"]) == 0
    capsys.readouterr()
    assert main([*common, "--resume", "--max-minutes", "0.05"]) == 0
    assert "planning" in capsys.readouterr().out
    assert json.loads((out / "checkpoint" / "trainer.json").read_text())["step"] > 33  # planned after 30 steps


def test_training_can_start_from_a_local_model_folder(tiny_cache, tmp_path, capsys):
    """--init-from a folder (e.g. the shipped weights) fine-tunes that model, whatever the architecture flags say."""
    from pipelines.__main__ import main
    from pipelines.face.simmim.model import SimMIMFace

    common = ["--device", "cpu", "train-simmim", "--cache", str(tiny_cache), "--save-dtype", "float32", *TINY]
    assert main([*common, "--out", str(tmp_path / "first"), "--steps", "2", "--hidden-size", "48"]) == 0
    first = SimMIMFace.from_pretrained(tmp_path / "first")
    assert main([*common, "--out", str(tmp_path / "tuned"), "--steps", "1", "--lr", "1e-9",
                 "--init-from", str(tmp_path / "first")]) == 0  # fmt: skip
    tuned = SimMIMFace.from_pretrained(tmp_path / "tuned")
    assert tuned.config.hidden_size == 48  # the folder's architecture, not --hidden-size 32
    start, end = first.state_dict(), tuned.state_dict()
    assert all(torch.allclose(start[k], end[k], atol=1e-4) for k in start)  # one step at lr 1e-9 from its weights
    wrong = tmp_path / "wrong"
    shutil.copytree(tmp_path / "first", wrong)
    config = json.loads((wrong / "config.json").read_text())
    (wrong / "config.json").write_text(json.dumps({**config, "region": "eye"}))
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "bad"), "--steps", "1", "--init-from", str(wrong)]) == 2
    assert "paints the eye" in capsys.readouterr().err


def test_the_discriminator_learns_to_find_the_painted_cells():
    from pipelines.face.simmim.adversarial import (PatchDiscriminator, discriminator_loss, generator_loss,
                                                   painted_cells)  # fmt: skip

    torch.manual_seed(0)
    disc = PatchDiscriminator(cond_channels=2, width=8)
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    condition = torch.zeros(4, 2, 32, 32)
    mask = torch.zeros(4, 1, 32, 32, dtype=torch.bool)
    mask[..., 8:16, 8:16] = True
    painted = torch.where(mask, real.mean(dim=(2, 3), keepdim=True), real)  # a flat fill: the blur L1 prefers
    cells = painted_cells(mask, disc(real, condition))
    assert cells.shape == (4, 1, 8, 8) and cells.sum() == 4 * 2 * 2  # 8 px of a 32 px crop -> 2 of 8 cells each way
    assert generator_loss(disc, painted, torch.zeros_like(mask), condition) == 0  # nothing painted, nothing to judge
    optimizer = torch.optim.Adam(disc.parameters(), lr=2e-3)
    for _ in range(150):
        loss = discriminator_loss(disc, real, painted, mask, condition)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    logits, real_logits, cells = disc(painted, condition), disc(real, condition), cells.bool()
    assert logits[cells].mean() < logits[~cells].mean() - 1  # it calls the painted cells fake ...
    assert logits[cells].mean() < real_logits[cells].mean() - 1  # ... and the photo's own pixels there real
    assert generator_loss(disc, painted, mask, condition) > generator_loss(disc, real, mask, condition)  # ... not the photo


def test_adversarial_training_saves_and_resumes_its_discriminator(tiny_cache, tmp_path):
    from safetensors.torch import load_file

    from pipelines.__main__ import main

    out = tmp_path / "adv"
    common = ["--device", "cpu", "train-simmim", "--cache", str(tiny_cache), "--out", str(out), *TINY, "--adv-loss", "0.1"]
    assert main([*common, "--steps", "2"]) == 0
    checkpoint = out / "checkpoint"
    first = load_file(str(checkpoint / "discriminator.safetensors"))
    assert main([*common, "--steps", "3", "--resume"]) == 0
    resumed = load_file(str(checkpoint / "discriminator.safetensors"))
    assert first.keys() == resumed.keys() and any(not torch.equal(first[k], resumed[k]) for k in first)
    moments = load_file(str(checkpoint / "discriminator_optimizer.safetensors"))
    assert float(moments["0.step"]) == 3.0  # its moments were restored, not restarted


def test_eval_runs_on_tiny_data(tmp_path, photo_folder):
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.evaluate import dev_faces, evaluate, markdown
    from pipelines.face.simmim.model import SimMIMFace

    torch.manual_seed(0)
    model = SimMIMFace(SimMIMFaceConfig(image_size=32, patch_size=8, hidden_size=32, num_layers=1, num_heads=2,
                                        refine_channels=4))  # fmt: skip
    with FaceLandmarker.from_pretrained() as landmarker:
        faces = dev_faces(photo_folder, 32, landmarker)[:3]
        report = evaluate(model, faces, landmarker, grid_faces=2)
    assert set(report.fill) == {("faces-dev", "mouth"), ("faces-dev", "eyes")}
    scores = report.fill[("faces-dev", "mouth")]
    assert set(scores) == {"SimMIM", "SimMIM, condition zeroed", "cv2.inpaint (Telea)", "mean-colour fill"}
    assert all(0 < l1 < 255 and np.isfinite(psnr) for l1, psnr in scores.values())
    assert report.grid.shape[1] == 8 * 34 + 2 and report.grid.shape[0] == 2 * 34 + 2
    text = markdown(report, "tiny")
    assert "| faces-dev | mouth |" in text and "target landmarks" in text


# --- region models (the mouth) ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mouth_cache(photo_folder, tmp_path_factory):
    """The same portraits cut to the mouth window; one left out by name, as evaluation people are."""
    path = tmp_path_factory.mktemp("mouth") / "mouth.npz"
    left_out = sorted(p.name for p in photo_folder.glob("*.jpg"))[0]
    report = build_cache([photo_folder], path, image_size=32, margin=4, progress=False, region="mouth",
                         exclude=(left_out,))  # fmt: skip
    assert report["faces"] == 3
    return path


def test_a_mouth_cache_is_the_mouth_window_of_the_aligned_face(mouth_cache, tiny_cache):
    from pipelines.face.align import region_box

    mouth, face = FaceCache.load(mouth_cache), FaceCache.load(tiny_cache)
    assert mouth.region == "mouth" and face.region == "face"
    left, top, side = region_box("mouth")
    for name, points in zip(mouth.names, mouth.landmarks - mouth.margin):
        whole = face.landmarks[[n.split("/", 1)[1] for n in face.names].index(name.split("/", 1)[1])] - face.margin
        np.testing.assert_allclose(points, (whole - np.array([left, top]) * 32) / side, atol=0.1)  # float16 storage
    corners = mouth.landmarks[:, [fr.MOUTH_RIGHT_CORNER, fr.MOUTH_LEFT_CORNER]] - mouth.margin
    assert (corners > 0).all() and (corners < 32).all()  # the whole mouth is inside the window


def test_mouth_training_masks_hide_the_whole_opening(mouth_cache):
    from pipelines.face.simmim.data import training_mask
    from pipelines.face.simmim.masks import patches_to_pixels, region_pixel_mask

    cache = FaceCache.load(mouth_cache)
    points = cache.landmarks[0] - cache.margin
    opening = region_pixel_mask([points], ["mouth_interior"], 32, dilate_px=0)
    rng = np.random.default_rng(0)
    masks = [training_mask(points, 32, 8, Augment(region_mask_share=1.0), rng, "mouth").reshape(4, 4) for _ in range(20)]
    for mask in masks:
        assert patches_to_pixels(mask, 8)[opening].all()  # never a peek at the teeth
    assert len({m.tobytes() for m in masks}) == 2  # the opening alone, or the whole mouth with the lips


def test_a_mouth_model_learns_on_a_tiny_batch(mouth_cache):
    """A few optimiser steps on one batch lower the masked loss: the region model and its losses are wired."""
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.data import batches
    from pipelines.face.simmim.model import SimMIMFace, patch_mask_to_pixels

    torch.manual_seed(0)
    cache = FaceCache.load(mouth_cache)
    model = SimMIMFace(SimMIMFaceConfig(region="mouth", image_size=32, patch_size=8, hidden_size=32, num_layers=1,
                                        num_heads=2, refine_channels=4)).train()  # fmt: skip
    batch = next(batches(cache, 8, 3, seed=0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    weight = patch_mask_to_pixels(batch["bool_masked_pos"], 4, 8) & batch["valid"]
    losses = []
    for _ in range(15):
        l1, edge = masked_losses(model(batch["pixel_values"], batch["bool_masked_pos"], batch["condition"]),
                                 batch["pixel_values"], weight)  # fmt: skip
        optimizer.zero_grad()
        (l1 + edge).backward()
        optimizer.step()
        losses.append(float((l1 + edge).detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_training_refuses_a_cache_of_another_region(mouth_cache, tmp_path):
    from pipelines.__main__ import main

    args = ["--device", "cpu", "train-simmim", "--cache", str(mouth_cache), "--out", str(tmp_path), *TINY, "--steps", "1"]
    assert main(args) == 2  # a face model on mouth crops: refused with a message, not trained


def test_mouth_batches_favour_wide_open_mouths():
    from pipelines.face.simmim.data import WIDE_OPEN_WEIGHT, RandomKeys, sample_chances

    landmarks = np.zeros((4, 478, 2), np.float32)
    landmarks[0, fr.LOWER_LIP_INNER, 1] = 0.3 * 32  # one face shouting, three with closed lips
    cache = FaceCache(np.zeros((4, 40, 40, 3), np.uint8), landmarks, np.zeros((4, 4, 2), np.float32),
                      np.array(["a", "b", "c", "d"]), np.zeros(4, bool), np.zeros(4, bool), 32, 4, "mouth")  # fmt: skip
    chances = sample_chances(cache)
    assert chances[0] == pytest.approx(WIDE_OPEN_WEIGHT * chances[1]) and chances.sum() == pytest.approx(1.0)
    keys = iter(RandomKeys(4, seed=0, chances=chances))
    drawn = np.bincount([next(keys)[0] for _ in range(2000)], minlength=4)
    assert drawn[0] > 2.5 * drawn[1:].mean()
    assert sample_chances(FaceCache(*(getattr(cache, f) for f in ("crops", "landmarks", "quads", "names",
                                                                  "research_only", "held_out", "image_size", "margin")),
                                    "face")) is None  # fmt: skip
