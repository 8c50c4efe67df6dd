"""Character Studio: `python app.py` serves the studio at http://127.0.0.1:7860 (`--help` for the options).

Importing this module builds the page (Hugging Face Spaces and the tests rely on that) but loads
no model: each model loads on first use, once, and is shared by all users. An installed copy offers
the same as `character-studio serve` (studio/cli.py).
"""

import sys

from studio.cli import run, serve, serve_parser
from studio.shell import build_studio

demo = build_studio()


def main(argv: list[str] | None = None) -> int:
    parser = serve_parser("python app.py")
    parser.set_defaults(run=serve)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
