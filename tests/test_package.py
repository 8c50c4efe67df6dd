"""The installable package: `pip install .` gives a `character-studio` command that works from any folder.

A wheel is built and unpacked with `pip install --no-deps --target` (the studio's dependencies are already in
this environment), so the test sees exactly what an installed copy sees, without a fresh virtual environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from studio.cli import SERVE, build_parser, with_default_command
from tests.conftest import EXAMPLES, REPO
from tests.test_face_cli import tiny_model_dir  # noqa: F401 - a fixture: a tiny saved SimMIM model

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_code_package_is_in_the_wheel_list():
    """pyproject.toml lists packages by hand (it also maps weights/ and examples/ in); a new folder must join it."""
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for root in ("pipelines", "studio")
        for init in (REPO / root).rglob("__init__.py")
    }
    listed = {name for name in PYPROJECT["tool"]["setuptools"]["packages"] if ".shipped." not in name}
    assert listed == found


def test_the_command_defaults_to_serving():
    _, commands = build_parser()
    assert {SERVE, "face", "motion", "chat", "speak", "train-simmim", "eval-simmim"} <= commands
    assert with_default_command([], commands) == [SERVE]
    assert with_default_command(["--port", "8000", "--mcp"], commands) == [SERVE, "--port", "8000", "--mcp"]
    assert with_default_command(["--device", "cpu", "--port", "1"], commands) == ["--device", "cpu", SERVE, "--port", "1"]
    assert with_default_command(["--device=cpu"], commands) == ["--device=cpu", SERVE]
    assert with_default_command(["face", "a.jpg"], commands) == ["face", "a.jpg"]
    assert with_default_command(["--help"], commands) == ["--help"]


def test_serve_takes_the_device_before_or_after_the_command():
    parser, _ = build_parser()
    assert parser.parse_args(["--device", "cpu", SERVE]).device == "cpu"
    assert parser.parse_args([SERVE, "--device", "cpu", "--port", "9"]).device == "cpu"
    args = parser.parse_args([SERVE])
    assert (args.device, args.port, args.mcp) == ("auto", 7860, False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project built into a wheel and installed, without dependencies, into a folder of its own."""
    source, wheels, target = (tmp_path_factory.mktemp(name) for name in ("source", "wheel", "installed"))
    for name in ("pyproject.toml", "requirements.txt", "README.md"):  # a copy: the build writes beside its sources
        shutil.copy(REPO / name, source)
    for name in ("pipelines", "studio", "weights", "examples"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "cache"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # Built as `pip install .` builds it: setuptools fetched into an isolated environment (a fresh venv may lack it).
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)], check=True, capture_output=True,
                   timeout=300)  # fmt: skip
    (wheel,) = wheels.glob("character_studio-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    return target


def _run_installed(installed: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed `character-studio` script from `cwd`, seeing the installed copy and not the clone."""
    env = {**os.environ, "PYTHONPATH": str(installed), "OMP_NUM_THREADS": "1"}
    script = installed / "bin" / "character-studio"
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_the_wheel_carries_the_weights_and_examples(installed):
    shipped = installed / "pipelines" / "shipped"
    assert (shipped / "weights" / "simmim-face" / "model.safetensors").is_file()
    assert (shipped / "weights" / "face_landmarker.task").is_file()
    assert (shipped / "examples" / "faces" / "london_001_neutral.jpg").is_file()
    assert (shipped / "examples" / "characters" / "museum_guide.json").is_file()
    assert not (installed / "pipelines" / "shipped" / "weights" / "cache").exists()


def test_installed_command_helps_from_another_folder(installed, tmp_path):
    out = _run_installed(installed, ["--help"], tmp_path)
    assert out.returncode == 0, out.stderr
    for command in ("serve", "face", "motion", "chat", "speak", "train-simmim", "eval-simmim"):
        assert command in out.stdout
    where = subprocess.run([sys.executable, "-c", "import pipelines.weights as w; print(w.REPO_ROOT)"], cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True, text=True)  # fmt: skip
    assert Path(where.stdout.strip()) == installed / "pipelines" / "shipped"


def test_installed_face_command_runs_from_another_folder(installed, tmp_path):
    """The shipped models are found from anywhere, not only from the repository root."""
    photo = EXAMPLES / "faces" / "london_002_neutral.jpg"
    out = _run_installed(installed, ["--device", "cpu", "face", str(photo), "--out", "joy.png"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joy.png"]


def test_a_sheet_alone_leaves_no_single_edit_behind(tiny_model_dir, neutral_face, tmp_path, monkeypatch):
    from pipelines.__main__ import main

    monkeypatch.chdir(tmp_path)
    assert main(["--device", "cpu", "face", str(neutral_face), "--simmim", str(tiny_model_dir), "--sheet", "sheet.png"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"]
