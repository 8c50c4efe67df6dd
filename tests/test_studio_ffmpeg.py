"""Gradio finds `ffmpeg` by name; the studio puts the imageio-ffmpeg binary there when the system has none."""

from __future__ import annotations

import os
import shutil
import subprocess

from studio.ffmpeg import put_ffmpeg_on_path


def test_without_a_system_ffmpeg_the_wheels_binary_runs_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no system ffmpeg
    assert shutil.which("ffmpeg") is None
    binary = put_ffmpeg_on_path()
    assert shutil.which("ffmpeg") == binary
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("ffmpeg version")
    assert put_ffmpeg_on_path() == binary  # a second call (another tab, another process) reuses the link
    # No ffprobe comes with it: the stand-in fails plainly, so Gradio assumes a video plays (its own fallback).
    probe = subprocess.run(["ffprobe", "-version"], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 1 and "not installed" in probe.stderr


def test_a_system_ffmpeg_stays_in_charge(monkeypatch, tmp_path):
    system = tmp_path / "ffmpeg"
    system.write_text("#!/bin/sh\necho system\n")
    system.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert put_ffmpeg_on_path() == str(system)
    assert os.environ["PATH"] == str(tmp_path)
