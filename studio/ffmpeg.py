"""Gradio runs `ffmpeg` by name (streamed speech, converting a recorded video for playback), so without a
system ffmpeg those features would be off. The studio needs none: the `imageio-ffmpeg` wheel (a requirement,
which the motion pipeline already decodes with) carries a static ffmpeg, and `put_ffmpeg_on_path` puts a folder
with an `ffmpeg` link to it first on PATH. A system ffmpeg, when present, is left in charge. The wheel has no
ffprobe; nothing the studio uses needs one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

NAME = "ffmpeg.exe" if os.name == "nt" else "ffmpeg"


def put_ffmpeg_on_path() -> str:
    """Make `ffmpeg` runnable by name in this process (and its children); return the binary it runs."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    binary = Path(imageio_ffmpeg.get_ffmpeg_exe()).resolve()
    # The wheel names its binary after the build (ffmpeg-linux-x86_64-v9.0.2): give it the plain name in a folder
    # of our own, one per user and per binary, so two users or two environments never share a link.
    tag = hashlib.sha256(str(binary).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"character-studio-ffmpeg-{_user()}-{tag}"
    folder.mkdir(exist_ok=True)
    link = folder / NAME
    if not link.exists():
        try:
            link.symlink_to(binary)
        except FileExistsError:  # another studio process made it just now
            pass
        except OSError:  # no symlinks allowed (Windows without developer mode): a copy does the same
            shutil.copy2(binary, link)
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    return str(link)


def _user() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
