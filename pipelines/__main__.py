"""`python -m pipelines <command> ...`: the pipelines from the command line, for batch work and benchmarks.

The installed `character-studio` command (studio/cli.py) offers the same commands beside `serve`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pipelines.device import DEVICE_CHOICES

# Subcommand modules under pipelines/cli/, in the order `--help` lists them.
COMMANDS = ("face", "train_simmim", "eval_simmim", "chat", "speak", "motion", "setup_llama_cpp")


def add_commands(subparsers) -> None:
    """Register every pipeline command on `subparsers` (of this parser or another program's)."""
    for name in COMMANDS:
        importlib.import_module(f"pipelines.cli.{name}").register(subparsers)


def add_device_option(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    parser.add_argument("--device", default=default, choices=DEVICE_CHOICES,
                        help="where torch models run (auto picks CUDA when present)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.splitlines()[0])
    add_device_option(parser)
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; bad input or missing weights print one plain line and exit with 2."""
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
