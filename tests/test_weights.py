"""The shipped model files are the ones weights/README.md promises, and the resolver explains what is missing."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading

import pytest

from pipelines.weights import WeightsNotFoundError, WeightSpec, resolve
from tests.conftest import WEIGHTS


def _readme_table() -> dict[str, tuple[int, str]]:
    """`file -> (bytes, sha256)` from the rows of weights/README.md that name a shipped file."""
    rows = {}
    for line in (WEIGHTS / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`([^`]+)`\s*\|\s*(\d+)\s*\|\s*([0-9a-f]{64})\s*\|", line)
        if match:
            rows[match[1]] = (int(match[2]), match[3])
    return rows


def test_readme_lists_the_mediapipe_bundles():
    assert {"face_landmarker.task", "pose_landmarker_full.task"} <= set(_readme_table())


@pytest.mark.parametrize("name", sorted(_readme_table()))
def test_shipped_file_matches_its_checksum(name):
    size, sha = _readme_table()[name]
    data = (WEIGHTS / name).read_bytes()
    assert len(data) == size
    assert hashlib.sha256(data).hexdigest() == sha


def test_resolver_prefers_the_local_folder(tmp_path):
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "config.json").write_text("{}")
    spec = WeightSpec("tiny", ("config.json",), hub_repo="nobody/never-downloaded")
    assert resolve(spec, tmp_path) == tmp_path / "tiny"


def test_resolver_names_the_missing_file_when_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = WeightSpec("absent", ("model.safetensors",), hub_repo="org/model", how_to_get="Run the trainer.")
    with pytest.raises(WeightsNotFoundError, match=r"absent/model\.safetensors.*Run the trainer\."):
        resolve(spec, tmp_path)


def test_resolver_reports_a_failed_download(tmp_path, monkeypatch):
    """A hub that answers 404 (repo gone): the error says the download failed and names the file."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        spec = WeightSpec("face.task", hub_repo="org/model", hub_revision="0" * 40)
        with pytest.raises(WeightsNotFoundError, match=r"face\.task.*download from org/model failed"):
            resolve(spec, tmp_path)
    finally:
        server.shutdown()
