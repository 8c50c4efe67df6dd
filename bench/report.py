"""Small shared pieces of the benchmarks: percentiles, peak memory, the machine, and markdown tables."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 of a list of timings, in seconds."""
    return float(np.percentile(seconds, 50)), float(np.percentile(seconds, 95))


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process (VmHWM), in MB; Linux only."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def machine() -> str:
    """One line naming the machine the numbers were taken on."""
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, {gpu}, Python {platform.python_version()}"


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, body: str) -> Path:
    """Write bench/results/<name>.md with a heading, the machine line and the body; print it too."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = f"## {title}\n\nMachine: {machine()}\n\n{body.strip()}\n"
    path = RESULTS / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    print(text)
    return path
