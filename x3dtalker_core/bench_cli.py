"""``bench <stage> [--json] [args...]``: run a benchmark script from the repository's ``bench/`` folder."""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from .errors import X3DError

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


def available_stages() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="run a benchmark from bench/ (prints one JSON object with --json)",
        description="Stages are the scripts in bench/ (e.g. flame_forward). Extra arguments go to the script.",
    )
    p.add_argument("stage", help="benchmark name, e.g. flame_forward")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark script (e.g. --json)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    script = BENCH_DIR / f"{args.stage}.py"
    if not script.is_file():
        raise X3DError(f"unknown benchmark '{args.stage}'; available: {', '.join(available_stages()) or 'none'}")
    argv = sys.argv
    sys.argv = [str(script), *args.args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        sys.argv = argv
    return 0
