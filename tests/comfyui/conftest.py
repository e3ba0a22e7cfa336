"""Fixtures for the real-ComfyUI tests: sample media and a running server (see ``comfy_server.py``).

The server gets nothing in ``models/3dxtalker``: like a fresh install, the pack must offer and use its own
bundled checkpoint.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from browser_cdp import Browser, find_chromium
from comfy_server import HAVE_COMFY, REPO, SKIP_REASON, comfy_server

CHROMIUM = find_chromium()
APP = "window.comfyAPI?.app?.app"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


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
    try:
        with comfy_server(tmp_path_factory.mktemp("comfy"), list(media.values())) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def page(request):
    """A headless Chromium on the server's UI, one per test module (so modules don't see each other's tabs)."""
    if CHROMIUM is None:  # checked before the (slow) server fixture starts
        pytest.skip("no Chromium found (set CHROMIUM or install chromium) to run the web-extension test")
    server = request.getfixturevalue("server")
    # A fresh user folder opens the template browser over the canvas; mark the tutorial as done.
    done = urllib.request.Request(server.url + "/settings/Comfy.TutorialCompleted", data=b"true", method="POST")
    urllib.request.urlopen(done, timeout=10).read()
    with Browser(server.url, CHROMIUM) as browser:
        browser.server = server  # tests take the server from here, so a missing Chromium skips before it starts
        browser.wait_for(f"!!({APP}?.graph && window.LiteGraph?.registered_node_types?.X3DTalker_MotionCurves)", 120)
        yield browser
