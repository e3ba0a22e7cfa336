"""Mouth interior for FLAME: teeth, a tongue and a cavity behind the lips, skinned along with the head.

FLAME has no teeth and no mouth interior. Its lips end in an open boundary loop (the *lip ring*), so an open
mouth shows the inside of the back of the head, and a depth video reads that as a far hole. This module builds
a proxy from the loaded model's own geometry. It finds the lip ring from the mesh topology and the jaw's
skinning weights, and the ring's width and lip line set every proportion. It poses the proxy with the same
joint transforms as the face (:meth:`~x3dtalker_core.flame.model.FlameModel.forward_with_transforms`):

* **upper teeth**: an arch rigid with the jaw's parent joint (the head);
* **lower teeth and tongue**: rigid with the jaw joint;
* **cavity**: a pouch stitched to the lip ring. Its faces share the ring's FLAME vertices, so no gap can open
  between lips and pouch. Its skinning goes from the lips' own weights at the ring to rigid head (upper half)
  and jaw (lower half) at its back wall.

Proxy vertices come after the FLAME vertices: proxy faces index ``[FLAME vertices (V) ; proxy vertices (P)]``.
Everything is placed behind the inner lip ring, so closed lips hide it.

:func:`largest_far_region` is the check that goes with it: the largest hole inside the head silhouette whose
depth reads as far background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import X3DError
from ..flame.lbs import linear_blend_skinning

if TYPE_CHECKING:
    from ..flame.model import FlameModel
    from .images import DepthRange

FLAME_JAW_JOINT = 2
"""FLAME's joint order is global, neck, jaw, eye L, eye R; the upper teeth follow the jaw's parent (neck)."""

MIN_JAW_WEIGHT_SPREAD = 0.3
"""A boundary loop is the lip ring when the jaw weight across it spans at least this (FLAME: 0.08 to 0.86)."""


@dataclass(frozen=True)
class Tooth:
    """One tooth of a quarter arch, sizes in lip-ring widths W (W is 53 mm on FLAME's template).

    Attributes:
        width: mesiodistal width (share of the arch length only; the arch sets the scale).
        height: crown height from the biting edge toward the gum.
        thickness: labio-lingual depth at the gum.
        edge: biting-edge depth as a fraction of ``thickness`` (thin incisors, broad molars).
    """

    width: float
    height: float
    thickness: float
    edge: float


UPPER_TEETH = (
    Tooth(8.5, 0.198, 0.132, 0.2),  # central incisor
    Tooth(6.5, 0.170, 0.113, 0.2),  # lateral incisor
    Tooth(7.5, 0.189, 0.151, 0.3),  # canine
    Tooth(7.0, 0.151, 0.170, 0.6),  # first premolar
    Tooth(6.5, 0.142, 0.170, 0.7),  # second premolar
    Tooth(10.0, 0.132, 0.208, 0.8),  # first molar
    Tooth(9.0, 0.123, 0.198, 0.8),  # second molar
)
"""Upper quarter arch from the midline back (typical adult crown proportions)."""

LOWER_TEETH = (
    Tooth(5.5, 0.170, 0.113, 0.2),
    Tooth(6.0, 0.179, 0.113, 0.2),
    Tooth(7.0, 0.208, 0.142, 0.3),
    Tooth(7.0, 0.151, 0.151, 0.6),
    Tooth(7.0, 0.142, 0.160, 0.7),
    Tooth(11.0, 0.142, 0.198, 0.8),
    Tooth(10.5, 0.132, 0.189, 0.8),
)
"""Lower quarter arch from the midline back."""


@dataclass(frozen=True)
class MouthShape:
    """Proportions of the proxy in lip-ring widths W (corner-to-corner width of the inner lip ring).

    Attributes:
        teeth_gap: incisors' front this far behind the inner lip ring (W 0.04 = 2 mm on FLAME).
        arch_half_width: half the dental arch's width at the back molars.
        arch_depth: incisors to back molars, front to back.
        overjet: the lower arch sits this much inside the upper one.
        upper_overlap, lower_overlap: biting edges below / above the lip line (the middle of the ring).
        gum: teeth reach this far past the crown into the gums, so no slit shows above or below them.
        notch, recess: the biting edge rises and the front surface sinks this much between teeth.
        cavity_depth: the pouch's back wall this far behind the ring.
        cavity_levels: (fraction of the depth, horizontal scale, vertical scale) of each pouch ring.
        tongue_centre: (down from the lip line, back from the incisors) of the tongue's centre.
        tongue_radii: (x, y, z) semi-axes of the tongue ellipsoid.
        samples_per_tooth, tongue_segments: tessellation.
    """

    teeth_gap: float = 0.04
    arch_half_width: float = 0.46
    arch_depth: float = 0.66
    overjet: float = 0.035
    upper_overlap: float = 0.02
    lower_overlap: float = 0.005
    gum: float = 0.08
    notch: float = 0.02
    recess: float = 0.012
    cavity_depth: float = 0.85
    cavity_levels: tuple[tuple[float, float, float], ...] = (
        (0.2, 1.0, 1.35), (0.45, 0.97, 1.55), (0.7, 0.9, 1.5), (1.0, 0.78, 1.2))
    tongue_centre: tuple[float, float] = (0.2, 0.55)
    tongue_radii: tuple[float, float, float] = (0.3, 0.12, 0.3)
    samples_per_tooth: int = 6
    tongue_segments: tuple[int, int] = (8, 16)


@dataclass(frozen=True)
class MouthProxy:
    """A mouth interior built for B identities of one FLAME topology.

    Attributes:
        rest: (B, P, 3) rest-pose (shaped, unposed) proxy vertices.
        weights: (P, J) skinning weights (rows sum to 1).
        faces: (F, 3) int64 triangles indexing ``[FLAME vertices ; proxy vertices]``.
        num_flame_vertices: V, the offset of proxy vertex 0 in ``faces``.
        parts: proxy vertex ranges ``name -> (start, stop)`` (``upper_teeth``, ``lower_teeth``, ``tongue``,
            ``cavity``).
        lip_ring: (N,) FLAME vertex indices of the inner lip ring the cavity is stitched to.
    """

    rest: torch.Tensor
    weights: torch.Tensor
    faces: np.ndarray
    num_flame_vertices: int
    parts: dict[str, tuple[int, int]] = field(default_factory=dict)
    lip_ring: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def num_vertices(self) -> int:
        return self.rest.shape[1]


# ----------------------------------------------------------------------------------------------
# topology


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Closed boundary loops of a triangle mesh ``faces`` (F, 3).

    Each loop is ordered so that its faces run along it: the face on edge ``(loop[i], loop[i+1])`` lists
    those two vertices in that order. A surface stitched to the loop keeps a consistent orientation if
    its triangles run the other way.
    """
    f = np.asarray(faces, np.int64)
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    n = int(f.max()) + 1
    code = directed[:, 0] * n + directed[:, 1]
    reverse = directed[:, 1] * n + directed[:, 0]
    boundary = directed[~np.isin(code, reverse)]
    nxt = dict(zip(boundary[:, 0].tolist(), boundary[:, 1].tolist()))
    loops, seen = [], set()
    for start in nxt:
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen and v in nxt:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        if v == start and len(loop) >= 3:
            loops.append(np.asarray(loop, np.int64))
    return loops


def find_lip_ring(faces: np.ndarray, weights: np.ndarray, jaw_joint: int = FLAME_JAW_JOINT) -> np.ndarray | None:
    """The inner lip ring: the boundary loop the jaw's skinning weight cuts across.

    Along the lip ring the jaw weight goes from near 0 (upper lip) to near 1 (lower lip). No other FLAME
    boundary (the neck) does that, so the rule needs no vertex numbers or masks.

    Args:
        faces: (F, 3) triangles.
        weights: (V, J) skinning weights.

    Returns:
        (N,) vertex indices in :func:`boundary_loops` order, or None when the mesh has no such loop (a
        model with a closed mouth has nothing to fill).
    """
    w = np.asarray(weights)
    if w.ndim != 2 or not 0 <= jaw_joint < w.shape[1]:
        raise X3DError(f"skinning weights must be (V, J) with the jaw joint {jaw_joint} in range, got {w.shape}")
    best, best_spread = None, MIN_JAW_WEIGHT_SPREAD
    for loop in boundary_loops(faces):
        spread = float(np.ptp(w[loop, jaw_joint]))
        if spread >= best_spread:
            best, best_spread = loop, spread
    return best


# ----------------------------------------------------------------------------------------------
# geometry (identity-independent layout in numpy, identity-dependent placement in batched torch)


def _arch_layout(teeth: tuple[Tooth, ...], half_width: float, depth: float, samples: int) -> dict[str, np.ndarray]:
    """Sample a full arch (both quarters) at equal arc length; per-sample angle and crown attributes.

    The arch is the half ellipse ``x = b sin θ, z = -D (1 - cos θ)``, θ in [-π/2, π/2]. Its arc-length
    parametrisation depends only on ``b / D``, which :class:`MouthShape` fixes, so the layout is the same
    for every identity.
    """
    theta_dense = np.linspace(0.0, math.pi / 2, 2049)
    dx = half_width * np.cos(theta_dense)
    dz = depth * np.sin(theta_dense)
    seg = np.hypot(dx[1:] + dx[:-1], dz[1:] + dz[:-1]) / 2 * np.diff(theta_dense)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    arc /= arc[-1]
    widths = np.array([t.width for t in teeth], np.float64)
    bounds = np.concatenate([[0.0], np.cumsum(widths) / widths.sum()])
    # samples at every tooth boundary and evenly inside each tooth
    s = np.concatenate([np.linspace(bounds[k], bounds[k + 1], samples, endpoint=False) for k in range(len(teeth))]
                       + [[1.0]])
    tooth = np.minimum(np.searchsorted(bounds, s, side="right") - 1, len(teeth) - 1)
    local = (s - bounds[tooth]) / (bounds[tooth + 1] - bounds[tooth])
    dip = np.exp(-(np.minimum(local, 1.0 - local) / 0.15) ** 2)
    # crown sizes blend linearly across each tooth so that neighbours meet
    nxt = np.minimum(tooth + 1, len(teeth) - 1)

    def attribute(name: str) -> np.ndarray:
        a = np.array([getattr(t, name) for t in teeth])
        return a[tooth] * (1 - local) + a[nxt] * local

    theta_q = np.interp(s, arc, theta_dense)
    full = {"theta": np.concatenate([-theta_q[::-1], theta_q[1:]])}
    for name, values in (("dip", dip), ("height", attribute("height")), ("thickness", attribute("thickness")),
                         ("edge", attribute("edge"))):
        full[name] = np.concatenate([values[::-1], values[1:]])
    return full


def _tube_faces(rows: int, cols: int, offset: int) -> np.ndarray:
    """Triangles of a tube of ``rows`` cross-sections of ``cols`` points (closed around), plus end caps.

    Vertex ``offset + r * cols + c``; the two cap centres follow at ``offset + rows * cols`` (+1).
    """
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols), indexing="ij")
    a = r * cols + c
    b = r * cols + (c + 1) % cols
    a2, b2 = a + cols, b + cols
    quads = np.stack([np.stack([a, b, b2], -1), np.stack([a, b2, a2], -1)], 2).reshape(-1, 3)
    first_cap, last_cap = rows * cols, rows * cols + 1
    c = np.arange(cols)
    cap0 = np.stack([np.full(cols, first_cap), (c + 1) % cols, c], -1)
    cap1 = np.stack([np.full(cols, last_cap), (rows - 1) * cols + c, (rows - 1) * cols + (c + 1) % cols], -1)
    return np.concatenate([quads, cap0, cap1]) + offset


