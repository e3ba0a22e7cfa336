"""Start a real ComfyUI server with the pack linked in (shared by the real-server tests and ``bench/``).

``COMFYUI_DIR`` (or ``COMFYUI_PATH``) names a Comfy-Org/ComfyUI checkout, ``COMFYUI_PYTHON`` the interpreter with
ComfyUI's requirements and the pack's (default: this one). The server runs on 127.0.0.1 on a free port with its
own input/output/temp/user folders. Nothing is put into ``models/3dxtalker``: the pack must find its bundled
checkpoint itself, as on a fresh install. Only empty placeholder files named like the Wan 2.2 Fun-Control weights
are added (so the Wan templates pass validation and fail only when loading them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
COMFY = os.environ.get("COMFYUI_DIR") or os.environ.get("COMFYUI_PATH")
HAVE_COMFY = bool(COMFY) and (Path(COMFY) / "main.py").is_file()
SKIP_REASON = "set COMFYUI_DIR (or COMFYUI_PATH) to a Comfy-Org/ComfyUI checkout to run the real-server tests"
WAN_FILES = {
    "diffusion_models": ["wan2.2_fun_control_high_noise_14B_fp8_scaled.safetensors",
                         "wan2.2_fun_control_low_noise_14B_fp8_scaled.safetensors",
                         "wan2.2_fun_control_5B_bf16.safetensors"],
    "text_encoders": ["umt5_xxl_fp8_e4m3fn_scaled.safetensors"],
    "vae": ["wan_2.1_vae.safetensors", "wan2.2_vae.safetensors"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _link_pack(comfy: Path) -> Path | None:
    """Link the pack into custom_nodes unless a link to this repo is already there; returns a link to remove."""
    custom = comfy / "custom_nodes"
    for entry in custom.iterdir():
        if entry.resolve() == REPO:
            return None
    link = custom / f"ComfyUI-3DXTalker-pytest-{os.getpid()}"
    link.symlink_to(REPO, target_is_directory=True)
    return link


class Server:
    def __init__(self, url: str, root: Path, log: Path, proc: subprocess.Popen):
        self.url, self.root, self.log, self.proc = url, root, log, proc

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path: str, body: dict | None = None):
        req = urllib.request.Request(self.url + path, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
        return json.loads(data) if data else None

    def memory_kb(self) -> dict[str, int]:
        """The server process' resident memory now and its peak (``VmRSS``, ``VmHWM`` of /proc, in kB)."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return fields

    def reset_peak_memory(self) -> None:
        """Restart the kernel's peak-RSS counter (``VmHWM``) of the server process."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def models(self) -> Path:
        return self.root / "models"


@contextlib.contextmanager
def comfy_server(root: Path, inputs: list[Path] = (), timeout_s: float = 180) -> Iterator[Server]:
    """A running ComfyUI with the pack, its folders under ``root``; ``inputs`` are copied into ``input/``."""
    if not HAVE_COMFY:
        raise RuntimeError(SKIP_REASON)
    comfy = Path(COMFY).resolve()
    models = root / "models"
    for folder, names in WAN_FILES.items():
        (models / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (models / folder / name).write_bytes(b"")
    extra = root / "extra_model_paths.yaml"
    extra.write_text(f"x3dtalker_pytest:\n    base_path: {models}\n" + "".join(f"    {k}: {k}\n" for k in WAN_FILES))
    for sub in ("input", "output", "temp", "user"):
        (root / sub).mkdir(exist_ok=True)
    for path in inputs:
        shutil.copy(path, root / "input" / Path(path).name)
    port = free_port()
    link = _link_pack(comfy)
    log = root / "comfy.log"
    python = os.environ.get("COMFYUI_PYTHON", sys.executable)
    cmd = [python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch",
           "--extra-model-paths-config", str(extra), "--input-directory", str(root / "input"),
           "--output-directory", str(root / "output"), "--temp-directory", str(root / "temp"),
           "--user-directory", str(root / "user")]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(cmd, cwd=comfy, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url + "/system_stats", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ComfyUI did not start in {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield Server(url, root, log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if link is not None:
            link.unlink()
