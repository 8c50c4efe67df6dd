"""Load and soak test: the studio on loopback, driven through gradio_client by simulated visitors.

    python bench/load.py [--users 20] [--seconds 600] [--queue 8] [--warmup 120]

Steady phase: N visitors, each with its own session, loop over the studio's actions (a face edit, an
expression sheet, a short motion capture, a chat turn, a bundle export and re-import) for a bounded time.
A request turned away with "queue is full" counts as busy (the queue limit doing its job; the visitor waits
a moment and goes on); any other failure is an unexpected error. The server's memory is sampled throughout:
growth is measured from the end of the warm-up (every visitor served every action once, so each session holds
its state, then the first `--warmup` seconds of the crowd, while worker threads and caches fill) to the end.
Burst phase: three times the queue size of face edits at once: the excess must get "queue is full" quickly, not
hang. Writes bench/results/load.md.
"""

from __future__ import annotations

import argparse
import os
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
# gradio_client's HTTP calls (uploads, the job's event stream) otherwise give up after httpx's 5 s; a browser waits.
# While every core runs jobs the server's event loop can be that slow to answer an upload: not an error.
HTTP_TIMEOUT_S = 60.0
BUSY_PAUSE_S = 2.0  # a visitor told "queue is full" waits this long before the next action
MAX_GROWTH = 0.10  # server memory may grow at most 10 % after warm-up


def face_edit(client):
    from gradio_client import handle_file

    return client.predict(handle_file(str(FACE)), "joy", 0.8, 0, 0, 0, 0, 0, 0, False, api_name="/face_expression")


def face_sheet(client):
    from gradio_client import handle_file

    return client.predict(handle_file(str(FACE)), 0.8, 0, False, api_name="/face_sheet")


def motion_clip(client):
    from gradio_client import handle_file

    return client.predict(handle_file(str(VIDEO)), 0, 0.5, 1.5, 0.5, 0, api_name="/motion_capture")


def chat_turn(client):
    client.predict("Ada", "User", api_name="/load_preset")  # a fresh conversation for this simulated visitor
    return client.predict("What is in the clock room?", "", "", "", "", "", 16, 0.0, "User", False,
                          api_name="/chat_respond")  # fmt: skip


def bundle_round_trip(client):
    """Export the visitor's character (the preset, its sprites, the portrait) and import the ZIP again."""
    from gradio_client import handle_file

    client.predict("Ada", "User", api_name="/load_preset")
    card, archive = client.predict(handle_file(str(FACE)), api_name="/export_bundle")
    archive = archive["path"] if isinstance(archive, dict) else archive
    return client.predict(handle_file(archive), api_name="/import_bundle")


JOBS = {
    "face edit": face_edit,
    "expression sheet (7 faces)": face_sheet,
    "motion clip (0.5 s)": motion_clip,
    "chat turn (16 tokens)": chat_turn,
    "bundle export + import": bundle_round_trip,
}


def rss_mb(pid: int) -> float:
    """Current resident memory of the server process (MediaPipe and the models run in-process)."""
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


def is_busy(err: Exception) -> bool:
    return "queue is full" in str(err).lower()


class MemoryLog:
    """Samples the server's RSS every few seconds in a background thread."""

    def __init__(self, pid: int, every_s: float = 5.0):
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self.began = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - self.began, rss_mb(self.pid)))
            self._stop.wait(self.every_s)

    def at(self, seconds: float) -> float:
        """The last sample taken at or before `seconds`."""
        return [mb for t, mb in self.samples if t <= seconds][-1]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic() - self.began, rss_mb(self.pid)))


def connect(url: str, tries: int = 5):
    """A gradio_client session; its first request (the API description) is retried on a busy machine."""
    from gradio_client import Client

    for attempt in range(tries):
        try:
            return Client(url, verbose=False, httpx_kwargs={"timeout": HTTP_TIMEOUT_S})
        except Exception:  # a timeout while the CPU is saturated; the next try usually gets through
            if attempt == tries - 1:
                raise
            time.sleep(2.0)


def fill_sessions(clients: list) -> None:
    """Every visitor is served every action once (retrying "queue is full"), so each session holds its state.

    A session's state (its sprites, clip, found face, character) is made on its first served request of each
    kind; under a full queue that first success comes minutes into the crowd for some visitors, and the server's
    memory steps up then. Filling the sessions first leaves the crowd's memory curve to show leaks alone.
    """

    def fill(client) -> None:
        for job in JOBS.values():
            while True:
                try:
                    job(client)
                    break
                except Exception as err:
                    if not is_busy(err):
                        raise
                    time.sleep(BUSY_PAUSE_S)

    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(fill, clients))


