"""`python -m pipelines <command> ...`: the pipelines from the command line, for batch work and benchmarks."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules under pipelines/cli/, in the order `--help` lists them.
COMMANDS = ("face", "train_simmim", "eval_simmim", "chat", "speak", "motion")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where torch models run")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"pipelines.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError) as err:  # bad input or missing weights: say it plainly
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
