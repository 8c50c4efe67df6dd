"""`python -m pipelines face`: run in-process with a tiny saved SimMIM model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from pipelines.__main__ import main  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.model import SimMIMFace

    folder = tmp_path_factory.mktemp("simmim")
    torch.manual_seed(0)
    config = SimMIMFaceConfig(region="mouth", image_size=32, patch_size=8, hidden_size=32, num_layers=1, num_heads=2)
    SimMIMFace(config).save_pretrained(folder)
    return folder


def test_cli_writes_the_edit_the_mask_and_the_sprites(tiny_model_dir, neutral_face, tmp_path):
    out, mask, sprites = tmp_path / "edited.png", tmp_path / "mask.png", tmp_path / "sprites"
    code = main(["--device", "cpu", "face", str(neutral_face), "--simmim", str(tiny_model_dir), "--expression",
                 "surprise", "--intensity", "0.8", "--smile", "0.3", "--out", str(out), "--show-mask", str(mask),
                 "--sprites", str(sprites)])  # fmt: skip
    assert code == 0
    size = Image.open(neutral_face).size
    assert Image.open(out).size == size and Image.open(mask).size == size
    assert np.asarray(Image.open(mask)).max() == 255
    assert sorted(p.name for p in sprites.iterdir()) == sorted(
        ["joy.png", "sadness.png", "anger.png", "surprise.png", "fear.png", "disgust.png", "neutral.png"]
    )


def test_cli_reports_a_photo_without_a_face(tiny_model_dir, tmp_path, capsys):
    blank = tmp_path / "wall.png"
    Image.new("RGB", (160, 120), (200, 190, 180)).save(blank)
    assert main(["--device", "cpu", "face", str(blank), "--simmim", str(tiny_model_dir)]) == 2
    assert "no face found" in capsys.readouterr().err
