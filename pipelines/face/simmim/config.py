"""Settings of a SimMIM face (or face-region) model; saved as config.json beside model.safetensors so a folder rebuilds it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.errors import InputError
from pipelines.face.simmim.conditioning import COND_CHANNELS


@dataclass
class SimMIMFaceConfig:
    region: str = "face"  # which window of the aligned face it paints (pipelines.face.align.REGION_BOXES)
    backbone: str = "vit"  # "vit" (transformers ViT, trained here from scratch) or "swin" (e.g. a public SimMIM Swin)
    image_size: int = 128  # side of the aligned face crop the model reads and writes
    patch_size: int = 8  # token patch; 8 px at 128 gives a 16x16 grid, fine enough for lips and eyelids
    hidden_size: int = 384  # ViT width
    num_layers: int = 8  # ViT depth
    num_heads: int = 6  # attention heads (hidden_size must divide by it)
    mlp_ratio: int = 4  # ViT feed-forward width / hidden_size
    cond_channels: int = COND_CHANNELS  # rendered target-landmark map channels (pipelines.face.simmim.conditioning)
    refine_channels: int = 32  # width of the 3x3-conv head that smooths patch seams; 0 turns it off
    # For backbone="swin": the transformers SwinConfig as a dict (a hub checkpoint's, when initialised from one).
    backbone_config: dict = field(default_factory=dict)
    init_from: str | None = None  # hub id the weights started from, kept for the record

    def __post_init__(self):
        from pipelines.face.align import region_box

        region_box(self.region)  # raises on an unknown region
        if self.backbone not in ("vit", "swin"):
            raise InputError(f"backbone must be 'vit' or 'swin', got {self.backbone!r}.")
        if self.image_size % self.patch_size:
            raise InputError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}.")
        if self.backbone == "vit" and self.hidden_size % self.num_heads:
            raise InputError(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}.")

    @property
    def grid(self) -> int:
        """Patches per side: masks are (grid, grid)."""
        return self.image_size // self.patch_size

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SimMIMFaceConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {"model_type"})
        if unknown:
            raise InputError(f"config.json has settings this version does not know: {unknown}.")
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, folder: Path | str) -> None:
        payload = {"model_type": "simmim-face", **self.to_dict()}
        (Path(folder) / "config.json").write_text(json.dumps(payload, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path | str) -> "SimMIMFaceConfig":
        path = Path(folder) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"No config.json in {folder}; a SimMIM face model folder needs config.json and model.safetensors.")
        return cls.from_dict(json.loads(path.read_text()))
