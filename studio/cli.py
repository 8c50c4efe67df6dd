"""`character-studio`: the studio and every pipeline from one command, from any folder.

    character-studio                                    serve the studio (the same as `character-studio serve`)
    character-studio serve --port 8000 --mcp            ... with options; --mcp also serves tools to AI agents
    character-studio face photo.jpg --expression joy    any `python -m pipelines` command

`pip install .` installs it (pyproject.toml); `python app.py` is the same `serve` for a clone and for Spaces.
"""

from __future__ import annotations

import argparse
import os
import sys

from pipelines.__main__ import add_commands, add_device_option, run

SERVE = "serve"
DESCRIPTION = "Character Studio: serve the studio in the browser, or run any pipeline, from any folder."


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="address to serve on")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), help="port")
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    parser.add_argument("--weights-dir", help="folder with the model files (default: the shipped weights/)")
    parser.add_argument("--mcp", action="store_true", help="also serve the studio's tools to AI agents (Model "
                        "Context Protocol) at /gradio_api/mcp/")  # fmt: skip
    parser.add_argument("--chat-config", help="JSON file listing the chat engines visitors may choose (see README)")
    parser.add_argument("--chat-free-entry", action="store_true",
                        help="single-user local run only: let the page type any chat server URL or model path")
    parser.add_argument("--no-probe", action="store_true", help="do not look for chat servers on localhost at start")
    parser.add_argument("--allow-xtts", action="store_true",
                        help="turn on the XTTS voice (its model.pth is a pickle: only with files you trust)")


def serve(args: argparse.Namespace) -> int:
    """Launch the studio with the parsed options; blocks until stopped.

    The page is built after `configure`, so it lists the chat engines the operator set up or the probe found.
    """
    from studio.runtime import configure
    from studio.shell import build_studio, launch

    if args.allow_xtts:
        from pipelines.speech.pipeline import ALLOW_XTTS_ENV

        os.environ[ALLOW_XTTS_ENV] = "1"
    configure(device=args.device, weights_dir=args.weights_dir, chat_config=args.chat_config,
              chat_free_entry=args.chat_free_entry, probe_chat_servers=not args.no_probe)
    launch(build_studio(), host=args.host, port=args.port, share=args.share, mcp=args.mcp)
    return 0


def serve_parser(prog: str) -> argparse.ArgumentParser:
    """The options of `serve` alone, for `python app.py`."""
    parser = argparse.ArgumentParser(prog=prog, description="Launch Character Studio in the browser.")
    add_device_option(parser)
    add_serve_options(parser)
    return parser


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    """The `character-studio` parser and its command names."""
    parser = argparse.ArgumentParser(prog="character-studio", description=DESCRIPTION,
                                     epilog="Without a command, the studio is served.")  # fmt: skip
    add_device_option(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serving = sub.add_parser(SERVE, help="launch the studio in the browser (the default)",
                             description="Launch Character Studio in the browser.")  # fmt: skip
    add_device_option(serving, default=argparse.SUPPRESS)  # accepted after `serve` too, without overriding
    add_serve_options(serving)
    serving.set_defaults(run=serve)
    add_commands(sub)
    return parser, set(sub.choices)


def with_default_command(argv: list[str], commands: set[str]) -> list[str]:
    """`character-studio [--device D] [serve options]` means `serve`: put the command where argparse wants it."""
    if {"-h", "--help"} & set(argv) or commands & set(argv):
        return argv
    head = 2 if argv[:1] == ["--device"] else int(bool(argv) and argv[0].startswith("--device="))
    return [*argv[:head], SERVE, *argv[head:]]


def main(argv: list[str] | None = None) -> int:
    parser, commands = build_parser()
    return run(parser.parse_args(with_default_command(list(sys.argv[1:] if argv is None else argv), commands)))


if __name__ == "__main__":
    sys.exit(main())
