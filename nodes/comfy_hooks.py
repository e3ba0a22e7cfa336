"""ComfyUI services the nodes hand to the core: progress bars, interruption checks, devices.

The core takes plain callbacks (``progress(done, total)``, ``cancel()``); these adapters connect
them to ComfyUI so the queue shows progress and the Cancel button stops long loops.
"""

from __future__ import annotations

from typing import Callable


def progress_callback(total_hint: int = 1) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback driving a ComfyUI progress bar (also an interruption point)."""
    import comfy.utils

    bar = comfy.utils.ProgressBar(max(1, int(total_hint)))

    def update(done: int, total: int) -> None:
        bar.update_absolute(int(done), max(1, int(total)))

    return update


def fraction_callback(steps: int = 100) -> Callable[[float, str], None]:
    """A ``progress(fraction, message)`` callback (reconstruction) driving a ComfyUI progress bar."""
    update = progress_callback(steps)
    return lambda fraction, _message="": update(round(float(fraction) * steps), steps)


def check_interrupt() -> bool:
    """Raise ComfyUI's interruption exception when the user pressed Cancel; else return False.

    Works for both core conventions: ``cancel()`` callbacks that raise and ``should_stop()`` polls.
    """
    import comfy.model_management as mm

    mm.throw_exception_if_processing_interrupted()
    return False


def compute_device():
    """The device ComfyUI computes on (``--cpu`` gives CPU)."""
    import comfy.model_management as mm

    return mm.get_torch_device()


def offload_device():
    """Where idle models wait (CPU unless ``--highvram``/``--gpu-only``)."""
    import comfy.model_management as mm

    return mm.unet_offload_device()


def free_cache() -> None:
    import comfy.model_management as mm

    mm.soft_empty_cache()


def show_status(node_cls, text: str) -> str:
    """Show ``text`` on the node itself in the UI (ComfyUI's progress-text channel, as core GetImageSize does).

    The node's schema must list ``io.Hidden.unique_id``. Outside a running server (tests calling
    ``execute`` directly) nothing is sent. Returns ``text`` so callers can also put it in the ``ui`` dict,
    which keeps it in the history for API clients.
    """
    hidden = getattr(node_cls, "hidden", None)
    node_id = getattr(hidden, "unique_id", None) if hidden is not None else None
    if node_id is None:
        return text
    try:
        from server import PromptServer
    except ImportError:
        return text
    server = getattr(PromptServer, "instance", None)
    if server is not None:
        server.send_progress_text(text, node_id)
    return text
