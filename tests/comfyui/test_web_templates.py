"""The shipped templates as a user opens them in a real ComfyUI page (headless Chromium).

Each UI graph of ``example_workflows/`` is loaded into the frontend: every node must be known, no two nodes may
overlap (title bars included), every node must be at least as large as the frontend says its widgets need, and
the 3D preview must have a usable viewport. A screenshot of each template is kept in pytest's tmp folder (and
copied to ``$X3DTALKER_SCREENSHOT_DIR`` when set) for a look.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from comfy_server import REPO

APP = "window.comfyAPI?.app?.app"
TEMPLATES = sorted((REPO / "example_workflows").glob("*.json"))

LAYOUT = f"""(() => {{
  const app = {APP};
  const title = window.LiteGraph.NODE_TITLE_HEIGHT;
  return app.graph._nodes.map(n => {{
    const need = n.computeSize();
    return {{ id: n.id, type: n.type, unknown: !!n.has_errors || !window.LiteGraph.registered_node_types[n.type],
              box: [n.pos[0], n.pos[1] - title, n.size[0], n.size[1] + title], size: [n.size[0], n.size[1]],
              need: [need[0], need[1]] }};
  }});
}})()"""


def _overlap(a, b) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.stem for t in TEMPLATES])
def test_template_opens_without_overlaps(page, template, tmp_path):
    graph = json.loads(template.read_text())
    page.evaluate(f"{APP}.loadGraphData({json.dumps(graph)}, true, true, {json.dumps(template.stem)})")
    time.sleep(1.5)  # let DOM widgets (image/video/3D previews) size themselves
    nodes = page.evaluate(LAYOUT)
    assert len(nodes) == len(graph["nodes"])
    assert not [n["type"] for n in nodes if n["unknown"]]
    for n in nodes:
        assert n["size"][0] + 1 >= n["need"][0] and n["size"][1] + 1 >= n["need"][1], n
    clashes = [(a["type"], b["type"]) for i, a in enumerate(nodes) for b in nodes[i + 1:] if _overlap(a["box"], b["box"])]
    assert not clashes, clashes
    for n in nodes:
        if n["type"].startswith("Preview3D"):
            assert n["size"][0] >= 400 and n["size"][1] >= 400, n          # room for the 3D viewport
    page.evaluate(f"(() => {{ const c = {APP}.canvas; c.ds.scale = 0.45; c.ds.offset = [20, 60]; "
                  f"c.setDirty(true, true); }})()")
    time.sleep(1.0)
    shot = page.screenshot(tmp_path / f"{template.stem}.png")
    if os.environ.get("X3DTALKER_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["X3DTALKER_SCREENSHOT_DIR"]) / shot.name)