def steady(clients: list, seconds: float) -> tuple[dict, dict, dict]:
    """Each visitor loops over the jobs until time is up; returns latencies, busy answers and failures per job."""
    users = len(clients)
    latencies: dict[str, list[float]] = defaultdict(list)
    busy: dict[str, int] = defaultdict(int)
    failures: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def visitor(index: int) -> None:
        client = clients[index]
        names = list(JOBS)
        step = index  # visitors start on different jobs so the mix is even from the first second
        while time.monotonic() < stop_at:
            name = names[step % len(names)]
            step += 1
            began = time.perf_counter()
            try:
                JOBS[name](client)
                with lock:
                    latencies[name].append(time.perf_counter() - began)
            except Exception as err:  # every failure is recorded and reported; only "queue is full" is expected
                with lock:
                    if is_busy(err):
                        busy[name] += 1
                    else:
                        failures[name].append(f"{type(err).__name__}: {str(err)[:160]}")
                if is_busy(err):
                    time.sleep(BUSY_PAUSE_S)

    with ThreadPoolExecutor(users) as pool:
        list(pool.map(visitor, range(users)))
    return latencies, busy, failures


def burst(url: str, count: int) -> tuple[int, int, int, float]:
    """`count` face edits submitted at once: (served, refused as busy, other errors, slowest answer in s)."""
    from gradio_client import handle_file

    client = connect(url)
    began = time.perf_counter()
    jobs = [client.submit(handle_file(str(FACE)), "joy", 0.8, 0, 0, 0, 0, 0, 0, False, api_name="/face_expression")
            for _ in range(count)]  # fmt: skip
    served = busy = other = 0
    for job in jobs:
        try:
            job.result(timeout=REQUEST_TIMEOUT)
            served += 1
        except Exception as err:
            if is_busy(err):
                busy += 1
            else:
                other += 1
    return served, busy, other, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--queue", type=int, default=8, help="the studio's queue size during the test")
    parser.add_argument("--warmup", type=float, default=120.0,
                        help="seconds of the crowd counted as warm-up (after every session was served once)")
    args = parser.parse_args(argv)

    port = free_loopback_port()
    with served_studio(port, env={"CHARACTER_STUDIO_QUEUE_SIZE": str(args.queue)}) as url:
        pid = server_pid(port)
        memory = MemoryLog(pid)
        clients = [connect(url) for _ in range(args.users)]  # sessions opened before the clock starts
        for job in JOBS.values():  # load every model once
            job(clients[0])
        fill_sessions(clients)
        crowd_from = time.monotonic() - memory.began
        load_before = os.getloadavg()[1]
        latencies, busy, failures = steady(clients, args.seconds)
        load_during = os.getloadavg()[1]  # 5-minute averages: other work on the machine shows here
        crowd_to = time.monotonic() - memory.began
        burst_served, burst_busy, burst_other, burst_seconds = burst(url, 3 * args.queue)
        memory.stop()

    rows = []
    for name in JOBS:
        p50, p95 = percentiles(latencies[name]) if latencies[name] else (float("nan"),) * 2
        rows.append([name, len(latencies[name]), busy[name], len(failures[name]), f"{p50:.2f}", f"{p95:.2f}"])
    errors = sum(len(v) for v in failures.values())
    single = memory.at(crowd_from)
    warmed = memory.at(crowd_from + args.warmup)
    end = memory.at(crowd_to)
    growth = (end - warmed) / warmed
    peak = max(mb for t, mb in memory.samples if crowd_from + args.warmup <= t <= crowd_to)
    minutes = [[f"{t / 60:.0f}", f"{memory.at(crowd_from + t):.0f}"] for t in range(0, int(args.seconds) + 1, 60)]
    body = (
        f"{args.users} simulated visitors for {args.seconds:.0f} s, each with its own session, looping over the "
        f"actions below; queue size {args.queue}; one job of each kind at a time (concurrency limit 1 per event). "
        "\"Busy\" is a \"queue is full\" answer (the visitor waits 2 s and goes on); \"failed\" is anything else. "
        f"Machine load average (5 min): {load_before:.1f} before the crowd, {load_during:.1f} at its end.\n\n"
        + table(["action", "served", "busy", "failed", "p50 (s)", "p95 (s)"], rows)
        + f"\n\nRequests served: {sum(len(v) for v in latencies.values())}; busy answers: {sum(busy.values())}; "
        + f"unexpected errors: {errors}.\n\n"
        + f"Burst: {3 * args.queue} face edits at once → {burst_served} served, {burst_busy} answered \"queue is full\", "
        + f"{burst_other} other errors; every answer within {burst_seconds:.0f} s.\n\n"
        + f"Server memory (RSS): {single:.0f} MB after every visitor was served every action once; {warmed:.0f} MB "
        + "after the first "
        + f"{args.warmup:.0f} s of the crowd (warm-up); {end:.0f} MB at the end of the crowd: growth after warm-up "
        + f"{100 * growth:+.1f} % (limit {100 * MAX_GROWTH:.0f} %); highest sample after warm-up {peak:.0f} MB "
        + f"({100 * (peak - warmed) / warmed:+.1f} %).\n\n"
        + table(["minute of the crowd", "RSS (MB)"], minutes)
        + "\n"
    )
    for name, messages in failures.items():
        if messages:
            body += f"\nFailures of {name}: " + "; ".join(sorted(set(messages))[:3])
    write_result("load", "Load: simulated visitors against the studio", body)
    ok = errors == 0 and burst_other == 0 and burst_busy > 0 and growth <= MAX_GROWTH
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
