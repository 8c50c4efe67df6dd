"""A running summary of the turns that no longer fit the model's context, written by the same model.

How others do it: SillyTavern's Summarize extension asks the chat model itself, every few messages, to
summarise the most important facts and events so far, building on the previous summary, and injects the
result next to the system prompt; Open-LLM-VTuber's default agent keeps the raw history and leaves long chats
to the model's context (or to an external memory service such as Letta). We follow SillyTavern: the same
engine writes it, each rewrite extends the previous summary with the turns that have just left the window,
and the window moves in steps of `every` messages, so a rewrite (one extra model call before a reply) happens
once per step, not on every turn.

The pipeline stays stateless: the summary is a function of the history. Summaries are remembered, for the
whole process, by the model that wrote them and a hash of the history prefix they cover, so the next turn
(the studio builds a new pipeline for each) finds the last one and only summarises what is new.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict

from pipelines.chat.backends import ChatBackend

SUMMARY_HEADING = "What happened earlier in this conversation (summary):"
NOTES_SYSTEM = ("You keep the notes of a role-play between {char} and {user}. You write short factual notes in "
                "plain sentences, never dialogue.")
NOTES_REQUEST = ("Notes so far:\n{notes}\n\nNext part of the conversation:\n{lines}\n\nRewrite the notes so they keep "
                 "every fact that may matter later: names, places, numbers, what {user} said about themselves, what "
                 "happened and what was promised. At most {words} words.")
ECHO = re.compile(r"Rewrite the notes|Notes so far|Next part of the conversation", re.IGNORECASE)
WORDS_PER_TOKEN = 0.7  # what the request asks for, in words, for a budget in tokens (English averages ~0.75)
CACHE_SIZE = 1024  # summaries remembered (by model and history prefix); one is a few hundred bytes
_cache: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


class RunningSummary:
    """Writes and remembers summaries of history prefixes with `backend`, each at most `max_tokens` long."""

    def __init__(self, backend: ChatBackend, max_tokens: int, context_tokens: int):
        self.backend, self.max_tokens, self.context_tokens = backend, max_tokens, context_tokens

    def __call__(self, history: list[dict], upto: int, char: str, user: str) -> str:
        """The summary of `history[:upto]`: the longest remembered prefix, extended by what follows it."""
        writer = [self.backend.name, self.backend.model_name, self.max_tokens, self.context_tokens, char, user]
        keys = _prefix_keys(history[:upto], writer)
        start, notes = 0, ""
        with _lock:
            for k in range(upto, 0, -1):
                if keys[k] in _cache:
                    start, notes = k, _cache[keys[k]]
                    _cache.move_to_end(keys[k])
                    break
        while start < upto:
            end = self._chunk_end(history, start, upto, notes, char, user)
            notes = self._rewrite(notes, history[start:end], char, user)
            start = end
            with _lock:
                _cache[keys[start]] = notes
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
        return notes

    def _request(self, notes: str, turns: list[dict], char: str, user: str) -> list[dict]:
        lines = "\n".join(f"{char if m['role'] == 'assistant' else user}: {m['content']}" for m in turns)
        words = max(8, int(self.max_tokens * WORDS_PER_TOKEN))
        return [{"role": "system", "content": NOTES_SYSTEM.format(char=char, user=user)},
                {"role": "user", "content": NOTES_REQUEST.format(notes=notes or "(none yet)", lines=lines, user=user,
                                                                 words=words)}]

    def _chunk_end(self, history: list[dict], start: int, upto: int, notes: str, char: str, user: str) -> int:
        """As many turns after `start` as fit one request beside the notes and the reply (at least one)."""
        budget = self.context_tokens - self.max_tokens
        end = start + 1
        while end < upto and self.backend.count_tokens(self._request(notes, history[start:end + 1], char, user)) <= budget:
            end += 1
        return end

    def _rewrite(self, notes: str, turns: list[dict], char: str, user: str) -> str:
        budget = self.context_tokens - self.max_tokens
        request = self._request(notes, turns, char, user)
        while self.backend.count_tokens(request) > budget and len(turns[-1]["content"]) > 1:  # one huge message
            turns = [*turns[:-1], {**turns[-1], "content": turns[-1]["content"][: len(turns[-1]["content"]) * 3 // 4]}]
            request = self._request(notes, turns, char, user)
        pieces = self.backend.stream(request, max_new_tokens=self.max_tokens, temperature=0.0, top_p=1.0, seed=0)
        try:
            text = "".join(pieces).strip()
        finally:
            pieces.close()
        if not text or ECHO.search(text):  # a weak model repeats the request instead of answering it
            return notes
        return self.fit(text)

    def fit(self, text: str) -> str:
        """`text` cut (at a word boundary) to at most `max_tokens` tokens."""
        if self.backend.count_text(text) <= self.max_tokens:
            return text
        low, high = 0, len(text)
        while low < high:  # the longest prefix that fits
            mid = (low + high + 1) // 2
            if self.backend.count_text(text[:mid]) <= self.max_tokens:
                low = mid
            else:
                high = mid - 1
        cut = text[:low]
        return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip()


def _prefix_keys(turns: list[dict], writer: list) -> list[str]:
    """keys[k] identifies turns[:k] summarised by `writer` (chained hashes, one pass over the history)."""
    digest = hashlib.sha256(json.dumps(writer, default=str).encode("utf-8")).hexdigest()
    keys = [digest]
    for message in turns:
        digest = hashlib.sha256((digest + json.dumps([message["role"], message["content"]])).encode("utf-8")).hexdigest()
        keys.append(digest)
    return keys
