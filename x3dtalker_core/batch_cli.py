"""``python -m x3dtalker_core batch``: run a CSV of inputs through a workflow on a ComfyUI server."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch", help="queue a workflow for every row of a CSV on a ComfyUI server",
        description="Uploads each row's image/audio, patches the API-format workflow, queues it, follows progress "
        "over the websocket, downloads outputs into OUT/<id>/ and writes OUT/results.csv. Transient failures are "
        "retried; re-running resumes (finished items are skipped). CSV columns: id, image, audio, seed, or "
        "'<node id>.<input>' for any widget value.",
    )
    p.add_argument("--server", default="http://127.0.0.1:8188", help="ComfyUI URL (default %(default)s)")
    p.add_argument("--workflow", required=True, help="API-format workflow JSON (e.g. workflows/api/...json)")
    p.add_argument("--inputs", required=True, help="CSV with a header row (id,image,audio,...)")
    p.add_argument("--out", default="batch_out", help="output folder (default %(default)s)")
    p.add_argument("--concurrency", type=int, default=1, help="prompts in flight at once (default 1)")
    p.add_argument("--retries", type=int, default=2, help="retries of transient failures (default 2)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per item (default 3600)")
    p.add_argument("--no-resume", action="store_true", help="redo items finished in an earlier run")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_batch)


def _load_workflow(path: str) -> dict:
    import json
    from pathlib import Path

    from .errors import X3DError

    p = Path(path)
    try:
        graph = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise X3DError(f"workflow not found: {p}") from None
    except ValueError as exc:
        raise X3DError(f"{p} is not JSON: {exc}") from None
    if "nodes" in graph and "links" in graph:
        raise X3DError(f"{p} is a UI-format workflow; use the API-format graph (workflows/api/, or 'Export (API)')")
    if not isinstance(graph, dict) or not all(isinstance(v, dict) and "class_type" in v for v in graph.values()):
        raise X3DError(f"{p} is not an API-format workflow (node id -> {{class_type, inputs}})")
    return graph


def _batch(args: argparse.Namespace) -> int:
    import sys

    from .batch import BatchSettings, read_items, run_batch

    graph = _load_workflow(args.workflow)
    items = read_items(args.inputs)
    settings = BatchSettings(concurrency=args.concurrency, retries=args.retries, timeout_s=args.timeout,
                             resume=not args.no_resume)

    def on_event(item_id: str, kind: str, data: dict) -> None:
        if kind == "progress" and not args.quiet:
            print(f"\r{item_id}: node {data.get('node')} {data.get('value')}/{data.get('max')}   ", end="",
                  file=sys.stderr, flush=True)

    def on_done(res) -> None:
        if not args.quiet:
            tail = f" ({res.error})" if res.error else f" -> {len(res.outputs)} files"
            print(f"\r{res.id}: {res.status} after {res.attempts} attempt(s), {res.seconds:.1f} s{tail}",
                  file=sys.stderr)

    results = run_batch(args.server, graph, items, args.out, settings, on_event, on_done)
    failed = [r for r in results.values() if r.status != "ok"]
    skipped = sum(1 for r in results.values() if r.attempts == 0)
    print(f"{len(results) - len(failed)} ok ({skipped} from an earlier run), {len(failed)} failed; "
          f"results in {args.out}/results.csv")
    return 1 if failed else 0
