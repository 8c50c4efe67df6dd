"""First audio after the first complete sentence, on the studio's streamed speech path (CPU, default voice).

    python bench/speech_latency.py [--replies 24] [--token-s 0.05] [--busy 4]

What the Chat tab does while a reply streams, step by step and in one process: the model's first piece comes
`--first-token-s` after the reply starts, then one piece every `--token-s` seconds (~20 tokens/s);
`ReplySpeaker` voices each sentence as soon as it is complete (the default voice: eSpeak NG); each step's audio
value comes from studio/reply_audio.py, as in the tab, and goes through Gradio's streaming `gr.Audio`
(postprocess, then `stream_output`, which encodes AAC with the ffmpeg that imageio-ffmpeg ships, put on PATH by
studio/ffmpeg.py). The clock starts when the streamed text first holds the first sentence's closing
punctuation and stops when Gradio has an encoded audio segment to
send. Browser and network time are not included. The first reply of each path is reported apart (cold);
every reply starts its own encoder, as every chat turn does in the studio. The reference row streams the
same replies without the studio's opening silence and one-sample follow-up chunks (studio/reply_audio.py), as the tab
did before. Each path runs
twice: as it is, and with `--busy` processes spinning on the CPU meanwhile (in the studio the model is still
writing while the first sentence is voiced, and other visitors share the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import table, write_result  # noqa: E402

GOAL_S = 0.5
REPLIES = [
    "Welcome to the clock room! This astronomical clock was built in 1780, and it still strikes every hour.",
    "Oh, the mummies are my favourite. The painted coffin is about three thousand years old.",
    "Of course. Turn left at the Monet studies and you will find the café.",
    "你好！欢迎来到钟表馆。这座天文钟建于一七八零年，每个整点都会报时。",
    "I'm sorry, the Egyptian gallery closes at five today. We can still see the clocks.",
    "太好了！我们先去看埃及馆吧。那里的木乃伊非常有名。",
]
FIRST_END = re.compile(r"[.!?…。！？]")


def pieces_of(text: str) -> list[str]:
    """Split a reply the way a model streams it: short word pieces, punctuation on its own, CJK per character."""
    return re.findall(r"[\u4e00-\u9fff]|[A-Za-z']+|\s+|\d+|[^\sA-Za-z\d\u4e00-\u9fff]", text)


def first_audio(reply: str, speaker, audio, feed, token_s: float, first_token_s: float, output_id: str) -> dict:
    """Stream one reply into the speaker and the streaming Audio as the Chat tab does; time the first segment."""
    text, t_sentence, result = "", None, {}
    voiced = 0
    loop = asyncio.new_event_loop()

    def send(value, first: bool):
        return loop.run_until_complete(audio.stream_output(audio.postprocess(value).model_dump(), output_id, first))[0]

    try:
        opening = feed.opening()
        first_chunk = opening is None
        if opening is not None:
            send(opening, True)
        time.sleep(first_token_s)  # the model reads the prompt
        for piece in pieces_of(reply):
            time.sleep(token_s)  # the model writing the next piece
            text += piece
            if t_sentence is None and FIRST_END.search(text):
                t_sentence = time.perf_counter()
            fresh = speaker.update(text, done=False)
            value = feed.step(fresh)
            if value is None:
                continue
            t_step = time.perf_counter()
            voiced += len(fresh)
            segment = send(value, first_chunk)
            first_chunk = False
            if segment is None or not voiced:  # no frame out yet: a later step brings it
                continue
            t_audio = time.perf_counter()
            result = {"total": t_audio - t_sentence, "encode": t_audio - t_step, "sentences": voiced,
                      "voice": sum(c.synth_s for c in fresh)}
            break
    finally:
        audio.end_stream_output(output_id)
        loop.close()
    return result


def _spin(stop) -> None:
    while not stop.is_set():
        pass


class Busy:
    """`count` processes that keep the CPU busy until the block ends."""

    def __init__(self, count: int):
        import multiprocessing

        self.stop = multiprocessing.Event()
        self.workers = [multiprocessing.Process(target=_spin, args=(self.stop,), daemon=True) for _ in range(count)]

    def __enter__(self):
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=24, help="replies per path (the first one is cold)")
    parser.add_argument("--token-s", type=float, default=0.05, help="seconds between streamed pieces")
    parser.add_argument("--first-token-s", type=float, default=0.3, help="seconds before the first piece")
    parser.add_argument("--busy", type=int, default=4, help="CPU-bound processes running during the busy rows")
    args = parser.parse_args()

    import gradio as gr

    from pipelines.speech.pipeline import ReplySpeaker, SpeechPipeline, Voice
    from studio.ffmpeg import put_ffmpeg_on_path
    from studio.reply_audio import ReplyAudio

    ffmpeg = put_ffmpeg_on_path()
    speech = SpeechPipeline.from_pretrained("espeak")
    audio = gr.Audio(streaming=True, type="numpy", autoplay=True, interactive=False)
    rate = speech.engine.sample_rate
    modes = {"the studio (opening silence, one-sample follow-ups)": lambda: ReplyAudio(rate),
             "reference: each sentence alone (as before)": lambda: ReplyAudio(rate, warmup_s=0, pump_steps=0)}
    rows, verdicts = [], []
    for (mode, feed), busy in [(m, b) for b in (0, args.busy) for m in modes.items()]:
        name = f"{mode}, {busy} busy processes" if busy else mode
        with Busy(busy):
            runs = [first_audio(REPLIES[i % len(REPLIES)], ReplySpeaker(speech, Voice()), audio, feed(), args.token_s,
                                args.first_token_s, f"bench-{len(rows)}-{i}") for i in range(args.replies)]
        heard = [r for r in runs if r]
        late = sum(1 for r in runs if not r or r["sentences"] > 1)
        totals = [r["total"] for r in heard]
        verdicts.append(f"{name}: " + ("PASS" if not late and max(totals) <= GOAL_S else "FAIL"))

        def median_ms(key, part=heard):
            return f"{statistics.median(r[key] for r in part) * 1000:.0f}" if part else "-"

        rows.append([name, len(runs), f"{runs[0]['total'] * 1000:.0f}" if runs[0] else "none",
                     median_ms("total"), f"{max(totals) * 1000:.0f}" if totals else "-",
                     f"{late} ({100 * late / len(runs):.0f}%)", median_ms("voice"), median_ms("encode")])
    body = (__doc__.split("\n\n", 2)[2].strip() + "\n\n"
            + f"ffmpeg: `{ffmpeg}`; first piece after {args.first_token_s * 1000:.0f} ms, then one every "
              f"{args.token_s * 1000:.0f} ms; 1-minute load average at the end "
              f"{os.getloadavg()[0]:.1f}. Goal: first audio <= {GOAL_S * 1000:.0f} ms after the first sentence is "
              f"complete, in every reply: {'; '.join(verdicts)}.\n\n"
            + table(["path", "replies", "cold: first reply (ms)", "first audio, median (ms)", "max (ms)",
                     "first sentence not heard until a later one", "voice (ms)",
                     "encode + Gradio (ms)"], rows)
            + "\n\n\"Max\" is over the replies whose first sentence was heard before the next one was voiced; a reply counted in the "
              "next column had its first audio only with its second sentence or at the end of the reply.")
    write_result("speech_latency", "First audio after the first sentence (streamed speech)", body)


if __name__ == "__main__":
    main()
