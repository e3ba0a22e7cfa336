// Curve view for "Preview Motion Curves" (X3DTalker_MotionCurves): jaw opening and head pitch/yaw/roll in
// degrees over time, drawn on a canvas inside the node. The node's `ui` payload is
// {"x3d_curves": [{"fps", "frames", "time": [s...], "series": {"jaw": [...], "pitch": [...], ...}}]}.
// Core ComfyUI has no widget for plotted data, which is why this extension exists (COMFYUI-REFERENCE 2.1).
import { app } from "../../scripts/app.js";

const NODE_ID = "X3DTalker_MotionCurves";
const WIDGET_NAME = "x3d_motion_curves";
const MIN_HEIGHT = 260;
const SERIES = [
  { key: "jaw", label: "jaw opening", color: "#ffb020", panel: 0 },
  { key: "pitch", label: "pitch", color: "#4ea8ff", panel: 1 },
  { key: "yaw", label: "yaw", color: "#3ddc84", panel: 1 },
  { key: "roll", label: "roll", color: "#ff5c8a", panel: 1 },
];
const PANELS = [
  { title: "jaw opening (°)", weight: 0.42, minSpan: 4, includeZero: true },
  { title: "head pose (°)", weight: 0.58, minSpan: 4, includeZero: true },
];
const THEME = { bg: "#141414", plot: "#1c1c1c", grid: "#2c2c2c", axis: "#8a8a8a", text: "#c8c8c8", cursor: "#e0e0e0" };
const MARGIN = { left: 40, right: 10, top: 18, bottom: 20, gap: 10 };

/** The first curve payload of an `executed` message, or null when it is missing or malformed. */
export function curvesFromMessage(message) {
  const payload = message?.x3d_curves?.[0];
  if (!payload || !Array.isArray(payload.time) || typeof payload.series !== "object") return null;
  const n = payload.time.length;
  const series = {};
  for (const s of SERIES) {
    const values = payload.series[s.key];
    if (Array.isArray(values) && values.length === n) series[s.key] = values.map(Number);
  }
  return { fps: Number(payload.fps) || 0, frames: Number(payload.frames) || n, time: payload.time.map(Number), series };
}

/** Round tick values inside [lo, hi]: the finest step of 1, 2 or 5 times a power of ten that makes at most
 * `count` + 1 intervals (so a panel gets about `count` labelled lines, never just one). */
export function niceTicks(lo, hi, count = 4) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const mag = 10 ** Math.floor(Math.log10(span / Math.max(1, count + 1)));
  const step = [1, 2, 5, 10, 20].map((m) => m * mag).find((s) => span / s <= count + 1);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-6; v += step) ticks.push(Number((Math.round(v / step) * step).toPrecision(12)) + 0); // + 0: no "-0"
  return ticks;
}

