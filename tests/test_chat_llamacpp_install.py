"""The llama.cpp installer: a pinned npm tarball fetched over HTTP (a real server on loopback here), checked,
and unpacked to its libraries only; anything else, or anything wrong, leaves no library behind."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipelines.__main__ import main
from pipelines.chat import llamacpp_install
from pipelines.chat.llamacpp_install import InstallError, install
from tests.conftest import free_loopback_port

BINS = "package/bins/linux-x64/"


def tarball(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


PACKAGE = tarball({
    "package/LICENSE": b"MIT",
    "package/package.json": b"{}",
    "package/dist/index.js": b"module.exports = {}",
    BINS + "libllama.v1.0.0.so": b"\x7fELF llama",
    BINS + "libggml-cpu-x64.so": b"\x7fELF ggml",
    BINS + "_nlcBuildMetadata.json": b"{}",
    BINS + "llama-addon.node": b"a Node addon: never kept",
    BINS + "../../../evil.so": b"outside the folder",
    BINS + "sub/nested.so": b"a nested path",
}, links=(BINS + "liblink.so",))


class Registry:
    """A loopback HTTP server: GET /pkg.tgz answers `body`; /moved redirects to it."""

    def __init__(self, body: bytes):
        self.port = free_loopback_port()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{registry.port}/pkg.tgz")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    def url(self, path: str = "/pkg.tgz") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_only_the_libraries_metadata_and_licence_are_unpacked(tmp_path):
    folder = tmp_path / "llama.cpp"
    with Registry(PACKAGE) as registry:
        written = install(folder, registry.url(), hashlib.sha256(PACKAGE).hexdigest())
    assert written == sorted(["LICENSE", "_nlcBuildMetadata.json", "libggml-cpu-x64.so", "libllama.v1.0.0.so"])
    assert sorted(p.name for p in folder.iterdir()) == written
    assert (folder / "libllama.v1.0.0.so").read_bytes() == b"\x7fELF llama"
    assert not (tmp_path / "evil.so").exists() and not list(tmp_path.rglob("*.node"))
    assert not folder.with_name("llama.cpp.partial").exists()


def test_a_tarball_that_is_not_the_pinned_one_installs_nothing(tmp_path):
    folder = tmp_path / "llama.cpp"
    with Registry(PACKAGE) as registry:
        with pytest.raises(ValueError, match="not the pinned"):
            install(folder, registry.url(), "0" * 64)
        with pytest.raises(InstallError, match="redirects are not followed"):
            install(folder, registry.url("/moved"), hashlib.sha256(PACKAGE).hexdigest())
    with pytest.raises(InstallError, match="could not download"):
        install(folder, f"http://127.0.0.1:{free_loopback_port()}/pkg.tgz", "0" * 64)
    empty = tarball({"package/LICENSE": b"MIT"})
    with Registry(empty) as registry:
        with pytest.raises(InstallError, match="no libllama"):
            install(folder, registry.url(), hashlib.sha256(empty).hexdigest())
    assert not folder.exists()


def test_the_command_leaves_the_studio_startable_when_it_cannot_fetch(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(llamacpp_install, "TARBALL_URL", f"http://127.0.0.1:{free_loopback_port()}/pkg.tgz")
    monkeypatch.setattr(llamacpp_install, "unsupported_platform", lambda: None)
    assert main(["setup-llama-cpp", "--dir", str(tmp_path / "llama.cpp")]) == 0  # `&& python app.py` still runs
    assert "runs its chat models through transformers" in capsys.readouterr().out
    assert not (tmp_path / "llama.cpp").exists()


def test_the_command_refuses_a_library_the_studio_does_not_pin(tmp_path, monkeypatch, capsys):
    with Registry(PACKAGE) as registry:
        monkeypatch.setattr(llamacpp_install, "TARBALL_URL", registry.url())
        monkeypatch.setattr(llamacpp_install, "TARBALL_SHA256", hashlib.sha256(PACKAGE).hexdigest())
        monkeypatch.setattr(llamacpp_install, "unsupported_platform", lambda: None)
        assert main(["setup-llama-cpp", "--dir", str(tmp_path / "llama.cpp")]) == 2
    assert "not the build the studio pins" in capsys.readouterr().err
    assert not (tmp_path / "llama.cpp").exists()  # removed again: the studio would refuse to load it
