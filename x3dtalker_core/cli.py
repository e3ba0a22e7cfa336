"""Command-line front door: ``python -m x3dtalker_core <command>`` (SPEC §8).

Each area of the library owns its commands: a module listed in :data:`COMMAND_MODULES` defines
``register(subparsers)``, which adds its sub-parser(s) and sets ``func`` to a handler
``handler(args) -> int``. Handlers import heavy dependencies lazily, so ``--help`` stays fast.
A :class:`~x3dtalker_core.errors.X3DError` becomes a one-line message and exit code 2 (a traceback
only with ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import X3DError

# command -> module (relative to this package) that registers it
COMMAND_MODULES: dict[str, str] = {
    "assets": ".assets_cli",
    "generate": ".pipeline_cli",
    "render": ".render.cli",
    "train": ".train.cli",
    "eval": ".eval.cli",
    "synth": ".data.synth_cli",
    "curate": ".data.curate_cli",
    "lift": ".data.lift_cli",
    "batch": ".batch_cli",
    "bench": ".bench_cli",
    "audio": ".audio.cli",
    "reconstruct": ".reconstruct.cli",
    "control": ".control.cli",
    "export": ".export.cli",
}

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m x3dtalker_core",
        description="3DXTalker: photo + speech -> expressive 3D talking head (FLAME).",
    )
    parser.add_argument("--version", action="version", version=f"x3dtalker_core {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for module in COMMAND_MODULES.values():
        importlib.import_module(module, __package__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except X3DError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
