"""A work-around for a gradio race that the soak test (bench/load.py) hit; remove it when gradio fixes it.

Gradio stores every image a handler returns as a file named by its content, and `save_pil_to_cache`
(gradio 6.31) rewrites that file in place each time the same image is returned again. When two visitors
get the same picture (the preset portrait, a one-click example's result), one visitor's rewrite truncates the
file while the other's browser is downloading it: the download fails with "peer closed connection without
sending complete message body". The replacement writes a new file under a temporary name and renames it into
place, and leaves an existing copy alone — what gradio's own `save_file_to_cache` already does for files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gradio import processing_utils

GRADIO_SAVE_PIL_TO_CACHE = processing_utils.save_pil_to_cache  # gradio's own, kept for the test that shows the race


def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """gradio's `save_pil_to_cache`, writing atomically and never over a copy someone may be reading."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    if path.exists():
        os.utime(path)  # gradio's delete_cache ages files by their ctime: a copy handed out again is fresh again
        return str(path)
    handle, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


def apply() -> None:
    """Install the replacement (module-level lookups in gradio reach it; idempotent)."""
    processing_utils.save_pil_to_cache = save_pil_to_cache
