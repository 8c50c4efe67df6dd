"""ZeroGPU: on a Hugging Face ZeroGPU Space, the handlers that use CUDA run inside `spaces.GPU`.

A ZeroGPU Space has no GPU of its own: one is attached to the process only while a function decorated with
`spaces.GPU` runs, for at most its `duration` in seconds (shorter calls wait less in ZeroGPU's queue). So every
handler that may run a model on CUDA — a face edit or sheet (the SimMIM model and the optional diffusion
polish), the chat's local language model — is decorated with `gpu_task(seconds)`. Elsewhere (a laptop, a plain
GPU box, CI) the `spaces` package is absent and `gpu_task` returns the handler unchanged; on a Space without
ZeroGPU hardware `spaces.GPU` itself changes nothing.
"""

from __future__ import annotations

from typing import Callable, TypeVar

try:
    import spaces
except ImportError:  # not on Hugging Face Spaces
    spaces = None

F = TypeVar("F", bound=Callable)

# Seconds to reserve per call: the slowest path on a ZeroGPU slice, with the first call's model loading. A call that
# runs longer is stopped, so these err long; the diffusion polish (25 steps per expression) sets the face budgets.
EDIT_SECONDS = 60
SHEET_SECONDS = 120  # seven expressions
SPRITE_SET_SECONDS = 300  # SillyTavern's 28 expressions
CHAT_SECONDS = 120  # one streamed reply from a local model, loading it the first time


def gpu_task(duration: int) -> Callable[[F], F]:
    """Decorate a handler that may use CUDA so that, on ZeroGPU, a GPU is attached for up to `duration` seconds."""

    def decorate(fn: F) -> F:
        return spaces.GPU(duration=duration)(fn) if spaces is not None else fn

    return decorate