def _teeth_row(anchor: dict[str, torch.Tensor], layout: dict[str, np.ndarray], shape: MouthShape,
               upper: bool) -> torch.Tensor:
    """(B, S * 6 + 2, 3) one tooth row: S cross-sections of 6 points around the crown, then 2 cap centres."""
    ref = anchor["width"]
    w = anchor["width"][:, None]  # (B, 1)
    inset = 0.0 if upper else shape.overjet
    b, d = shape.arch_half_width - inset, shape.arch_depth - inset
    as_t = {k: torch.as_tensor(v, dtype=ref.dtype, device=ref.device) for k, v in layout.items()}
    theta, dip = as_t["theta"], as_t["dip"]
    h, th, edge = as_t["height"], as_t["thickness"], as_t["edge"]
    # arch curve (front of the crowns) and its outward horizontal normal
    cx = anchor["x"][:, None] + w * b * torch.sin(theta)
    cz = anchor["z_front"][:, None] - w * (inset + d * (1 - torch.cos(theta)))
    nx, nz = d * torch.sin(theta), b * torch.cos(theta)  # normal of the curve (b sin θ, -d (1 - cos θ))
    norm = torch.sqrt(nx**2 + nz**2)
    nx, nz = nx / norm, nz / norm
    sign = 1.0 if upper else -1.0  # direction from the biting edge to the gum
    edge_y = anchor["y"][:, None] + w * (-shape.upper_overlap if upper else shape.lower_overlap)
    edge_y = edge_y + sign * w * shape.notch * dip
    root = h + shape.gum
    # cross-section around the crown, (depth behind the arch curve, height above the biting edge) in W:
    # gum front, labial bulge, edge front, edge back, lingual bulge, gum back
    depth_rel = torch.stack([0 * th, -0.06 * th, 0.02 * th + shape.recess * dip, edge * th, th, 0.9 * th], -1)
    height_rel = torch.stack([root, 0.55 * h, 0 * h, 0 * h, 0.45 * h, root], -1)
    back = w[..., None] * depth_rel  # (B, S, 6)
    y = edge_y[..., None] + sign * w[..., None] * height_rel
    x = cx[..., None] - back * nx[:, None]
    z = cz[..., None] - back * nz[:, None]
    section = torch.stack([x, y, z], -1)  # (B, S, 6, 3)
    if not upper:  # mirrored in y: reverse the ring order so the tube stays outward-wound
        section = section.flip(-2)
    points = section.reshape(section.shape[0], -1, 3)
    caps = torch.stack([section[:, 0].mean(1), section[:, -1].mean(1)], 1)
    return torch.cat([points, caps], 1)


