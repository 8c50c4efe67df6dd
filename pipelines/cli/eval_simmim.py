"""`python -m pipelines eval-simmim`: measure a SimMIM face model on held-out faces; table to bench/results/."""

from __future__ import annotations

from pathlib import Path

from pipelines.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval-simmim",
        help="evaluate the SimMIM face model (masked-region L1/PSNR vs cv2.inpaint, landmark obedience)",
        description="Fill mouth and eye masks on held-out faces; compare with cv2.inpaint (Telea) and a mean-colour "
        "fill, and check with MediaPipe that the fill follows its landmark condition.",
    )
    parser.add_argument("--model", help="model folder (default: weights/simmim-face)")
    parser.add_argument("--dev", default="examples/faces", help="folder of held-out portraits (faces-dev)")
    parser.add_argument("--cache", default=".cache/simmim/faces-train.npz",
                        help="training face cache; its held-out split is evaluated too (skipped when absent)")
    parser.add_argument("--data", help="training photo folder: builds --cache first when it is missing")
    parser.add_argument("--max-held-out", type=int, default=200, help="at most this many held-out training faces")
    parser.add_argument("--results", default="bench/results/simmim.md", help="markdown table to write")
    parser.add_argument("--grid", default="docs/images/simmim_grid.png", help="sample grid PNG to write")
    parser.set_defaults(run=run)


def run(args) -> int:
    from pipelines.device import pick_device
    from pipelines.face.detector import FaceLandmarker
    from pipelines.face.simmim.data import FaceCache, build_cache
    from pipelines.face.simmim.evaluate import dev_faces, evaluate, held_out_faces, markdown
    from pipelines.face.simmim.model import SimMIMFace
    from pipelines.face.simmim.train import write_png

    model = SimMIMFace.from_pretrained(args.model, device=pick_device(args.device))
    size = model.config.image_size
    with FaceLandmarker.from_pretrained() as landmarker:
        faces = dev_faces(args.dev, size, landmarker) if args.dev else []
        cache_path = Path(args.cache) if args.cache else None
        if cache_path and not cache_path.is_file() and args.data:
            build_cache(args.data, cache_path, image_size=size)
        if cache_path and cache_path.is_file():
            cache = FaceCache.load(cache_path)
            if cache.image_size != size:
                raise InputError(f"The cache holds {cache.image_size} px faces; the model reads {size} px.")
            faces += held_out_faces(cache, args.max_held_out)
        elif cache_path:
            print(f"note: no face cache at {cache_path}; evaluating on {args.dev} only")
        if not faces:
            raise InputError("No faces to evaluate: give --dev and/or --cache.")
        report = evaluate(model, faces, landmarker)
    text = markdown(report, args.model or "weights/simmim-face", args.grid if report.grid is not None else None)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(text)
    if report.grid is not None and args.grid:
        write_png(Path(args.grid), report.grid)
    print(text)
    return 0
