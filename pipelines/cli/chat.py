"""`python -m pipelines chat --card CARD.json`: talk with a character in the terminal (`--say TEXT` for one reply)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.errors import InputError

QUIT = {"/quit", "/exit"}


def register(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="chat in character with a card (streaming replies, emotion, voice)",
                                   description=__doc__)
    parser.add_argument("--card", type=Path, required=True, help="character card (.json or .png)")
    parser.add_argument("--backend", choices=("local", "llama.cpp", "openai"), default="local",
                        help="local transformers model (default), llama.cpp on the CPU (a GGUF; needs its library, "
                             "README: Chat engines) or an OpenAI-compatible server")
    from pipelines.chat.backends import DEFAULT_TIMEOUT_S, RECOMMENDED_MODELS  # constants; nothing heavy is imported
    from pipelines.chat.pipeline import PersonaChatConfig

    defaults = PersonaChatConfig()

    parser.add_argument("--model", default=None,
                        help="local: folder, .gguf file or hub id (default: the embedded SmolLM2-135M; better, with a "
                             f"GPU or a network: {' or '.join(RECOMMENDED_MODELS)}); openai: the server's model name")
    parser.add_argument("--base-url", default=None, help="openai: server URL, e.g. http://localhost:8000/v1")
    parser.add_argument("--api-key", default=None, help="openai: API key, if the server wants one")
    parser.add_argument("--say", default=None, help="send one message, print the reply and exit")
    parser.add_argument("--user", default=defaults.user_name, help="your name in the conversation ({{user}})")
    parser.add_argument("--greeting", type=int, default=0, help="0 = first message, 1.. = alternate greetings")
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--seed", type=int, default=None, help="fixed seed for reproducible replies")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for the backend")
    parser.add_argument("--wav", type=Path, default=None, help="also speak each reply in the character's voice into this WAV")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for a local model (default: torch's choice, llama.cpp: half the cores; 1 is often faster "
                             "on a busy machine)")
    parser.set_defaults(run=run)


def build_pipeline(args: argparse.Namespace):
    from pipelines.chat.pipeline import PersonaChatConfig, PersonaChatPipeline

    config = PersonaChatConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature, user_name=args.user,
                               seed=args.seed)
    if args.backend != "openai" and not args.model:  # the embedded 135M model cannot summarise (engines.py)
        config.summary_tokens = 0
    if args.backend == "openai":
        if not args.base_url or not args.model:
            raise InputError("--backend openai needs --base-url (e.g. http://localhost:8000/v1) and --model.")
        return PersonaChatPipeline.from_server(args.base_url, args.model, api_key=args.api_key, timeout_s=args.timeout,
                                               config=config)
    if args.threads is not None and args.threads < 1:
        raise InputError("--threads must be at least 1.")
    if args.backend == "llama.cpp":
        from pipelines.chat.llamacpp import LlamaCppBackend

        return PersonaChatPipeline(LlamaCppBackend.from_pretrained(args.model, threads=args.threads), config)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    pipe = PersonaChatPipeline.from_pretrained(args.model, device=getattr(args, "device", "auto"), config=config)
    pipe.backend.timeout_s = args.timeout
    return pipe


def reply_once(pipe, character, history: list[dict], message: str, speech=None, voice=None, out=None):
    """Stream one reply to `out` (stdout), speaking each finished sentence when a speech pipeline is given."""
    from pipelines.speech.pipeline import ReplySpeaker

    out = out or sys.stdout
    speaker = ReplySpeaker(speech, voice) if speech is not None else None
    chunks, shown = [], ""
    out.write(f"{character.name}: ")
    for reply in pipe.stream(character, history, message):
        delta = reply.text[len(shown):] if reply.text.startswith(shown) else ""
        shown = reply.text if reply.text.startswith(shown) else shown
        out.write(delta)
        out.flush()
        if speaker is not None:  # speak each sentence while the rest of the reply is still being written
            chunks.extend(speaker.update(reply.text, reply.done))
    rate = f", {reply.tokens_per_s:.1f} tokens/s" if reply.tokens_per_s else ""
    out.write(f"\n  [{reply.emotion}; first token {reply.first_token_s or 0:.2f} s{rate}]\n")
    return reply, chunks


def run(args: argparse.Namespace) -> int:
    from pipelines.character.card import load_character
    from pipelines.chat.pipeline import greeting

    character = load_character(args.card)
    pipe = build_pipeline(args)
    speech = voice = None
    if args.wav:
        from pipelines.speech.pipeline import SpeechPipeline, Voice

        voice = Voice.from_dict(character.studio.get("voice"))
        speech = SpeechPipeline.from_pretrained(voice.engine, device=getattr(args, "device", "auto"))
    opening = greeting(character, args.greeting, args.user)
    history = [{"role": "assistant", "content": opening}] if opening else []
    print(f"{character.name}: {opening}\n" if opening else f"(chatting with {character.name})\n")
    messages = [args.say] if args.say is not None else None
    while True:
        if messages is not None:
            if not messages:
                return 0
            message = messages.pop()
        else:
            try:
                message = input(f"{args.user}: ")
            except EOFError:
                print()
                return 0
            if message.strip() in QUIT:
                return 0
        try:
            reply, chunks = reply_once(pipe, character, history, message, speech, voice)
        except ValueError as err:  # bad message or backend trouble: say so and keep the conversation
            print(f"\nerror: {err}", file=sys.stderr)
            if messages is not None:
                return 2
            continue
        history = reply.history
        if speech is not None and chunks:
            _write_wav(args.wav, chunks)
            print(f"  (spoken: {args.wav})")


def _write_wav(path: Path, chunks) -> None:
    import soundfile

    from pipelines.speech.pipeline import join_chunks

    output = join_chunks(chunks, chunks[0].sample_rate)
    soundfile.write(str(path), output.samples, output.sample_rate, subtype="PCM_16")
