"""SimMIM face inpainting: masked-image models that repaint masked patches of a face region, steered by landmarks.

`SimMIMFace` (model.py) is the network, for the whole face or one window of it (config.region); masks.py
makes the patch masks, conditioning.py renders the landmark maps that tell it where lips, eyes and brows
must be; data.py, train.py and evaluate.py build the checkpoints that ship in weights/.
"""

from pipelines.weights import WeightSpec

SIMMIM_MOUTH = WeightSpec(
    "simmim-mouth",
    ("config.json", "model.safetensors"),
    how_to_get="The default mouth model ships with the repository in weights/simmim-mouth/; restore it from git "
    "(git checkout -- weights/simmim-mouth) or train one with `python -m pipelines train-simmim --region mouth "
    "--data DIR --out weights/simmim-mouth`.",
)
SIMMIM_FACE = WeightSpec(
    "simmim-face",
    ("config.json", "model.safetensors"),
    how_to_get="The previous whole-face model (research-only) ships in weights/simmim-face/; restore it from git "
    "(git checkout -- weights/simmim-face) or train one with `python -m pipelines train-simmim --data DIR "
    "--out weights/simmim-face`.",
)
SIMMIM_EYE = WeightSpec(
    "simmim-eye",
    ("config.json", "model.safetensors"),
    how_to_get="The default eye model ships with the repository in weights/simmim-eye/; restore it from git "
    "(git checkout -- weights/simmim-eye) or train one with `python -m pipelines train-simmim --region eye "
    "--image-size 64 --patch-size 4 --data DIR --out weights/simmim-eye`.",
)
