"""Process-wide settings and the models all users share, each built once on first use.

Gradio runs handlers in worker threads; module-level objects are shared by every visitor, so a
model loaded here is loaded once per process, never per user and never at import.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, TypeVar

from pipelines.errors import InputError
from pipelines.weights import WEIGHTS_ENV

T = TypeVar("T")


@dataclass
class Settings:
    device: str = "auto"  # auto|cpu|cuda, resolved by pipelines.device.pick_device when a model loads
    chat_engines: tuple = ()  # pipelines.chat.engines.Engine: the only chat engines visitors can choose
    chat_free_entry: bool = False  # single-user local run: visitors may type a server URL or a model path


SETTINGS = Settings()
_objects: dict[str, object] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def configure(device: str = "auto", weights_dir: str | None = None, chat_config: str | None = None,
              chat_free_entry: bool = False, probe_chat_servers: bool = True) -> None:
    """Apply the command line: which device models go to, which folder they load from, which chat engines exist."""
    from pipelines.device import DEVICE_CHOICES, pick_device

    if device not in DEVICE_CHOICES:
        raise InputError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {device!r}")
    if device == "cuda":
        pick_device(device)  # fail at start-up, not at a user's first click; other choices need no torch yet
    SETTINGS.device = device
    if weights_dir:
        os.environ[WEIGHTS_ENV] = str(weights_dir)
    from pipelines.chat.engines import configured_engines

    SETTINGS.chat_engines = tuple(configured_engines(chat_config, probe=probe_chat_servers))
    SETTINGS.chat_free_entry = chat_free_entry
    _objects.clear()


def shared(name: str, factory: Callable[[], T]) -> T:
    """Return the process-wide object `name`, building it with `factory()` the first time only."""
    if name in _objects:
        return _objects[name]  # type: ignore[return-value]
    with _locks_guard:
        lock = _locks.setdefault(name, threading.Lock())
    with lock:  # two first users at once: one builds, the other waits and reuses it
        if name not in _objects:
            _objects[name] = factory()
    return _objects[name]  # type: ignore[return-value]
