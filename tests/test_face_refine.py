"""The optional diffusers pass, run on the CPU with tiny random components built from configs (no download)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")


def tiny_tokenizer(folder):
    """A CLIP tokenizer whose vocabulary is single characters (no BPE merges): enough to encode a prompt offline."""
    from transformers import CLIPTokenizer

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789,.'-!?")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for piece in letters + [f"{ch}</w>" for ch in letters]:
        vocab[piece] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>", model_max_length=77)


@pytest.fixture(scope="module")
def refiner(tmp_path_factory):
    from pipelines.face.refine import FaceRefiner

    return FaceRefiner(tiny_inpaint_pipeline(tmp_path_factory.mktemp("tokenizer")))


def tiny_inpaint_pipeline(tmp_path):
    """diffusers' get_dummy_components recipe for StableDiffusionInpaintPipeline: 9-channel UNet, tiny VAE and CLIP."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=9, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
    )  # fmt: skip
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, vocab_size=128, projection_dim=32,
    ))  # fmt: skip
    pipe = StableDiffusionInpaintPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tiny_tokenizer(tmp_path),
        scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_refiner_changes_only_the_masked_pixels(refiner):
    assert refiner.size == 64  # sample 32 x VAE factor 2
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    mask = np.zeros((96, 96), bool)
    mask[30:70, 20:80] = True
    out = refiner(image, mask, "a photo of a face with a joy expression", strength=0.5, steps=2)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], image[~mask])
    assert np.abs(out[mask].astype(int) - image[mask]).mean() > 1.0  # random weights repaint the masked part


def test_refiner_refuses_bad_strength(refiner):
    with pytest.raises(ValueError, match="strength"):
        refiner(np.zeros((64, 64, 3), np.uint8), np.ones((64, 64), bool), "x", strength=0.0)


def test_face_pipeline_runs_the_refine_pass(refiner, neutral_face):
    """refine=True sends the blended crop through diffusers over the same mask; the photo keeps its size."""
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.pipeline import FaceExpressionPipeline
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.model import SimMIMFace

    torch.manual_seed(0)
    model = SimMIMFace(SimMIMFaceConfig(region="mouth", image_size=32, patch_size=8, hidden_size=32, num_layers=1,
                                        num_heads=2))
    with FaceExpressionPipeline(FaceLandmarker.from_pretrained(), model, refiner=refiner) as pipe:
        pipe.config.refine_steps = 2
        plain = pipe(neutral_face, "surprise")
        refined = pipe(neutral_face, "surprise", refine=True)
    assert refined.refined and not plain.refined
    assert refined.image.shape == plain.image.shape
    untouched = refined.mask_image == 0
    assert np.array_equal(refined.image[untouched], plain.image[untouched])
    assert not np.array_equal(refined.image, plain.image)


def test_the_default_model_is_downloaded_at_a_pinned_revision(monkeypatch):
    """Issue 15, finding 14: without a revision a hub download follows whatever the repository holds today."""
    import re

    from pipelines.face import refine

    asked = {}

    def offline(source, revision=None, **kwargs):
        asked.update(source=source, revision=revision)
        raise OSError("offline")

    monkeypatch.setattr(diffusers.AutoPipelineForInpainting, "from_pretrained", offline)
    with pytest.raises(FileNotFoundError):
        refine.FaceRefiner.from_pretrained(device="cpu")
    assert asked["source"] == refine.DEFAULT_INPAINT_MODEL
    assert re.fullmatch(r"[0-9a-f]{40}", asked["revision"] or "")
