"""A small client for ComfyUI's HTTP and websocket API (standard library; ``websockets`` if installed).

Progress is followed over the websocket (``/ws?clientId=...``) when the ``websockets`` package is
available, else by polling ``/history/{prompt_id}``; the final state always comes from history.
"""

from __future__ import annotations

import json
import mimetypes
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

from ..errors import X3DError
from ..io_utils import atomic_path


class ComfyError(X3DError):
    """The server refused a request (e.g. prompt validation)."""


class TransientError(ComfyError):
    """A failure worth retrying: connection refused/reset, timeout, HTTP 5xx."""


class PromptFailed(ComfyError):
    """The prompt ran and failed (execution error or interruption)."""

    def __init__(self, message: str, node_type: str = "", node_id: str = ""):
        super().__init__(message)
        self.node_type, self.node_id = node_type, node_id


class ComfyClient:
    """One ComfyUI server. ``client_id`` routes that server's websocket messages to us."""

    def __init__(self, server: str, timeout_s: float = 60.0, client_id: str | None = None):
        server = server.strip().rstrip("/")
        if not server.startswith(("http://", "https://")):
            server = "http://" + server
        self.server = server
        self.timeout_s = float(timeout_s)
        self.client_id = client_id or uuid.uuid4().hex

    # -- HTTP ----------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> bytes:
        req = urllib.request.Request(self.server + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            if exc.code >= 500:
                raise TransientError(f"{method} {path}: HTTP {exc.code} {text[:300]}") from None
            raise ComfyError(_describe_error(exc.code, text, f"{method} {path}")) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            raise TransientError(f"cannot reach ComfyUI at {self.server} ({getattr(exc, 'reason', exc)})") from None

    def get_json(self, path: str) -> Any:
        return json.loads(self._request("GET", path))

    def post_json(self, path: str, payload: Any) -> Any:
        raw = self._request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        return json.loads(raw) if raw.strip() else {}

    def object_info(self) -> dict:
        return self.get_json("/object_info")

    def upload(self, path: str | Path, subfolder: str = "", overwrite: bool = True) -> str:
        """Upload a local file into the server's input folder; returns the name a Load node takes."""
        path = Path(path)
        if not path.is_file():
            raise X3DError(f"input file not found: {path}")
        boundary = uuid.uuid4().hex
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts = []
        for name, value in (("overwrite", "true" if overwrite else "false"), ("type", "input"), ("subfolder", subfolder)):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
                     f"Content-Type: {ctype}\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        raw = self._request("POST", "/upload/image", b"".join(parts),
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        info = json.loads(raw)
        return f"{info['subfolder']}/{info['name']}" if info.get("subfolder") else info["name"]

    def queue(self, graph: dict, prompt_id: str | None = None) -> str:
        """Queue an API-format graph; returns its prompt id (validation errors raise :class:`ComfyError`)."""
        payload = {"prompt": graph, "client_id": self.client_id}
        if prompt_id:
            payload["prompt_id"] = prompt_id
        return self.post_json("/prompt", payload)["prompt_id"]

    def history(self, prompt_id: str) -> dict | None:
        """The finished prompt's history entry, or None while it is queued or running."""
        return self.get_json(f"/history/{urllib.parse.quote(prompt_id)}").get(prompt_id)

    def in_queue(self, prompt_id: str) -> bool:
        q = self.get_json("/queue")
        return any(item[1] == prompt_id for key in ("queue_running", "queue_pending") for item in q.get(key, []))

    def interrupt(self, prompt_id: str | None = None) -> None:
        self.post_json("/interrupt", {"prompt_id": prompt_id} if prompt_id else {})

    def download(self, file: dict, dest: str | Path) -> Path:
        """Fetch an output file (``{"filename", "subfolder", "type"}``) to ``dest`` atomically."""
        query = urllib.parse.urlencode({"filename": file["filename"], "subfolder": file.get("subfolder", ""),
                                        "type": file.get("type", "output")})
        data = self._request("GET", f"/view?{query}")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp:
            Path(tmp).write_bytes(data)
        return dest

    # -- waiting ---------------------------------------------------------------------------------
    def wait(self, prompt_id: str, timeout_s: float = 3600.0, on_event: Callable[[str, dict], None] | None = None,
             poll_s: float = 0.5) -> dict:
        """Block until ``prompt_id`` finishes; returns its history entry.

        Raises:
            PromptFailed: the prompt failed or was interrupted (the message names the node).
            TransientError: the server went away, or ``timeout_s`` passed.
        """
        deadline = time.monotonic() + timeout_s
        try:
            self._follow_websocket(prompt_id, deadline, on_event)
        except ImportError:
            pass
        while True:
            entry = self.history(prompt_id)
            status = (entry or {}).get("status") or {}
            if status.get("status_str") == "success":
                return entry
            if status.get("status_str") == "error":
                raise _failure(entry)
            if time.monotonic() > deadline:
                raise TransientError(f"prompt {prompt_id} did not finish within {timeout_s:.0f} s")
            time.sleep(poll_s)

    def _follow_websocket(self, prompt_id: str, deadline: float, on_event) -> None:
        """Relay websocket events of ``prompt_id`` until it finishes (history then has the result)."""
        from websockets.sync.client import connect  # optional dependency: polling otherwise

        url = self.server.replace("http", "ws", 1) + f"/ws?clientId={self.client_id}"
        try:
            with connect(url, open_timeout=self.timeout_s, max_size=None) as ws:
                while time.monotonic() < deadline:
                    if self.history(prompt_id) is not None:
                        return
                    try:
                        raw = ws.recv(timeout=1.0)
                    except TimeoutError:
                        continue
                    if isinstance(raw, bytes):
                        continue  # binary previews
                    msg = json.loads(raw)
                    data = msg.get("data") or {}
                    if data.get("prompt_id") not in (None, prompt_id):
                        continue
                    if on_event is not None and data.get("prompt_id") == prompt_id:
                        on_event(msg.get("type", ""), data)
                    kind = msg.get("type")
                    if kind in ("execution_error", "execution_interrupted", "execution_success"):
                        return
                    if kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
                        return
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, ConnectionRefusedError):
                raise TransientError(f"websocket to {self.server} refused") from None
            return  # fall back to polling history


