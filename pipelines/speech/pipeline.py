"""A character's voice: text in, audio out, sentence by sentence so speech can start while a reply streams.

Engines, one adapter each, imported only when chosen:
- `espeak` (default, offline, tiny): libespeak-ng from the `espeakng-loader` package, driven through
  ctypes in synchronous mode with a callback that collects the samples. Robotic but instant, English
  and Mandarin; a character's voice is a variant (f1..f5, m1..m7, ...) plus pitch and rate.
- `kokoro`: Kokoro-82M (Apache-2.0), natural voices, when the `kokoro` package and its weights exist.
- `xtts`: Coqui XTTS-v2 (`coqui-tts`, import name `TTS`) cloning a voice from a reference clip.
The language of each sentence is picked from its text (Chinese vs English), so a bilingual reply
switches voice mid-way instead of reading Chinese with English rules.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from pipelines.errors import InputError
from pipelines.weights import WeightsNotFoundError, WeightSpec, resolve, weights_dir

ENGINES = ("espeak", "kokoro", "xtts")
LANGUAGES = ("auto", "en", "zh")  # auto = picked per sentence from its text
MAX_SPEECH_CHARS = 4000  # one reply's worth; longer text is refused rather than read for minutes
SENTENCE_PAUSE_S = 0.12  # silence between sentences when they are joined into one clip
ESPEAK_PITCH_RANGE = (0, 100)  # espeak's own scale, 50 = the voice's normal pitch
ESPEAK_RATE_RANGE = (80, 450)  # words per minute
NORMAL_RATE = 170  # espeak's words per minute that the neural engines treat as speed 1.0
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
ZH_SHARE = 0.2  # a sentence is Chinese when CJK characters make up at least this share of its letters
# Sentence ends: western punctuation followed by a space or the end; Chinese punctuation anywhere; new lines.
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*(?:\s+|$)|(?<=[。！？；])[”’」』）]*|\n+")
BOLD = re.compile(r"\*\*([^*\n]+)\*\*")  # markdown emphasis is spoken; only its asterisks go
ACTIONS = re.compile(r"\*[^*\n]{1,200}\*")  # role-play stage directions, "*waves*": shown, not spoken
MARKUP = re.compile(r"[*_`#>~|]+")

# The optional neural voices are never downloaded at run time: no revision of them is pinned here, so the
# operator places the files (and knows which ones they are).
KOKORO_REPO = "hexgrad/Kokoro-82M"  # the name Kokoro's package wants; its files come from weights/kokoro-82m/
KOKORO = WeightSpec(
    "kokoro-82m", ("config.json", "kokoro-v1_0.pth", "voices/af_heart.pt", "voices/zf_xiaobei.pt"),
    how_to_get=f"Download {KOKORO_REPO} (Apache-2.0) into weights/kokoro-82m/ and `pip install kokoro` "
    "(plus `misaki[zh]` for Chinese).",
)
XTTS = WeightSpec(
    "xtts-v2", ("config.json", "model.pth", "vocab.json"),
    how_to_get="Download coqui/XTTS-v2 (Coqui Public Model License, non-commercial) into weights/xtts-v2/ "
    "and `pip install coqui-tts`.",
)
# XTTS-v2's model.pth is a Python pickle, and loading a pickle can run any code in it: only an operator who
# trusts the files turns XTTS on (app.py --allow-xtts sets this).
ALLOW_XTTS_ENV = "CHARACTER_STUDIO_ALLOW_XTTS"
VOICES_DIR = "voices"  # weights/voices/: the reference clips XTTS may clone, placed by the operator
REFERENCE_NAME = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,79}\.(?:wav|flac|mp3|ogg)")
KOKORO_DEFAULT_VOICES = {"en": "af_heart", "zh": "zf_xiaobei"}
KOKORO_LANG_CODES = {"en": "a", "zh": "z"}  # Kokoro's pipeline codes: American English, Mandarin
XTTS_LANGUAGES = {"en": "en", "zh": "zh-cn"}


@dataclass
class Voice:
    """How a character sounds; stored in a card under extensions.character_studio.voice."""

    engine: str = "espeak"  # espeak | kokoro | xtts
    variant: str = ""  # espeak variant: f1-f5 (female), m1-m7 (male), or e.g. "croak", "whisper"; "" = plain
    pitch: int = 50  # espeak 0-100, 50 = normal
    rate: int = NORMAL_RATE  # words per minute; Kokoro and XTTS use rate / 170 as their speed
    language: str = "auto"  # auto (from the text, per sentence) | en | zh
    kokoro_voice: str = ""  # Kokoro voice name (af_heart, zf_xiaobei, ...); "" = a default for the language
    reference_audio: str = ""  # XTTS: file name of a 6-30 s clip of the voice in weights/voices/ (never a path)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Voice":
        data = dict(data or {})
        known = {f for f in cls.__dataclass_fields__}
        voice = cls(**{k: v for k, v in data.items() if k in known})
        voice.check()
        return voice

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"Unknown speech engine {self.engine!r}; choose one of {', '.join(ENGINES)}.")
        if not isinstance(self.pitch, int) or not ESPEAK_PITCH_RANGE[0] <= self.pitch <= ESPEAK_PITCH_RANGE[1]:
            raise InputError(f"Voice pitch must be a whole number from {ESPEAK_PITCH_RANGE[0]} to {ESPEAK_PITCH_RANGE[1]}, got {self.pitch!r}.")
        if not isinstance(self.rate, int) or not ESPEAK_RATE_RANGE[0] <= self.rate <= ESPEAK_RATE_RANGE[1]:
            raise InputError(f"Voice rate must be {ESPEAK_RATE_RANGE[0]}-{ESPEAK_RATE_RANGE[1]} words per minute, got {self.rate!r}.")
        if self.language not in LANGUAGES:
            raise InputError(f"Voice language must be auto, en or zh, got {self.language!r}.")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{0,32}", self.variant or ""):
            raise InputError(f"Voice variant {self.variant!r} is not a valid espeak variant name.")
        if self.reference_audio and not REFERENCE_NAME.fullmatch(self.reference_audio):
            raise InputError(f"The voice's reference_audio must be the file name of a clip in weights/{VOICES_DIR}/ "
                             "(letters, digits, '.', '_', '-'; .wav, .flac, .mp3 or .ogg), not a path.")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{0,40}", self.kokoro_voice or ""):
            raise InputError(f"Kokoro voice {self.kokoro_voice!r} is not a valid voice name.")


def detect_language(text: str) -> str:
    """'zh' when Chinese characters make up a fair share of the letters, else 'en'."""
    cjk, latin = len(CJK.findall(text)), len(LATIN.findall(text))
    return "zh" if cjk and cjk >= ZH_SHARE * (cjk + latin) else "en"


def speakable(text: str) -> str:
    """Drop what should be seen but not heard: *stage directions* and markdown symbols."""
    text = ACTIONS.sub(" ", BOLD.sub(r"\1", text))
    return re.sub(r"\s+", " ", MARKUP.sub("", text)).strip()


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


class SentenceBuffer:
    """Collect streamed text and hand out each sentence as soon as it is complete."""

    def __init__(self):
        self.pending = ""

    def feed(self, piece: str) -> list[str]:
        self.pending += piece
        ends = list(SENTENCE_END.finditer(self.pending))
        # A number may go on after its point ("3." → "3.5"), so a "." right after a digit at the very end waits for
        # the next character; any other sentence end is voiced at once (every piece of delay is heard).
        ends = [m for m in ends if m.end() < len(self.pending) or not re.search(r"\d\.$", self.pending[: m.end()])]
        if not ends:
            return []
        cut = ends[-1].end()
        done, self.pending = self.pending[:cut], self.pending[cut:]
        return split_sentences(done)

    def flush(self) -> list[str]:
        done, self.pending = self.pending, ""
        return split_sentences(done)


# --- engines -----------------------------------------------------------------------------------

AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak writes into our callback and returns when done
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE, ESPEAK_PITCH = 1, 3  # espeak_PARAMETER values
ESPEAK_VOICE_NAMES = {"en": "en-us", "zh": "cmn"}
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakEngine:
    """libespeak-ng through ctypes. The library keeps global state, so one instance serves the process under a lock."""

    name = "espeak"
    _instance: "EspeakEngine | None" = None
    _create_lock = threading.Lock()

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError:
            raise WeightsNotFoundError("The espeak engine needs the `espeakng-loader` package: pip install espeakng-loader") from None
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.sample_rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.sample_rate <= 0:
            raise RuntimeError("libespeak-ng failed to initialise (its voice data was not found).")
        self._lib = lib
        variants = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
        self.variants = sorted(p.name for p in variants.iterdir()) if variants.is_dir() else []
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept on self: ctypes must not free it while espeak holds it
        lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> "EspeakEngine":
        with cls._create_lock:
            if cls._instance is None:
                cls._instance = cls()
        return cls._instance

    def _collect(self, wav, count, events) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # 0 = keep going

    def synthesize(self, text: str, voice: Voice, language: str) -> np.ndarray:
        if voice.variant and voice.variant not in self.variants:
            raise InputError(f"espeak has no voice variant {voice.variant!r}; try f1-f5, m1-m7 or one of: "
                             f"{', '.join(self.variants[:12])}, ...")
        name = ESPEAK_VOICE_NAMES[language] + (f"+{voice.variant}" if voice.variant else "")
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            if self._lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise InputError(f"espeak has no voice {name!r} (check the variant name).")
            self._lib.espeak_SetParameter(ESPEAK_RATE, voice.rate, 0)
            self._lib.espeak_SetParameter(ESPEAK_PITCH, voice.pitch, 0)
            self._chunks = []
            status = self._lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
            if status != 0:
                raise RuntimeError(f"espeak_Synth failed with status {status}.")
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return samples.astype(np.float32) / 32768.0


def _package_and_weights(module: str, package: str, spec: WeightSpec, engine: str) -> Path:
    """An optional engine's weights folder, after checking its package is installed: checked first, so the
    error names the package to install rather than a missing file."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise WeightsNotFoundError(f"The {engine} engine needs the `{package}` package. {spec.how_to_get}") from None
    return resolve(spec)


