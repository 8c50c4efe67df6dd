"""Where model files come from: the local `weights/` folder first, then a pinned hub revision.

Every pipeline asks this one resolver for its files, so the studio behaves the same everywhere:
a fresh clone runs offline on what ships in `weights/`; a user who is online gets any missing
model downloaded once (at a pinned revision, so results do not drift) into the same folder; and
an offline user with a missing file gets an error that names the file and how to obtain it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# The folder holding `weights/` and `examples/`: the repository in a clone (`python app.py`, Spaces); in an
# installed wheel (`pip install .`) they are packed into the package as `pipelines/shipped/` (pyproject.toml).
REPO_ROOT = _PACKAGE / "shipped" if (_PACKAGE / "shipped" / "weights").is_dir() else _PACKAGE.parent
WEIGHTS_ENV = "CHARACTER_STUDIO_WEIGHTS"


class WeightsNotFoundError(FileNotFoundError):
    """A model file is neither in `weights/` nor downloadable right now."""


@dataclass(frozen=True)
class WeightSpec:
    """One model: its name under `weights/`, the files it needs and where else to get them."""

    name: str  # file or folder name under weights/, e.g. "face_landmarker.task" or "simmim-face"
    files: tuple[str, ...] = ()  # files inside the folder; empty when `name` is itself a file
    hub_repo: str | None = None  # Hugging Face repo id to download from when missing locally
    hub_revision: str | None = None  # pinned commit, so a download always gives the same model
    how_to_get: str = ""  # one sentence for the error message when nothing can be fetched
    hub_files: tuple[str, ...] = field(default=())  # hub file names, when they differ from `files`


def weights_dir() -> Path:
    """The weights folder: `$CHARACTER_STUDIO_WEIGHTS` if set (app.py --weights-dir), else the repo's."""
    return Path(os.environ.get(WEIGHTS_ENV) or REPO_ROOT / "weights")


def _missing(spec: WeightSpec, root: Path) -> list[Path]:
    target = root / spec.name
    wanted = [target / f for f in spec.files] if spec.files else [target]
    return [p for p in wanted if not p.is_file()]


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}


def resolve(spec: WeightSpec, root: Path | str | None = None) -> Path:
    """Return the local path of `spec` (file or folder), downloading it at its pinned revision if needed."""
    root = Path(root) if root is not None else weights_dir()
    missing = _missing(spec, root)
    if not missing:
        return root / spec.name
    if spec.hub_repo and not _offline():
        try:
            _download(spec, root)
        except Exception as err:  # network down, repo gone, no disk: explain below, keep the cause
            raise WeightsNotFoundError(_message(spec, missing, f"download from {spec.hub_repo} failed: {err}")) from err
        if not _missing(spec, root):
            return root / spec.name
    raise WeightsNotFoundError(_message(spec, missing, "no download source is reachable"))


def _download(spec: WeightSpec, root: Path) -> None:
    from huggingface_hub import hf_hub_download

    names = spec.hub_files or spec.files or (spec.name,)
    folder = root / spec.name if spec.files else root
    # Read HF_ENDPOINT now, not when huggingface_hub was imported: a mirror set later (e.g. for users in China) counts.
    endpoint = os.environ.get("HF_ENDPOINT") or None
    for name in names:
        hf_hub_download(spec.hub_repo, name, revision=spec.hub_revision, local_dir=folder, endpoint=endpoint)


def _message(spec: WeightSpec, missing: list[Path], why: str) -> str:
    files = ", ".join(str(p) for p in missing)
    hint = f" {spec.how_to_get}" if spec.how_to_get else ""
    return f"Missing model file(s) for '{spec.name}': {files} ({why}).{hint}"
