"""`python -m pipelines motion VIDEO --out clip.bvh [--glb clip.glb]`: motion capture from a video to BVH (and glTF).

The BVH has one frame per processed video frame (the video's rate, at most --max-fps) before the
optional edits; --speed changes the frame count, --loop shortens the clip by its blend.
"""

from __future__ import annotations

import argparse


def _smooth(text: str) -> tuple[float, float]:
    try:
        min_cutoff, beta = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--smooth takes MINCUTOFF,BETA (two numbers), got {text!r}") from None
    return min_cutoff, beta


def register(subparsers) -> None:
    from pipelines.motion import DEFAULT_LOOP_BLEND, ClipEdits, MotionCaptureConfig

    defaults, no_edits = MotionCaptureConfig(), ClipEdits()
    parser = subparsers.add_parser(
        "motion", help="video of a person -> retargeted motion clip (BVH + MP4 preview)", description=__doc__
    )
    parser.add_argument("video", help="video file (any common container/codec)")
    parser.add_argument("--out", required=True, help="BVH file to write")
    parser.add_argument("--preview", help="also write a side-by-side H.264 MP4 preview here")
    parser.add_argument("--glb", help="also write the clip as a GLB (glTF 2.0: skeleton, stick figure, animation) here")
    parser.add_argument("--start", type=float, help="first second of the video to use")
    parser.add_argument("--end", type=float, help="last second of the video to use")
    parser.add_argument(
        "--smooth", type=_smooth, metavar="MINCUTOFF,BETA",
        help=f"One Euro filter settings (default {defaults.min_cutoff:g},{defaults.beta:g})",
    )  # fmt: skip
    parser.add_argument("--max-fps", type=float, default=defaults.max_fps,
                        help=f"analyse at most this many frames per second (default {defaults.max_fps:g}; the source's own "
                        "rate when lower); the BVH has the same rate")
    parser.add_argument("--person", type=int, default=0,
                        help="with several people: 0 = the largest, most central one (default), 1 = the next, ...")
    parser.add_argument("--speed", type=float, default=no_edits.speed, help="play the motion X times faster (0.5 = slow motion)")
    parser.add_argument("--stride", type=float, default=no_edits.stride, help="scale the motion's amplitude (stride, swing) by X")
    parser.add_argument("--mirror", action="store_true", help="swap left and right")
    parser.add_argument("--loop", nargs="?", type=float, const=DEFAULT_LOOP_BLEND, metavar="BLEND_S",
                        help=f"make a seamless loop, cross-fading the last BLEND_S seconds (default {DEFAULT_LOOP_BLEND:g}) "
                        "into the start")
    parser.add_argument("--model", help="pose_landmarker_full.task file or folder (default: weights/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.motion import ClipEdits, MotionCaptureConfig, MotionCapturePipeline
    from pipelines.motion.bvh import write_bvh
    from pipelines.motion.gltf import write_glb

    pipe = MotionCapturePipeline.from_pretrained(args.model, MotionCaptureConfig(max_fps=args.max_fps))
    min_cutoff, beta = args.smooth or (None, None)
    output = pipe(args.video, args.start, args.end, min_cutoff, beta, person=args.person, preview=args.preview)
    clip, _ = ClipEdits(args.speed, args.stride, args.mirror, args.loop).apply(output.clip)
    write_bvh(clip, args.out)
    if args.glb:
        write_glb(clip, args.glb)
    s = output.stats
    print(
        f"{args.out}: {clip.num_frames} frames at {clip.fps:g} fps ({output.clip.num_frames} video frames processed); "
        f"person found in {s['pose_share']:.0%} of frames; "
        f"jitter {s['jitter_raw']:.1f} -> {s['jitter_cleaned']:.1f} m/s^2; "
        f"{s['end_to_end_fps']:.1f} frames/s end to end"
    )
    if output.track.people > 1:
        print(f"note: {output.track.people} people seen; this clip follows person {args.person} (--person picks another)")
    for note in output.warnings:
        print(f"note: {note}")
    if output.preview:
        print(f"preview: {output.preview}")
    return 0
