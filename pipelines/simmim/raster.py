"""Draw landmark contours and fill outlines with torch, batched, the same way on a CPU and a GPU.

Training renders condition maps and region masks for whole batches on the GPU after augmentation;
the pipeline renders one face on the CPU. Both go through these functions, so the model sees in use
exactly the kind of map it was trained on. Pixel (row i, column j) has its centre at x = j, y = i,
the convention of cv2 and of the landmark coordinates.
"""

from __future__ import annotations

import torch


def pixel_centres(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(size*size, 2) float32 (x, y) of every pixel centre, row by row."""
    coords = torch.arange(size, device=device, dtype=torch.float32)
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def _segments(points: torch.Tensor, closed: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, V, 2) vertices -> segment starts and ends, each (B, K, 2)."""
    ends = torch.roll(points, -1, dims=1) if closed else points[:, 1:]
    starts = points if closed else points[:, :-1]
    return starts, ends


def distance_to_outline(points: torch.Tensor, pixels: torch.Tensor, closed: bool) -> torch.Tensor:
    """(B, P) distance from each pixel to the polyline through `points` (B, V, 2)."""
    starts, ends = _segments(points, closed)
    direction = ends - starts  # (B, K, 2)
    length2 = (direction * direction).sum(-1).clamp_min(1e-12)  # (B, K)
    rel = pixels[None, :, None, :] - starts[:, None, :, :]  # (B, P, K, 2)
    t = ((rel * direction[:, None]).sum(-1) / length2[:, None]).clamp(0.0, 1.0)
    nearest = rel - t[..., None] * direction[:, None]
    return nearest.pow(2).sum(-1).amin(dim=2).sqrt()


def inside_outline(points: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """(B, P) bool: pixel inside the closed outline `points` (B, V, 2), by the even-odd crossing rule."""
    starts, ends = _segments(points, closed=True)
    ax, ay = starts[..., 0][:, None], starts[..., 1][:, None]  # (B, 1, K)
    bx, by = ends[..., 0][:, None], ends[..., 1][:, None]
    px, py = pixels[:, 0][None, :, None], pixels[:, 1][None, :, None]  # (1, P, 1)
    straddles = (ay > py) != (by > py)
    dy = torch.where((by - ay).abs() < 1e-12, torch.full_like(by, 1e-12), by - ay)
    crossing_x = ax + (py - ay) * (bx - ax) / dy
    hits = straddles & (px < crossing_x)
    return (hits.sum(dim=2) % 2) == 1
