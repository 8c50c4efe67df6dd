"""Hostile and broken input, sent to the running studio the way a browser would (gradio_client over HTTP).

Every case must come back as one clear sentence (never a stack trace or a hang), and the studio must
serve the next visitor normally. Odd-but-valid files (CMYK, 16-bit, alpha, EXIF-rotated, two faces) must
simply work.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests import hostile_files as hostile
from tests.browser import served_studio
from tests.conftest import EXAMPLES, REPO, WEIGHTS, free_loopback_port

needs_face_model = [
    pytest.mark.weights,
    pytest.mark.skipif(not (WEIGHTS / "simmim-face" / "model.safetensors").is_file(),
                       reason="the shipped SimMIM face model (weights/simmim-face) is missing"),
]
UPLOAD_LIMIT_MB = 5  # the studio under test refuses larger uploads, so the limit itself is tested cheaply


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    with served_studio(free_loopback_port(), env={"CHARACTER_STUDIO_MAX_UPLOAD": f"{UPLOAD_LIMIT_MB}mb"}) as url:
        yield Client(url, verbose=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


def _face(client, path, face_index=0, intensity=0.8):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), "joy", intensity, 0, 0, 0, 0, 0, face_index, False,
                          api_name="/face_expression")  # fmt: skip


def _motion(client, path, start=0, end=0):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), start, end, 1.5, 0.5, 0, api_name="/motion_capture")


def _card(client, path):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), "User", api_name="/import_card")


def _bundle(client, path):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), api_name="/import_bundle")


def _chat(client, message):
    return client.predict(message, "", "", "", "", "", 16, 0.0, "User", False, api_name="/chat_respond")


def _still_serves(client):
    result = client.predict("Ada", "User", api_name="/load_preset")
    assert result[0] == "Ada"  # the name field of the edit form


BAD = [
    ("face: zero-byte photo", _face, lambda d: hostile.zero_bytes(d, "empty.jpg"), "empty"),
    ("face: truncated JPEG", _face, hostile.truncated_jpeg, "corrupt or truncated"),
    ("face: decompression bomb", _face, hostile.bomb_png, "too large"),
    ("face: 20000x20000 image", _face, lambda d: hostile.bomb_png(d, 20_000, "huge.png"), "too large"),
    ("face: text file named .jpg", _face, lambda d: hostile.text_as(d, "notes.jpg"), "not an image"),
    ("face: photo with no face", _face, hostile.no_face, "[Nn]o face"),
    ("face: face index out of range", lambda c, p: _face(c, p, face_index=5), hostile.two_faces, "face"),
    ("face: intensity out of range", lambda c, p: _face(c, p, intensity=7), lambda d: hostile.FACE, "greater than maximum"),
    ("motion: zero-byte video", _motion, lambda d: hostile.zero_bytes(d, "empty.mp4"), "empty"),
    ("motion: text file named .mp4", _motion, lambda d: hostile.text_as(d, "clip.mp4"), "not a video|no video"),
    ("motion: a photo named .mp4", _motion, hostile.image_as_video, "not a video|no video|image"),
    ("motion: audio only", _motion, hostile.audio_only, "no video|audio"),
    ("motion: nobody in the video", _motion, hostile.blank_video, "[Nn]o person"),
    ("motion: ten minutes", _motion, hostile.long_video, "at most"),
    ("motion: truncated file", _motion, lambda d: hostile.truncated_video(d, EXAMPLES / "videos" / "lunge_front.mp4"),
     "not a video|no video|corrupt|cannot|could not"),
    ("motion: end before start", lambda c, p: _motion(c, p, start=1.0, end=0.5), lambda d: EXAMPLES / "videos" / "lunge_front.mp4",
     "must come after start"),
    ("card: not JSON", _card, lambda d: hostile.card_json(d, "bad.json", "{name: oops"), "not valid JSON"),
    ("card: binary junk", _card, lambda d: hostile.card_json(d, "junk.json", bytes(range(256)) * 4), "not UTF-8|not valid JSON"),
    ("card: nested 100,000 deep", _card, hostile.deep_card, "nested"),
    ("card: wrong field types", _card, hostile.wrong_types_card, "must be a list"),
    ("card: over the upload limit", _card, hostile.huge_card, "exceeds the maximum file size"),
    ("card: PNG without a card", _card, hostile.png_without_card, "no character card"),
    ("card: PNG with a broken card", _card, hostile.png_with_bad_card, "not valid JSON"),
    ("card: JSON array", _card, lambda d: hostile.card_json(d, "array.json", "[1, 2, 3]"), "JSON object"),
    ("bundle: path traversal", _bundle, hostile.traversal_zip, "unsafe file name"),
    ("bundle: zip bomb", _bundle, hostile.zip_bomb, "limit per file"),
    ("bundle: sprite bomb", _bundle, hostile.sprite_bomb_zip, "over the 4 MP limit"),
    ("bundle: FLAC voice named .wav", _bundle, hostile.flac_voice_zip, "not a WAV file"),
    ("bundle: encrypted", _bundle, hostile.encrypted_zip, "encrypted"),
    ("card: data-URI bomb", _card, hostile.data_uri_bomb_card, "portrait is 8000x8000"),
    ("chat: empty message", lambda c, m: _chat(c, m), lambda d: "   ", "empty|[Tt]ype"),
    ("chat: 100,000 characters", lambda c, m: _chat(c, m), lambda d: "a" * 100_000, "4,000|too long"),
]


def _cases(cases):
    """Parametrize entries; the face cases need the shipped face model."""
    return [pytest.param(*case[1:], id=case[0], marks=needs_face_model if case[0].startswith("face") else ())
            for case in cases]  # fmt: skip


@pytest.mark.parametrize(("send", "make", "message"), _cases(BAD))
def test_bad_input_gets_a_clear_error_and_the_studio_serves_on(client, files, send, make, message):
    with pytest.raises(Exception) as caught:
        send(client, make(files))
    text = str(caught.value)
    assert "Traceback" not in text and "verbose error reporting" not in text, f"an unexplained crash: {text!r}"
    assert re.search(message, text), f"unclear error: {text!r}"
    _still_serves(client)


def test_the_server_itself_refuses_oversized_uploads(client, files):
    """The client above checks the limit politely; a raw HTTP upload must be refused by the server too."""
    import httpx

    path = hostile.huge_card(files)
    with open(path, "rb") as handle:
        response = httpx.post(client.src.rstrip("/") + "/gradio_api/upload", files={"files": handle}, timeout=60)
    assert response.status_code == 413, response.text
    _still_serves(client)


ODD_BUT_VALID = [
    ("CMYK JPEG", hostile.cmyk_jpeg),
    ("16-bit greyscale PNG", hostile.sixteen_bit_png),
    ("PNG with alpha", hostile.alpha_png),
    ("EXIF-rotated phone photo", hostile.exif_rotated_jpeg),
    ("two faces", hostile.two_faces),
]


@pytest.mark.parametrize("make", [pytest.param(make, id=name, marks=needs_face_model) for name, make in ODD_BUT_VALID])
def test_odd_but_valid_photos_are_edited_at_their_upright_size(client, files, make):
    from pipelines.image_io import load_image

    path = make(files)
    compare, result, notes, *_ = _face(client, path)
    upright = load_image(path)
    edited = np.asarray(Image.open(result["path"] if isinstance(result, dict) else result))
    assert edited.shape[:2] == upright.shape[:2]
    assert np.abs(edited.astype(int) - upright.astype(int)).max() > 0  # something changed


def test_control_characters_are_stripped_and_the_chat_answers(client):
    history, *_ = _chat(client, "Hello\x00\x07 there\x1b[31m!")
    sent = _text([m for m in history if m["role"] == "user"][-1])
    assert "\x00" not in sent and "\x07" not in sent and "\x1b" not in sent and "Hello" in sent
    assert history[-1]["role"] == "assistant" and _text(history[-1]).strip()


def _text(message: dict) -> str:
    """A chat message's text (Gradio 6 sends content as a list of typed parts)."""
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


