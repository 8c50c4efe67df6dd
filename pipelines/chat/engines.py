"""The chat engines an operator sets up, and the only ones a visitor can choose.

A server URL, an API key or a local model path makes the studio's server read files or call
addresses, so they are operator settings: a JSON file (`--chat-config` / CHARACTER_STUDIO_CHAT_CONFIG),
plus whatever OpenAI-compatible server answers on this machine's usual ports at start (Ollama,
llama.cpp's server, LM Studio, vLLM, TGI), plus the embedded SmolLM2. Visitors pick one by name.

Each engine also says which languages its model can write: a 135M English model asked in Chinese
produces gibberish, so the studio says so (and how to fix it) instead of answering.

Config file: {"engines": [{"name": "Qwen2.5 on Ollama", "kind": "openai", "base_url":
"http://127.0.0.1:11434/v1", "model": "qwen2.5:3b", "languages": ["en", "zh"]}, ...]}
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.chat.backends import EMBEDDED_LANGUAGES
from pipelines.errors import InputError

KINDS = ("llama.cpp", "transformers", "openai")
CONFIG_ENV = "CHARACTER_STUDIO_CHAT_CONFIG"
# The usual loopback ports of local OpenAI-compatible servers, probed once at start.
LOCAL_SERVERS = {"Ollama": 11434, "llama.cpp server": 8080, "LM Studio": 1234, "vLLM": 8000, "TGI": 3000}
PROBE_TIMEOUT_S = 0.5
MAX_PROBE_BYTES = 200_000  # a model list is a few KB
MAX_LISTED_MODELS = 20
# Model families that write Chinese well (matched in the model name); others are taken as English-only
# unless the operator's config says otherwise.
CHINESE_CAPABLE = re.compile(r"qwen|glm|yi-|deepseek|internlm|baichuan|minicpm|aya|gemma-?[23]|llama-?3|mistral-nemo",
                             re.IGNORECASE)
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


@dataclass(frozen=True)
class Engine:
    """One configured source of replies."""

    name: str  # what the visitor sees in the list
    kind: str  # llama.cpp | transformers | openai
    model: str = ""  # llama.cpp: a .gguf path; transformers: folder/.gguf/hub id; openai: the server's model name
    base_url: str = ""  # openai only
    api_key: str = field(default="", repr=False)  # openai only; never shown
    languages: tuple[str, ...] = EMBEDDED_LANGUAGES  # languages the model can write
    # Whether it writes the running summary of a long chat (pipelines/chat/summary.py); when not, old turns are
    # just dropped. SmolLM2-135M's summaries are noise and cost ~11 s each here (bench/results/long_chat.md).
    summarizes: bool = True
    # openai only: sent as the request's `frequency_penalty` when set. Small models loop without one; servers
    # read it differently (OpenAI, vLLM, llama.cpp, Ollama: subtracted per repeat; transformers serve: a
    # repetition penalty of 1 + this), so it is the operator's to choose per engine.
    frequency_penalty: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError(f"Chat engine {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}.")
        if self.kind == "openai" and not (self.base_url and self.model):
            raise InputError(f"Chat engine {self.name!r}: an openai engine needs base_url and model.")

    def writes(self, language: str) -> bool:
        return language in self.languages


def guess_languages(model: str) -> tuple[str, ...]:
    """Languages a model can write, from its name (the operator's config can say otherwise)."""
    return ("en", "zh") if CHINESE_CAPABLE.search(model) else ("en",)


def engines_from_file(path: str | Path) -> list[Engine]:
    """Read the operator's JSON config file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"Could not read the chat config {path}: {err}") from None
    engines = []
    for item in data.get("engines", []) if isinstance(data, dict) else []:
        if not isinstance(item, dict):
            raise InputError(f"{path}: each engine is an object with name, kind, model, ...")
        languages = item.get("languages") or guess_languages(str(item.get("model", "")))
        engines.append(Engine(str(item.get("name") or item.get("model") or item.get("kind")), str(item.get("kind", "")),
                              str(item.get("model", "")), str(item.get("base_url", "")), str(item.get("api_key", "")),
                              tuple(languages), bool(item.get("summarizes", True)), _number(item, "frequency_penalty")))
    return engines


def _number(item: dict, key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"Chat engine {item.get('name')!r}: {key} must be a number, got {value!r}.")
    return float(value)


def list_server_models(base_url: str, api_key: str = "", timeout_s: float = PROBE_TIMEOUT_S) -> list[str]:
    """The model ids an OpenAI-compatible server lists at /models (no redirects, a small size cap)."""
    from pipelines.chat.backends import NO_REDIRECTS

    request = urllib.request.Request(f"{base_url.rstrip('/')}/models")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    with NO_REDIRECTS.open(request, timeout=timeout_s) as response:
        data = json.loads(response.read(MAX_PROBE_BYTES + 1)[:MAX_PROBE_BYTES])
    models = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)] if isinstance(data, dict) else []
    return [m for m in models if isinstance(m, str) and m][:MAX_LISTED_MODELS]


def probe_local_servers(servers: dict[str, int] | None = None, host: str = "127.0.0.1") -> list[Engine]:
    """An engine for each model that a server on this machine's usual ports lists (nothing listening = none)."""
    found = []
    for server, port in (servers or LOCAL_SERVERS).items():
        base_url = f"http://{host}:{port}/v1"
        try:
            models = list_server_models(base_url)
        except (OSError, ValueError, urllib.error.URLError):  # nothing there, or not an OpenAI-compatible server
            continue
        found += [Engine(f"{model} ({server}, port {port})", "openai", model, base_url, languages=guess_languages(model))
                  for model in models]
    return found


def embedded_engines(llama_cpp_ready: bool) -> list[Engine]:
    """The offline SmolLM2-135M: through llama.cpp when its library is set up (faster, bench/results/chat.md),
    and through transformers always."""
    engines = [Engine("SmolLM2-135M (transformers)", "transformers", summarizes=False)]
    if llama_cpp_ready:
        engines.insert(0, Engine("SmolLM2-135M (llama.cpp)", "llama.cpp", summarizes=False))
    return engines


def detect_language(text: str) -> str:
    """'zh' when Chinese characters make up a fair share of the letters, else 'en' (the two the studio speaks)."""
    from pipelines.speech.pipeline import detect_language as by_script

    return by_script(text)


def cannot_write(name: str, languages: tuple[str, ...], language: str) -> str:
    """What to tell a visitor whose message is in a language the model cannot write, and how to fix it."""
    wanted = LANGUAGE_NAMES.get(language, language)
    can = ", ".join(LANGUAGE_NAMES.get(code, code) for code in languages)
    return (f"The chat model '{name}' cannot write {wanted} (it writes {can}), so it would answer with "
            f"gibberish. Choose an engine that writes {wanted} under Model settings; to add one, the operator can run "
            "e.g. `ollama pull qwen2.5:3b` (Ollama is found on its port at start) or list a multilingual model "
            "in --chat-config. Or write in " + can + ".")


def configured_engines(config_file: str | Path | None = None, probe: bool = True) -> list[Engine]:
    """The operator's engines (config file, else $CHARACTER_STUDIO_CHAT_CONFIG), then local servers that answer,
    then the embedded model; the first is the default. Names are unique (a later duplicate is dropped)."""
    import os

    from pipelines.chat.llamacpp import llama_cpp_ready

    config_file = config_file or os.environ.get(CONFIG_ENV)
    engines = engines_from_file(config_file) if config_file else []
    if probe:
        engines += probe_local_servers()
    engines += embedded_engines(llama_cpp_ready())
    unique: dict[str, Engine] = {}
    for engine in engines:
        unique.setdefault(engine.name, engine)
    return list(unique.values())


def build_backend(engine: Engine, device: str = "auto"):
    """The backend that serves `engine`, with the languages it declares (checked per message by the pipeline)."""
    from pipelines.chat.backends import LocalTransformersBackend, OpenAICompatibleBackend

    if engine.kind == "openai":
        backend = OpenAICompatibleBackend(engine.base_url, engine.model, api_key=engine.api_key or None,
                                          frequency_penalty=engine.frequency_penalty)
    elif engine.kind == "llama.cpp":
        from pipelines.chat.llamacpp import LlamaCppBackend

        backend = LlamaCppBackend.from_pretrained(engine.model or None)
    else:
        backend = LocalTransformersBackend.from_pretrained(engine.model or None, device=device)
    backend.languages = engine.languages
    return backend