def _ellipsoid(centre: torch.Tensor, radii: torch.Tensor, lat: int, lon: int) -> tuple[torch.Tensor, np.ndarray]:
    """(B, (lat - 1) * lon + 2, 3) points of a UV ellipsoid and its outward (F, 3) faces (local indices)."""
    polar = torch.linspace(0, math.pi, lat + 1, dtype=centre.dtype, device=centre.device)[1:-1]
    azim = torch.arange(lon, dtype=centre.dtype, device=centre.device) * (2 * math.pi / lon)
    p, a = torch.meshgrid(polar, azim, indexing="ij")
    unit = torch.stack([torch.sin(p) * torch.sin(a), torch.cos(p), torch.sin(p) * torch.cos(a)], -1).reshape(-1, 3)
    poles = torch.tensor([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]], dtype=centre.dtype, device=centre.device)
    unit = torch.cat([unit, poles])
    points = centre[:, None] + unit[None] * radii[:, None]
    faces = _tube_faces(lat - 1, lon, 0)
    return points, faces


def _lip_anchor(ring_points: torch.Tensor, jaw_share: np.ndarray) -> dict[str, torch.Tensor]:
    """Per identity: ring width W, centre x, lip line y, the ring's frontmost midline z, all (B,)."""
    x = ring_points[..., 0]
    x_lo, x_hi = x.min(1).values, x.max(1).values
    centre = (x_lo + x_hi) / 2
    lower = torch.as_tensor(jaw_share >= 0.5, device=ring_points.device)
    dist = (x - centre[:, None]).abs()
    big = torch.finfo(ring_points.dtype).max
    up_i = torch.where(lower, big, dist).argmin(1)
    lo_i = torch.where(lower, dist, big).argmin(1)
    rows = torch.arange(ring_points.shape[0], device=ring_points.device)
    up, lo = ring_points[rows, up_i], ring_points[rows, lo_i]
    return {"width": x_hi - x_lo, "x": centre, "y": (up[:, 1] + lo[:, 1]) / 2,
            "z_ring": torch.minimum(up[:, 2], lo[:, 2]), "y_span": up[:, 1] - lo[:, 1]}


