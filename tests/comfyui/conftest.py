"""A real ComfyUI server with the pack linked in (``COMFYUI_DIR`` or ``COMFYUI_PATH`` = a ComfyUI checkout).

``COMFYUI_PYTHON`` names the interpreter with ComfyUI's requirements (default: this one). The server
runs on 127.0.0.1 on a free port with its own input/output/temp/user folders and an extra model-paths
file that adds: a tiny generator as ``3dxtalker_bootstrap.safetensors`` and empty placeholder files
named like the Wan 2.2 Fun-Control weights (so workflow (c) validates and fails only when loading them).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
COMFY = os.environ.get("COMFYUI_DIR") or os.environ.get("COMFYUI_PATH")
WAN_FILES = {
    "diffusion_models": ["wan2.2_fun_control_high_noise_14B_fp8_scaled.safetensors",
                         "wan2.2_fun_control_low_noise_14B_fp8_scaled.safetensors",
                         "wan2.2_fun_control_5B_bf16.safetensors"],
    "text_encoders": ["umt5_xxl_fp8_e4m3fn_scaled.safetensors"],
    "vae": ["wan_2.1_vae.safetensors", "wan2.2_vae.safetensors"],
}

SKIP_REASON = "set COMFYUI_DIR (or COMFYUI_PATH) to a Comfy-Org/ComfyUI checkout to run the real-server tests"
HAVE_COMFY = bool(COMFY) and (Path(COMFY) / "main.py").is_file()
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _link_pack(comfy: Path) -> Path | None:
    """Link the pack into custom_nodes unless a link to this repo is already there; returns a link to remove."""
    custom = comfy / "custom_nodes"
    for entry in custom.iterdir():
        if entry.resolve() == REPO:
            return None
    link = custom / "ComfyUI-3DXTalker-pytest"
    link.symlink_to(REPO, target_is_directory=True)
    return link


def make_portrait(path: Path, size: int = 384) -> Path:
    """A synthetic frontal head (MediaPipe detects it) rendered with the development FLAME head."""
    import torch
    from PIL import Image

    from x3dtalker_core.flame import load_flame_model, load_masks
    from x3dtalker_core.reconstruct.overlay import render_head

    model = load_flame_model()
    with torch.no_grad():
        v = model(pose=torch.zeros(1, 6))[0].numpy()
    img = render_head(v, model.faces.numpy(), np.array([4.5, 0, 0.01]), np.array([0, 0, float(size)]), size, size,
                      load_masks())
    Image.fromarray(img).save(path)
    return path


def make_speech(path: Path, seconds: float = 2.0, sr: int = 16000) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    wave = 0.4 * np.sin(2 * np.pi * 140 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    sf.write(path, wave.astype(np.float32), sr)
    return path


def make_generator(path: Path) -> Path:
    """A tiny random generator for the offline mel + prosody features (dims read from the encoders)."""
    import torch

    from x3dtalker_core.audio import load_encoder
    from x3dtalker_core.model import GeneratorConfig, ModelConfig, build_generator, save_checkpoint

    cfg = GeneratorConfig(
        model=ModelConfig(hidden=32, heads=2, backbone_blocks=1, identity_blocks=1, pose_blocks=1, expression_blocks=1,
                          ff_mult=2, timestep_dim=16, linguistic_dim=load_encoder("mel", "linguistic").dim,
                          emotion_dim=load_encoder("prosody", "emotion").dim),
        window=50)
    torch.manual_seed(0)
    gen = build_generator(cfg)
    return save_checkpoint(path, gen.network, gen.config, {"training": {"note": "random weights for tests"}})


class Server:
    def __init__(self, url: str, root: Path, log: Path):
        self.url, self.root, self.log = url, root, log

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def input(self) -> Path:
        return self.root / "input"


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    if not HAVE_COMFY:
        pytest.skip(SKIP_REASON)
    folder = tmp_path_factory.mktemp("media")
    return {"image": make_portrait(folder / "x3dtalker_portrait.png"),
            "audio": make_speech(folder / "x3dtalker_speech.wav")}


@pytest.fixture(scope="session")
def server(tmp_path_factory, media):
    if not HAVE_COMFY:
        pytest.skip(SKIP_REASON)
    comfy = Path(COMFY).resolve()
    root = tmp_path_factory.mktemp("comfy")
    models = root / "models"
    (models / "3dxtalker").mkdir(parents=True)
    make_generator(models / "3dxtalker" / "3dxtalker_bootstrap.safetensors")
    for folder, names in WAN_FILES.items():
        (models / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (models / folder / name).write_bytes(b"")
    extra = root / "extra_model_paths.yaml"
    extra.write_text(f"x3dtalker_pytest:\n    base_path: {models}\n"
                     + "".join(f"    {k}: {k}\n" for k in ("3dxtalker", *WAN_FILES)))
    for sub in ("input", "output", "temp", "user"):
        (root / sub).mkdir()
    for path in media.values():
        shutil.copy(path, root / "input" / path.name)
    port = _free_port()
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
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ComfyUI exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url + "/system_stats", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"ComfyUI did not start in 180 s:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield Server(url, root, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if link is not None:
            link.unlink()
