"""One module per `python -m pipelines` subcommand; each exposes `register(subparsers)`.

Modules import their pipeline inside the command function, so `--help` stays instant.
"""
