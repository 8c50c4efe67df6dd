"""Test components for chat: a tiny seeded Llama with an in-test tokenizer, and a real SSE chat server on loopback.

Nothing here is a fake reply: the tiny model really generates (random weights, so gibberish), and the
server really speaks HTTP and Server-Sent Events the way vLLM or Ollama do.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "Hello there, welcome to the museum. The mummies are kept in the dark.",
    "I am happy to help you today. What would you like to see?",
    "你好，欢迎来到博物馆。今天我们练习点菜。",
    "Stay in character. You are talking with the user.",
]


def tiny_tokenizer():
    """A word-level tokenizer built from a few sentences (CJK split per character), with a ChatML template.

    Word-level decoding puts a space between tokens, so TextIteratorStreamer hands out every token
    as it comes, which makes the streaming visible even with a random model.
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r"[\u4e00-\u9fff]"), behavior="isolated"), pre_tokenizers.Whitespace()]
    )
    specials = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=specials, show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", bos_token="<|im_start|>")
    fast.chat_template = CHATML
    return fast


def tiny_backend(seed: int = 0, context: int = 4096, **kwargs):
    """A 2-layer Llama with random weights (seeded) behind the real local backend."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from pipelines.chat.backends import LocalTransformersBackend

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=context,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return LocalTransformersBackend(LlamaForCausalLM(config), tokenizer, **kwargs)


class ChatServer:
    """An OpenAI-compatible `/v1/chat/completions` server in a thread; `mode` picks its behaviour.

    modes: "stream" (SSE pieces of `reply`), "slow" (headers, then silence), "unauthorized" (401),
    "error_event" (an SSE error object), "json" (a non-streaming JSON answer); hostile ones: "redirect"
    (302 to `redirect_to`), "secret_error" (500 whose body holds a secret), "trickle" (a keep-alive every
    0.1 s, forever), "flood" (megabytes of one reply), "models" (GET /v1/models lists `reply` as a model id).
    """

    SECRET = "db_password=hunter2"

    def __init__(self, port: int, reply: str = "Hello! Welcome to the museum.", mode: str = "stream",
                 redirect_to: str = ""):
        self.reply, self.mode, self.redirect_to = reply, mode, redirect_to
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": None})
                if server.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.end_headers()
                else:
                    body = {"object": "list", "data": [{"id": server.reply, "object": "model"}]}
                    self._send(200, "application/json", json.dumps(body).encode())

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                        "body": json.loads(self.rfile.read(length))})
                if server.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.end_headers()
                elif server.mode == "secret_error":
                    self._send(500, "text/plain", f"internal config: {server.SECRET}".encode())
                elif server.mode == "unauthorized":
                    self._send(401, "application/json", b'{"error": {"message": "Invalid API key"}}')
                elif server.mode == "json":
                    body = {"choices": [{"message": {"role": "assistant", "content": server.reply}}]}
                    self._send(200, "application/json", json.dumps(body).encode())
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    if server.mode == "slow":
                        time.sleep(3)
                        return
                    if server.mode == "error_event":
                        self._event({"error": {"message": f"model overloaded ({server.SECRET})"}})
                        return
                    try:
                        if server.mode == "trickle":
                            while True:
                                self.wfile.write(b": still thinking\n\n")
                                self.wfile.flush()
                                time.sleep(0.1)
                        if server.mode == "flood":
                            piece = {"choices": [{"index": 0, "delta": {"content": "la " * 1000}}]}
                            for _ in range(1000):
                                self._event(piece)
                            return
                    except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                        return
                    self.wfile.write(b": keep-alive comment\n\n")
                    for word in server.reply.split(" "):
                        piece = word if word == server.reply.split(" ")[0] else " " + word
                        self._event({"choices": [{"index": 0, "delta": {"content": piece}}]})
                    self.wfile.write(b"data: [DONE]\n\n")

            def _event(self, obj):
                self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
                self.wfile.flush()

            def _send(self, code, kind, body):
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class NotesBackend:
    """A small, deterministic `ChatBackend` for long-chat tests: a context of `context_length` words.

    A word is a token. A chat turn gets the same short line back. A request to rewrite the running notes
    (pipelines/chat/summary.py) is answered the way a careful summariser would, by rule: keep every
    sentence of the old notes and of the new lines that holds a fact (a number, or a capitalised word that
    does not start the sentence), in order, without repeats. Every request is recorded in `calls`.
    """

    name = "notes"
    model_name = "notes-rule-v1"
    languages = None
    REPLY = "I see. Tell me more."

    def __init__(self, context_length: int):
        self.context_length = context_length
        self.calls: list[list[dict]] = []

    def count_text(self, text: str) -> int:
        return len(text.split())

    def count_tokens(self, messages: list[dict]) -> int:
        return sum(self.count_text(m["content"]) + 4 for m in messages) + 2  # role markers, like a chat template

    def stream(self, messages, *, max_new_tokens, temperature, top_p, seed=None):
        self.calls.append(messages)
        request = messages[-1]["content"]
        words = (self._notes(request) if request.startswith("Notes so far:") else self.REPLY).split()
        for word in words[:max_new_tokens]:
            yield word + " "

    @staticmethod
    def _notes(request: str) -> str:
        import re

        notes, _, rest = request.partition("Next part of the conversation:")
        lines, _, _ = rest.partition("\n\nRewrite the notes")
        text = notes.removeprefix("Notes so far:") + "\n" + re.sub(r"(?m)^[^:\n]{1,40}: ", "", lines)
        kept = []
        for sentence in re.findall(r"[^.!?\n]+[.!?]", text):
            words = sentence.split()
            fact = any(c.isdigit() for c in sentence) or any(w[:1].isupper() and w != "I" for w in words[1:])
            if fact and sentence.strip() not in kept:
                kept.append(sentence.strip())
        return " ".join(kept)
