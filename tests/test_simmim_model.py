"""SimMIMFace: shapes, the mask token and the condition reach the masked patches, checkpoints round-trip."""

from __future__ import annotations

import json

import pytest
import torch

from pipelines.face.simmim.config import SimMIMFaceConfig
from pipelines.face.simmim.model import SimMIMFace
from tests.conftest import WEIGHTS

SHIPPED = WEIGHTS / "simmim-face"


def tiny_model(seed: int = 0, **overrides) -> SimMIMFace:
    torch.manual_seed(seed)
    settings = dict(image_size=32, patch_size=8, hidden_size=32, num_layers=2, num_heads=2, refine_channels=8)
    model = SimMIMFace(SimMIMFaceConfig(**{**settings, **overrides})).eval()
    with torch.no_grad():  # zero-initialised layers (condition projection, refine output) get random weights,
        layers = [model.backbone.embeddings.project] + ([model.refine[-1]] if model.refine is not None else [])
        for layer in layers:  # so the checks below can fail
            torch.nn.init.normal_(layer.weight, std=0.2)
    return model


def inputs(model: SimMIMFace, batch: int = 2, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    size, grid, channels = model.config.image_size, model.config.grid, model.config.cond_channels
    pixels = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    mask = torch.zeros(batch, grid * grid, dtype=torch.bool)
    mask[:, [5, 6, 9, 10]] = True  # the centre 2x2 patches of a 4x4 grid
    condition = torch.rand(batch, channels, size, size, generator=generator)
    return pixels, mask, condition


def test_forward_shape_and_range():
    model = tiny_model()
    pixels, mask, condition = inputs(model)
    with torch.no_grad():
        out = model(pixels, mask, condition)
    assert out.shape == (2, 3, 32, 32)
    assert out.min() >= -1 and out.max() <= 1
    with pytest.raises(ValueError, match="bool_masked_pos"):
        model(pixels, mask[:, :3], condition)
    with pytest.raises(ValueError, match="condition"):
        model(pixels, mask, condition[:, :2])


def test_masked_patches_do_not_see_their_own_pixels():
    """The mask token replaces a masked patch: changing the pixels under it must not change the encoder's view."""
    model = tiny_model(refine_channels=0)
    pixels, mask, condition = inputs(model)
    altered = pixels.clone()
    altered[:, :, 8:24, 8:24] = torch.rand_like(altered[:, :, 8:24, 8:24])  # exactly the masked patches
    with torch.no_grad():
        same = model(pixels, mask, condition), model(altered, mask, condition)
        unmasked = model(pixels, torch.zeros_like(mask), condition), model(altered, torch.zeros_like(mask), condition)
    assert torch.allclose(*same, atol=1e-6)
    assert not torch.allclose(*unmasked, atol=1e-3)  # without the mask token those pixels do matter
    with torch.no_grad():  # ...and what stands in for them is the learned mask token
        model.backbone.embeddings.inner.mask_token.add_(torch.randn_like(model.backbone.embeddings.inner.mask_token))
        moved = model(pixels, mask, condition)
    assert not torch.allclose(moved, same[0], atol=1e-4)


def test_condition_changes_the_masked_patches():
    model = tiny_model()
    pixels, mask, condition = inputs(model)
    other = torch.zeros_like(condition)
    with torch.no_grad():
        a, b = model(pixels, mask, condition), model(pixels, mask, other)
    masked = (a - b)[:, :, 8:24, 8:24].abs().mean()
    assert masked > 1e-3


def test_save_load_round_trip_is_identical(tmp_path):
    model = tiny_model()
    pixels, mask, condition = inputs(model)
    model.save_pretrained(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["model_type"] == "simmim-face" and config["image_size"] == 32
    loaded = SimMIMFace.from_pretrained(tmp_path / "ckpt")
    with torch.no_grad():
        assert torch.equal(model(pixels, mask, condition), loaded(pixels, mask, condition))
    assert loaded.config == model.config and not loaded.training


def test_half_precision_file_loads_into_float32(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path, dtype=torch.float16)
    loaded = SimMIMFace.from_pretrained(tmp_path)
    assert next(loaded.parameters()).dtype == torch.float32
    pixels, mask, condition = inputs(model)
    with torch.no_grad():
        assert (model(pixels, mask, condition) - loaded(pixels, mask, condition)).abs().max() < 0.02


def test_missing_files_and_bad_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        SimMIMFace.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="multiple"):
        SimMIMFaceConfig(image_size=30, patch_size=8)
    (tmp_path / "config.json").write_text(json.dumps({"image_size": 32, "patch_size": 8, "wings": 2}))
    with pytest.raises(ValueError, match="wings"):
        SimMIMFace.from_pretrained(tmp_path)


def test_wraps_a_transformers_swin_simmim_model(tmp_path):
    """The --init-from path: a (here tiny, random) SwinForMaskedImageModeling becomes a conditioned face model."""
    from transformers import SwinConfig, SwinForMaskedImageModeling

    torch.manual_seed(0)
    swin = SwinForMaskedImageModeling(
        SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=4,
                   encoder_stride=8)  # fmt: skip
    )
    model = SimMIMFace.from_masked_image_model(swin, refine_channels=4, init_from="tiny-swin").eval()
    assert model.config.backbone == "swin" and model.config.grid == 8
    pixels, _, condition = inputs(model)
    mask = torch.zeros(2, 64, dtype=torch.bool)
    mask[:, 20:30] = True
    with torch.no_grad():
        out = model(pixels, mask, condition)
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        assert torch.equal(SimMIMFace.from_pretrained(tmp_path)(pixels, mask, condition), out)


