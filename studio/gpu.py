"""ZeroGPU support: on a Hugging Face Space with the `spaces` package, GPU work runs inside `spaces.GPU`.

Elsewhere (a laptop, a plain GPU box, CI) the package is absent and the decorator changes nothing.
"""

from __future__ import annotations

try:
    import spaces
except ImportError:  # not on Hugging Face Spaces
    spaces = None


def gpu_task(fn):
    """Mark a handler that may use the GPU, so ZeroGPU attaches one for the duration of the call."""
    return spaces.GPU(fn) if spaces is not None else fn
