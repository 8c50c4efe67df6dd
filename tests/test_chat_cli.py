"""`python -m pipelines chat` and `speak` end to end (chat against a real SSE server on loopback)."""

from __future__ import annotations

import io

import soundfile

from pipelines.__main__ import main
from tests.chat_doubles import ChatServer
from tests.conftest import EXAMPLES

GUIDE = EXAMPLES / "characters" / "museum_guide.json"


def test_speak_writes_a_wav_in_a_cards_voice(tmp_path, capsys):
    out = tmp_path / "hello.wav"
    assert main(["speak", "Hello there. 你好！", "--out", str(out), "--voice", str(EXAMPLES / "characters" / "chinese_teacher.json")]) == 0
    samples, rate = soundfile.read(out)
    assert rate == 22050 and len(samples) / rate > 1.0
    assert "2 sentence(s)" in capsys.readouterr().out


def test_speak_refuses_a_bad_voice(tmp_path, capsys):
    assert main(["speak", "hi", "--out", str(tmp_path / "x.wav"), "--pitch", "500"]) == 2
    assert "pitch must be" in capsys.readouterr().err


def test_chat_say_streams_one_reply_with_emotion_and_voice(free_port, tmp_path, capsys):
    wav = tmp_path / "reply.wav"
    with ChatServer(free_port, reply="I love this clock! It strikes every hour.") as server:
        code = main(["chat", "--card", str(GUIDE), "--backend", "openai", "--base-url", server.base_url,
                     "--model", "m", "--say", "Tell me about the clock", "--user", "Lin", "--wav", str(wav)])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.err
    assert "Welcome to the City Museum, Lin!" in out  # the greeting, with {{user}} filled in
    assert "Ada: I love this clock! It strikes every hour." in out and "[joy;" in out
    samples, rate = soundfile.read(wav)
    assert len(samples) / rate > 1.5


def test_chat_interactive_keeps_history_across_turns_and_errors(free_port, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n\nwhere is the clock?\n/quit\n"))
    with ChatServer(free_port, reply="Right this way.") as server:
        assert main(["chat", "--card", str(GUIDE), "--backend", "openai", "--base-url", server.base_url, "--model", "m"]) == 0
    captured = capsys.readouterr()
    assert "The message is empty" in captured.err  # the empty line is refused, the chat goes on
    assert captured.out.count("Ada: Right this way.") == 2
    last = server.requests[-1]["body"]["messages"]
    users = [m["content"] for m in last if m["role"] == "user"]
    assert users[0] == "hello" and users[1].startswith("where is the clock?\n\n(Reply as Ada")  # + post-history


def test_chat_with_a_server_down_or_a_bad_card_fails_clearly(free_port, tmp_path, capsys):
    assert main(["chat", "--card", str(GUIDE), "--backend", "openai", "--base-url", f"http://127.0.0.1:{free_port}/v1",
                 "--model", "m", "--say", "hi", "--timeout", "2"]) == 2
    assert "Could not reach the chat server" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert main(["chat", "--card", str(bad), "--say", "hi"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["chat", "--card", str(GUIDE), "--backend", "openai", "--say", "hi"]) == 2
    assert "needs --base-url" in capsys.readouterr().err