class KokoroEngine:
    """Kokoro-82M: natural voices at 24 kHz (English and Mandarin), local weights first."""

    name = "kokoro"
    sample_rate = 24_000

    def __init__(self, folder, device: str = "cpu"):
        from kokoro import KModel, KPipeline  # imported only when this engine is chosen

        self.folder = folder
        self.model = KModel(repo_id=KOKORO_REPO, config=str(folder / "config.json"),
                            model=str(folder / "kokoro-v1_0.pth")).to(device).eval()
        self._pipelines = {lang: KPipeline(lang_code=code, repo_id=KOKORO_REPO, model=self.model)
                           for lang, code in KOKORO_LANG_CODES.items()}

    @classmethod
    def from_pretrained(cls, device: str = "auto") -> "KokoroEngine":
        from pipelines.device import pick_device

        return cls(_package_and_weights("kokoro", "kokoro", KOKORO, cls.name), device=pick_device(device))

    def synthesize(self, text: str, voice: Voice, language: str) -> np.ndarray:
        name = voice.kokoro_voice or KOKORO_DEFAULT_VOICES[language]
        path = self.folder / "voices" / f"{name}.pt"
        if not path.is_file():
            raise InputError(f"Kokoro voice {name!r} is not in {path.parent}.")
        results = self._pipelines[language](text, voice=str(path), speed=voice.rate / NORMAL_RATE)
        pieces = [audio.detach().cpu().numpy().astype(np.float32) for _, _, audio in results if audio is not None]
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


