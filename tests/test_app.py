"""The studio builds on import without loading models, serves its page over HTTP, and the CLIs answer --help."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import REPO

TABS = ("face", "motion", "chat", "character", "about")


def test_import_builds_blocks_without_loading_models():
    code = (
        "import sys, app, gradio as gr; "
        "assert isinstance(app.demo, gr.Blocks); "
        "heavy = [m for m in ('torch', 'mediapipe', 'transformers', 'diffusers') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"importing app loaded heavy libraries: {out.stdout}"


def test_app_help_lists_the_options():
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for flag in ("--host", "--port", "--share", "--device", "--weights-dir"):
        assert flag in out.stdout


def test_cli_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "pipelines", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "COMMAND" in out.stdout


def test_unavailable_cuda_is_refused_at_start():
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = subprocess.run([sys.executable, "app.py", "--device", "cuda"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "no CUDA GPU" in out.stderr


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def test_studio_serves_page_and_config(free_port):
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(free_port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = _get(base + "/").decode()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"studio did not start: {proc.stdout.read() if proc.poll() is not None else ''}")
                time.sleep(0.5)
        assert "<html" in page.lower()
        config = json.loads(_get(base + "/config"))
        tab_ids = {c["props"].get("id") for c in config["components"] if c.get("type") == "tabitem"}
        assert set(TABS) <= tab_ids
    finally:
        proc.terminate()
        proc.wait(timeout=30)
