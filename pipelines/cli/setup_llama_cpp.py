"""`python -m pipelines setup-llama-cpp`: fetch the llama.cpp CPU library once (the fast local chat engine).

It comes from the npm registry as a pinned, SHA-256-checked tarball (no npm needed). Where it cannot be had
(another platform, no network) the command says so and exits 0: the studio then runs its models through
transformers, so `... && python -m pipelines setup-llama-cpp && python app.py` still starts the studio.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("setup-llama-cpp", help="fetch the llama.cpp CPU library (pinned, from npm)",
                                   description=__doc__)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to put it (default: $CHARACTER_STUDIO_LLAMA_CPP, else weights/llama.cpp)")
    parser.set_defaults(run=run)


def pinned_library(folder: Path) -> Path | None:
    """The pinned libllama in `folder`, if it is there."""
    from pipelines.chat.llamacpp import LIBRARY_GLOB, PINNED_BUILDS

    for path in sorted(folder.glob(LIBRARY_GLOB)):
        if hashlib.sha256(path.read_bytes()).hexdigest() in PINNED_BUILDS:
            return path
    return None


def run(args: argparse.Namespace) -> int:
    from pipelines.chat.llamacpp import library_dir
    from pipelines.chat.llamacpp_install import PACKAGE, InstallError, install, unsupported_platform

    folder = args.dir or library_dir()
    if pinned_library(folder):
        print(f"llama.cpp is already set up in {folder}")
        return 0
    why = unsupported_platform()
    if why:
        print(f"llama.cpp not set up: {why}; the studio runs its chat models through transformers instead.")
        return 0
    try:
        files = install(folder)
    except InstallError as err:
        print(f"llama.cpp not set up: {err}; the studio runs its chat models through transformers instead.")
        return 0
    if pinned_library(folder) is None:  # the tarball matched its pin, so this would be a wrong pin pair
        shutil.rmtree(folder)
        raise ValueError(f"{PACKAGE} unpacked into {folder}, but its libllama is not the build the studio pins")
    print(f"llama.cpp set up in {folder} from {PACKAGE} ({len(files)} files): the studio lists it first.")
    return 0
