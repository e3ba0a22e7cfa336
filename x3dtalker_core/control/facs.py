"""Emotion templates for the loaded FLAME model, from FACS action-unit recipes.

Each emotion is a recipe of action units (``data/facs_au.json``: happy = AU6 + AU12, sad = AU1 + AU4 +
AU15, ...; sources in that file). Each action unit is a set of millimetre displacements of the 68
landmarks in a face-local frame (outward from the midline, up, forward). For a recipe, the targets
of its units add up, and the expression code ``e`` is found by regularised least squares:

    minimise  Σ_l w_l ‖J_l e − d_l‖²  +  λ_v · mean_{v ∈ face} ‖V_v e‖²  +  λ_e ‖e‖²

with ``J`` the landmark Jacobian of the expression (exact: expression blending is linear at zero
pose), ``d`` the target displacements, ``w`` 1 on the landmarks the recipe moves and
``still_weight`` on the others (they should stay put), ``V`` the vertex Jacobian over the face
region (a geometric "move as little skin as possible" prior that does not depend on how the
model's bases are scaled) and a tiny ridge ``λ_e`` for uniqueness. Everything is geometric, so the
same code gives meaningful templates for the real FLAME and for the development head.

Results are cached per (model hash, landmark embedding, recipe file, settings) in
``$XDG_CACHE_HOME/x3dtalker/emotion_templates/``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidFileError, X3DError
from ..params import N_EXP
from .emotion import EmotionTemplates, canonical_emotion

log = logging.getLogger(__name__)

RECIPES_PATH = Path(__file__).with_name("data") / "facs_au.json"
SIDES = ("both", "left", "right")


@dataclass(frozen=True)
class FitSettings:
    """Weights of the least-squares fit (see module docstring)."""

    still_weight: float = 0.5
    contour_weight: float = 0.1
    vertex_weight: float = 30.0
    ridge: float = 1e-6


def load_recipes(path: str | Path | None = None) -> dict[str, Any]:
    """Read and validate a FACS recipe file (default: the packaged ``data/facs_au.json``)."""
    path = Path(path) if path is not None else RECIPES_PATH
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidFileError(f"cannot read FACS recipe file {path}: {exc}") from None
    for key in ("groups", "action_units", "emotions", "intensity_letters"):
        if not isinstance(doc.get(key), dict):
            raise InvalidFileError(f"{path}: missing object '{key}'")
    groups = doc["groups"]
    for name, idx in groups.items():
        if not isinstance(idx, list) or not all(isinstance(i, int) and 0 <= i < 68 for i in idx):
            raise InvalidFileError(f"{path}: group '{name}' must list landmark indices 0..67")
    for au, spec in doc["action_units"].items():
        for group, vec in spec.get("targets", {}).items():
            if group not in groups:
                raise InvalidFileError(f"{path}: AU{au} targets unknown group '{group}'")
            if not (isinstance(vec, list) and len(vec) == 3 and all(isinstance(x, (int, float)) for x in vec)):
                raise InvalidFileError(f"{path}: AU{au} target for '{group}' must be [outward, up, forward] mm")
    for emotion, recipe in doc["emotions"].items():
        for item in recipe:
            if not isinstance(item, list) or not 1 <= len(item) <= 3:
                raise InvalidFileError(f"{path}: '{emotion}' entries must be [AU, intensity, side?]")
            if str(item[0]) not in doc["action_units"]:
                raise InvalidFileError(f"{path}: '{emotion}' uses unknown AU{item[0]}")
            if len(item) > 1:
                _au_intensity(item[1], doc["intensity_letters"], f"{path}: '{emotion}'")
            if len(item) > 2 and item[2] not in SIDES:
                raise InvalidFileError(f"{path}: '{emotion}' side must be one of {SIDES}")
    return doc


def _au_intensity(value: Any, letters: dict[str, float], where: str) -> float:
    if isinstance(value, str) and value in letters:
        return float(letters[value])
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 2:
        return float(value)
    raise InvalidFileError(
        f"{where}: AU intensity must be a letter {sorted(letters)} or a number in [0, 2], got {value!r}"
    )


def recipe_targets(
    recipe: list, recipes: dict[str, Any], neutral_landmarks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Target landmark displacements of one emotion recipe.

    Args:
        recipe: ``[[AU, intensity, side?], ...]``.
        recipes: the recipe document.
        neutral_landmarks: (68, 3) neutral landmarks in mm (their x sign gives each landmark's side).

    Returns:
        (68, 3) target displacement in mm (model axes), (68,) bool: landmark is driven by the recipe.
    """
    x = neutral_landmarks[:, 0]
    midline = np.abs(x) < 2.0  # within 2 mm of the midline: no outward direction, no side
    outward = np.where(midline, 0.0, np.sign(x))
    target = np.zeros((68, 3))
    driven = np.zeros(68, bool)
    for item in recipe:
        au = recipes["action_units"][str(item[0])]
        scale = _au_intensity(item[1], recipes["intensity_letters"], "recipe") if len(item) > 1 else 1.0
        side = item[2] if len(item) > 2 else "both"
        for group, (d_out, d_up, d_fwd) in au["targets"].items():
            for i in recipes["groups"][group]:
                # +x is the subject's left; a landmark on the midline belongs to both sides.
                if side == "left" and x[i] < -2.0 or side == "right" and x[i] > 2.0:
                    continue
                target[i] += scale * np.array([d_out * outward[i], d_up, d_fwd])
                driven[i] = True
    return target, driven


