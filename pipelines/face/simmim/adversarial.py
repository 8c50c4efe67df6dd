"""A small patch discriminator: the adversarial term that LaMa and DeepFill add to their pixel losses.

L1 and edge losses are minimised by the mean of everything that could lie under a mask, and that mean is a blur:
the eye model paints a white and lashes at about a third of a real eye's Laplacian energy. A discriminator that
judges small patches (a real photo, or painted?) rewards the texture the mean lacks. As in LaMa, it sees whole
crops in which only the masked patches were painted and is asked to call exactly those cells fake; everything
else, and every real crop, is real, so it cannot win by spotting the crop instead of the paint. It also sees the
landmark drawing, so a sharp lid in the wrong place is still fake. Non-saturating losses; spectral
normalisation keeps it stable without a gradient penalty's second backward pass (CPU time).

Training only (`train-simmim --adv-loss W`): the pipeline never loads it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipelines.face.simmim.model import RGB


class PatchDiscriminator(nn.Module):
    """(image, condition) -> one logit per cell of a quarter-resolution grid (receptive field 26 px)."""

    def __init__(self, cond_channels: int, width: int = 32):
        super().__init__()
        norm = nn.utils.parametrizations.spectral_norm
        self.net = nn.Sequential(
            norm(nn.Conv2d(RGB + cond_channels, width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            norm(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            norm(nn.Conv2d(2 * width, 2 * width, 3, padding=1)), nn.LeakyReLU(0.2),
            norm(nn.Conv2d(2 * width, 1, 3, padding=1)),
        )  # fmt: skip

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, condition.to(image.dtype)], dim=1))


def painted_cells(mask: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """(B,1,S,S) bool pixel mask -> (B,1,h,w) float: 1 where a logit's cell holds any painted pixel."""
    return (F.adaptive_max_pool2d(mask.float(), logits.shape[-2:]) > 0).float()


def discriminator_loss(disc: PatchDiscriminator, real: torch.Tensor, painted: torch.Tensor, mask: torch.Tensor,
                       condition: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Real crops are real everywhere; a painted crop is fake in the cells that were painted, real elsewhere."""
    real_logits = disc(real, condition)
    fake_logits = disc(painted.detach(), condition)
    fake = painted_cells(mask, fake_logits)
    painted_loss = F.softplus(fake_logits) * fake + F.softplus(-fake_logits) * (1 - fake)
    return F.softplus(-real_logits).mean() + painted_loss.mean()


def generator_loss(disc: PatchDiscriminator, painted: torch.Tensor, mask: torch.Tensor,
                   condition: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """The painted cells should pass for real (non-saturating): mean softplus(-logit) over those cells."""
    logits = disc(painted, condition)
    fake = painted_cells(mask, logits)
    return (F.softplus(-logits) * fake).sum() / fake.sum().clamp_min(1.0)
