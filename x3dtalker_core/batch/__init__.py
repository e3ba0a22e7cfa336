"""Batch queues against a running ComfyUI server (``python -m x3dtalker_core batch``).

* :mod:`.client`: the ComfyUI HTTP/websocket API (upload, queue, follow, history, download);
* :mod:`.graph`: API-format graphs: which inputs a batch row patches;
* :mod:`.runner`: rows of a CSV -> queued prompts, with retries, concurrency, resume and a results CSV.
"""

from .client import ComfyClient, ComfyError, PromptFailed, TransientError
from .graph import patch_graph, graph_inputs
from .runner import BatchItem, BatchSettings, read_items, run_batch

__all__ = ["BatchItem", "BatchSettings", "ComfyClient", "ComfyError", "PromptFailed", "TransientError",
           "graph_inputs", "patch_graph", "read_items", "run_batch"]
