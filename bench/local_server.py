"""A real OpenAI-compatible server on loopback, for the chat tests and the role-play bench.

Hugging Face's `transformers serve` (FastAPI + uvicorn; `pip install "transformers[serving]"`) is the one such
server that installs from the registries without a compile: llama.cpp's `llama-server` ships no prebuilt wheel
or npm binary (node-llama-cpp carries the libraries only), and vLLM/TGI need a GPU. The studio talks to it exactly
as it talks to Ollama, LM Studio or vLLM: an operator engine of kind "openai" pointing at its /v1.

    with transformers_serve(embedded_model_folder()) as engine:
        backend = build_backend(engine)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pipelines.chat.backends import DEFAULT_REPETITION_PENALTY

# transformers serve turns `frequency_penalty` into a repetition penalty of 1 + it: this is the embedded engine's.
REPETITION_AS_FREQUENCY_PENALTY = round(DEFAULT_REPETITION_PENALTY - 1.0, 6)
STARTUP_S = 180.0  # loading a 135M model takes ~10 s here; a busy 2-core machine can take much longer


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def transformers_serve(model: str | Path, *, name: str = "", languages: tuple[str, ...] = (), threads: int = 1,
                       frequency_penalty: float | None = REPETITION_AS_FREQUENCY_PENALTY,
                       startup_s: float = STARTUP_S) -> Iterator["Engine"]:
    """Start `transformers serve MODEL` on a free loopback port, offline, and yield the operator engine that
    points at it; the server is stopped on exit. Its log is in the error if it does not come up."""
    from pipelines.chat.engines import Engine, guess_languages

    port = free_loopback_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, "-c", "import sys; from transformers.cli.transformers import main; sys.exit(main())",
               "serve", str(model), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--dtype", "float32"]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_until_healthy(f"http://127.0.0.1:{port}/health", server, log, startup_s)
            # The server is pinned to MODEL and answers only requests that name it exactly.
            yield Engine(name or f"{Path(str(model)).name} (transformers serve)", "openai", str(model),
                         f"http://127.0.0.1:{port}/v1", languages=languages or guess_languages(str(model)),
                         frequency_penalty=frequency_penalty)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_healthy(url: str, server: subprocess.Popen, log, startup_s: float) -> None:
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)
    log.seek(0)
    tail = log.read()[-3000:].decode("utf-8", errors="replace")
    raise RuntimeError(f"transformers serve did not come up within {startup_s:.0f} s "
                       f"(exit code {server.poll()}):\n{tail}")