@dataclass(frozen=True)
class ExpressionJacobians:
    """Linear maps from the 50 expression coefficients to geometry, in mm.

    Attributes:
        landmarks: (68 * 3, 50) landmark Jacobian.
        vertices: (N_face * 3, 50) vertex Jacobian over the fitting region.
        neutral_landmarks: (68, 3) landmarks of the neutral mean head, mm.
    """

    landmarks: np.ndarray
    vertices: np.ndarray
    neutral_landmarks: np.ndarray


def expression_jacobians(model, region: np.ndarray | None = None) -> ExpressionJacobians:
    """Evaluate the model at zero and at each unit expression (mean shape, zero pose).

    Args:
        model: a :class:`~x3dtalker_core.flame.FlameModel` with the 68-point landmark embedding.
        region: vertex indices of the prior's region (default: every vertex).
    """
    import torch

    n = min(N_EXP, int(getattr(model, "n_exp", N_EXP)))
    dtype = model.v_template.dtype
    device = model.v_template.device
    codes = torch.zeros(n + 1, n, dtype=dtype, device=device)
    codes[1:] = torch.eye(n, dtype=dtype, device=device)
    with torch.no_grad():
        verts = model(expression=codes).double() * 1000.0  # mm
        lmk = model.landmarks68(verts.to(dtype)).double()
    verts, lmk = verts.cpu().numpy(), lmk.cpu().numpy()
    idx = np.arange(verts.shape[1]) if region is None else np.asarray(region)
    jl = (lmk[1:] - lmk[:1]).reshape(n, -1).T
    jv = (verts[1:, idx] - verts[:1, idx]).reshape(n, -1).T
    if n < N_EXP:  # a model with fewer expression directions: the rest do nothing
        jl = np.pad(jl, ((0, 0), (0, N_EXP - n)))
        jv = np.pad(jv, ((0, 0), (0, N_EXP - n)))
    return ExpressionJacobians(jl, jv, lmk[0])


