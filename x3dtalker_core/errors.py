"""User-facing errors.

Everything the user can fix (a bad file, a missing asset, a wrong shape) is raised as an
:class:`X3DError` whose message is one line that names the bad input and says how to fix it.
The CLI prints that line and exits non-zero; ComfyUI shows it on the node.
"""

from __future__ import annotations


class X3DError(Exception):
    """An error caused by user input or the environment, with a one-line, actionable message."""


class AssetNotFoundError(X3DError, FileNotFoundError):
    """A named asset (model file, checkpoint, encoder folder) was not found in any search folder."""


class InvalidFileError(X3DError, ValueError):
    """A file exists but its content is malformed, truncated, unsafe or has wrong shapes."""


class Cancelled(X3DError):
    """The caller's cancellation callback asked to stop a long loop (encoding, generation, decoding,
    rendering, export); nothing half-written is left behind."""


def check_cancelled(cancel, what: str) -> None:
    """Raise :class:`Cancelled` when ``cancel()`` returns True (a callback may also raise its own exception,
    as ComfyUI's interruption check does)."""
    if cancel is not None and cancel():
        raise Cancelled(f"{what} was cancelled")
