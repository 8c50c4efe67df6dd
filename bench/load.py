"""Load test: the studio on loopback, driven through gradio_client by simulated users.

    python bench/load.py [--users 4] [--seconds 60] [--queue 8]

Phase 1 (steady): N users, each looping over a face edit, a short motion capture and a chat turn, for a
bounded time. Every request that should succeed must succeed. Phase 2 (burst): three times the queue
size of face edits at once: the excess must get a clear "queue is full" answer quickly, not hang.
Memory of the server process is sampled after warm-up and at the end; it must stay flat.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import percentiles, table, write_result  # noqa: E402
from tests.browser import served_studio  # noqa: E402
from tests.conftest import free_loopback_port  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FACE = REPO / "examples" / "faces" / "london_002_neutral.jpg"
VIDEO = REPO / "examples" / "videos" / "lunge_front.mp4"
REQUEST_TIMEOUT = 300  # seconds; a request still pending after this counts as a hang


def face_edit(client):
    from gradio_client import handle_file

    return client.predict(handle_file(str(FACE)), "joy", 0.8, 0, 0, 0, 0, 0, 0, False, api_name="/face_expression")


def motion_clip(client):
    from gradio_client import handle_file

    return client.predict(handle_file(str(VIDEO)), 0, 0.5, 1.5, 0.5, 0, api_name="/motion_capture")


def chat_turn(client):
    client.predict("Ada", "User", api_name="/load_preset")  # a fresh conversation for this simulated user
    return client.predict("What is in the clock room?", "", "", "", "", "", 16, 0.0, "User", False,
                          api_name="/chat_respond")  # fmt: skip


JOBS = {"face edit": face_edit, "motion clip (0.5 s)": motion_clip, "chat turn (16 tokens)": chat_turn}


def rss_mb(pid: int) -> float:
    """Current resident memory of the server and its children (MediaPipe runs in-process)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_pid(port: int) -> int:
    """The pid of the `app.py` listening on `port` (found through /proc, no extra dependency)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"app.py" in cmd and str(port).encode() in cmd:
                return int(proc.name)
    raise RuntimeError("studio process not found")


def steady(url: str, users: int, seconds: float) -> tuple[dict, dict, int]:
    """Each user loops over the jobs until time is up; returns latencies and failures per job."""
    from gradio_client import Client

    latencies: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def user(index: int) -> None:
        client = Client(url, verbose=False)
        names = list(JOBS)
        step = index  # users start on different jobs so the mix is even from the first second
        while time.monotonic() < stop_at:
            name = names[step % len(names)]
            step += 1
            began = time.perf_counter()
            try:
                JOBS[name](client)
                with lock:
                    latencies[name].append(time.perf_counter() - began)
            except Exception as err:  # every failure is recorded and reported, none is expected
                with lock:
                    failures[name].append(f"{type(err).__name__}: {str(err)[:120]}")

    with ThreadPoolExecutor(users) as pool:
        list(pool.map(user, range(users)))
    served = sum(len(v) for v in latencies.values())
    return latencies, failures, served


def burst(url: str, count: int) -> tuple[int, int, int, float]:
    """`count` face edits submitted at once: (served, refused as busy, other errors, slowest answer in s)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    from gradio_client import handle_file

    began = time.perf_counter()
    jobs = [client.submit(handle_file(str(FACE)), "joy", 0.8, 0, 0, 0, 0, 0, 0, False, api_name="/face_expression")
            for _ in range(count)]  # fmt: skip
    served = busy = other = 0
    for job in jobs:
        try:
            job.result(timeout=REQUEST_TIMEOUT)
            served += 1
        except Exception as err:
            if "queue is full" in str(err).lower():
                busy += 1
            else:
                other += 1
    return served, busy, other, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--queue", type=int, default=8, help="the studio's queue size during the test")
    args = parser.parse_args(argv)

    port = free_loopback_port()
    with served_studio(port, env={"CHARACTER_STUDIO_QUEUE_SIZE": str(args.queue)}) as url:
        pid = server_pid(port)
        from gradio_client import Client

        warm = Client(url, verbose=False)
        for job in JOBS.values():  # load every model once, so memory growth after this is a leak
            job(warm)
        memory_warm = rss_mb(pid)
        latencies, failures, served = steady(url, args.users, args.seconds)
        memory_after = rss_mb(pid)
        burst_served, burst_busy, burst_other, burst_seconds = burst(url, 3 * args.queue)
        memory_end = rss_mb(pid)

    rows = []
    for name in JOBS:
        p50, p95 = percentiles(latencies[name]) if latencies[name] else (float("nan"),) * 2
        rows.append([name, len(latencies[name]), len(failures[name]), f"{p50:.2f}", f"{p95:.2f}"])
    errors = sum(len(v) for v in failures.values())
    body = (
        f"{args.users} simulated users for {args.seconds:.0f} s (each looping over the three jobs), queue size "
        f"{args.queue}, one job of each kind at a time (concurrency limit 1 per event).\n\n"
        + table(["job", "served", "failed", "p50 (s)", "p95 (s)"], rows)
        + f"\n\nRequests served: {served}; errors: {errors}.\n\n"
        + f"Burst: {3 * args.queue} face edits at once → {burst_served} served, {burst_busy} answered \"queue is full\", "
        + f"{burst_other} other errors; every answer within {burst_seconds:.0f} s.\n\n"
        + f"Server memory (RSS): {memory_warm:.0f} MB after warm-up, {memory_after:.0f} MB after the steady phase, "
        + f"{memory_end:.0f} MB after the burst.\n"
    )
    for name, messages in failures.items():
        if messages:
            body += f"\nFailures of {name}: " + "; ".join(sorted(set(messages))[:3])
    write_result("load", "Load: simulated users against the studio", body)
    ok = errors == 0 and burst_other == 0 and burst_busy > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