CLI_BAD = [
    (["face", "{empty_jpg}", "--expression", "joy"], "empty|missing"),
    (["face", str(EXAMPLES / "faces" / "london_001_neutral.jpg"), "--expression", "rage"], "rage|invalid choice"),
    (["motion", "{audio_mp4}", "--out", "{out_bvh}"], "no video|audio"),
    (["chat", "--card", "{deep_json}", "--say", "hi"], "nested"),
    (["speak", "", "--out", "{out_wav}"], "empty|[Nn]othing"),
]


@pytest.mark.parametrize(("argv", "message"), CLI_BAD, ids=[" ".join(a[:1] + a[-2:-1]) for a, _ in CLI_BAD])
def test_cli_bad_input_exits_with_a_clear_error(tmp_path, argv, message):
    names = {
        "empty_jpg": hostile.zero_bytes(tmp_path, "empty.jpg"),
        "audio_mp4": hostile.audio_only(tmp_path),
        "deep_json": hostile.deep_card(tmp_path),
        "out_bvh": tmp_path / "out.bvh",
        "out_wav": tmp_path / "out.wav",
    }
    argv = [arg.format(**names) for arg in argv]
    done = subprocess.run([sys.executable, "-m", "pipelines", *argv], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert re.search(message, done.stderr), done.stderr
