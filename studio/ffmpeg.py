"""Gradio runs `ffmpeg` by name (streamed speech), so without a system ffmpeg the Chat tab could not speak while
it writes. The studio needs none: the `imageio-ffmpeg` wheel (a requirement, which the motion pipeline already
decodes with) carries a static ffmpeg, and `put_ffmpeg_on_path` puts a folder with an `ffmpeg` link to it first
on PATH. A system ffmpeg, when present, is left in charge.

The wheel has no ffprobe, and once Gradio sees an ffmpeg it asks ffprobe whether each video is browser-playable;
a missing ffprobe then crashes, a failing one makes Gradio assume "playable" (its own fallback, and what it does
with no ffmpeg at all). So the folder also gets an `ffprobe` that says it is absent and fails. The motion
pipeline writes H.264 MP4, which browsers play as it is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

NO_FFPROBE = "#!/bin/sh\necho 'ffprobe: not installed (the studio uses the ffmpeg of imageio-ffmpeg)' >&2\nexit 1\n"


def put_ffmpeg_on_path() -> str | None:
    """Make `ffmpeg` runnable by name in this process (and its children); return the binary it runs (None on
    Windows without a system ffmpeg, where the ffprobe stand-in cannot be a shell script)."""
    found = shutil.which("ffmpeg")
    if found or os.name == "nt":
        return found
    import imageio_ffmpeg

    binary = Path(imageio_ffmpeg.get_ffmpeg_exe()).resolve()
    # The wheel names its binary after the build (ffmpeg-linux-x86_64-v9.0.2): give it the plain name in a folder
    # of our own, one per user and per binary, so two users or two environments never share a link.
    tag = hashlib.sha256(str(binary).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"character-studio-ffmpeg-{_user()}-{tag}"
    folder.mkdir(exist_ok=True)
    link = folder / "ffmpeg"
    if not link.exists():
        try:
            link.symlink_to(binary)
        except FileExistsError:  # another studio process made it just now
            pass
    probe = folder / "ffprobe"
    if not probe.exists() and not shutil.which("ffprobe"):
        draft = folder / f"ffprobe.{os.getpid()}"  # written whole, then renamed: another process never runs half
        draft.write_text(NO_FFPROBE)
        draft.chmod(0o755)
        os.replace(draft, probe)
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    return str(link)


def _user() -> str:
    return str(os.getuid())