def test_default_model_missing_names_the_folder(tmp_path, monkeypatch):
    from pipelines.weights import WEIGHTS_ENV, WeightsNotFoundError

    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="simmim-mouth"):  # the default: the mouth model
        SimMIMFace.from_pretrained()


@pytest.mark.weights
@pytest.mark.skipif(not (SHIPPED / "model.safetensors").is_file(), reason="weights/simmim-face is not in this checkout")
@pytest.mark.skipif(not (WEIGHTS / "face_landmarker.task").is_file(), reason="face_landmarker.task missing")
def test_shipped_face_model_loads_and_its_condition_helps(neutral_face):
    """The previous whole-face model repaints a masked mouth closer to the truth with its landmark map than without."""
    import numpy as np

    from pipelines.face.align import align_face
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.simmim import SIMMIM_FACE
    from pipelines.face.simmim.conditioning import render_condition
    from pipelines.face.simmim.evaluate import masked_l1_psnr, model_fill
    from pipelines.face.simmim.masks import patches_to_pixels, region_mask
    from pipelines.image_io import load_image

    model = SimMIMFace.from_pretrained(weights=SIMMIM_FACE)
    size, patch = model.config.image_size, model.config.patch_size
    image = load_image(neutral_face)
    with FaceLandmarker.from_pretrained() as landmarker:
        aligned = align_face(image, landmarker.detect(image)[0].landmarks, size)
    mask = region_mask([aligned.landmarks], ["mouth"], size, patch)[None]
    condition = render_condition(aligned.landmarks, size)[None]
    crops = aligned.crop[None]
    pixels = patches_to_pixels(mask[0], patch)
    steered = masked_l1_psnr(model_fill(model, crops, mask, condition)[0], aligned.crop, pixels)[0]
    blind = masked_l1_psnr(model_fill(model, crops, mask, np.zeros_like(condition))[0], aligned.crop, pixels)[0]
    assert steered < blind


@pytest.mark.weights
@pytest.mark.skipif(not (WEIGHTS / "simmim-mouth" / "model.safetensors").is_file(), reason="weights/simmim-mouth missing")
@pytest.mark.skipif(not (WEIGHTS / "face_landmarker.task").is_file(), reason="face_landmarker.task missing")
def test_shipped_mouth_model_loads_by_default_and_follows_its_lip_drawing(neutral_face):
    """The default model paints a hidden mouth closer to the truth with the lip drawing than with it blanked."""
    import numpy as np

    from pipelines.face.align import align_face
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.simmim.conditioning import render_condition
    from pipelines.face.simmim.evaluate import masked_l1_psnr, model_fill
    from pipelines.face.simmim.masks import patches_to_pixels, region_mask
    from pipelines.image_io import load_image

    model = SimMIMFace.from_pretrained()
    assert model.config.region == "mouth"
    size, patch = model.config.image_size, model.config.patch_size
    image = load_image(neutral_face)
    with FaceLandmarker.from_pretrained() as landmarker:
        window = align_face(image, landmarker.detect(image)[0].landmarks, size, region="mouth")
    mask = region_mask([window.landmarks], ["mouth"], size, patch)[None]
    condition = render_condition(window.landmarks, size)[None]
    pixels = patches_to_pixels(mask[0], patch)
    steered = masked_l1_psnr(model_fill(model, window.crop[None], mask, condition)[0], window.crop, pixels)[0]
    blind = masked_l1_psnr(model_fill(model, window.crop[None], mask, np.zeros_like(condition))[0], window.crop, pixels)[0]
    assert steered < blind