class XTTSEngine:
    """Coqui XTTS-v2: clones the voice of a reference clip (non-commercial model licence)."""

    name = "xtts"

    def __init__(self, folder, device: str = "cpu"):
        from TTS.api import TTS  # imported only when this engine is chosen

        self.tts = TTS(model_path=str(folder), config_path=str(folder / "config.json")).to(device)
        self.sample_rate = int(self.tts.synthesizer.output_sample_rate)

    @classmethod
    def from_pretrained(cls, device: str = "auto") -> "XTTSEngine":
        from pipelines.device import pick_device

        if os.environ.get(ALLOW_XTTS_ENV) != "1":
            raise InputError("The XTTS voice is off: its model file is a Python pickle, which can run code when "
                             "loaded, so only the operator can turn it on (app.py --allow-xtts) for files they trust.")
        return cls(_package_and_weights("TTS", "coqui-tts", XTTS, cls.name), device=pick_device(device))

    def synthesize(self, text: str, voice: Voice, language: str) -> np.ndarray:
        clip = weights_dir() / VOICES_DIR / voice.reference_audio if voice.reference_audio else None
        if clip is None or not clip.is_file():
            raise InputError(f"XTTS clones a voice: put a 6-30 s clip of the speaker in weights/{VOICES_DIR}/ and set "
                             "the voice's reference_audio to its file name.")
        wav = self.tts.tts(text=text, speaker_wav=str(clip), language=XTTS_LANGUAGES[language],
                           speed=voice.rate / NORMAL_RATE)
        return np.asarray(wav, dtype=np.float32)


def load_engine(name: str, device: str = "auto"):
    """Build (or reuse, for espeak) the engine called `name`."""
    if name == "espeak":
        return EspeakEngine.shared()
    if name == "kokoro":
        return KokoroEngine.from_pretrained(device)
    if name == "xtts":
        return XTTSEngine.from_pretrained(device)
    raise InputError(f"Unknown speech engine {name!r}; choose one of {', '.join(ENGINES)}.")