/** Value range of the visible series of one panel, padded, at least `minSpan` wide (flat curves stay readable). */
function panelRange(curves, panelIndex, hidden) {
  const spec = PANELS[panelIndex];
  let lo = spec.includeZero ? 0 : Infinity;
  let hi = spec.includeZero ? 0 : -Infinity;
  for (const s of SERIES) {
    if (s.panel !== panelIndex || hidden.has(s.key) || !curves.series[s.key]) continue;
    for (const v of curves.series[s.key]) {
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (!Number.isFinite(lo)) return [-spec.minSpan / 2, spec.minSpan / 2];
  const pad = 0.08 * (hi - lo);
  lo -= pad;
  hi += pad;
  if (hi - lo < spec.minSpan) {
    const mid = (hi + lo) / 2;
    lo = mid - spec.minSpan / 2;
    hi = mid + spec.minSpan / 2;
  }
  return [lo, hi];
}

function formatNumber(v) {
  return Math.abs(v) >= 10 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
}

/** Index of the sample nearest to time `t` (times are sorted). */
function nearestIndex(time, t) {
  let lo = 0;
  let hi = time.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (time[mid] < t) lo = mid;
    else hi = mid;
  }
  return Math.abs(time[hi] - t) < Math.abs(time[lo] - t) ? hi : lo;
}

/** The widget's DOM: a legend row (click a series to hide it; shows values under the cursor) over a canvas. */
class CurveView {
  constructor() {
    this.curves = null;
    this.hidden = new Set();
    this.cursor = null; // time in seconds under the mouse, or null
    this.root = document.createElement("div");
    this.root.className = "x3d-curves";
    Object.assign(this.root.style, {
      display: "flex", flexDirection: "column", width: "100%", height: "100%", boxSizing: "border-box",
      background: THEME.bg, borderRadius: "6px", overflow: "hidden", font: "11px sans-serif", color: THEME.text,
    });
    this.legend = document.createElement("div");
    Object.assign(this.legend.style, { display: "flex", flexWrap: "wrap", gap: "4px 10px", padding: "4px 8px",
      alignItems: "center", flex: "0 0 auto", userSelect: "none" });
    this.chips = {};
    for (const s of SERIES) {
      const chip = document.createElement("span");
      chip.dataset.series = s.key;
      chip.title = `show / hide ${s.label}`;
      Object.assign(chip.style, { cursor: "pointer", whiteSpace: "nowrap" });
      chip.innerHTML = `<span style="display:inline-block;width:14px;height:3px;margin:0 4px 2px 0;` +
        `vertical-align:middle;background:${s.color}"></span><span>${s.label}</span> <b></b>`;
      chip.addEventListener("click", () => {
        if (this.hidden.has(s.key)) this.hidden.delete(s.key);
        else this.hidden.add(s.key);
        chip.style.opacity = this.hidden.has(s.key) ? "0.35" : "1";
        this.draw();
      });
      this.chips[s.key] = chip;
      this.legend.append(chip);
    }
    this.info = document.createElement("span");
    Object.assign(this.info.style, { marginLeft: "auto", color: THEME.axis });
    this.legend.append(this.info);
    this.canvas = document.createElement("canvas");
    this.canvas.className = "x3d-curves-canvas";
    Object.assign(this.canvas.style, { flex: "1 1 auto", minHeight: "0", width: "100%", display: "block" });
    this.root.append(this.legend, this.canvas);

    this.canvas.addEventListener("pointermove", (e) => {
      const t = this.timeAt(e.offsetX);
      if (t !== this.cursor) {
        this.cursor = t;
        this.draw();
      }
    });
    this.canvas.addEventListener("pointerleave", () => {
      this.cursor = null;
      this.draw();
    });
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.canvas);
    this.draw();
  }

  setCurves(curves) {
    this.curves = curves;
    this.cursor = null;
    this.draw();
  }

  dispose() {
    this.resizeObserver.disconnect();
  }

  /** Time (s) under canvas x (CSS pixels), or null outside the plot or without data. */
  timeAt(x) {
    const c = this.curves;
    const w = this.canvas.clientWidth - MARGIN.left - MARGIN.right;
    if (!c || c.time.length < 2 || w <= 0 || x < MARGIN.left || x > MARGIN.left + w) return null;
    const t0 = c.time[0];
    const t1 = c.time[c.time.length - 1];
    return c.time[nearestIndex(c.time, t0 + ((x - MARGIN.left) / w) * (t1 - t0))];
  }

  draw() {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth;
    const cssH = canvas.clientHeight;
    if (cssW < 2 || cssH < 2) return;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = THEME.bg;
    ctx.fillRect(0, 0, cssW, cssH);
    ctx.font = "10px sans-serif";
    const c = this.curves;
    if (!c || c.time.length === 0) {
      ctx.fillStyle = THEME.axis;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("Queue the graph to see jaw and head-pose curves", cssW / 2, cssH / 2);
      canvas.dataset.x3dDrawn = "";
      canvas.dataset.x3dPoints = "0";
      this.updateLegend(null);
      return;
    }
    const plotW = cssW - MARGIN.left - MARGIN.right;
    const usableH = cssH - MARGIN.top * PANELS.length - MARGIN.gap * (PANELS.length - 1) - MARGIN.bottom;
    const t0 = c.time[0];
    const t1 = c.time[c.time.length - 1];
    const tSpan = t1 - t0 || 1;
    const xOf = (t) => MARGIN.left + ((t - t0) / tSpan) * plotW;
    const drawn = [];
    let y = 0;
    PANELS.forEach((panel, p) => {
      y += MARGIN.top;
      const h = Math.max(10, usableH * panel.weight);
      const [lo, hi] = panelRange(c, p, this.hidden);
      const yOf = (v) => y + h - ((v - lo) / (hi - lo)) * h;
      ctx.fillStyle = THEME.plot;
      ctx.fillRect(MARGIN.left, y, plotW, h);
      // grid + value labels
      ctx.lineWidth = 1;
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (const v of niceTicks(lo, hi, Math.max(2, Math.floor(h / 28)))) {
        const yy = Math.round(yOf(v)) + 0.5;
        ctx.strokeStyle = v === 0 ? THEME.axis : THEME.grid;
        ctx.beginPath();
        ctx.moveTo(MARGIN.left, yy);
        ctx.lineTo(MARGIN.left + plotW, yy);
        ctx.stroke();
        ctx.fillStyle = THEME.axis;
        ctx.fillText(formatNumber(v), MARGIN.left - 4, yy);
      }
      for (const t of niceTicks(t0, t1, Math.max(2, Math.floor(plotW / 70)))) {
        const xx = Math.round(xOf(t)) + 0.5;
        ctx.strokeStyle = THEME.grid;
        ctx.beginPath();
        ctx.moveTo(xx, y);
        ctx.lineTo(xx, y + h);
        ctx.stroke();
      }
      ctx.fillStyle = THEME.text;
      ctx.textAlign = "left";
      ctx.textBaseline = "bottom";
      ctx.fillText(panel.title, MARGIN.left, y - 3);
      // curves, clipped to the panel
      ctx.save();
      ctx.beginPath();
      ctx.rect(MARGIN.left, y, plotW, h);
      ctx.clip();
      ctx.lineWidth = 1.75;
      ctx.lineJoin = "round";
      for (const s of SERIES) {
        const values = c.series[s.key];
        if (s.panel !== p || this.hidden.has(s.key) || !values) continue;
        ctx.strokeStyle = s.color;
        ctx.beginPath();
        values.forEach((v, i) => {
          const px = xOf(c.time[i]);
          const py = yOf(v);
          if (i === 0) ctx.moveTo(px, py);
          else ctx.lineTo(px, py);
        });
        ctx.stroke();
        if (values.length > 0) drawn.push(s.key);
      }
      ctx.restore();
      y += h + MARGIN.gap;
    });
    // time axis labels under the last panel
    const axisY = y - MARGIN.gap;
    ctx.fillStyle = THEME.axis;
    ctx.textBaseline = "top";
    ctx.textAlign = "center";
    for (const t of niceTicks(t0, t1, Math.max(2, Math.floor(plotW / 70)))) {
      ctx.fillText(`${formatNumber(t)} s`, xOf(t), axisY + 4);
    }
    if (this.cursor !== null) {
      const xx = Math.round(xOf(this.cursor)) + 0.5;
      ctx.strokeStyle = THEME.cursor;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(xx, MARGIN.top);
      ctx.lineTo(xx, axisY);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    // state for tests and for anyone scripting the page
    canvas.dataset.x3dDrawn = drawn.join(",");
    canvas.dataset.x3dPoints = String(c.time.length);
    canvas.dataset.x3dFrames = String(c.frames);
    this.updateLegend(this.cursor === null ? null : nearestIndex(c.time, this.cursor));
  }

  updateLegend(index) {
    const c = this.curves;
    for (const s of SERIES) {
      const values = c?.series[s.key];
      this.chips[s.key].querySelector("b").textContent =
        values && index !== null ? `${values[index].toFixed(1)}°` : "";
    }
    if (!c) this.info.textContent = "";
    else if (index !== null) this.info.textContent = `t = ${c.time[index].toFixed(2)} s`;
    else this.info.textContent = `${c.frames} frames · ${c.fps ? (c.frames / c.fps).toFixed(2) : "?"} s`;
  }
}

// ComfyUI serves this folder twice when the pack's folder name differs from its pyproject name (once for
// WEB_DIRECTORY, once for [tool.comfy] web), so the module can run twice: register only once.
const EXTENSION_NAME = "X3DTalker.MotionCurves";
/** The last curves each node showed, per workflow tab, for this page: the frontend does not always hand a
 * tab's outputs back when the user switches to it again (its stored outputs can come back empty). */
const shownCurves = new Map();
const MAX_SHOWN = 64;

function curvesKey(node) {
  const workflow = app.extensionManager?.workflow?.activeWorkflow;
  return `${workflow?.path ?? workflow?.key ?? ""}#${node.id}`;
}

function rememberCurves(node, curves) {
  const key = curvesKey(node);
  shownCurves.delete(key);
  shownCurves.set(key, curves);
  if (shownCurves.size > MAX_SHOWN) shownCurves.delete(shownCurves.keys().next().value);
}

/** Shows the curves the frontend still holds for a node, else the ones this page last showed for it in this
 * workflow (after a reload or a workflow tab switch). */
function restoreFromStoredOutputs(node, outputs) {
  const view = node.x3dCurveView;
  if (!view) return;
  const stored = curvesFromMessage(outputs?.[String(node.id)]);
  const curves = stored ?? (view.curves ? null : shownCurves.get(curvesKey(node)));
  if (curves) view.setCurves(curves);
}

if (!app.extensions?.some((e) => e.name === EXTENSION_NAME)) app.registerExtension({
  name: EXTENSION_NAME,
  loadedGraphNode(node) {
    if (node.type !== NODE_ID) return;
    restoreFromStoredOutputs(node, app.nodeOutputs);
    // On a workflow tab switch the frontend may hand back the tab's stored outputs only after it has
    // configured the nodes: look again once the graph has settled.
    requestAnimationFrame(() => restoreFromStoredOutputs(node, app.nodeOutputs));
  },
  onNodeOutputsUpdated(outputs) {
    for (const node of app.graph?._nodes ?? []) {
      if (node.type === NODE_ID) restoreFromStoredOutputs(node, outputs);
    }
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name !== NODE_ID) return;

    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      const view = new CurveView();
      const widget = this.addDOMWidget(WIDGET_NAME, "x3d_curves", view.root, {
        serialize: false,
        getMinHeight: () => MIN_HEIGHT,
      });
      widget.serialize = false;
      this.x3dCurveView = view;
      this.setSize([Math.max(this.size[0], 520), Math.max(this.size[1], this.computeSize()[1])]);
      return result;
    };

    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const curves = curvesFromMessage(message);
      if (curves) {
        this.x3dCurveView?.setCurves(curves);
        rememberCurves(this, curves);
      }
    };

    const onRemoved = nodeType.prototype.onRemoved;
    nodeType.prototype.onRemoved = function () {
      this.x3dCurveView?.dispose();
      return onRemoved?.apply(this, arguments);
    };
  },
});
