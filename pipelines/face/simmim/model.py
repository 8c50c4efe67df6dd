"""`SimMIMFace`: SimMIM (mask token, transformer encoder, 1x1 conv + pixel-shuffle decoder) steered by landmarks.

The encoder is a `transformers` ViT (or Swin) with a learned mask token. The one change the face
task needs is *where* the conditioning enters: the mask token replaces a masked patch's whole
embedding, so a target-landmark map fed as extra input channels would be wiped exactly in the
patches that must follow it. Here the rendered map is patch-embedded on its own and added to the
token embeddings after the mask-token replacement. A small 3x3-conv head then looks across patch
borders (the plain 1x1 decoder predicts each patch alone, which left a visible patch grid).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from pipelines.errors import InputError
from pipelines.face.simmim.config import SimMIMFaceConfig

RGB = 3
WEIGHTS_FILE = "model.safetensors"


class _ConditionedEmbeddings(nn.Module):
    """Wraps a transformers ViT/Swin embeddings module: input channels 0-2 are the photo, the rest the condition."""

    def __init__(self, inner: nn.Module, cond_channels: int, width: int, patch: int, has_cls_token: bool):
        super().__init__()
        self.inner = inner
        self.project = nn.Conv2d(cond_channels, width, kernel_size=patch, stride=patch)
        nn.init.zeros_(self.project.weight)  # start as the plain (possibly pretrained) encoder, learn to listen
        nn.init.zeros_(self.project.bias)
        self.has_cls_token = has_cls_token

    @property
    def patch_embeddings(self) -> nn.Module:  # transformers' ViTModel reads the input dtype from here
        return self.inner.patch_embeddings

    def forward(self, pixel_values, bool_masked_pos=None, interpolate_pos_encoding=False):
        photo, condition = pixel_values[:, :RGB], pixel_values[:, RGB:]
        out = self.inner(photo, bool_masked_pos=bool_masked_pos, interpolate_pos_encoding=interpolate_pos_encoding)
        tokens = self.project(condition).flatten(2).transpose(1, 2)
        if isinstance(out, tuple):  # Swin: (embeddings, (height, width))
            return (out[0] + tokens, *out[1:])
        if self.has_cls_token:
            return torch.cat([out[:, :1], out[:, 1:] + tokens], dim=1)
        return out + tokens


class SimMIMFace(nn.Module):
    """Repaints masked patches of an aligned face crop so they follow a rendered target-landmark map."""

    def __init__(self, config: SimMIMFaceConfig, backbone: nn.Module | None = None, decoder: nn.Module | None = None):
        super().__init__()
        self.config = config
        if backbone is None:
            backbone, stride, width = _build_backbone(config)
            decoder = _pixel_decoder(width, stride)
        self.backbone = backbone
        self.decoder = decoder
        base_config = backbone.config
        token_patch = base_config.patch_size
        if token_patch != config.patch_size:
            raise InputError(f"config.patch_size {config.patch_size} differs from the backbone's patch {token_patch}.")
        width = base_config.hidden_size if config.backbone == "vit" else base_config.embed_dim
        self.backbone.embeddings = _ConditionedEmbeddings(
            backbone.embeddings, config.cond_channels, width, token_patch, has_cls_token=config.backbone == "vit"
        )
        self.refine = None
        if config.refine_channels:
            inputs = RGB + RGB + 1 + config.cond_channels  # coarse guess, visible photo, mask, condition
            self.refine = nn.Sequential(
                nn.Conv2d(inputs, config.refine_channels, 3, padding=1),
                nn.GELU(),
                nn.Conv2d(config.refine_channels, config.refine_channels, 3, padding=1),
                nn.GELU(),
                nn.Conv2d(config.refine_channels, RGB, 3, padding=1),
            )
            nn.init.zeros_(self.refine[-1].weight)  # starts as the plain SimMIM decoder
            nn.init.zeros_(self.refine[-1].bias)

    def forward(self, pixel_values: torch.Tensor, bool_masked_pos: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """(B,3,S,S) in [-1,1], (B,G*G) bool, (B,C,S,S) -> (B,3,S,S); clamped to [-1,1] outside training."""
        batch, size, grid = pixel_values.shape[0], self.config.image_size, self.config.grid
        if pixel_values.shape[1:] != (RGB, size, size):
            raise InputError(f"pixel_values must be (B, 3, {size}, {size}), got {tuple(pixel_values.shape)}.")
        if bool_masked_pos.shape != (batch, grid * grid):
            raise InputError(f"bool_masked_pos must be (B, {grid * grid}), got {tuple(bool_masked_pos.shape)}.")
        if condition.shape != (batch, self.config.cond_channels, size, size):
            raise InputError(
                f"condition must be (B, {self.config.cond_channels}, {size}, {size}), got {tuple(condition.shape)}."
            )
        bool_masked_pos = bool_masked_pos.bool()
        inputs = torch.cat([pixel_values, condition.to(pixel_values.dtype)], dim=1)
        hidden = self.backbone(pixel_values=inputs, bool_masked_pos=bool_masked_pos).last_hidden_state
        if self.config.backbone == "vit":
            hidden = hidden[:, 1:]  # drop the CLS token
        side = math.isqrt(hidden.shape[1])
        coarse = self.decoder(hidden.transpose(1, 2).reshape(batch, hidden.shape[2], side, side))
        out = coarse
        if self.refine is not None:
            mask = patch_mask_to_pixels(bool_masked_pos, grid, self.config.patch_size).to(coarse.dtype)
            visible = pixel_values.to(coarse.dtype) * (1 - mask)
            out = coarse + self.refine(torch.cat([coarse, visible, mask, condition.to(coarse.dtype)], dim=1))
        return out if self.training else out.clamp(-1.0, 1.0)

    # --- checkpoints --------------------------------------------------------------------------------------------
    def save_pretrained(self, folder: Path | str, dtype: torch.dtype | None = None) -> None:
        """Write config.json + model.safetensors (optionally cast, e.g. float16 to halve the file)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save(folder)
        state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().contiguous()
                 for k, v in self.state_dict().items()}  # fmt: skip
        save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt", "model_type": "simmim-face"})

    @classmethod
    def from_pretrained(cls, folder: Path | str | None = None, device: str = "auto", weights=None) -> "SimMIMFace":
        """Rebuild from a folder with config.json + model.safetensors, in eval mode.

        Without `folder`, the shipped model `weights` names (a WeightSpec; default the mouth model) is resolved.
        """
        from safetensors.torch import load_file

        if folder is None:
            from pipelines.face.simmim import SIMMIM_MOUTH
            from pipelines.weights import resolve

            folder = resolve(weights or SIMMIM_MOUTH)
        folder = Path(folder)
        config = SimMIMFaceConfig.load(folder)
        if not (folder / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(f"No {WEIGHTS_FILE} in {folder}.")
        model = cls(config)
        state = load_file(str(folder / WEIGHTS_FILE))
        own = model.state_dict()
        state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
        model.load_state_dict(state, strict=True)
        from pipelines.device import pick_device

        return model.to(pick_device(device)).eval()

    @classmethod
    def from_masked_image_model(cls, mim: nn.Module, cond_channels: int | None = None, refine_channels: int = 32,
                                image_size: int | None = None, init_from: str | None = None) -> "SimMIMFace":  # fmt: skip
        """Wrap a transformers ViT/SwinForMaskedImageModeling (e.g. a public SimMIM checkpoint) with conditioning."""
        base_config = mim.config
        kind = base_config.model_type
        if kind not in ("vit", "swin"):
            raise InputError(f"Only ViT and Swin masked-image models can be wrapped, not {kind!r}.")
        kwargs = {} if cond_channels is None else {"cond_channels": cond_channels}
        config = SimMIMFaceConfig(
            backbone=kind,
            image_size=image_size or base_config.image_size,
            patch_size=base_config.patch_size,
            hidden_size=base_config.hidden_size if kind == "vit" else base_config.embed_dim,
            num_layers=base_config.num_hidden_layers if kind == "vit" else sum(base_config.depths),
            num_heads=base_config.num_attention_heads if kind == "vit" else base_config.num_heads[0],
            refine_channels=refine_channels,
            backbone_config=base_config.to_dict(),
            init_from=init_from,
            **kwargs,
        )
        base = mim.vit if kind == "vit" else mim.swin
        return cls(config, backbone=base, decoder=mim.decoder)

    @classmethod
    def from_hub(cls, hub_id: str, image_size: int | None = None, revision: str | None = None, **kwargs) -> "SimMIMFace":
        """Start from a public SimMIM checkpoint (needs internet), e.g. microsoft/swin-base-simmim-window6-192."""
        from transformers import AutoConfig

        base_config = AutoConfig.from_pretrained(hub_id, revision=revision, trust_remote_code=False)
        if base_config.model_type == "swin":
            from transformers import SwinForMaskedImageModeling as MIM
        elif base_config.model_type == "vit":
            from transformers import ViTForMaskedImageModeling as MIM
        else:
            raise InputError(f"{hub_id} is a {base_config.model_type!r} model; only ViT and Swin SimMIM checkpoints fit.")
        mim = MIM.from_pretrained(hub_id, revision=revision, trust_remote_code=False, use_safetensors=None)
        return cls.from_masked_image_model(mim, image_size=image_size, init_from=hub_id, **kwargs)


def patch_mask_to_pixels(bool_masked_pos: torch.Tensor, grid: int, patch_size: int) -> torch.Tensor:
    """(B, G*G) bool -> (B, 1, G*p, G*p) bool."""
    mask = bool_masked_pos.reshape(-1, 1, grid, grid)
    return mask.repeat_interleave(patch_size, 2).repeat_interleave(patch_size, 3)


def _pixel_decoder(width: int, stride: int) -> nn.Module:
    """SimMIM's light decoder: one 1x1 conv to stride^2 * 3 values per token, rearranged into pixels."""
    return nn.Sequential(nn.Conv2d(width, stride * stride * RGB, kernel_size=1), nn.PixelShuffle(stride))


def _build_backbone(config: SimMIMFaceConfig) -> tuple[nn.Module, int, int]:
    """A fresh transformers encoder with a mask token: (model, total stride, output width)."""
    if config.backbone == "vit":
        from transformers import ViTConfig, ViTModel

        vit_config = ViTConfig(
            image_size=config.image_size,
            patch_size=config.patch_size,
            num_channels=RGB,
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            intermediate_size=config.mlp_ratio * config.hidden_size,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            encoder_stride=config.patch_size,
        )
        vit_config._attn_implementation = "sdpa"  # fused attention (flash on CUDA)
        return ViTModel(vit_config, add_pooling_layer=False, use_mask_token=True), config.patch_size, config.hidden_size
    from transformers import SwinConfig, SwinModel

    if not config.backbone_config:
        raise InputError("A Swin SimMIM face model needs config.backbone_config (a transformers SwinConfig dict).")
    swin_config = SwinConfig.from_dict({**config.backbone_config, "image_size": config.image_size})
    swin = SwinModel(swin_config, add_pooling_layer=False, use_mask_token=True)
    return swin, swin_config.encoder_stride, swin.num_features
