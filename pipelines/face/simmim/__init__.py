"""SimMIM face inpainting: a masked-image model that repaints masked face patches, steered by target landmarks.

`SimMIMFace` (model.py) is the network; masks.py makes the patch masks, conditioning.py renders the
landmark maps that tell it where lips, eyes and brows must be; data.py, train.py and evaluate.py
build the default checkpoint that ships in weights/simmim-face/.
"""

from pipelines.weights import WeightSpec

SIMMIM_FACE = WeightSpec(
    "simmim-face",
    ("config.json", "model.safetensors"),
    how_to_get="The default face model ships with the repository in weights/simmim-face/; restore it from git "
    "(git checkout -- weights/simmim-face) or train one with `python -m pipelines train-simmim --data DIR "
    "--out weights/simmim-face`.",
)
