"""MotionCapturePipeline end to end on a shipped video (1 s of lunge_front.mp4), its CLI, and bad inputs."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from conftest import EXAMPLES, WEIGHTS

from pipelines.motion.bvh import read_bvh, write_bvh

pytestmark = [
    pytest.mark.weights,
    pytest.mark.skipif(not (WEIGHTS / "pose_landmarker_full.task").is_file(), reason="pose_landmarker_full.task missing"),
]
LUNGE = EXAMPLES / "videos" / "lunge_front.mp4"


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def pipe():
    from pipelines.motion.pipeline import MotionCapturePipeline

    return MotionCapturePipeline.from_pretrained()


@pytest.fixture(scope="module")
def lunge(pipe, tmp_path_factory):
    """One run shared by the tests below: the first second of the lunge (60 frames) with a preview."""
    preview = tmp_path_factory.mktemp("motion") / "preview.mp4"
    return pipe(LUNGE, start=0.0, end=1.0, preview=preview)


def test_lunge_gives_a_clean_clip_with_constant_bones(lunge):
    clip, stats = lunge.clip, lunge.stats
    assert clip.num_frames == 60 and clip.fps == 60.0  # a 60 fps video keeps its rate
    assert lunge.search_step == 6 and lunge.sightings.num_frames == 10  # people searched for ten times a second
    assert stats["pose_share"] == 1.0
    assert stats["jitter_cleaned"] < stats["jitter_raw"] / 3
    assert stats["bone_spread_raw"] > 0.02 and stats["bone_spread_clip"] < 1e-9  # landmarks wobble, bones do not
    assert lunge.warnings == []
    assert lunge.track.people >= 1


def test_lunge_pose_is_anatomically_plausible(lunge):
    clip = lunge.clip
    joints, ends = clip.positions()
    sk = clip.skeleton
    head, hips = joints[:, sk.index("Head")], joints[:, sk.index("Hips")]
    feet = joints[:, [sk.index("LeftFoot"), sk.index("RightFoot")]]
    assert (head[:, 1] > hips[:, 1]).all() and (hips[:, 1] > feet[..., 1].max(axis=1)).all()  # upright
    soles = np.concatenate([joints[:, [sk.index("LeftToes"), sk.index("RightToes")]], ends], axis=1)[..., 1]
    assert np.abs(soles.min(axis=1)).max() < 0.1  # the lowest point stays near the floor (y = 0)
    assert 0.8 < np.ptp(joints[0, :, 1]) + sk.end_sites["Head"][1] < 2.2  # a person-sized skeleton


def test_planted_feet_do_not_slide(lunge):
    """Every planted foot stays put, also with both feet down: the root holds one, leg IK the other."""
    clip, contacts = lunge.clip, lunge.contacts
    joints, _ = clip.positions()
    toes = joints[:, [clip.skeleton.index("LeftToes"), clip.skeleton.index("RightToes")]][..., [0, 2]]
    step = np.linalg.norm(np.diff(toes, axis=0), axis=-1)  # (T-1, 2 feet)
    held = contacts[1:] & contacts[:-1]
    assert held.all(axis=1).any()  # the lunge has frames with both feet planted
    assert step[held].max() < 1e-3  # metres per frame (out-of-reach targets may leave a trace)
    assert lunge.stats["foot_skate_cm"] < 0.1


def test_bvh_export_has_one_frame_per_video_frame_and_round_trips(lunge, tmp_path):
    path = write_bvh(lunge.clip, tmp_path / "lunge.bvh")
    back = read_bvh(path)
    assert back.num_frames == lunge.clip.num_frames
    assert np.abs(back.positions()[0] - lunge.clip.positions()[0]).max() < 1e-4 * lunge.clip.skeleton.height


def test_preview_is_browser_playable_h264(lunge):
    probe = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(lunge.preview)], capture_output=True, text=True).stderr
    stream = next(line for line in probe.splitlines() if "Video:" in line)
    assert "h264" in stream and "yuv420p" in stream
    width, height = (int(v) for v in stream.split("yuv420p")[1].split(",")[1].strip().split()[0].split("x"))
    assert width % 2 == 0 and height % 2 == 0
    data = lunge.preview.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: the index comes first
    frames = subprocess.run([ffmpeg(), "-i", str(lunge.preview), "-f", "null", "-"], capture_output=True, text=True).stderr
    assert "frame=60" in frames.replace(" ", "")


def test_cli_writes_the_bvh_with_edits(tmp_path, capsys):
    from pipelines.__main__ import main

    out = tmp_path / "clip.bvh"
    assert main(["motion", str(LUNGE), "--out", str(out), "--start", "0.2", "--end", "0.7", "--smooth", "1.0,0.3"]) == 0
    assert read_bvh(out).num_frames == 30  # 0.5 s at the source's 60 fps: one frame per processed video frame
    assert main(["motion", str(LUNGE), "--out", str(out), "--end", "0.5", "--speed", "0.5", "--mirror", "--max-fps", "30",
                 "--glb", str(tmp_path / "clip.glb")]) == 0
    assert (tmp_path / "clip.glb").read_bytes()[:4] == b"glTF"
    assert read_bvh(out).num_frames == 29 and read_bvh(out).fps == pytest.approx(30)  # capped at 30 fps, slowed down: 15 frames become 29
    assert "frames" in capsys.readouterr().out


def make_bad_input(kind: str, folder):
    """A file a user might upload by mistake, of the given kind."""
    if kind == "zero-bytes":
        path = folder / "empty.mp4"
        path.write_bytes(b"")
    elif kind == "text-renamed-mp4":
        path = folder / "notes.mp4"
        path.write_text("not a video at all")
    elif kind == "png-image":
        from PIL import Image

        path = folder / "photo.png"
        Image.new("RGB", (64, 48), (200, 120, 80)).save(path)
    elif kind == "audio-only":
        path = folder / "voice.m4a"
        subprocess.run([ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=d=1", str(path)], check=True)
    elif kind == "blank-video":  # a real video, but nobody in it
        path = folder / "blank.mp4"
        subprocess.run(
            [ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:d=1:r=15",
             "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path)], check=True,
        )  # fmt: skip
    else:  # "missing"
        path = folder / "nowhere.mp4"
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("zero-bytes", "empty"),
        ("text-renamed-mp4", "could not be read"),
        ("png-image", "still image"),
        ("audio-only", "audio-only"),
        ("blank-video", "no person"),
        ("missing", "not found"),
    ],
)
def test_bad_inputs_get_a_clear_value_error(pipe, tmp_path, kind, message):
    with pytest.raises(ValueError, match=message):
        pipe(make_bad_input(kind, tmp_path))


def test_bad_ranges_and_settings_are_refused(pipe):
    with pytest.raises(ValueError, match="past the end"):
        pipe(LUNGE, start=5.0)
    with pytest.raises(ValueError, match="after start"):
        pipe(LUNGE, start=1.0, end=0.5)
    with pytest.raises(ValueError, match="min cutoff"):
        pipe(LUNGE, min_cutoff=0.0)
    from dataclasses import replace

    from pipelines.motion.pipeline import MotionCapturePipeline

    short = MotionCapturePipeline(pipe.model_path, replace(pipe.config, max_seconds=0.5))
    with pytest.raises(ValueError, match="at most"):
        short(LUNGE)


def test_rotated_phone_video_is_read_upright(tmp_path):
    from pipelines.motion.video import output_size, probe, read_frames

    rotated = tmp_path / "rotated.mp4"
    subprocess.run([ffmpeg(), "-loglevel", "error", "-y", "-display_rotation", "90", "-i", str(LUNGE), "-t", "0.2",
                    "-c:v", "copy", str(rotated)], check=True)  # fmt: skip
    info = probe(rotated)
    assert (info.width, info.height) == (1920, 1080)  # the 1080x1920 portrait, turned a quarter
    frame = next(read_frames(rotated, 30, output_size(info.width, info.height, 320)))
    assert frame.shape == (180, 320, 3)


def test_person_partly_in_view_still_gives_a_clip_and_says_what_was_guessed(pipe, tmp_path):
    upper = tmp_path / "upper_body.mp4"  # the top 45% of the frame: head, arms and trunk, no feet
    subprocess.run([ffmpeg(), "-loglevel", "error", "-y", "-i", str(LUNGE), "-t", "1.0", "-vf", "crop=iw:ih*0.45:0:0",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(upper)], check=True)  # fmt: skip
    out = pipe(upper)
    assert out.clip.num_frames == 60 and out.stats["pose_share"] > 0.9
    assert any("ankle" in note for note in out.warnings)  # landmarks off the picture count as unseen


def test_variable_frame_rate_video_is_read_at_an_even_rate(tmp_path):
    """10 frames at 30 fps then 20 at 10 fps: read at 30 fps, the slow part repeats each frame three times."""
    from pipelines.motion.video import probe, read_frames

    vfr = tmp_path / "vfr.mp4"
    subprocess.run([ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=160x120:r=30:d=1",
                    "-vf", "setpts='if(lt(N,10),N/30,10/30+(N-10)/10)/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(vfr)], check=True)  # fmt: skip
    frames = list(read_frames(vfr, 30, (160, 120)))
    assert 64 <= len(frames) <= 72  # about 2.3 s at 30 fps
    same = [np.array_equal(a, b) for a, b in zip(frames, frames[1:])]
    assert not any(same[:9])  # the 30 fps part: every frame is new
    tail = same[12:]
    assert abs(sum(tail) - 2 * len(tail) / 3) <= 2  # the 10 fps part: each picture held for 3 frames
    assert probe(vfr).fps < 30  # the container's average rate, which the pipeline uses (capped at 30)


def test_asking_for_a_person_who_is_not_there_is_explained(pipe):
    with pytest.raises(ValueError, match="only 1 found"):
        pipe(LUNGE, end=0.3, person=1)
    with pytest.raises(ValueError, match="person must be"):
        pipe(LUNGE, person=-1)


def test_default_proportions_give_the_standard_skeleton_on_the_same_landmarks(pipe, lunge):
    from dataclasses import replace

    from pipelines.motion.pipeline import MotionCapturePipeline
    from pipelines.motion.skeleton import BoneLengths, build_skeleton

    standard = MotionCapturePipeline(pipe.model_path, replace(pipe.config, proportions="default")).retarget(lunge.track)
    assert standard.clip.skeleton.height == pytest.approx(build_skeleton(BoneLengths()).height)
    # Same pose, other bones; legs aside, which the IK bends to keep each skeleton's own planted feet in place.
    legs = [j for j, name in enumerate(standard.clip.joint_names) if "Leg" in name or "Foot" in name]
    arms_and_trunk = np.setdiff1d(np.arange(len(standard.clip.joint_names)), legs)
    assert np.allclose(standard.clip.rotations[:, arms_and_trunk], lunge.clip.rotations[:, arms_and_trunk], atol=0.05)
    with pytest.raises(ValueError, match="proportions"):
        MotionCapturePipeline(pipe.model_path, replace(pipe.config, proportions="tall"))


def test_a_missing_model_file_is_named(tmp_path):
    from pipelines.motion.pipeline import MotionCapturePipeline
    from pipelines.weights import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="nope.task"):
        MotionCapturePipeline.from_pretrained(tmp_path / "nope.task")


def test_a_video_cut_off_halfway_gives_the_readable_part_and_says_so(pipe, tmp_path):
    whole = tmp_path / "faststart.mp4"  # index first, as phones and web uploads usually are
    subprocess.run([ffmpeg(), "-loglevel", "error", "-y", "-i", str(LUNGE), "-t", "1", "-c", "copy", "-movflags", "+faststart",
                    str(whole)], check=True)  # fmt: skip
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = pipe(cut)
    assert 10 < out.clip.num_frames < 54 and "ended early" in out.warnings[0]  # of 60 frames at 60 fps


@pytest.mark.parametrize(
    "line, fps",
    [
        ("Stream #0:0: Video: h264 (High), yuv420p, 1080x1920, 1851 kb/s, 60 fps, 60 tbr, 15360 tbn", 60.0),
        ("Stream #0:0: Video: h264, yuv420p, 1920x1080, 29.97 fps, 29.97 tbr, 30k tbn", 29.97),
        ("Stream #0:0: Video: vp8, yuv420p, 640x480, SAR 1:1 DAR 4:3, 1k tbr, 1k tbn (default)", 1000.0),
        ("Stream #0:0: Video: vp9, yuv420p, 640x480", 0.0),
    ],
)
def test_frame_rate_is_read_from_ffmpegs_stream_line(line, fps):
    from pipelines.motion.video import frame_rate

    assert frame_rate(line) == pytest.approx(fps)


def test_new_smoothing_or_another_person_reuses_the_landmarks(pipe, monkeypatch):
    import pipelines.motion.pipeline as mc

    calls = []
    real = mc.track_poses
    monkeypatch.setattr(mc, "track_poses", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = pipe(LUNGE, end=0.4)
    steadier = pipe(LUNGE, end=0.4, min_cutoff=0.5, beta=0.1)
    assert len(calls) <= 1 and steadier.stats["landmarks_reused"] == 1.0  # MediaPipe ran at most once
    assert steadier.stats["jitter_cleaned"] < first.stats["jitter_cleaned"]
    before = len(calls)
    pipe(LUNGE, end=0.5)  # another range is another analysis
    assert len(calls) == before + 1


def test_check_inputs_only_checks_and_opens_no_file(pipe, monkeypatch):
    import pipelines.motion.pipeline as mc

    monkeypatch.setattr(mc, "probe", lambda *a, **k: pytest.fail("check_inputs must not probe the video"))
    assert pipe.check_inputs("nowhere.mp4", 0.0, 1.0, 1.5, 0.5, 0) is None
    with pytest.raises(ValueError, match="after start"):
        pipe.check_inputs("nowhere.mp4", 1.0, 0.5, 1.5, 0.5, 0)


def test_a_person_too_small_for_the_whole_frame_search_is_found_in_tiles(pipe, tmp_path):
    """The lunge shrunk to a quarter of a 1280x720 frame: the whole-frame search sees nobody, the tiled one
    finds the person and the clip follows them."""
    from dataclasses import replace

    from pipelines.motion.pipeline import MotionCapturePipeline

    far = tmp_path / "far.mp4"
    subprocess.run([ffmpeg(), "-loglevel", "error", "-y", "-i", str(LUNGE), "-t", "0.6", "-vf",
                    "scale=-2:180,pad=1280:720:700:400:color=0x607050", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(far)], check=True)  # fmt: skip
    out = pipe(far)
    assert out.stats["pose_share"] > 0 and np.isfinite(out.clip.root_positions).all()
    with pytest.raises(ValueError, match="no person"):
        MotionCapturePipeline(pipe.model_path, replace(pipe.config, tiles=1))(far)
