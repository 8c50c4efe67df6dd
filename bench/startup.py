"""Studio start-up: seconds from `python app.py` to a served page, and the server's memory then.

Reference in the same run: a bare `gradio.Blocks` with one textbox, so the ratio says what our tabs add.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import peak_rss_mb, table, write_result  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BARE = "import gradio as gr\nwith gr.Blocks() as d: gr.Textbox()\nd.launch(server_port={port})"
RUNS = 3


def time_to_page(cmd: list[str], port: int) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                return time.perf_counter() - start, peak_rss_mb(proc.pid)
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd} exited early")
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    port = 7931
    rows = []
    for label, cmd in (
        ("Character Studio (`python app.py`)", [sys.executable, "app.py", "--port", str(port)]),
        ("bare gradio Blocks (reference)", [sys.executable, "-c", BARE.format(port=port)]),
    ):
        runs = [time_to_page(cmd, port) for _ in range(RUNS)]
        seconds = sorted(r[0] for r in runs)
        rows.append([label, f"{seconds[len(seconds) // 2]:.1f}", f"{max(r[1] for r in runs):.0f}"])
    body = f"Median of {RUNS} cold starts, until `GET /` answers.\n\n" + table(
        ["what", "start-up (s)", "peak RSS at start (MB)"], rows
    )
    write_result("startup", "Studio start-up", body)


if __name__ == "__main__":
    main()