def fit_expression(
    jac: ExpressionJacobians, target: np.ndarray, driven: np.ndarray, settings: FitSettings = FitSettings(),
    contour: np.ndarray | None = None,
) -> np.ndarray:
    """Regularised least-squares expression code (50,) whose landmarks move by ``target`` (68, 3) mm."""
    w = np.where(driven, 1.0, settings.still_weight)
    if contour is not None:
        w[contour & ~driven] = settings.contour_weight
    sw = np.repeat(np.sqrt(w), 3)
    a = jac.landmarks * sw[:, None]
    b = target.reshape(-1) * sw
    n_v = max(jac.vertices.shape[0] // 3, 1)
    gram = a.T @ a + settings.vertex_weight / n_v * (jac.vertices.T @ jac.vertices)
    scale = np.trace(gram) / gram.shape[0] if np.trace(gram) > 0 else 1.0
    gram = gram + settings.ridge * scale * np.eye(gram.shape[0])
    return np.linalg.solve(gram, a.T @ b)


PRIOR_REGIONS = ("all", "left_eyeball", "right_eyeball")
EYEBALL_PRIOR_REPEAT = 10
"""Eyeball vertices count this many times in the prior: an emotion template must not shift the gaze."""


def prior_region(masks: dict[str, np.ndarray] | None, num_vertices: int) -> np.ndarray:
    """Vertex indices of the deformation prior: the whole head, eyeballs repeated (weighted up)."""
    parts = [np.arange(num_vertices)]
    for name in PRIOR_REGIONS[1:]:
        if masks and name in masks:
            parts.extend([masks[name]] * EYEBALL_PRIOR_REPEAT)
    return np.concatenate(parts)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "x3dtalker" / "emotion_templates"


def _model_key(model, recipes_text: str, settings: FitSettings, region: np.ndarray | None) -> str:
    h = hashlib.sha256()
    h.update(str(getattr(model, "sha256", "") or "").encode())
    if not getattr(model, "sha256", None):  # unknown file: hash the expression geometry itself
        h.update(model.v_template.detach().cpu().numpy().tobytes())
        h.update(model.exp_dirs.detach().cpu().numpy().tobytes())
    for name in ("lmk68_faces", "lmk68_bary"):
        buf = getattr(model, name, None)
        if buf is not None:
            h.update(buf.detach().cpu().numpy().tobytes())
    h.update(recipes_text.encode())
    h.update(json.dumps(asdict(settings), sort_keys=True).encode())
    h.update(b"" if region is None else np.asarray(region, np.int64).tobytes())
    return h.hexdigest()[:32]


def derive_au_templates(
    model,
    recipes_path: str | Path | None = None,
    settings: FitSettings = FitSettings(),
    masks: dict[str, np.ndarray] | None = None,
    cache: bool = True,
) -> EmotionTemplates:
    """Emotion templates for ``model`` from the FACS recipes (deterministic; cached per model).

    Args:
        model: the loaded :class:`~x3dtalker_core.flame.FlameModel` (needs the 68-landmark embedding).
        recipes_path: a recipe file (default: the packaged one); users may add emotions to a copy.
        settings: fit weights.
        masks: FLAME region masks; the prior covers their ``face`` region (all vertices without it).
        cache: read/write the per-model cache.
    """
    path = Path(recipes_path) if recipes_path is not None else RECIPES_PATH
    recipes = load_recipes(path)
    region = prior_region(masks, int(model.v_template.shape[0]))
    key = _model_key(model, path.read_text(), settings, region)
    cache_file = _cache_dir() / f"{key}.npz"
    if cache and cache_file.is_file():
        try:
            return EmotionTemplates.load(cache_file)
        except X3DError as exc:
            log.warning("ignoring a broken emotion template cache file %s: %s", cache_file, exc)
    if getattr(model, "deca68", None) is None:
        raise X3DError("deriving emotion templates needs the FLAME 68-landmark embedding (asset 'landmark_embedding')")
    jac = expression_jacobians(model, region)
    contour = np.zeros(68, bool)
    contour[recipes["groups"].get("contour", [])] = True
    vectors, report = {}, {}
    for name, recipe in recipes["emotions"].items():
        target, driven = recipe_targets(recipe, recipes, jac.neutral_landmarks)
        code = fit_expression(jac, target, driven, settings, contour)
        achieved = (jac.landmarks @ code).reshape(68, 3)
        err = np.linalg.norm(achieved - target, axis=1)
        vertex_move = np.linalg.norm((jac.vertices @ code).reshape(-1, 3), axis=1)
        key_name = canonical_emotion(name)
        vectors[key_name] = code.astype(np.float32)
        report[key_name] = {
            "driven_landmark_rms_error_mm": round(float(np.sqrt(np.mean(err[driven] ** 2))), 3),
            "still_landmark_max_move_mm": round(float(np.linalg.norm(achieved[~driven], axis=1).max(initial=0.0)), 3),
            "max_vertex_move_mm": round(float(vertex_move.max()), 3),
        }
    templates = EmotionTemplates(vectors, {
        "method": "facs-au",
        "flame_model_sha256": str(getattr(model, "sha256", "") or ""),
        "flame_is_dev_model": bool(getattr(model, "is_dev_model", False)),
        "recipes": str(path.name),
        "settings": asdict(settings),
        "fit": report,
    })
    if cache:
        try:
            templates.save(cache_file)
        except OSError as exc:
            log.warning("could not cache emotion templates in %s: %s", cache_file.parent, exc)
    return templates


def resolve_templates(
    path: str | Path | None = None, model=None, masks: dict[str, np.ndarray] | None = None
) -> EmotionTemplates:
    """The templates a run uses: a user file when given, else the FACS templates of ``model``.

    A user file that lacks some of the seven emotions is completed from the FACS templates (so
    users can add or override single emotions). ``model`` None loads the ``flame_model`` asset.
    """
    user = EmotionTemplates.load(path) if path is not None else None
    from .emotion import EMOTIONS

    if user is not None and all(e in user.vectors for e in EMOTIONS):
        return user
    if model is None:
        from ..flame import load_flame_model

        model = load_flame_model(n_exp=N_EXP)
    if masks is None:
        from ..assets import try_find_asset
        from ..flame import load_masks

        masks = load_masks() if try_find_asset("flame_masks") else None
    base = derive_au_templates(model, masks=masks)
    return base.merged(user) if user is not None else base
