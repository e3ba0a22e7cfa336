"""ARKit-52 blendshapes on FLAME topology, expression spaces, and FLAME <-> ARKit conversion.

A sequence's expression coefficients speak one of two spaces (``FlameSequence.metadata
["expression_space"]``):

* ``"arkit"``: the expression columns are named ARKit shapes, in :data:`ARKIT_EXPRESSION_NAMES` order
  (the development head's layout: ARKit-52 alphabetically, without the jaw shapes, which FLAME moves
  with the jaw joint, and ``tongueOut``, which FLAME has no tongue for). Coefficient 1 is the full shape.
* ``"flame-pca"``: the coefficients of the loaded model's own (unnamed) expression directions.

The ARKit shapes themselves are vertex offsets on the 5023 FLAME vertices (LAM's ARKit blendshapes,
MIT, see ``NOTICE``), shipped in the repository in a compact form (:func:`derive_arkit_shapes_asset`).
They give two maps:

* :func:`arkit_to_model`: ARKit weights -> a model's expression coefficients + jaw axis-angle, a
  least-squares fit on vertex displacements, once per model.
* :func:`solve_arkit`: FLAME motion -> ARKit-52 weights in [0, 1], a box-constrained least squares over
  the whole clip with temporal and left/right regularisation (ADMM; the quadratic step is solved exactly
  in the DCT x eigen basis, so a clip of any length costs a few FFTs per iteration).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import InvalidFileError, X3DError
from ..io_utils import atomic_path

ARKIT52_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight",
    "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
"""Apple's 52 ``ARFaceAnchor.BlendShapeLocation`` names in ARKit's (and Live Link's streaming) enum order."""

JAW_SHAPES: tuple[str, ...] = ("jawForward", "jawLeft", "jawRight", "jawOpen")
"""ARKit shapes that FLAME expresses with its jaw joint rather than with expression directions."""

ARKIT_EXPRESSION_NAMES: tuple[str, ...] = tuple(
    sorted(n for n in ARKIT52_NAMES if n not in JAW_SHAPES and n != "tongueOut")
)
"""The 47 expression columns of the ``"arkit"`` space, in order (the development head's layout)."""

ARKIT_SPACE = "arkit"
PCA_SPACE = "flame-pca"
EXPRESSION_SPACES = (ARKIT_SPACE, PCA_SPACE)

ASSET_PATH = Path(__file__).resolve().parent / "data" / "arkit51_flame_deltas.npz"
_STEP_M = 2e-6
"""The shipped asset stores offsets as int16 multiples of 2 um (rounding error <= 1 um; LAM's largest is 44 mm)."""


def mirror_name(name: str) -> str:
    """The left/right counterpart of an ARKit name (itself for midline shapes)."""
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name


DIRECTIONAL_SHAPES: tuple[str, ...] = (
    "jawLeft", "jawRight", "mouthLeft", "mouthRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
)
"""Sideways motions: a left/right pair of these is a direction, not one action on two sides."""


def symmetric_pairs(names: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (left, right) of ``names`` that are one action on both sides (mirror also in ``names``).

    Sideways motions (:data:`DIRECTIONAL_SHAPES`) are left out: pulling mouthLeft towards mouthRight
    would penalise every lateral mouth or gaze movement.
    """
    index = {n: i for i, n in enumerate(names)}
    return [
        (i, index[mirror_name(n)])
        for i, n in enumerate(names)
        if n.endswith("Left") and mirror_name(n) in index and n not in DIRECTIONAL_SHAPES
    ]


# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArkitShapes:
    """ARKit blendshapes as vertex offsets on FLAME topology.

    Attributes:
        names: K ARKit names (a subset of :data:`ARKIT52_NAMES`; LAM's set has no ``tongueOut``).
        deltas: (K, 5023, 3) float32 offsets in metres, added to a neutral mesh with weight 0..1.
    """

    names: tuple[str, ...]
    deltas: np.ndarray

    def __post_init__(self) -> None:
        deltas = np.asarray(self.deltas, np.float32)
        if deltas.ndim != 3 or deltas.shape[0] != len(self.names) or deltas.shape[2] != 3:
            raise X3DError(f"ARKit deltas must be ({len(self.names)}, V, 3), got {deltas.shape}")
        unknown = [n for n in self.names if n not in ARKIT52_NAMES]
        if unknown:
            raise X3DError(f"not ARKit blendshape names: {unknown}")
        deltas.setflags(write=False)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "deltas", deltas)

    @property
    def num_vertices(self) -> int:
        return self.deltas.shape[1]

    def select(self, names: Sequence[str]) -> np.ndarray:
        """(len(names), V, 3) offsets of ``names``; names without a shape (``tongueOut``) get zeros."""
        index = {n: i for i, n in enumerate(self.names)}
        unknown = [n for n in names if n not in ARKIT52_NAMES]
        if unknown:
            raise X3DError(f"not ARKit blendshape names: {unknown} (see x3dtalker_core.flame.arkit.ARKIT52_NAMES)")
        out = np.zeros((len(names), self.num_vertices, 3), np.float32)
        for row, name in enumerate(names):
            if name in index:
                out[row] = self.deltas[index[name]]
        return out


def derive_arkit_shapes_asset(source: str | Path, dest: str | Path = ASSET_PATH) -> Path:
    """Write the compact shipped form of LAM's ARKit-51 FLAME-topology deltas.

    ``source`` is ``lam_p2-1_arkit51_flame5023.npz`` (keys ``names``, ``deltas`` (51, 5023, 3) m). Only
    vertices that any shape moves are kept, offsets are int16 multiples of 2 um, shapes are sorted in
    ARKit enum order. This is how ``flame/data/arkit51_flame_deltas.npz`` was made.
    """
    with np.load(source, allow_pickle=False) as src:
        names = [str(n) for n in src["names"]]
        deltas = np.asarray(src["deltas"], np.float64)
    order = sorted(range(len(names)), key=lambda i: ARKIT52_NAMES.index(names[i]))
    names = [names[i] for i in order]
    deltas = deltas[order]
    moved = np.flatnonzero(np.abs(deltas).max(axis=(0, 2)) > 0)
    step = _STEP_M
    quantised = np.round(deltas[:, moved] / step)
    if np.abs(quantised).max() > np.iinfo(np.int16).max:
        raise X3DError(f"{source}: an offset exceeds {np.iinfo(np.int16).max * step:.3f} m; not ARKit deltas")
    with atomic_path(dest, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                names=np.asarray(names),
                num_vertices=np.asarray(deltas.shape[1], np.int64),
                vertex_index=moved.astype(np.int32),
                offsets=quantised.astype(np.int16),
                step_m=np.asarray(step, np.float64),
                source=np.asarray("LAM ARKit blendshapes (aigc3d/LAM_WebRender asset/arkit/p2-1, MIT), FLAME topology"),
            )
    return Path(dest)


@lru_cache(maxsize=4)
def load_arkit_shapes(path: str | Path = ASSET_PATH) -> ArkitShapes:
    """The shipped ARKit shapes (51 of the 52; no ``tongueOut``) on FLAME's 5023 vertices."""
    path = Path(path)
    if not path.is_file():
        raise InvalidFileError(f"ARKit shape asset missing: {path} (reinstall the package)")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = tuple(str(n) for n in data["names"])
            n_verts = int(data["num_vertices"])
            index = data["vertex_index"].astype(np.int64)
            offsets = data["offsets"].astype(np.float32) * np.float32(data["step_m"])
    except (OSError, KeyError, ValueError) as exc:
        raise InvalidFileError(f"cannot read ARKit shape asset {path}: {exc}") from None
    deltas = np.zeros((len(names), n_verts, 3), np.float32)
    deltas[:, index] = offsets
    return ArkitShapes(names, deltas)


# ----------------------------------------------------------------------------------------------
def expression_space_of(model) -> str:
    """``"arkit"`` when ``model``'s expression directions are the named ARKit shapes, else ``"flame-pca"``."""
    names = tuple(getattr(model, "expression_names", ()) or ())
    k = len(ARKIT_EXPRESSION_NAMES)
    return ARKIT_SPACE if names[:k] == ARKIT_EXPRESSION_NAMES else PCA_SPACE


def _check_space(space: str) -> None:
    if space not in EXPRESSION_SPACES:
        raise X3DError(f"unknown expression space '{space}'; use one of {EXPRESSION_SPACES}")


def model_fingerprint(model) -> str:
    """A digest of the arrays that decide the model's geometry (cache key, independent of the file name)."""
    h = hashlib.sha256()
    for name in ("v_template", "exp_dirs", "pose_dirs", "J_regressor", "lbs_weights"):
        h.update(np.ascontiguousarray(getattr(model, name).detach().cpu().numpy()).tobytes())
    return h.hexdigest()


_MAP_CACHE: dict[tuple, np.ndarray] = {}
_MAP_LOCK = threading.Lock()


def _fit_arkit_map(model, names: tuple[str, ...], iterations: int = 100) -> np.ndarray:
    """(K, n_exp + 3) least-squares rows; see :func:`arkit_to_model`."""
    from .model import FlameModel

    if not isinstance(model, FlameModel):
        raise X3DError(f"expected a FlameModel, got {type(model).__name__}")
    shapes = load_arkit_shapes()
    if shapes.num_vertices != model.num_vertices:
        raise X3DError(
            f"ARKit shapes are on FLAME's {shapes.num_vertices} vertices; this model has {model.num_vertices}"
        )
    n_exp = min(model.n_exp, 50)
    targets = shapes.select(names).astype(np.float64)  # (K, V, 3)
    exp_dirs = model.exp_dirs[:, :n_exp].detach().cpu().double().numpy()  # (3V, n)
    rows = np.zeros((len(names), n_exp + 3))
    # Non-jaw shapes: at rest pose FLAME is linear in the expression, so the fit is one exact lstsq.
    # rcond at float32 precision: directions that exist only as rounding noise get no weight.
    rows[:, :n_exp] = np.linalg.lstsq(exp_dirs, targets.reshape(len(names), -1).T, rcond=1e-6)[0].T
    jaw_rows = [i for i, n in enumerate(names) if n in JAW_SHAPES and np.abs(targets[i]).max() > 0]
    if jaw_rows:
        # Jaw shapes: FLAME opens the mouth by rotating the jaw joint (non-linear): fit jaw + expression,
        # with a light ridge on the expression so it corrects the rotation instead of imitating it.
        model64 = _float64_copy(model)  # never change the caller's module dtype
        dirs = model64.exp_dirs[:, :n_exp]
        ridge = 1e-2 * float((dirs**2).sum(0).mean())
        target = torch.as_tensor(targets[jaw_rows]) + model64.v_template
        expr = torch.zeros(len(jaw_rows), n_exp, dtype=torch.float64, requires_grad=True)
        jaw = torch.zeros(len(jaw_rows), 3, dtype=torch.float64)
        jaw[:, 0] = 0.1  # start slightly open: every jaw shape opens the mouth a little
        jaw.requires_grad_(True)
        opt = torch.optim.LBFGS([expr, jaw], max_iter=iterations, tolerance_grad=1e-10, tolerance_change=1e-12,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            pose = torch.cat([torch.zeros_like(jaw), jaw], dim=1)
            loss = ((model64(expression=expr, pose=pose) - target) ** 2).sum() + ridge * (expr**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        rows[jaw_rows, :n_exp] = expr.detach().numpy()
        rows[jaw_rows, n_exp:] = jaw.detach().numpy()
    return rows


def _float64_copy(model):
    import copy

    clone = copy.deepcopy(model).to(device="cpu", dtype=torch.float64)
    clone.requires_grad_(False)
    return clone


def arkit_to_model(model, names: Sequence[str] = ARKIT52_NAMES) -> np.ndarray:
    """Least-squares map from ARKit weights to ``model``'s expression coefficients and jaw axis-angle.

    Row k is the model's best reproduction of ARKit shape ``names[k]`` at weight 1, fitted on the
    vertex offsets of the shipped shapes: expression shapes by one exact linear least squares at rest
    pose, the four jaw shapes by a joint jaw-rotation + expression fit. Shapes FLAME has no geometry
    for (``tongueOut``) give a zero row. Computed once per model (fingerprint of its arrays).

    Returns:
        (K, n_exp + 3) float64, n_exp = min(model.n_exp, 50): ``weights (T, K) @ rows`` gives the
        expression coefficients (first n_exp columns) and the jaw axis-angle (last 3).
    """
    names = tuple(names)
    key = (model_fingerprint(model), names)
    with _MAP_LOCK:
        cached = _MAP_CACHE.get(key)
    if cached is None:
        cached = _fit_arkit_map(model, names)
        cached.setflags(write=False)
        with _MAP_LOCK:
            _MAP_CACHE[key] = cached
    return cached


def convert_expression(
    expression: np.ndarray,
    jaw: np.ndarray,
    from_space: str,
    model,
    names: Sequence[str] = ARKIT_EXPRESSION_NAMES,
) -> tuple[np.ndarray, np.ndarray]:
    """Express a sequence's expression in ``model``'s own space.

    Args:
        expression: (T, K) coefficients in ``from_space``. For ``"arkit"`` column k is the weight of
            ``names[k]``; columns past ``len(names)`` have no shape in that space and are ignored.
        jaw: (T, 3) jaw axis-angle.
        from_space: ``"arkit"`` or ``"flame-pca"``.
        model: the loaded :class:`FlameModel`.
        names: ARKit names of the expression columns (the ``"arkit"`` layout by default).

    Returns:
        expression (T, 50) and jaw (T, 3) for ``model``. An exact pass-through when ``from_space`` is the
        model's own space; ARKit weights on a PCA model go through :func:`arkit_to_model`. PCA
        coefficients only mean something for the model that made them, so they are passed through too.
    """
    _check_space(from_space)
    expression = np.asarray(expression, np.float32)
    jaw = np.asarray(jaw, np.float32)
    if expression.ndim != 2 or jaw.shape != (expression.shape[0], 3):
        raise X3DError(f"expression must be (T, K) and jaw (T, 3), got {expression.shape} and {jaw.shape}")
    if from_space == expression_space_of(model) or from_space == PCA_SPACE:
        out = np.zeros((expression.shape[0], 50), np.float32)
        k = min(50, expression.shape[1])
        out[:, :k] = expression[:, :k]
        return out, jaw.copy()
    names = tuple(names)
    if expression.shape[1] < len(names):
        raise X3DError(f"ARKit expression has {expression.shape[1]} columns; expected at least {len(names)} ({names[0]}, ...)")
    rows = arkit_to_model(model, names)
    n_exp = rows.shape[1] - 3
    mapped = expression[:, : len(names)].astype(np.float64) @ rows
    out = np.zeros((expression.shape[0], 50), np.float32)
    out[:, :n_exp] = mapped[:, :n_exp]
    return out, (jaw + mapped[:, n_exp:]).astype(np.float32)


def model_to_arkit(model, names: Sequence[str] = ARKIT_EXPRESSION_NAMES) -> np.ndarray:
    """Least-squares map from ``model``'s expression coefficients to ARKit weights (the inverse direction
    of :func:`arkit_to_model`, for expressions at rest pose).

    Column k holds, per expression coefficient, the weight of ARKit shape ``names[k]`` that best
    reproduces that coefficient's vertex offsets. The jaw shapes get no weight (FLAME opens the jaw with
    its pose, which is kept as it is). Computed once per model.

    Returns:
        (n_exp, K) float64, n_exp = min(model.n_exp, 50).
    """
    names = tuple(names)
    key = (model_fingerprint(model), names, "to_arkit")
    with _MAP_LOCK:
        cached = _MAP_CACHE.get(key)
    if cached is None:
        shapes = load_arkit_shapes()
        if shapes.num_vertices != model.num_vertices:
            raise X3DError(
                f"ARKit shapes are on FLAME's {shapes.num_vertices} vertices; this model has {model.num_vertices}"
            )
        targets = shapes.select(names).astype(np.float64).reshape(len(names), -1).T  # (3V, K)
        targets[:, [i for i, n in enumerate(names) if n in JAW_SHAPES]] = 0.0
        n_exp = min(model.n_exp, 50)
        exp_dirs = model.exp_dirs[:, :n_exp].detach().cpu().double().numpy()  # (3V, n)
        cached = np.linalg.lstsq(targets, exp_dirs, rcond=1e-6)[0].T  # (n, K)
        cached.setflags(write=False)
        with _MAP_LOCK:
            _MAP_CACHE[key] = cached
    return cached


def expression_in_space(expression: np.ndarray, to_space: str, model,
                        names: Sequence[str] = ARKIT_EXPRESSION_NAMES) -> np.ndarray:
    """``model``'s own expression coefficients (T, K) put into ``to_space`` (T, 50): what a checkpoint that
    speaks ``to_space`` must be given as its reference on this model.

    A pass-through when ``to_space`` is the model's own space, and for ``"flame-pca"`` (PCA coefficients only
    mean something for their own model). For ``"arkit"`` on a PCA model: the least-squares ARKit weights
    (:func:`model_to_arkit`) clipped to ARKit's [0, 1], in the layout of ``names``.
    """
    _check_space(to_space)
    expression = np.asarray(expression, np.float32)
    out = np.zeros((expression.shape[0], 50), np.float32)
    if to_space == expression_space_of(model) or to_space == PCA_SPACE:
        k = min(50, expression.shape[1])
        out[:, :k] = expression[:, :k]
        return out
    to_arkit = model_to_arkit(model, names)
    n_exp = min(to_arkit.shape[0], expression.shape[1])
    out[:, : len(tuple(names))] = np.clip(expression[:, :n_exp].astype(np.float64) @ to_arkit[:n_exp], 0.0, 1.0)
    return out


# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArkitSolve:
    """ARKit-52 weights solved from FLAME motion, with how well they reproduce it.

    Attributes:
        weights: (T, 52) float32 in [0, 1], :data:`ARKIT52_NAMES` order.
        rmse_mm: (T,) per-frame RMS vertex error of the ARKit reconstruction (all vertices), mm.
        max_mm: (T,) per-frame largest vertex error, mm.
        iterations: ADMM iterations run.
    """

    weights: np.ndarray
    rmse_mm: np.ndarray
    max_mm: np.ndarray
    iterations: int

    def summary(self) -> dict[str, float]:
        return {
            "rmse_mm_mean": float(self.rmse_mm.mean()),
            "rmse_mm_p95": float(np.percentile(self.rmse_mm, 95)),
            "max_mm_max": float(self.max_mm.max()),
            "iterations": int(self.iterations),
        }


def flame_displacements(model, expression: np.ndarray, jaw: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(T, V, 3) float32 vertex offsets of expression + jaw from the model's neutral mesh (zero shape and head)."""
    expression = np.asarray(expression, np.float32)
    jaw = np.asarray(jaw, np.float32)
    n_exp = min(model.n_exp, expression.shape[1])
    device = model.v_template.device
    dtype = model.v_template.dtype
    out = np.empty((expression.shape[0], model.num_vertices, 3), np.float32)
    with torch.no_grad():
        neutral = model.v_template
        for start in range(0, expression.shape[0], batch_size):
            e = torch.as_tensor(expression[start : start + batch_size, :n_exp], dtype=dtype, device=device)
            j = torch.as_tensor(jaw[start : start + batch_size], dtype=dtype, device=device)
            verts = model(expression=e, pose=torch.cat([torch.zeros_like(j), j], dim=1))
            out[start : start + e.shape[0]] = (verts - neutral).cpu().numpy()
    return out


def _solve_box_qp(
    gram: np.ndarray, linear: np.ndarray, temporal: float, pairs: list[tuple[int, int]], symmetry: float,
    max_iterations: int, tolerance: float,
) -> tuple[np.ndarray, int]:
    """min_W  sum_t 1/2 w_t' G w_t - c_t' w_t + temporal/2 |w_t - w_t-1|^2 + symmetry/2 |w_L - w_R|^2, W in [0,1].

    ADMM on W = Z (Z boxed). The W step is (G + S + rho I) (x) I_T + temporal I (x) L_T, diagonal in the
    eigenbasis of G + S (shapes) times the DCT-II basis (time: it diagonalises the path Laplacian L_T).
    """
    from scipy.fft import dct, idct

    t, k = linear.shape
    sym = np.zeros((k, k))
    for a, b in pairs:
        sym[a, a] += 1.0
        sym[b, b] += 1.0
        sym[a, b] -= 1.0
        sym[b, a] -= 1.0
    quad = gram + symmetry * sym
    evals, evecs = np.linalg.eigh(quad)
    rho = max(0.1 * float(np.mean(np.abs(evals))), 1e-12)  # measured: fewest iterations on real clips
    lap = 2.0 - 2.0 * np.cos(np.pi * np.arange(t) / t)  # path Laplacian eigenvalues
    denom = evals[None, :] + rho + temporal * lap[:, None]  # (T, K)

    def w_step(rhs: np.ndarray) -> np.ndarray:
        spec = dct(rhs, type=2, norm="ortho", axis=0) @ evecs
        return idct(spec / denom, type=2, norm="ortho", axis=0) @ evecs.T

    z = np.clip(w_step(linear), 0.0, 1.0)
    u = np.zeros_like(z)
    scale = max(np.sqrt(t * k), 1.0)
    it = 0
    for it in range(1, max_iterations + 1):
        w = w_step(linear + rho * (z - u))
        z_old = z
        z = np.clip(w + u, 0.0, 1.0)
        u += w - z
        primal = np.linalg.norm(w - z) / scale
        dual = np.linalg.norm(z - z_old) / scale
        if primal < tolerance and dual < tolerance:
            break
    return z, it


def solve_arkit(
    model,
    expression: np.ndarray,
    jaw: np.ndarray,
    *,
    temporal: float = 0.05,
    symmetry: float = 0.02,
    ridge: float = 1e-4,
    from_space: str = PCA_SPACE,
    max_iterations: int = 500,
    tolerance: float = 1e-5,
) -> ArkitSolve:
    """FLAME expression + jaw motion -> ARKit-52 weights in [0, 1].

    Solves, over the whole clip at once, ``min sum_t |D w_t - d_t|^2`` with ``0 <= w <= 1``, where
    ``d_t`` is frame t's vertex offset from the neutral mesh (``model``, zero shape and head pose) and D
    the shipped ARKit shapes, plus ``temporal * s * |w_t - w_{t-1}|^2`` and ``symmetry * s * |w_L - w_R|^2``
    (``s`` = the mean squared norm of a shape, so the weights are unitless) and a small ridge.

    With ``from_space="arkit"`` (the sequence already speaks ARKit) the named weights are passed through
    (clipped to [0, 1]) and only the four jaw shapes are solved, from the jaw rotation alone; the error
    then measures that jaw fit.

    Args:
        expression: (T, 50) expression coefficients; jaw: (T, 3) jaw axis-angle.

    Returns:
        :class:`ArkitSolve` with (T, 52) weights in :data:`ARKIT52_NAMES` order and the per-frame
        reconstruction error in mm.
    """
    _check_space(from_space)
    expression = np.asarray(expression, np.float32)
    jaw = np.asarray(jaw, np.float32)
    if expression.ndim != 2 or jaw.shape != (expression.shape[0], 3):
        raise X3DError(f"expression must be (T, K) and jaw (T, 3), got {expression.shape} and {jaw.shape}")
    if min(temporal, symmetry, ridge) < 0:
        raise X3DError("temporal, symmetry and ridge must be >= 0")
    shapes = load_arkit_shapes()
    t = expression.shape[0]
    weights = np.zeros((t, len(ARKIT52_NAMES)), np.float32)
    if from_space == ARKIT_SPACE:
        # The sequence already speaks ARKit: its named weights are the answer; only the jaw, which
        # FLAME moves with the jaw joint, still needs the ARKit jaw shapes.
        fixed = np.clip(expression[:, : len(ARKIT_EXPRESSION_NAMES)], 0.0, 1.0)
        for col, name in enumerate(ARKIT_EXPRESSION_NAMES[: fixed.shape[1]]):
            weights[:, ARKIT52_NAMES.index(name)] = fixed[:, col]
        target = flame_displacements(model, np.zeros((t, 1), np.float32), jaw).reshape(t, -1).astype(np.float64)
        solved_names = tuple(n for n in JAW_SHAPES if n in shapes.names)
    else:
        target = flame_displacements(model, expression, jaw).reshape(t, -1).astype(np.float64)
        solved_names = shapes.names
    basis = shapes.select(solved_names).reshape(len(solved_names), -1).astype(np.float64)  # (K, 3V)
    gram = basis @ basis.T
    s = float(np.mean(np.diag(gram)))
    linear = target @ basis.T  # (T, K)
    solved, iters = _solve_box_qp(
        gram + ridge * s * np.eye(len(solved_names)), linear, temporal * s, symmetric_pairs(solved_names),
        symmetry * s, max_iterations, tolerance,
    )
    for col, name in enumerate(solved_names):
        weights[:, ARKIT52_NAMES.index(name)] = solved[:, col]
    residual = (target - solved @ basis).reshape(t, -1, 3)
    err = np.linalg.norm(residual, axis=-1) * 1000.0
    return ArkitSolve(weights, np.sqrt((err**2).mean(axis=1)).astype(np.float32), err.max(axis=1).astype(np.float32),
                      iters)


def arkit_vertices(model, weights: np.ndarray) -> np.ndarray:
    """(T, V, 3) the model's neutral mesh plus the ARKit shapes at ``weights`` (T, 52) (what an ARKit rig shows)."""
    weights = np.asarray(weights, np.float32)
    if weights.ndim != 2 or weights.shape[1] != len(ARKIT52_NAMES):
        raise X3DError(f"ARKit weights must be (T, {len(ARKIT52_NAMES)}), got {weights.shape}")
    basis = load_arkit_shapes().select(ARKIT52_NAMES)
    neutral = model.v_template.detach().cpu().numpy()
    return neutral[None] + np.einsum("tk,kvc->tvc", weights, basis)
