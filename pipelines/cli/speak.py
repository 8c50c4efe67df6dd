"""`python -m pipelines speak TEXT --out speech.wav`: text to speech in a character's voice or a chosen one."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("speak", help="text to speech (espeak offline; kokoro or xtts when installed)",
                                   description=__doc__)
    from pipelines.speech.pipeline import ENGINES, ESPEAK_PITCH_RANGE, ESPEAK_RATE_RANGE, LANGUAGES, Voice

    normal = Voice()
    parser.add_argument("text", help="what to say (English, Chinese or both)")
    parser.add_argument("--out", type=Path, default=Path("speech.wav"), help="WAV file to write")
    parser.add_argument("--voice", default=None,
                        help="a character card (.json/.png) whose voice to use, or a voice name: espeak variant "
                             "(f1-f5, m1-m7, ...) or Kokoro voice (af_heart, zf_xiaobei, ...)")
    parser.add_argument("--engine", choices=ENGINES, default=None, help=f"default: the voice's, else {normal.engine}")
    parser.add_argument("--pitch", type=int, default=None,
                        help=f"espeak pitch {ESPEAK_PITCH_RANGE[0]}-{ESPEAK_PITCH_RANGE[1]} ({normal.pitch} = normal)")
    parser.add_argument("--rate", type=int, default=None,
                        help=f"words per minute, {ESPEAK_RATE_RANGE[0]}-{ESPEAK_RATE_RANGE[1]} ({normal.rate} = normal)")
    parser.add_argument("--language", choices=LANGUAGES, default=None, help="default: picked per sentence")
    parser.add_argument("--reference", default=None, help="xtts: file name of a 6-30 s clip of the voice in weights/voices/")
    parser.set_defaults(run=run)


def voice_from_args(args: argparse.Namespace):
    from pipelines.speech.pipeline import Voice

    data: dict = {}
    if args.voice and Path(args.voice).suffix.lower() in (".json", ".png"):
        from pipelines.character.card import load_character

        data = dict(load_character(args.voice).studio.get("voice") or {})
    elif args.voice:
        data["kokoro_voice" if args.engine == "kokoro" else "variant"] = args.voice
    for key, value in (("engine", args.engine), ("pitch", args.pitch), ("rate", args.rate),
                       ("language", args.language), ("reference_audio", args.reference)):
        if value is not None:
            data[key] = value
    return Voice.from_dict(data)


def run(args: argparse.Namespace) -> int:
    import soundfile

    from pipelines.speech.pipeline import SpeechPipeline

    voice = voice_from_args(args)
    output = SpeechPipeline.from_pretrained(voice.engine, device=getattr(args, "device", "auto"))(args.text, voice)
    soundfile.write(str(args.out), output.samples, output.sample_rate, subtype="PCM_16")
    print(f"{args.out}: {output.seconds:.2f} s of speech at {output.sample_rate} Hz, {len(output.sentences)} sentence(s), "
          f"real-time factor {output.real_time_factor:.3f} ({voice.engine})")
    return 0
