"""Shared test fixtures: paths to the shipped examples and weights, and a free loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.local_server import free_loopback_port  # noqa: F401  (tests import it from here)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
WEIGHTS = REPO / "weights"


@pytest.fixture
def free_port() -> int:
    return free_loopback_port()


@pytest.fixture
def neutral_face() -> Path:
    """A frontal neutral portrait that ships in examples/ (CC BY 4.0, London Face Research Lab)."""
    return EXAMPLES / "faces" / "london_001_neutral.jpg"


@pytest.fixture
def walking_video() -> Path:
    return EXAMPLES / "videos" / "walking_side.mp4"
