"""The web extension (``web/motion_curves.js``) in a real ComfyUI page, in headless Chromium.

A graph Load FLAME Params -> Preview Motion Curves is loaded into the UI and queued from the page; the
test then reads the curve canvas' pixels: every series (jaw, pitch, yaw, roll) must be drawn in its legend
colour across the time axis, hiding a series from the legend must remove it, and hovering must show the
values under the cursor. The screenshot is kept in pytest's tmp folder (and copied to
``$X3DTALKER_SCREENSHOT_DIR`` when set). Needs ``COMFYUI_DIR`` (see conftest.py) and a Chromium
(``CHROMIUM`` or chromium / google-chrome on PATH).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest


COMFY = os.environ.get("COMFYUI_DIR") or os.environ.get("COMFYUI_PATH")
pytestmark = pytest.mark.skipif(not COMFY or not (Path(COMFY) / "main.py").is_file(),
                                reason="set COMFYUI_DIR (or COMFYUI_PATH) to a Comfy-Org/ComfyUI checkout to run "
                                "the real-server tests")
FPS = 25
FRAMES = 100

APP = "window.comfyAPI?.app?.app"
CANVAS = "document.querySelector('canvas.x3d-curves-canvas')"
# Pixels of the curve canvas whose colour is within `tol` of each legend swatch colour, with their x extent
# as a fraction of the canvas width.
COUNT_SERIES_PIXELS = f"""(() => {{
  const canvas = {CANVAS};
  const ctx = canvas.getContext('2d');
  const {{ data, width, height }} = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const out = {{}};
  for (const chip of document.querySelectorAll('.x3d-curves span[data-series]')) {{
    const rgb = getComputedStyle(chip.firstElementChild).backgroundColor.match(/\\d+/g).map(Number);
    let count = 0, minX = width, maxX = -1, minY = height, maxY = -1;
    for (let i = 0; i < data.length; i += 4) {{
      const d = Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]);
      if (d < 60) {{
        const p = i / 4, x = p % width, y = Math.floor(p / width);
        count++; minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      }}
    }}
    out[chip.dataset.series] = {{ count, xSpan: (maxX - minX) / width, ySpan: (maxY - minY) / height }};
  }}
  return out;
}})()"""


def _write_sequence(path: Path) -> dict[str, np.ndarray]:
    """A clip with known curves (degrees): jaw 0..20 at 1.5 Hz, pitch/yaw/roll sines of 8/15/4 degrees."""
    from x3dtalker_core.params import HEAD_POSE, JAW_POSE, PARAM_DIM, FlameSequence

    t = np.arange(FRAMES) / FPS
    curves = {"jaw": 10 * (1 - np.cos(2 * np.pi * 1.5 * t)), "pitch": 8 * np.sin(2 * np.pi * 0.5 * t),
              "yaw": 15 * np.sin(2 * np.pi * 0.25 * t), "roll": 4 * np.cos(2 * np.pi * 0.75 * t)}
    params = np.zeros((FRAMES, PARAM_DIM), np.float32)
    params[:, JAW_POSE.start] = np.radians(curves["jaw"])  # rotation about x: the jaw opens
    # Small angles, so the node's Euler decomposition returns nearly the same curves.
    params[:, HEAD_POSE.start] = np.radians(curves["pitch"])
    params[:, HEAD_POSE.start + 1] = np.radians(curves["yaw"])
    params[:, HEAD_POSE.start + 2] = np.radians(curves["roll"])
    FlameSequence(params, fps=FPS).save(path)
    return curves


def test_extension_is_served_and_registered_once(page):
    scripts = page.server.get("/extensions")
    assert any(s.endswith("/motion_curves.js") for s in scripts), scripts
    names = page.evaluate(f"{APP}.extensions.map(e => e.name)")
    assert names.count("X3DTalker.MotionCurves") == 1, names


def test_curves_drawn_after_running_the_graph_in_the_ui(page, tmp_path):
    curves = _write_sequence(tmp_path / "curves.npz")
    graph = {"1": {"class_type": "X3DTalker_LoadFlameParams", "inputs": {"path": str(tmp_path / "curves.npz"),
                                                                          "frame": 0}},
             "2": {"class_type": "X3DTalker_MotionCurves", "inputs": {"sequence": ["1", 1]}}}
    page.evaluate("""(() => {
      window.__x3d = { error: null, executed: null };
      const api = window.comfyAPI.api.api;
      api.addEventListener('execution_error', (e) => { window.__x3d.error = e.detail.exception_message; });
      api.addEventListener('executed', (e) => { if (String(e.detail.node) === '2') window.__x3d.executed = e.detail.output; });
    })()""")
    page.evaluate(f"{APP}.loadApiJson({json.dumps(graph)}, 'x3d_motion_curves_test')")
    assert page.evaluate(f"{CANVAS}.dataset.x3dDrawn") == ""  # placeholder text before the run
    page.evaluate(f"{APP}.queuePrompt(0, 1)")
    page.wait_for(f"window.__x3d.error || {CANVAS}.dataset.x3dDrawn", timeout_s=240, interval_s=1)
    assert page.evaluate("window.__x3d.error") is None
    payload = page.evaluate("window.__x3d.executed")["x3d_curves"][0]
    assert payload["frames"] == FRAMES and len(payload["time"]) == FRAMES
    np.testing.assert_allclose(payload["series"]["jaw"], curves["jaw"], atol=0.05)
    for name in ("pitch", "yaw", "roll"):  # Euler angles of a combined rotation: close to, not equal to, the inputs
        np.testing.assert_allclose(payload["series"][name], curves[name], atol=1.0)

    canvas = page.evaluate(f"({{drawn: {CANVAS}.dataset.x3dDrawn, points: {CANVAS}.dataset.x3dPoints, "
                           f"frames: {CANVAS}.dataset.x3dFrames}})")
    assert canvas == {"drawn": "jaw,pitch,yaw,roll", "points": str(FRAMES), "frames": str(FRAMES)}

    page.evaluate(f"""(() => {{ const a = {APP}; const n = a.graph._nodes.find(n => n.type === 'X3DTalker_MotionCurves');
      a.canvas.ds.scale = 1; a.canvas.centerOnNode(n); a.canvas.setDirty(true, true); }})()""")
    time.sleep(1.0)  # let the canvas and the DOM widget positions settle before the screenshot
    shot = page.screenshot(tmp_path / "motion_curves.png")
    if os.environ.get("X3DTALKER_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["X3DTALKER_SCREENSHOT_DIR"]) / shot.name)
    print(f"screenshot: {shot}")

    pixels = page.evaluate(COUNT_SERIES_PIXELS)
    for name in curves:
        # A curve across the whole time axis: many pixels, spanning most of the width and some height.
        assert pixels[name]["count"] > 150, (name, pixels)
        assert pixels[name]["xSpan"] > 0.7, (name, pixels)  # plot = 90 % of the width; crossings hide bits
        assert pixels[name]["ySpan"] > 0.05, (name, pixels)
    # The jaw swings 0..20 degrees over its own panel: taller on screen than the 4-degree roll.
    assert pixels["jaw"]["ySpan"] > pixels["roll"]["ySpan"]

    # Hiding a series from the legend removes it from the canvas; showing it again brings it back.
    page.evaluate("document.querySelector('.x3d-curves span[data-series=\"jaw\"]').click()")
    hidden = page.evaluate(COUNT_SERIES_PIXELS)
    assert hidden["jaw"]["count"] < 0.05 * pixels["jaw"]["count"], hidden
    assert page.evaluate(f"{CANVAS}.dataset.x3dDrawn") == "pitch,yaw,roll"
    page.evaluate("document.querySelector('.x3d-curves span[data-series=\"jaw\"]').click()")
    assert page.evaluate(f"{CANVAS}.dataset.x3dDrawn") == "jaw,pitch,yaw,roll"

    # Hovering shows the values at the time under the cursor (here 30 % into the clip, about 1.2 s).
    left, top, width, height = page.evaluate(
        f"(() => {{ const r = {CANVAS}.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }})()")
    plot_left, plot_right = 40, 10  # MARGIN.left / MARGIN.right in motion_curves.js
    x = left + plot_left + 0.3 * (width - plot_left - plot_right)
    page.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": top + height / 2})
    readout = page.wait_for("(() => { const v = [...document.querySelectorAll('.x3d-curves span[data-series] b')]"
                            ".map(e => e.textContent); return v.every(s => s.endsWith('°')) && v; })()", 10, 0.2)
    index = int(round(0.3 * (FRAMES - 1)))
    for name, text in zip(("jaw", "pitch", "yaw", "roll"), readout):
        assert abs(float(text.rstrip("°")) - curves[name][index]) < 1.5, (name, text, curves[name][index])

    # Switching workflow tabs re-creates the nodes; the curves come back (from the frontend's stored outputs, or the
    # extension's own per-tab memory when the frontend hands the tab back without them).
    click_tab = ("[...document.querySelectorAll('.workflow-tabs *')].find(e => e.children.length === 0 && "
                 "e.textContent.trim() === {!r}).click()")
    page.evaluate(click_tab.format("Unsaved Workflow"))
    page.wait_for(f"!{CANVAS}", 10, 0.2)
    page.evaluate(click_tab.format("x3d_motion_curves_test"))
    # The tab restores its own viewport, which may leave the node (and so its DOM widget) off screen: bring
    # it into view, as a user scrolling to it would, then the stored curves must be drawn without a re-run.
    center = (f"(() => {{ const a = {APP}; const n = a.graph?._nodes.find(n => n.type === 'X3DTalker_MotionCurves');"
              " if (n) { a.canvas.centerOnNode(n); a.canvas.setDirty(true, true); } return !!n; })()")
    page.wait_for(center, 20, 0.2)
    try:
        drawn = page.wait_for(f"{CANVAS}?.dataset.x3dDrawn", 30, 0.2)
    except TimeoutError:
        state = page.evaluate(f"""(() => {{ const a = {APP}; return {{
          nodes: a.graph?._nodes.map(n => [n.id, n.type]), outputs: Object.keys(a.nodeOutputs || {{}}),
          canvas: !!{CANVAS}, size: {CANVAS} ? [{CANVAS}.clientWidth, {CANVAS}.clientHeight] : null,
          curves: !!a.graph?._nodes.find(n => n.type === 'X3DTalker_MotionCurves')?.x3dCurveView?.curves }}; }})()""")
        raise AssertionError(f"stored curves not drawn after the tab switch: {state}") from None
    assert drawn == "jaw,pitch,yaw,roll"
