"""Run the rows of a CSV through a workflow on a ComfyUI server: retries, concurrency, resume, results CSV."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import X3DError
from ..io_utils import atomic_path
from .client import ComfyClient, ComfyError, TransientError, output_files
from .graph import FILE_COLUMNS, patch_graph

log = logging.getLogger(__name__)

RESULT_FIELDS = ("id", "status", "prompt_id", "attempts", "seconds", "outputs", "error")


@dataclass(frozen=True)
class BatchItem:
    """One CSV row: ``id`` names its output folder; ``values`` are the other columns."""

    id: str
    values: dict[str, str]


@dataclass(frozen=True)
class BatchSettings:
    """How to run: parallel prompts, retries of transient failures (with a doubling wait), time limit."""

    concurrency: int = 1
    retries: int = 2
    retry_wait_s: float = 2.0
    timeout_s: float = 3600.0
    resume: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.retries < 0:
            raise X3DError("concurrency must be >= 1 and retries >= 0")


@dataclass
class ItemResult:
    id: str
    status: str = "pending"
    prompt_id: str = ""
    attempts: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    error: str = ""

    def row(self) -> dict[str, str]:
        return {"id": self.id, "status": self.status, "prompt_id": self.prompt_id, "attempts": str(self.attempts),
                "seconds": f"{self.seconds:.2f}", "outputs": ";".join(self.outputs), "error": self.error}


def read_items(path: str | Path) -> list[BatchItem]:
    """Rows of the inputs CSV (header row required). Relative file paths are resolved against the CSV's folder."""
    path = Path(path)
    if not path.is_file():
        raise X3DError(f"inputs CSV not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise X3DError(f"{path} has no header row (e.g. 'id,image,audio')")
        rows = list(reader)
    items, seen = [], set()
    for n, row in enumerate(rows, start=1):
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        item_id = values.get("id") or f"item{n:04d}"
        if item_id in seen:
            raise X3DError(f"{path}: duplicate id '{item_id}' (row {n})")
        seen.add(item_id)
        for column in FILE_COLUMNS:
            value = values.get(column)
            if value and not Path(value).is_absolute() and (path.parent / value).exists():
                values[column] = str(path.parent / value)
        items.append(BatchItem(item_id, values))
    if not items:
        raise X3DError(f"{path} has no rows")
    return items


def read_results(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


def _finished(row: dict[str, str], out_dir: Path) -> bool:
    """Done earlier: status ok and every recorded output still on disk."""
    if row.get("status") != "ok":
        return False
    outputs = [o for o in row.get("outputs", "").split(";") if o]
    return all((out_dir / o).is_file() for o in outputs)


def _write_results(path: Path, results: dict[str, ItemResult], order: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RESULT_FIELDS)
    writer.writeheader()
    for item_id in order:
        if item_id in results:
            writer.writerow(results[item_id].row())
    with atomic_path(path, suffix=".csv") as tmp:
        Path(tmp).write_text(buf.getvalue(), encoding="utf-8")


def _run_item(client: ComfyClient, graph: dict, item: BatchItem, out_dir: Path, settings: BatchSettings,
              on_event: Callable[[str, str, dict], None] | None) -> ItemResult:
    result = ItemResult(item.id)
    started = time.perf_counter()
    wait = settings.retry_wait_s
    while True:
        result.attempts += 1
        try:
            values = dict(item.values)
            for column in FILE_COLUMNS:
                if values.get(column) and Path(values[column]).is_file():
                    values[column] = client.upload(values[column])
            prompt = patch_graph(graph, values)
            result.prompt_id = client.queue(prompt)
            entry = client.wait(result.prompt_id, settings.timeout_s,
                                (lambda kind, data: on_event(item.id, kind, data)) if on_event else None)
            folder = out_dir / item.id
            result.outputs = []
            for node_id, file in output_files(entry):
                if file.get("type") != "output":
                    continue
                dest = client.download(file, folder / f"{node_id}_{Path(file['filename']).name}")
                result.outputs.append(dest.relative_to(out_dir).as_posix())
            (folder / "history.json").write_text(json.dumps(entry.get("outputs", {}), indent=1))
            result.status, result.error = "ok", ""
            break
        except TransientError as exc:
            result.status, result.error = "failed", str(exc)
            if result.attempts > settings.retries:
                break
            log.warning("%s: %s; retrying in %.0f s", item.id, exc, wait)
            time.sleep(wait)
            wait *= 2
        except (ComfyError, X3DError) as exc:  # validation errors, failed prompts, bad rows: not retried
            result.status, result.error = "failed", str(exc)
            break
    result.seconds = time.perf_counter() - started
    return result


def run_batch(
    server: str,
    workflow: dict,
    items: list[BatchItem],
    out_dir: str | Path,
    settings: BatchSettings = BatchSettings(),
    on_event: Callable[[str, str, dict], None] | None = None,
    on_done: Callable[[ItemResult], None] | None = None,
) -> dict[str, ItemResult]:
    """Queue every item not finished before, follow it, download its outputs, and keep ``results.csv`` current.

    Returns:
        id -> result for every item (items skipped on resume have status ``ok`` and attempts 0).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.csv"
    previous = read_results(results_path) if settings.resume else {}
    order = [it.id for it in items]
    results: dict[str, ItemResult] = {}
    todo = []
    for it in items:
        row = previous.get(it.id)
        if row is not None and _finished(row, out_dir):
            results[it.id] = ItemResult(it.id, "ok", row.get("prompt_id", ""), 0, 0.0,
                                        [o for o in row.get("outputs", "").split(";") if o], "")
        else:
            todo.append(it)
    lock = threading.Lock()
    _write_results(results_path, results, order)
    with ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
        futures = {pool.submit(_run_item, ComfyClient(server, timeout_s=60.0), workflow, it, out_dir, settings,
                               on_event): it for it in todo}
        for future in as_completed(futures):
            res = future.result()
            with lock:
                results[res.id] = res
                _write_results(results_path, results, order)
            if on_done is not None:
                on_done(res)
    return results
