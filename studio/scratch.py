"""Scratch folders for the files handlers hand back (card and bundle downloads, sheets, previews, clips).

Each visitor session gets one folder under a per-process root; every handler call makes a fresh folder
inside it. Gradio copies each returned file into its own cache (which `delete_cache`, set in shell.py,
empties on a schedule), so ours are only needed until the handler returns. They go when the visitor
leaves (`demo.unload` calls `forget_session`) or, for clients that never say goodbye (API scripts, a closed
laptop), when untouched for MAX_AGE_S; the whole root goes when the process exits.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

ROOT = Path(tempfile.mkdtemp(prefix="character-studio-"))
MAX_AGE_S = 3600  # a session folder untouched this long is removed by the next handler that makes one
GRADIO_CACHE_ENV = "GRADIO_TEMP_DIR"
atexit.register(shutil.rmtree, ROOT, True)


def own_gradio_cache() -> Path:
    """Give this process a gradio cache of its own, unless the operator chose one with $GRADIO_TEMP_DIR.

    Gradio names cached files by their content, by default in one folder that every gradio process on the
    machine shares (/tmp/gradio), and a server that stops deletes every file it cached. Two studios on one
    host (or a studio beside the test suite) would then delete files the other still hands out (the same
    example photo gives the same file name in both). Call before any gradio component is built: each reads
    the folder when it is made.
    """
    os.environ.setdefault(GRADIO_CACHE_ENV, str(ROOT / "gradio"))
    return Path(os.environ[GRADIO_CACHE_ENV])


def scratch_dir(prefix: str) -> Path:
    """A fresh, empty folder for one handler call's output files, in the current visitor's session folder."""
    _sweep()
    session = ROOT / _session_id()
    session.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=session))  # also touches the session folder's mtime


def forget_session(request: gr.Request) -> None:
    """Remove a visitor's files when the visitor leaves (wired to `demo.unload`; gradio passes the request)."""
    shutil.rmtree(ROOT / _safe(getattr(request, "session_hash", None)), ignore_errors=True)


def _session_id() -> str:
    # Gradio keeps the request of the running handler in a context variable; outside a request (tests, the CLI)
    # everything shares one folder.
    from gradio.context import LocalContext

    return _safe(getattr(LocalContext.request.get(None), "session_hash", None))


def _safe(session_hash: str | None) -> str:
    """A session id as a plain folder name: the id is chosen by the client, so it never names a path."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", session_hash or "")[:64] or "no-session"


def _sweep() -> None:
    cutoff = time.time() - MAX_AGE_S
    for folder in ROOT.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:  # another thread swept it first
            continue