def build_mouth_proxy(
    rest_vertices: torch.Tensor,
    faces: np.ndarray,
    weights: torch.Tensor,
    parents: list[int],
    jaw_joint: int = FLAME_JAW_JOINT,
    shape: MouthShape = MouthShape(),
) -> MouthProxy | None:
    """Build the mouth interior for B identities of a FLAME-topology model.

    Args:
        rest_vertices: (B, V, 3) or (V, 3) shaped, unposed vertices (``model(shape=...)``); +y up, +z forward.
        faces: (F, 3) the model's triangles.
        weights: (V, J) the model's skinning weights.
        parents: J parent indices; the upper teeth follow ``parents[jaw_joint]``.
        jaw_joint: the joint that opens the mouth.
        shape: proportions.

    Returns:
        The proxy, or None when the mesh has no open lip ring (:func:`find_lip_ring`).
    """
    head_joint = parents[jaw_joint]
    if head_joint < 0:
        raise X3DError(f"joint {jaw_joint} has no parent, so it cannot be the jaw; pass the model's jaw joint")
    rest = rest_vertices if rest_vertices.dim() == 3 else rest_vertices[None]
    weights_np = weights.detach().cpu().numpy()
    ring = find_lip_ring(faces, weights_np, jaw_joint)
    if ring is None:
        return None
    n_joints = weights_np.shape[1]
    dtype, device = rest.dtype, rest.device
    jaw_w = weights_np[ring, jaw_joint]
    jaw_share = (jaw_w - jaw_w.min()) / max(float(np.ptp(jaw_w)), 1e-9)
    jaw_share = jaw_share * jaw_share * (3 - 2 * jaw_share)  # smoothstep: rigid halves, a blend at the corners
    ring_points = rest[:, ring]  # (B, N, 3)
    anchor = _lip_anchor(ring_points, jaw_share)
    anchor["z_front"] = anchor["z_ring"] - shape.teeth_gap * anchor["width"]
    w = anchor["width"]

    def rigid(joint_share: np.ndarray) -> np.ndarray:
        out = np.zeros((joint_share.shape[0], n_joints))
        out[:, head_joint] = 1 - joint_share
        out[:, jaw_joint] = joint_share
        return out

    parts: dict[str, tuple[int, int]] = {}
    points: list[torch.Tensor] = []
    skin: list[np.ndarray] = []
    tris: list[np.ndarray] = []
    offset = rest.shape[1]

    def add(name: str, pts: torch.Tensor, wts: np.ndarray, local_faces: np.ndarray | None) -> None:
        start = sum(p.shape[1] for p in points)
        parts[name] = (start, start + pts.shape[1])
        points.append(pts)
        skin.append(wts)
        if local_faces is not None:
            tris.append(local_faces + offset + start)

    for name, teeth, upper in (("upper_teeth", UPPER_TEETH, True), ("lower_teeth", LOWER_TEETH, False)):
        layout = _arch_layout(teeth, shape.arch_half_width, shape.arch_depth, shape.samples_per_tooth)
        pts = _teeth_row(anchor, layout, shape, upper)
        add(name, pts, rigid(np.full(pts.shape[1], 0.0 if upper else 1.0)),
            _tube_faces(layout["theta"].shape[0], 6, 0))

    down, back = shape.tongue_centre
    centre = torch.stack([anchor["x"], anchor["y"] - down * w, anchor["z_front"] - back * w], -1)
    radii = torch.as_tensor(shape.tongue_radii, dtype=dtype, device=device)[None] * w[:, None]
    tongue, tongue_faces = _ellipsoid(centre, radii, *shape.tongue_segments)
    add("tongue", tongue, rigid(np.ones(tongue.shape[1])), tongue_faces)

    # cavity: rings behind the lip ring, shrinking toward a back wall, closed by a fan
    z_back = anchor["z_ring"] - shape.cavity_depth * w
    centre_xy = torch.stack([anchor["x"], anchor["y"]], -1)[:, None]  # (B, 1, 2)
    ring_w = weights_np[ring]
    levels, level_w = [], []
    for frac, sx, sy in shape.cavity_levels:
        xy = centre_xy + (ring_points[..., :2] - centre_xy) * torch.as_tensor([sx, sy], dtype=dtype, device=device)
        z = ring_points[..., 2] + (z_back[:, None] - ring_points[..., 2]) * frac
        levels.append(torch.cat([xy, z[..., None]], -1))
        alpha = min(1.0, 2.0 * frac)
        level_w.append((1 - alpha) * ring_w + alpha * rigid(jaw_share))
    back_centre = torch.stack([anchor["x"], anchor["y"], z_back], -1)[:, None]
    cavity = torch.cat(levels + [back_centre], 1)
    n_ring, n_levels = ring.shape[0], len(levels)
    start = sum(p.shape[1] for p in points) + offset
    # level 0 is the FLAME ring itself; proxy level k (1-based) starts at start + (k - 1) * n_ring
    level_index = [ring] + [start + k * n_ring + np.arange(n_ring) for k in range(n_levels)]
    cavity_faces = []
    for a, b in zip(level_index[:-1], level_index[1:]):
        a1, b1 = np.roll(a, -1), np.roll(b, -1)
        cavity_faces += [np.stack([a1, a, b], -1), np.stack([a1, b, b1], -1)]
    last = level_index[-1]
    cavity_faces.append(np.stack([np.roll(last, -1), last, np.full(n_ring, start + n_levels * n_ring)], -1))
    add("cavity", cavity, np.concatenate(level_w + [rigid(np.array([0.5]))]), None)
    tris.append(np.concatenate(cavity_faces))

    weights_all = torch.as_tensor(np.concatenate(skin), dtype=dtype, device=device)
    return MouthProxy(
        rest=torch.cat(points, 1),
        weights=weights_all,
        faces=np.concatenate(tris).astype(np.int64),
        num_flame_vertices=offset,
        parts=parts,
        lip_ring=ring,
    )


