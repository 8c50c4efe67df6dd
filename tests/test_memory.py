"""The server's malloc settings (studio/memory.py) really cap the arenas that worker threads create."""

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from studio import memory

REPO = Path(__file__).resolve().parent.parent

# Twelve threads allocate at the same time (as gradio's workers do under a crowd), then glibc's malloc_info
# reports how many heaps (arenas) the process has. Run in a fresh interpreter: arenas never go away.
COUNT_ARENAS = textwrap.dedent("""
    import ctypes, ctypes.util, sys, tempfile, threading
    from studio import memory
    if sys.argv[1] == "capped":
        assert memory.limit_arenas()
    barrier = threading.Barrier(12)
    kept = []
    def work():
        barrier.wait()
        kept.append([bytes(2000 + i) for i in range(200)])  # above pymalloc's size: these go to malloc
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = ctypes.c_void_p
    path = tempfile.mktemp()
    report = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(report))
    libc.fclose(ctypes.c_void_p(report))
    print(open(path).read().count("<heap nr="))
""")

pytestmark = pytest.mark.skipif(memory._glibc() is None, reason="the malloc settings are glibc calls")


def arenas(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return int(done.stdout.split()[-1])


def test_capped_process_keeps_two_arenas_where_default_makes_many():
    assert arenas("default") > memory.ARENAS  # without the cap, concurrent threads each get an arena
    assert arenas("capped") <= memory.ARENAS


def test_trim_and_trimmer_run():
    assert isinstance(memory.trim(), bool)
    assert memory.start_trimming(every_s=3600)
    assert memory.start_trimming(every_s=3600)  # a second call reuses the one thread
    assert sum(t.name == "malloc-trim" for t in threading.enumerate()) == 1
