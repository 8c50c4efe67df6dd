"""`python -m pipelines face PHOTO --expression joy`: a new expression, a mask preview, or a whole sheet."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from pipelines.face.action_units import EXPRESSIONS, SLIDERS
    from pipelines.face.pipeline import VARIANTS, FaceExpressionConfig

    parser = subparsers.add_parser(
        "face",
        help="give the face in a photo another expression (or make an expression sheet)",
        description="Give the face in PHOTO another expression. The output has the input's size; only the "
        "masked face regions change.",
    )
    parser.add_argument("photo", type=Path, help="a photo with a face (JPEG, PNG, WebP, ...)")
    parser.add_argument("--expression", default="joy", choices=EXPRESSIONS, help="target expression (default joy)")
    parser.add_argument("--intensity", type=float, default=1.0, help="0..1, how strong the expression is")
    for name in SLIDERS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=0.0, metavar="-1..1",
                            help=f"extra {name.replace('_', ' ')} on top of the expression")  # fmt: skip
    parser.add_argument("--face-index", type=int, default=None, help="which face, 0 = largest (default)")
    parser.add_argument("--out", type=Path, help="edited photo (default: PHOTO-STEM_EXPRESSION.png here, unless only "
                        "--sheet/--sprites are asked for)")
    parser.add_argument("--sheet", type=Path, help="also write every expression as one labelled grid PNG")
    parser.add_argument("--sprites", type=Path, help="also write joy.png, sadness.png, ... (SillyTavern sprites) here")
    parser.add_argument("--sillytavern", type=Path, metavar="ZIP", help="also write SillyTavern's full set of 28 "
                        "sprites (admiration.png ... surprise.png) as a sprite-pack ZIP")  # fmt: skip
    parser.add_argument("--show-mask", type=Path, help="write the paste-back mask (white = changed pixels)")
    parser.add_argument("--teach", type=Path, help="write crop | masked patches | SimMIM raw output | SimMIM in the "
                        "masked patches | result side by side")
    parser.add_argument("--simmim", type=Path, help="SimMIM mouth model folder (default weights/simmim-mouth)")
    parser.add_argument("--variant", default=FaceExpressionConfig.variant, choices=VARIANTS,
                        help="which parts run: mouth-model (warp + the mouth SimMIM), warp (no learned model), "
                        "simmim (no warp), legacy (the previous whole-face model, research-only weights); default "
                        f"{FaceExpressionConfig.variant}")
    parser.add_argument("--no-texture", dest="texture", action="store_false", default=FaceExpressionConfig.texture,
                        help="leave out the expression texture (measured folds, lines and mouth interior)")
    parser.add_argument("--eye-simmim", type=Path, help="SimMIM eye model folder (default weights/simmim-eye)")
    parser.add_argument("--no-eye-model", dest="eye_model", action="store_false", default=FaceExpressionConfig.eye_model,
                        help="leave out the eye model: eyes that open are stretched by the warp instead")
    parser.add_argument("--face-simmim", type=Path, help="whole-face SimMIM folder for --variant legacy "
                        "(default weights/simmim-face)")
    parser.add_argument("--refine", metavar="MODEL", help="diffusers inpainting model (folder or hub id) to polish with")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from pipelines.face.action_units import SLIDERS
    from pipelines.face.pipeline import FaceExpressionConfig, FaceExpressionPipeline

    sliders = {name: getattr(args, name) for name in SLIDERS if getattr(args, name)}
    # A sheet or sprites alone write only what was asked for: the single edit (PHOTO_EXPRESSION.png) needs --out.
    single = args.out or args.show_mask or args.teach or not (args.sheet or args.sprites or args.sillytavern)
    warnings: list[str] = []
    config = FaceExpressionConfig(variant=args.variant, texture=args.texture, eye_model=args.eye_model)
    with FaceExpressionPipeline.from_pretrained(args.simmim, device=args.device, config=config, refine=args.refine,
                                                face_simmim_path=args.face_simmim,
                                                eye_simmim_path=args.eye_simmim) as pipe:  # fmt: skip
        if single:
            out = pipe(args.photo, args.expression, args.intensity, sliders, args.face_index, refine=bool(args.refine),
                       teach=bool(args.teach))
            target = args.out or Path(f"{args.photo.stem}_{args.expression}.png")
            Image.fromarray(out.image).save(target)
            print(f"wrote {target} ({out.image.shape[1]}x{out.image.shape[0]}, face {out.face_index + 1} of {out.num_faces})")
            warnings = out.warnings
            if args.show_mask:
                Image.fromarray(out.mask_image).save(args.show_mask)
                print(f"wrote {args.show_mask}")
            if args.teach:
                taught = out.teaching or out
                panels = [taught.crop, taught.masked_input, taught.reconstruction, taught.filled, taught.blended]
                Image.fromarray(np.hstack(panels)).save(args.teach)
                print(f"wrote {args.teach}" + (" (the mouth model alone: this edit's own models painted nothing)"
                                               if out.teaching else ""))
        if args.sheet or args.sprites:
            sheet = pipe.expression_sheet(args.photo, args.intensity, args.face_index, refine=bool(args.refine))
            warnings = warnings or sheet.warnings
            if args.sprites:
                for path in sheet.save(args.sprites, sheet_name=None):
                    print(f"wrote {path}")
            if args.sheet:
                Image.fromarray(sheet.grid).save(args.sheet)
                print(f"wrote {args.sheet}")
        if args.sillytavern:
            from pipelines.character.sprites import sprite_set, write_sprite_zip

            pack = sprite_set(pipe, args.photo, args.intensity, args.face_index)
            print(f"wrote {write_sprite_zip(pack, args.sillytavern)} ({len(pack)} sprites)")
    for warning in warnings:
        print(f"warning: {warning}")
    return 0
