"""Headless Chromium driven over the DevTools protocol (``websockets`` only, no npm), for the web-extension tests.

``find_chromium()`` locates a browser (``CHROMIUM`` env, then chromium / google-chrome on PATH);
``Browser(url)`` starts it on a private profile with one page open at ``url``; ``evaluate`` runs JavaScript
in the page (awaiting promises) and returns its JSON value; ``screenshot`` writes a PNG.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--mute-audio")


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((p for p in map(shutil.which, BROWSER_NAMES) if p), None)


class JavaScriptError(RuntimeError):
    """An exception thrown by page JavaScript (message = its description)."""


class Browser:
    def __init__(self, url: str, executable: str, width: int = 1400, height: int = 900, timeout_s: float = 60):
        from websockets.sync.client import connect

        self.profile = tempfile.mkdtemp(prefix="x3d-chromium-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.log = Path(self.profile) / "chromium.log"
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", f"--remote-debugging-port={port}",
             f"--window-size={width},{height}", url],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        deadline = time.monotonic() + timeout_s
        page = None
        while page is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    page = next((t for t in json.loads(r.read()) if t.get("type") == "page"), None)
            except OSError:
                pass
            if page is None:
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("chromium's DevTools endpoint did not come up")
                time.sleep(0.3)
        # Entered as a context manager (websockets >= 17.1 warns otherwise); left in close().
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=timeout_s).__enter__()
        self.ids = itertools.count(1)
        self.console: list[str] = []
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def send(self, method: str, params: dict | None = None, timeout_s: float = 120) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("method") == "Runtime.consoleAPICalled":
                args = msg["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif msg.get("method") == "Runtime.exceptionThrown":
                details = msg["params"]["exceptionDetails"]
                self.console.append(f"exception: {details.get('text', '')} "
                                    f"{details.get('exception', {}).get('description', '')}")
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def evaluate(self, expression: str, timeout_s: float = 120):
        """Value of a JavaScript expression (promises awaited; the value must be JSON-serialisable)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True, "timeout": int(timeout_s * 1000)},
                           timeout_s=timeout_s + 5)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise JavaScriptError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 60, interval_s: float = 0.5):
        """Polls until the expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout_s} s waiting for: {expression}")
            time.sleep(interval_s)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.__exit__(None, None, None)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
