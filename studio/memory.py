"""Keep the server's memory flat under a crowd: few malloc arenas, and freed memory handed back to the system.

glibc gives a thread that finds the existing malloc arenas busy an arena of its own, up to eight per core.
Gradio runs handlers on a pool of worker threads and MediaPipe, OpenCV and torch start threads of their own,
so under a crowd the arenas multiply, each grows to the largest job it ever ran (a sheet, a video decode), and
memory freed inside an arena stays with the process: the server's RSS creeps up for as long as new threads
keep arriving (bench/load.py measured +19.5 % in ten minutes on a saturated machine, part of it per-session
state that fills during the crowd). Two arenas (what `MALLOC_ARENA_MAX=2` does,
the usual setting for threaded Python servers) bound that, and a periodic `malloc_trim(0)` returns the free
pages inside the heaps, not only at their top. Both are glibc calls made through ctypes; on another C library
(macOS, musl, Windows) nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from functools import lru_cache

LOG = logging.getLogger("character_studio")
M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h
ARENAS = 2
TRIM_EVERY_S = 30.0

_trimmer: threading.Thread | None = None


@lru_cache(maxsize=1)
def _glibc():
    """The C library when it is glibc (it has `malloc_trim`), else None (looked up once: find_library runs ldconfig)."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim, libc.mallopt  # noqa: B018 - AttributeError here means not glibc
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap the number of malloc arenas for threads started from now on; True when the C library took it."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, arenas) == 1)


def trim() -> bool:
    """Hand free heap memory back to the system now; True when some was released."""
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0))


def start_trimming(every_s: float = TRIM_EVERY_S) -> bool:
    """Trim every `every_s` seconds in a daemon thread for the life of the process (once; True when running)."""
    global _trimmer
    if _glibc() is None:
        return False
    if _trimmer is None:

        def loop() -> None:
            while True:
                time.sleep(every_s)
                trim()

        _trimmer = threading.Thread(target=loop, name="malloc-trim", daemon=True)
        _trimmer.start()
    return True


def keep_memory_flat() -> None:
    """Both measures, at server start, before the worker threads and the models exist."""
    if limit_arenas() and start_trimming():
        LOG.info("malloc: %d arenas, trimmed every %.0f s", ARENAS, TRIM_EVERY_S)
