"""Run every benchmark and gather their tables into bench/RESULTS.md.

    python bench/run_all.py            # all of them (about 15-25 minutes on a 2-core CPU)
    python bench/run_all.py face chat  # just some
    python bench/run_all.py --gather   # none: only gather the tables the benchmarks last wrote
    LLAMA_BENCH=path/to/llama-bench python bench/run_all.py chat_engines_speed   # with llama.cpp's own reference

Each benchmark is a script that prints its numbers and writes bench/results/<name>.md; a failing one is
reported in RESULTS.md instead of silently leaving an old table in place.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.report import RESULTS, machine  # noqa: E402

# The training photos' held-out split makes the SimMIM table complete; without them it covers faces-dev only.
FACES_TRAIN = BENCH.parent.parent / "shared" / "data" / "faces-train"
SIMMIM_DATA = ["--data", str(FACES_TRAIN)] if FACES_TRAIN.is_dir() else []

# llama.cpp's own llama-bench, the reference of the chat engine speed table, where one was built (see chat_engines.py).
LLAMA_BENCH_PATH = os.environ.get("LLAMA_BENCH", "")
LLAMA_BENCH = ["--llama-bench", LLAMA_BENCH_PATH] if LLAMA_BENCH_PATH else []

# name -> command (run from the repo root); the order is the order of RESULTS.md.
BENCHMARKS = {
    "startup": [sys.executable, "bench/startup.py"],
    "face": [sys.executable, "bench/face.py"],
    "face_eye": [sys.executable, "bench/face_eye.py"],
    "face_teeth": [sys.executable, "bench/face_teeth.py"],
    "preview": [sys.executable, "bench/preview.py"],
    "simmim": [sys.executable, "-m", "pipelines", "eval-simmim", *SIMMIM_DATA],
    "motion": [sys.executable, "bench/motion.py"],
    "chat": [sys.executable, "bench/chat.py"],
    "emotion": [sys.executable, "bench/emotion.py"],
    "speech_latency": [sys.executable, "bench/speech_latency.py"],
    "long_chat": [sys.executable, "bench/long_chat.py"],
    "chat_engines_speed": [sys.executable, "bench/chat_engines.py", "--skip-roleplay", "--out", "chat_engines_speed",
                           "--engines", "llama.cpp,transformers,transformers serve", *LLAMA_BENCH],
    "chat_roleplay": [sys.executable, "bench/chat_engines.py", "--skip-speed", "--out", "chat_roleplay", "--threads", "1",
                      "--probe-tokens", "48", "--engines", "llama.cpp,transformers,transformers serve"],
    "load": [sys.executable, "bench/load.py"],
}


def main(names: list[str]) -> int:
    gather_only = "--gather" in names
    names = [n for n in names if n != "--gather"]
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")
        return 2
    failed = []
    for name in [] if gather_only else (names or BENCHMARKS):
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(BENCHMARKS[name], cwd=BENCH.parent)
        print(f"== {name}: exit {done.returncode} after {time.perf_counter() - start:.0f} s", flush=True)
        if done.returncode != 0:
            failed.append(name)
            (RESULTS / f"{name}.md").write_text(f"## {name}\n\nFAILED (exit {done.returncode}) in the last run.\n")
    parts = [(RESULTS / f"{name}.md") for name in BENCHMARKS]
    body = "\n\n".join(p.read_text(encoding="utf-8").strip() for p in parts if p.is_file())
    header = (
        "# Benchmark results\n\nWritten by `python bench/run_all.py`. Each table names the machine it ran on; "
        "ratios to a reference measured in the same run carry the claims, not absolute times.\n\n"
        + ("Gathered from the tables in bench/results/ (`--gather`): no benchmark ran to write this file.\n" if gather_only
           else f"Last full run's machine: {machine()}\n")
    )
    (BENCH / "RESULTS.md").write_text(header + "\n" + body + "\n", encoding="utf-8")
    print(f"wrote {BENCH / 'RESULTS.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
