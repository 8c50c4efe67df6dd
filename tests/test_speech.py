"""Speech: espeak-ng through ctypes (real audio, measured), sentence streaming, language choice, bad input."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from pipelines.character.card import list_presets, load_character
from pipelines.errors import InputError
from pipelines.speech.pipeline import (
    ALLOW_XTTS_ENV,
    KOKORO,
    XTTS,
    SentenceBuffer,
    SpeechPipeline,
    Voice,
    detect_language,
    load_engine,
    speakable,
    split_sentences,
)
from pipelines.weights import WeightsNotFoundError, resolve


@pytest.fixture(scope="module")
def pipe() -> SpeechPipeline:
    return SpeechPipeline.from_pretrained("espeak")


def _f0(samples: np.ndarray, sample_rate: int) -> float:
    """Median fundamental frequency of voiced 40 ms frames, by autocorrelation (60-500 Hz)."""
    frame = int(0.04 * sample_rate)
    lo, hi = sample_rate // 500, sample_rate // 60
    estimates = []
    for start in range(0, len(samples) - frame, frame):
        x = samples[start : start + frame] - samples[start : start + frame].mean()
        if np.sqrt(np.mean(x**2)) < 0.05:
            continue
        ac = np.correlate(x, x, "full")[frame - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        estimates.append(sample_rate / lag)
    return float(np.median(estimates))


def test_speech_is_real_english_speech(pipe):
    output = pipe("Welcome to the City Museum. I am your guide.", Voice())
    sample_rate, samples = output.sample_rate, output.samples
    assert sample_rate == 22050 and samples.dtype == np.float32 and samples.ndim == 1
    seconds = len(samples) / sample_rate
    assert 1.5 < seconds < 6  # two short sentences at ~170 words per minute
    assert 0.2 < np.abs(samples).max() <= 1.0
    assert (np.abs(samples) > 0.02).mean() > 0.3  # mostly voiced, not silence


def test_rate_and_pitch_change_the_voice(pipe):
    text = "The clock room has a working astronomical clock."
    slow = pipe(text, Voice(rate=110)).seconds
    fast = pipe(text, Voice(rate=300)).seconds
    assert slow > 1.8 * fast
    low = pipe(text, Voice(pitch=10))
    high = pipe(text, Voice(pitch=90))
    assert _f0(high.samples, high.sample_rate) > 1.3 * _f0(low.samples, low.sample_rate)


def test_chinese_is_detected_per_sentence_and_spoken_as_mandarin(pipe):
    assert detect_language("今天我们练习点菜。") == "zh"
    assert detect_language("Hello there.") == "en"
    assert detect_language("“加油”（jiāyóu）的意思是努力") == "zh"
    chunks = list(pipe.stream(["你好！我是李老师。 Nice to meet you."], Voice()))
    assert [c.language for c in chunks] == ["zh", "zh", "en"]
    assert all(len(c.samples) / c.sample_rate > 0.3 for c in chunks)


def test_sentences_are_spoken_as_soon_as_they_are_complete(pipe):
    consumed = []

    def pieces():
        for piece in ["Hello the", "re. How are", " you today? I am", " fine."]:
            consumed.append(piece)
            yield piece

    stream = pipe.stream(pieces(), Voice())
    first = next(stream)
    assert first.sentence == "Hello there." and len(consumed) == 2  # spoken before the rest of the reply arrived
    assert [c.sentence for c in stream] == ["How are you today?", "I am fine."]


def test_sentence_splitting_and_buffer():
    assert split_sentences("It costs 3.5 euros. Great!\n你好。再见") == ["It costs 3.5 euros.", "Great!", "你好。", "再见"]
    buffer = SentenceBuffer()
    assert buffer.feed("It is 3.") == []  # "3." may still become "3.5"
    assert buffer.feed("5 m tall. And") == ["It is 3.5 m tall."]
    assert buffer.feed(" so it is.") == ["And so it is."]  # voiced at once: no wait for the next piece
    assert buffer.feed("你好！") == ["你好！"]
    assert buffer.flush() == []


def test_stage_directions_and_markup_are_not_spoken():
    assert speakable("*waves happily* Hello **there**!") == "Hello there!"


@pytest.mark.parametrize(
    ("text", "voice", "error"),
    [
        ("", Voice(), "nothing to say"),
        ("*smiles*", Voice(), "nothing to say"),
        ("x" * 5000, Voice(), "limited to 4,000"),
        ("hi", Voice(pitch=200), "pitch must be"),
        ("hi", Voice(rate=5), "rate must be"),
        ("hi", Voice(language="fr"), "auto, en or zh"),
        ("hi", Voice(variant="../../etc"), "not a valid espeak variant"),
        ("hi", Voice(variant="nosuchvariant"), "no voice variant"),
    ],
)
def test_bad_input_gets_a_clear_error(pipe, text, voice, error):
    with pytest.raises(ValueError, match=error):
        pipe(text, voice)


def test_every_preset_voice_is_valid_and_speaks(pipe):
    for path in list_presets().values():
        character = load_character(path)
        voice = Voice.from_dict(character.studio["voice"])
        output = pipe(character.first_mes.replace("{{user}}", "Lin").replace("{{char}}", character.name), voice)
        assert output.seconds > 1 and output.real_time_factor < 1


@pytest.mark.parametrize(("engine", "package"), [("kokoro", "kokoro"), ("xtts", "TTS")])
def test_optional_engines_fail_clearly_when_absent(engine, package, monkeypatch):
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here; this test covers its absence")
    monkeypatch.setenv(ALLOW_XTTS_ENV, "1")  # the operator turned XTTS on; its package is still missing
    with pytest.raises(WeightsNotFoundError, match=f"needs the .* package"):
        load_engine(engine, device="cpu")


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="Unknown speech engine"):
        Voice.from_dict({"engine": "sam"})


def test_a_voice_cannot_name_a_server_path_as_its_reference_clip():
    """Before: a card's XTTS reference_audio could be any path on the server (read and cloned)."""
    for path in ("/etc/passwd", "../../secret.wav", "voices/../x.wav", "C:\\x.wav", "clip.wav\n"):
        with pytest.raises(InputError, match="file name of a clip in weights/voices"):
            Voice.from_dict({"engine": "xtts", "reference_audio": path})
    assert Voice.from_dict({"engine": "xtts", "reference_audio": "ada-sample_1.wav"}).reference_audio == "ada-sample_1.wav"


def test_xtts_needs_the_operators_opt_in_because_its_model_is_a_pickle(monkeypatch):
    """Before: any visitor choosing the xtts voice made the server unpickle weights/xtts-v2/model.pth."""
    monkeypatch.delenv(ALLOW_XTTS_ENV, raising=False)
    with pytest.raises(InputError, match="pickle.*--allow-xtts"):
        load_engine("xtts")


@pytest.mark.parametrize("spec", [KOKORO, XTTS])
def test_optional_voices_are_never_downloaded_unpinned(spec, tmp_path, monkeypatch):
    """Before: a missing Kokoro/XTTS folder was fetched from the hub at whatever revision was newest."""
    fetched = []
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("pipelines.weights._download", lambda spec, root: fetched.append(spec.name))
    with pytest.raises(WeightsNotFoundError):
        resolve(spec, tmp_path)
    assert fetched == []
