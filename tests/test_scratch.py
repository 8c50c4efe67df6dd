"""Temporary files are cleaned: per-visitor scratch folders for downloads, and Gradio's cache on a schedule (issue 15, finding 13)."""

from __future__ import annotations

import os
import re
import time
from types import SimpleNamespace

import pytest

from studio import scratch
from tests.conftest import REPO


@pytest.fixture
def visitor(monkeypatch):
    """Pretend a handler is running for the visitor whose session is 'abc123'."""
    from gradio.context import LocalContext

    request = SimpleNamespace(session_hash="abc123")
    token = LocalContext.request.set(request)
    yield request
    LocalContext.request.reset(token)


def test_handler_folders_live_in_the_visitors_session_folder_and_go_when_the_visitor_leaves(visitor):
    first, second = scratch.scratch_dir("card-"), scratch.scratch_dir("bundle-")
    assert first.parent == second.parent == scratch.ROOT / "abc123" and first != second
    (first / "card.json").write_text("{}")
    scratch.forget_session(visitor)
    assert not first.exists() and not second.exists()


def test_session_folders_older_than_the_limit_are_swept(visitor):
    old = scratch.scratch_dir("old-").parent
    past = time.time() - scratch.MAX_AGE_S - 60
    os.utime(old, (past, past))
    assert old.exists()
    from gradio.context import LocalContext

    token = LocalContext.request.set(SimpleNamespace(session_hash="other"))
    try:
        scratch.scratch_dir("new-")
    finally:
        LocalContext.request.reset(token)
    assert not old.exists()  # a client that never said goodbye (an API script) does not leave files forever


def test_an_odd_session_id_cannot_name_a_folder_outside_the_root():
    from gradio.context import LocalContext

    token = LocalContext.request.set(SimpleNamespace(session_hash="../../etc"))
    try:
        assert scratch.scratch_dir("x-").parent.parent == scratch.ROOT
    finally:
        LocalContext.request.reset(token)


def test_the_studio_clears_gradios_cache_on_a_schedule():
    from studio.shell import build_studio

    frequency, age = build_studio().delete_cache
    assert 0 < frequency <= age <= 24 * 3600


def test_no_tab_makes_its_own_temporary_folders():
    """Every handler's files go through the scratch helper, so none is left behind by a forgotten mkdtemp."""
    offenders = [str(path.relative_to(REPO)) for path in (REPO / "studio").rglob("*.py")
                 if path.name != "scratch.py" and re.search(r"\bmkdtemp\(", path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_each_studio_process_caches_in_its_own_folder(tmp_path):
    """Two studios on one machine must not share gradio's cache: a stopping server deletes all it cached."""
    import subprocess
    import sys

    show = "from studio.shell import build_studio; build_studio(); import os; print(os.environ['GRADIO_TEMP_DIR'])"
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"}
    first, second = (subprocess.run([sys.executable, "-c", show], cwd=REPO, env=env, capture_output=True, text=True,
                                    check=True, timeout=120).stdout.split()[-1] for _ in range(2))  # fmt: skip
    assert first != second and "character-studio-" in first
    chosen = subprocess.run([sys.executable, "-c", show], cwd=REPO, env={**env, "GRADIO_TEMP_DIR": str(tmp_path)},
                            capture_output=True, text=True, check=True, timeout=120).stdout.split()[-1]  # fmt: skip
    assert chosen == str(tmp_path)  # the operator's choice stands
