"""ZeroGPU: with the `spaces` package present, every handler that may use CUDA runs inside `spaces.GPU`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from studio.gpu import CHAT_SECONDS, EDIT_SECONDS, SHEET_SECONDS, SPRITE_SET_SECONDS, gpu_task
from tests.conftest import REPO

# A stand-in for Hugging Face's `spaces` package: `spaces.GPU(duration=...)` marks the function it decorates.
FAKE_SPACES = '''
def GPU(fn=None, *, duration=60):
    def mark(f):
        f.zero_gpu_seconds = duration
        return f
    return mark(fn) if fn is not None else mark
'''

HANDLERS = {
    "studio.tabs.face:make_expression": EDIT_SECONDS,
    "studio.tabs.face:make_sheet": SHEET_SECONDS,
    "studio.tabs.face:make_sprite_set": SPRITE_SET_SECONDS,
    "studio.tabs.character:make_sheet": SPRITE_SET_SECONDS,
    "studio.tabs.chat:respond": CHAT_SECONDS,
}


def test_without_spaces_a_handler_is_left_as_it_is():
    def handler():
        return 1

    assert gpu_task(60)(handler) is handler


def test_with_spaces_the_cuda_handlers_run_inside_spaces_gpu(tmp_path):
    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    code = (
        "import importlib, json, sys\n"
        f"names = {sorted(HANDLERS)!r}\n"
        "seconds = {}\n"
        "for name in names:\n"
        "    module, attr = name.split(':')\n"
        "    seconds[name] = getattr(getattr(importlib.import_module(module), attr), 'zero_gpu_seconds', None)\n"
        "light = importlib.import_module('studio.tabs.face').update_preview\n"  # the preview never needs a GPU
        "seconds['preview'] = getattr(light, 'zero_gpu_seconds', None)\n"
        "print(json.dumps(seconds))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seconds = json.loads(out.stdout.strip().splitlines()[-1])
    assert seconds == {**HANDLERS, "preview": None}