# ----------------------------------------------------------------------------------------------
# FLAME glue


def mouth_proxy_for_model(model: FlameModel, shape_coefficients: torch.Tensor | None = None,
                          shape: MouthShape = MouthShape()) -> MouthProxy | None:
    """:func:`build_mouth_proxy` for a loaded FLAME model and (B, n) identity coefficients (None = template)."""
    with torch.no_grad():
        rest = model(shape=shape_coefficients)  # zero pose: exactly the shaped template
    return build_mouth_proxy(rest, model.faces.detach().cpu().numpy(), model.lbs_weights, model.parents,
                             FLAME_JAW_JOINT, shape)


def pose_mouth_proxy(proxy: MouthProxy, transforms: torch.Tensor) -> torch.Tensor:
    """(B, P, 3) posed proxy from (B, J, 3, 4) joint transforms (a proxy built for 1 identity serves any B)."""
    rest = proxy.rest.to(transforms.dtype)
    if rest.shape[0] != transforms.shape[0]:
        if rest.shape[0] != 1:
            raise X3DError(f"mouth proxy has {rest.shape[0]} identities for {transforms.shape[0]} frames")
        rest = rest.expand(transforms.shape[0], -1, -1)
    return linear_blend_skinning(rest, transforms, proxy.weights.to(transforms))


