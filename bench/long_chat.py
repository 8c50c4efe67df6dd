"""A long chat with the embedded model in a small context: does the prompt fit, what does a summary cost, what
does the running summary keep?

    python bench/long_chat.py [--turns 16] [--context 1024]

The studio's default engine (SmolLM2-135M through llama.cpp when it is set up, else transformers), one
thread, Ada's card, a context of `--context` tokens so that old turns must leave. The user says their name
and home town at turn 3 and asks for them at the last turn. tests/test_chat_long.py checks the mechanics
with a deterministic backend; this shows what a real 135M model makes of them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import table, write_result  # noqa: E402

FACT = "By the way, my name is Lin and I came here from Lisbon."
QUESTION = "Before I go: what is my name, and which city did I come from?"
FILLER = ("What should I see next?", "Tell me more about that.", "How old is it?", "Who made it?",
          "Is it far from here?", "What else is in this room?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=16)
    parser.add_argument("--context", type=int, default=1024)
    args = parser.parse_args()

    from pipelines.character.card import load_character
    from pipelines.chat.engines import Engine, build_backend
    from pipelines.chat.llamacpp import llama_cpp_ready
    from pipelines.chat.pipeline import PersonaChatConfig, PersonaChatPipeline

    engine = Engine("SmolLM2-135M (llama.cpp)", "llama.cpp") if llama_cpp_ready() else Engine("SmolLM2-135M", "transformers")
    backend = build_backend(engine, device="cpu")  # the studio's threads: half the cores
    config = PersonaChatConfig(max_new_tokens=48, temperature=0.0, context_tokens=args.context, seed=0)
    pipe = PersonaChatPipeline(backend, config)
    ada = load_character(REPO / "examples" / "characters" / "museum_guide.json")
    budget = min(config.context_tokens, backend.context_length) - config.max_new_tokens
    history: list[dict] = []
    build_s, rewrite_s, prompt_tokens, summaries = [], [], [], []
    dropped = 0
    for turn in range(args.turns):
        message = FACT if turn == 3 else QUESTION if turn == args.turns - 1 else FILLER[turn % len(FILLER)]
        start = time.perf_counter()
        prompt = pipe.build_prompt(ada, history, message)
        took = time.perf_counter() - start
        (rewrite_s if prompt.dropped_messages != dropped else build_s).append(took)  # the window moved: a rewrite
        dropped = prompt.dropped_messages
        reply = pipe(ada, history, message)  # builds the same prompt again, from the remembered summary
        history = reply.history
        prompt_tokens.append(prompt.tokens)
        summaries.append(prompt.summary)
        print(f"turn {turn}: prompt {prompt.tokens} tokens, {prompt.dropped_messages} messages summarised, "
              f"build {took:.1f} s", flush=True)
    final = history[-1]["content"]
    rows = [
        ["engine", engine.name],
        ["turns / messages", f"{args.turns} / {len(history)}"],
        ["largest prompt / budget (tokens)", f"{max(prompt_tokens)} / {budget}"],
        ["messages left out at the end", prompt.dropped_messages],
        ["summary rewrites", len(rewrite_s)],
        ["prompt build with a rewrite, median / max (s)",
         f"{statistics.median(rewrite_s):.1f} / {max(rewrite_s):.1f}" if rewrite_s else "-"],
        ["prompt build without, median (s)", f"{statistics.median(build_s):.3f}"],
        ["turn-3 fact in the final summary", f"name: {'Lin' in summaries[-1]}, city: {'Lisbon' in summaries[-1]}"],
        ["last answer names them", f"name: {'Lin' in final}, city: {'Lisbon' in final}"],
    ]
    body = (__doc__.split("\n\n", 2)[2].strip() + "\n\n" + table(["what", "measured"], rows)
            + f"\n\nThe running summary at the end:\n\n> {summaries[-1] or '(none)'}\n\n"
              f"The last question: \"{QUESTION}\" → \"{final}\"")
    write_result("long_chat", "Long chat: running summary with the embedded model", body)


if __name__ == "__main__":
    main()