def _describe_error(code: int, text: str, what: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return f"{what}: HTTP {code} {text[:300]}"
    err = body.get("error", {})
    lines = [f"{err.get('message', 'error')}: {err.get('details', '')}".strip(": ")]
    for node_id, node in (body.get("node_errors") or {}).items():
        for e in node.get("errors", []):
            lines.append(f"node {node_id} ({node.get('class_type')}): {e.get('message')}: {e.get('details')}")
    return f"{what} refused: " + "; ".join(lines)


def _failure(entry: dict) -> PromptFailed:
    for kind, data in entry.get("status", {}).get("messages", []):
        if kind == "execution_error":
            return PromptFailed(f"{data.get('node_type')} (node {data.get('node_id')}) failed: "
                                f"{str(data.get('exception_message', '')).strip()}",
                                str(data.get("node_type", "")), str(data.get("node_id", "")))
        if kind == "execution_interrupted":
            return PromptFailed(f"interrupted at {data.get('node_type')} (node {data.get('node_id')})",
                                str(data.get("node_type", "")), str(data.get("node_id", "")))
    return PromptFailed("the prompt failed without an error message")


def output_files(entry: dict) -> list[tuple[str, dict]]:
    """``(node_id, file dict)`` of every file in a history entry's outputs (images, videos, audio, 3D)."""
    files = []
    for node_id, ui in (entry.get("outputs") or {}).items():
        for key, items in ui.items():
            if key in ("text", "animated", "x3d_curves") or not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict) and "filename" in item:
                    files.append((node_id, item))
    return files