def mouth_vertices_for_sequence(model: FlameModel, proxy: MouthProxy, params: np.ndarray,
                                batch_size: int = 256) -> np.ndarray:
    """Decode (T, 284) parameters to (T, V + P, 3) float32: the FLAME mesh, then the posed proxy."""
    from ..params import EXP, POSE, SHAPE

    device = model.v_template.device
    out = np.empty((params.shape[0], model.num_vertices + proxy.num_vertices, 3), np.float32)
    with torch.no_grad():
        for start in range(0, params.shape[0], batch_size):
            chunk = torch.as_tensor(params[start : start + batch_size], dtype=torch.float32, device=device)
            verts, transforms = model.forward_with_transforms(shape=chunk[:, SHAPE], expression=chunk[:, EXP],
                                                              pose=chunk[:, POSE])
            both = torch.cat([verts, pose_mouth_proxy(proxy, transforms)], 1)
            out[start : start + chunk.shape[0]] = both.cpu().numpy()
    return out


def mouth_proxy_for_sequence(model: FlameModel, params: np.ndarray,
                             shape: MouthShape = MouthShape()) -> MouthProxy | None:
    """The proxy for a clip's identity: its mean shape coefficients over the (T, 284) frames."""
    from ..params import SHAPE

    identity = torch.as_tensor(np.asarray(params, np.float32)[:, SHAPE].mean(0, keepdims=True),
                               device=model.v_template.device)
    return mouth_proxy_for_model(model, identity, shape)