# --- pipeline ----------------------------------------------------------------------------------


@dataclass
class SpeechChunk:
    """One spoken sentence."""

    sentence: str
    language: str
    sample_rate: int
    samples: np.ndarray  # float32 mono in [-1, 1]
    synth_s: float  # time it took to synthesise


@dataclass
class SpeechOutput:
    sample_rate: int
    samples: np.ndarray  # float32 mono in [-1, 1]
    sentences: list[str] = field(default_factory=list)
    synth_s: float = 0.0

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def real_time_factor(self) -> float:
        """Synthesis time divided by audio length: below 1 means faster than real time."""
        return self.synth_s / self.seconds if self.seconds else float("nan")


class SpeechPipeline:
    """`SpeechPipeline.from_pretrained("espeak")(text, voice)` → `SpeechOutput`; `.stream(pieces, voice)` per sentence."""

    def __init__(self, engine):
        self.engine = engine

    @classmethod
    def from_pretrained(cls, engine: str = "espeak", device: str = "auto") -> "SpeechPipeline":
        return cls(load_engine(engine, device))

    def check_inputs(self, text: str, voice: Voice | None) -> tuple[str, Voice]:
        voice = voice or Voice(engine=self.engine.name)
        voice.check()
        if not isinstance(text, str):
            raise InputError("Speech needs text.")
        if len(text) > MAX_SPEECH_CHARS:
            raise InputError(f"The text is {len(text):,} characters long; speech is limited to {MAX_SPEECH_CHARS:,}.")
        text = speakable(text)
        if not text:
            raise InputError("There is nothing to say: the text is empty (or only *stage directions*).")
        return text, voice

    def speak_sentence(self, sentence: str, voice: Voice) -> SpeechChunk | None:
        """One sentence in its own language; None when there is nothing to say (punctuation only)."""
        sentence = speakable(sentence)
        if not sentence or not re.search(r"\w", sentence):
            return None  # punctuation alone is silence
        language = voice.language if voice.language != "auto" else detect_language(sentence)
        start = time.perf_counter()
        samples = self.engine.synthesize(sentence, voice, language)
        return SpeechChunk(sentence, language, self.engine.sample_rate, samples, time.perf_counter() - start)

    def stream(self, pieces: Iterable[str], voice: Voice | None = None) -> Iterator[SpeechChunk]:
        """Speak streamed text: each sentence is synthesised as soon as it is complete."""
        voice = voice or Voice(engine=self.engine.name)
        voice.check()
        buffer = SentenceBuffer()
        for piece in pieces:
            for sentence in buffer.feed(piece):
                chunk = self.speak_sentence(sentence, voice)
                if chunk is not None:
                    yield chunk
        for sentence in buffer.flush():
            chunk = self.speak_sentence(sentence, voice)
            if chunk is not None:
                yield chunk

    def __call__(self, text: str, voice: Voice | None = None) -> SpeechOutput:
        # 1. check and clean the text
        text, voice = self.check_inputs(text, voice)
        # 2. synthesise sentence by sentence (each in its own language)
        chunks = list(self.stream([text], voice))
        # 3. join with short pauses
        return join_chunks(chunks, self.engine.sample_rate)


class ReplySpeaker:
    """Voice a reply while it streams: give it the reply text as it grows, get back the audio of each sentence
    completed since the last call (and of the rest when the reply is done). The studio and the CLI both use it."""

    def __init__(self, speech: "SpeechPipeline", voice: Voice):
        self.speech = speech
        self.voice = voice
        self.buffer = SentenceBuffer()
        self.shown = ""  # the text already fed to the sentence buffer

    def update(self, text: str, done: bool) -> list[SpeechChunk]:
        # The reply only grows; if it was rewritten instead (a speaker prefix cut), nothing of it counts as new.
        delta = text[len(self.shown):] if text.startswith(self.shown) else ""
        self.shown = text
        sentences = self.buffer.feed(delta) + (self.buffer.flush() if done else [])
        return [chunk for chunk in (self.speech.speak_sentence(s, self.voice) for s in sentences) if chunk is not None]


def join_chunks(chunks: list[SpeechChunk], sample_rate: int) -> SpeechOutput:
    pause = np.zeros(int(SENTENCE_PAUSE_S * sample_rate), np.float32)
    parts = []
    for i, chunk in enumerate(chunks):
        parts.extend([pause, chunk.samples] if i else [chunk.samples])
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return SpeechOutput(sample_rate, samples, [c.sentence for c in chunks], sum(c.synth_s for c in chunks))
