"""Hostile files aimed at the motion pipeline's readers: ffmpeg playlists and concat lists, slow probes, BVH bombs.

Each of these was a real hole (issue 15, findings 9 and 15): an uploaded .m3u8 made ffmpeg read another
local file into the preview, a probe had no time limit, and a large BVH was tokenised whole in memory.
"""

from __future__ import annotations

import subprocess
import tracemalloc

import numpy as np
import pytest
from test_motion_clip_bvh import random_clip

from pipelines.errors import InputError
from pipelines.motion import bvh, video


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture
def secret_video(tmp_path):
    """A video file that sits on the server but was never uploaded: no upload may make ffmpeg read it."""
    path = tmp_path / "secret.ts"
    subprocess.run([ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=160x120:r=10:d=1",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)  # fmt: skip
    return path


@pytest.mark.parametrize("name", ["upload.m3u8", "upload.mp4"])
def test_a_playlist_pointing_at_a_local_file_is_refused(tmp_path, secret_video, name):
    playlist = tmp_path / name
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{secret_video.name}\n#EXT-X-ENDLIST\n")
    with pytest.raises(InputError, match="could not be read"):
        video.probe(playlist)
    with pytest.raises(InputError):
        next(video.read_frames(playlist, 10, (160, 120)))  # the decoder is held to the same rules as the probe


def test_a_concat_list_pointing_at_a_local_file_is_refused(tmp_path, secret_video):
    listing = tmp_path / "upload.txt"
    listing.write_text(f"ffconcat version 1.0\nfile {secret_video.name}\n")
    with pytest.raises(InputError, match="could not be read"):
        video.probe(listing)


def test_the_probe_has_a_time_limit(monkeypatch, secret_video):
    monkeypatch.setattr(video, "PROBE_SECONDS", 1e-4)
    with pytest.raises(InputError, match="to open"):
        video.probe(secret_video)


def test_a_plain_video_still_opens(secret_video):
    info = video.probe(secret_video)
    assert info.container == "mpegts" and (info.width, info.height) == (160, 120)
    assert len(list(video.read_frames(secret_video, 10, (160, 120)))) == 10


def test_a_bvh_over_the_size_cap_is_refused_before_reading(tmp_path, monkeypatch):
    path = bvh.write_bvh(random_clip(frames=40), tmp_path / "clip.bvh")
    monkeypatch.setattr(bvh, "MAX_BVH_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputError, match="at most"):
        bvh.read_bvh(path)


def test_reading_a_bvh_takes_memory_in_proportion_to_the_clip_not_the_text(tmp_path):
    """The old reader split the whole text into Python strings first: about 8x the file size at its peak."""
    path = bvh.write_bvh(random_clip(frames=1500), tmp_path / "long.bvh")  # ~1 MB
    tracemalloc.start()
    try:
        bvh.read_bvh(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * path.stat().st_size


def test_a_bvh_that_claims_more_frames_than_it_holds_is_refused(tmp_path):
    text = bvh.write_bvh(random_clip(frames=3), tmp_path / "clip.bvh").read_text()
    (tmp_path / "bomb.bvh").write_text(text.replace("Frames: 3", "Frames: 2000000000"))
    with pytest.raises(InputError, match="more than its"):
        bvh.read_bvh(tmp_path / "bomb.bvh")


def test_a_bvh_with_nan_values_is_refused(tmp_path):
    path = bvh.write_bvh(random_clip(frames=3), tmp_path / "clip.bvh")
    lines = path.read_text().splitlines()
    lines[-1] = " ".join(["nan"] * len(lines[-1].split()))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="not finite"):
        bvh.read_bvh(path)
    clip = random_clip(frames=3)
    clip.root_positions[1, 0] = np.nan
    with pytest.raises(InputError, match="not finite"):
        bvh.write_bvh(clip, tmp_path / "nan.bvh")


@pytest.mark.parametrize("text", ["", "HIERARCHY\n", "HIERARCHY\nROOT Hips\n{\nOFFSET 0 0\n", "HIERARCHY\nMOTION\nFrames: 1\nFrame Time: 0.1\n",
                                  "HIERARCHY " + "x" * 500])  # fmt: skip
def test_broken_bvh_files_get_a_clear_input_error(tmp_path, text):
    path = tmp_path / "broken.bvh"
    path.write_text(text)
    with pytest.raises(InputError):
        bvh.read_bvh(path)
