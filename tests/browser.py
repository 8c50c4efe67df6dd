"""Helpers for the browser tests: a studio served on loopback and headless Debian Chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "artifacts" / "screenshots"
# Chromium's background services try to reach Google; on a closed network they only add noise and delay.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser() -> str:
    """Return Chromium's path; skip with a reason when absent, except in CI where the browser suite must run."""
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI must run the browser tests, but no chromium is installed (apt-get install chromium)")
    pytest.skip("no chromium installed: apt-get install chromium to run the browser tests")


@contextmanager
def served_studio(port: int, timeout: float = 90.0, env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
    """Run `python app.py [args]` on a loopback port until the page answers; yield its URL; stop it afterwards."""
    ARTIFACTS.parent.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS.parent / f"studio-{port}.log", "w")  # the server's output, kept for a failing test
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), *args],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the studio did not start on {url}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