# ----------------------------------------------------------------------------------------------
# the check


def largest_far_region(view_depth: np.ndarray, depth_range: DepthRange | None = None,
                       far_fraction: float = 0.1) -> np.ndarray:
    """Per frame, the largest hole inside the head whose depth reads as far background, over the head's area.

    * **Inside the head**: the filled silhouette, i.e. the covered pixels with every enclosed hole filled
      (``scipy.ndimage.binary_fill_holes``).
    * **Reads as far background**: uncovered (depth 0, drawn black like the background), or in the farthest
      ``far_fraction`` of the clip's depth range, i.e. a depth image value at most
      ``floor + far_fraction * (1 - floor)``. There the inside of the back of the head shows through an open mouth.
    * **Region**: 8-connected pixels of that set inside the head that do not touch the outside of the silhouette.
      A far surface on the outline, such as the back of an ear or the neck opening, is the head's edge, not a hole.

    Args:
        view_depth: (T, H, W) metric view depth, 0 where nothing was drawn (:class:`.sequence.RenderedFrames`).
        depth_range: the range the depth video was normalised with; None = the clip's own.
        far_fraction: how much of the far end of the range counts as far.

    Returns:
        (T,) float64, the largest region's pixel count over the filled silhouette's pixel count (0 with no hole).
    """
    from scipy import ndimage

    from .images import DepthRange

    depth = np.asarray(view_depth)
    if depth.ndim == 2:
        depth = depth[None]
    if depth.ndim != 3:
        raise X3DError(f"view depth must be (T, H, W), got {np.shape(view_depth)}")
    covered = depth > 0
    depth_range = depth_range or DepthRange.of(depth, covered)
    far_cut = depth_range.far - far_fraction * (depth_range.far - depth_range.near)
    eight = np.ones((3, 3), bool)
    out = np.zeros(depth.shape[0])
    for t in range(depth.shape[0]):
        head = ndimage.binary_fill_holes(covered[t])
        area = int(head.sum())
        if area == 0:
            continue
        far = head & (~covered[t] | (depth[t] >= far_cut))
        labels, count = ndimage.label(far, structure=eight)
        if count == 0:
            continue
        edge = ndimage.binary_dilation(~head, structure=eight) & head  # the silhouette's own outline
        touching = np.unique(labels[edge & far])
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        sizes[0] = 0
        sizes[touching] = 0
        out[t] = sizes.max() / area
    return out
