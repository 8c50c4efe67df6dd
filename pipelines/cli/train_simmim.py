"""`python -m pipelines train-simmim`: train the SimMIM face model on a folder of face photos."""

from __future__ import annotations


def register(subparsers) -> None:
    from pipelines.face.align import REGION_BOXES

    parser = subparsers.add_parser(
        "train-simmim",
        help="train the SimMIM face inpainting model",
        description="Find and align the faces under --data (cached once), then train a landmark-conditioned SimMIM "
        "model. Multi-GPU: torchrun --nproc_per_node N -m pipelines train-simmim ...",
    )
    parser.add_argument("--data", action="append", metavar="DIR",
                        help="folder of face photos, repeatable (MANIFEST.csv with a research_only column is honoured)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="leave out files whose name matches, repeatable (e.g. people kept for evaluation)")
    parser.add_argument("--region", default="face", choices=tuple(REGION_BOXES),
                        help="the window of the aligned face the model paints (default: the whole face)")
    parser.add_argument("--out", required=True,  # no default: a forgotten --out overwrote the shipped weights
                        help="output folder (model, checkpoint/, samples/)")
    parser.add_argument("--cache", help="face cache .npz (default OUT/faces.npz; built from --data when missing)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/checkpoint (a finished run with --max-minutes trains that much longer)")
    parser.add_argument("--public-domain-only", action="store_true", help="skip files MANIFEST.csv marks research_only")
    parser.add_argument("--init-from", metavar="FOLDER_OR_HUB_ID",
                        help="start from a model folder (e.g. weights/simmim-mouth: fine-tune it, its architecture) or a "
                        "public SimMIM checkpoint, e.g. microsoft/swin-base-simmim-window6-192 (online)")
    parser.add_argument("--steps", type=int, help="optimiser steps (default: fill --max-minutes, else 20000)")
    parser.add_argument("--max-minutes", type=float, help="training time budget; the schedule is fitted to it")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup-steps", type=int, default=500)
    parser.add_argument("--edge-loss", type=float, default=0.5, help="weight of the image-gradient L1 term")
    parser.add_argument("--adv-loss", type=float, default=0.0,
                        help="weight of a patch discriminator's term, for sharper fills (0: off; the eye model was fine-tuned "
                        "with 0.05, then 0.3: see weights/simmim-eye/README.md)")
    parser.add_argument("--adv-start", type=float, default=0.0,
                        help="share of the steps before the discriminator's term joins the loss (it trains from the start)")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--hidden-size", type=int, default=384)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--sample-every", type=int, default=1000)
    parser.add_argument("--checkpoint-every", type=int, default=2000)
    parser.add_argument("--save-dtype", choices=("float16", "float32"), default="float16")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile on CUDA")
    parser.add_argument("--refine-channels", type=int, default=32, help="3x3-conv seam head width (0: off)")
    parser.add_argument("--workers", type=int, help="data-loading processes (default: 0 on CPU, up to 8 on CUDA)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 leaves a shared machine's cores to others)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args) -> int:
    from pipelines.face.simmim.config import SimMIMFaceConfig
    from pipelines.face.simmim.train import TrainConfig, train

    steps = args.steps if (args.steps is not None or args.max_minutes) else 20000
    model = SimMIMFaceConfig(region=args.region, image_size=args.image_size, patch_size=args.patch_size, hidden_size=args.hidden_size,
                             num_layers=args.layers, num_heads=args.heads, refine_channels=args.refine_channels)  # fmt: skip
    cfg = TrainConfig(
        out=args.out, data=args.data, exclude=tuple(args.exclude), cache=args.cache, public_domain_only=args.public_domain_only, model=model,
        init_from=args.init_from, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps,
        steps=steps, max_minutes=args.max_minutes, edge_loss=args.edge_loss, adv_loss=args.adv_loss,
        adv_start=args.adv_start, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, seed=args.seed, device=args.device, compile=not args.no_compile,
        save_dtype=args.save_dtype, resume=args.resume, progress=not args.quiet, workers=args.workers,
        threads=args.threads,
    )  # fmt: skip
    train(cfg)
    return 0
