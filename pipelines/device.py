"""The one device rule: every `from_pretrained(device="auto")` takes CUDA when torch sees a GPU, else the CPU."""

from __future__ import annotations

from pipelines.errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def pick_device(choice: str = "auto") -> str:
    """Turn a user's `auto|cpu|cuda` into a concrete torch device string, failing clearly on a bad ask."""
    if choice not in DEVICE_CHOICES:
        raise InputError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {choice!r}")
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for, but torch sees no CUDA GPU on this machine")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice
