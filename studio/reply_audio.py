"""What a streaming `gr.Audio` is fed while a reply is written, so that the first sentence is heard at once.

Gradio encodes a streamed audio output with one ffmpeg AAC encoder per reply (gradio/audio_stream_encoder.py):
it starts the encoder on the first chunk and waits up to 0.1 s for its first frames; for every later chunk it
waits 5 ms, and frames not out by then stay until the next chunk. On a busy CPU both waits are missed, and the
first sentence is then heard only with the second one, seconds later (bench/results/speech_latency.md). So the
stream opens with a little silence while the model is still writing (the encoder is running by the time the
first sentence is voiced), and after each sentence the next few steps send a chunk of one silent sample, which
makes Gradio collect the frames that are ready without adding any sound you could hear. Not an empty chunk: Gradio
reads a chunk with samples itself, but hands an empty one to pydub, which needs an ffprobe the studio does not have
and fails when that chunk is the first of a stream (it was, in a browser test's log).
"""

from __future__ import annotations

import numpy as np

WARMUP_S = 0.1  # silence that opens a streamed reply
PUMP_STEPS = 4  # one-sample chunks sent after each sentence, one per streamed piece of the reply
PUMP_SAMPLES = 1  # 1/22050 s of silence: inaudible, yet a chunk Gradio decodes without ffprobe


def clip(chunks) -> tuple[int, np.ndarray] | None:
    """Sentences' audio joined into one 16-bit clip for Gradio (None when there is none)."""
    from pipelines.speech.pipeline import join_chunks

    if not chunks:
        return None
    output = join_chunks(chunks, chunks[0].sample_rate)
    return output.sample_rate, (np.clip(output.samples, -1, 1) * 32767).astype(np.int16)


class ReplyAudio:
    """The audio value of each step of one streamed reply: `opening()` first, then `step(new_sentences)`."""

    def __init__(self, sample_rate: int, warmup_s: float = WARMUP_S, pump_steps: int = PUMP_STEPS):
        self.sample_rate, self.warmup_s, self.pump_steps = sample_rate, warmup_s, pump_steps
        self.owed = 0  # pump chunks still to send after the last sentence

    def opening(self) -> tuple[int, np.ndarray] | None:
        if self.warmup_s <= 0:
            return None
        return self.sample_rate, np.zeros(int(self.warmup_s * self.sample_rate), np.int16)

    def step(self, fresh) -> tuple[int, np.ndarray] | None:
        if fresh:
            self.owed = self.pump_steps
            return clip(fresh)
        if self.owed:
            self.owed -= 1
            return self.sample_rate, np.zeros(PUMP_SAMPLES, np.int16)
        return None
