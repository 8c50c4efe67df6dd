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
