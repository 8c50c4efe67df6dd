"""Shared test fixtures: paths to the shipped examples and weights, and a free loopback port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
WEIGHTS = REPO / "weights"


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
