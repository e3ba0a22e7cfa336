"""EMOCA v2 encoders (``EMOCA_v2_lr_mse_20``): image crop -> FLAME shape, exp, pose, cam, detail.

Architecture (as EMOCA/DECA define it): three ResNet-50 encoders, each a torchvision-style
ResNet-50 trunk (global-average-pooled 2048-d feature) followed by ``Linear(2048, 1024) - ReLU -
Linear(1024, out)``:

* ``E_flame`` (the DECA coarse encoder): ``shape 100 | tex 50 | exp 50 | pose 6 | cam 3 | light 27``;
* ``E_expression`` (EMOCA's emotion-aware branch, ``deca_clone`` backbone): ``exp 50`` plus the jaw
  pose (3) when ``exp_deca_jaw_pose`` (true for EMOCA v2), which replace E_flame's;
* ``E_detail``: the 128-d detail code.

Input: the 224x224 RGB crop in [0, 1] (no mean/std normalisation), cropped like EMOCA's test
loader: the box of the 68 iBUG landmarks, its mean side x 1.1 x 1.25, centred on the box. Output cam is EMOCA's
orthographic camera for that crop (our :mod:`.fitter` uses the same convention).

Model folder (asset ``emoca``, ``EMOCA_v2_lr_mse_20/`` from the EMOCA download)::

    EMOCA_v2_lr_mse_20/cfg.yaml                          (optional: n_* sizes, exp_deca_* flags)
    EMOCA_v2_lr_mse_20/detail/checkpoints/**/*.ckpt      (PyTorch Lightning checkpoint; the lowest
                                                         loss in the name wins, as EMOCA's loader picks)

Key mapping: the checkpoint's ``state_dict`` keys ``deca.E_flame.*``, ``deca.E_expression.*`` and
``deca.E_detail.*`` load into this module's ``E_flame``, ``E_expression`` and ``E_detail`` with the
``deca.`` prefix removed (sub-keys are identical: ``encoder.conv1.weight``, ``encoder.layer1.0.
downsample.0.weight``, ``layers.0.weight`` ...). Everything else in the file (FLAME buffers, the
detail decoder ``D_detail``, renderer, optimiser state) is ignored. The checkpoint is unpickled
with a restricted unpickler: tensors and plain containers only, any other class (Lightning
hyper-parameters, OmegaConf) becomes an inert stub, so no code from the file ever runs.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import AssetNotFoundError, InvalidFileError, X3DError

CROP_SIZE = 224
CROP_SCALE = 1.25
STATE_PREFIX = "deca."
ENCODERS = ("E_flame", "E_expression", "E_detail")


@dataclass(frozen=True)
class EmocaConfig:
    """Sizes and flags of an EMOCA model (defaults: EMOCA v2).

    ``resnet_blocks``/``resnet_width`` exist so tests can build a tiny model with the same key
    layout; the official model is ResNet-50 = (3, 4, 6, 3) blocks, width 64.
    """

    n_shape: int = 100
    n_tex: int = 50
    n_exp: int = 50
    n_pose: int = 6
    n_cam: int = 3
    n_light: int = 27
    n_detail: int = 128
    exp_deca_jaw_pose: bool = True
    exp_deca_global_pose: bool = False
    resnet_blocks: tuple[int, int, int, int] = (3, 4, 6, 3)
    resnet_width: int = 64
    hidden: int = 1024

    @property
    def n_flame_code(self) -> int:
        return self.n_shape + self.n_tex + self.n_exp + self.n_pose + self.n_cam + self.n_light

    @property
    def n_exp_code(self) -> int:
        extra = 3 * (int(self.exp_deca_jaw_pose) + int(self.exp_deca_global_pose))
        return self.n_exp + extra

    @classmethod
    def from_yaml(cls, path: Path) -> EmocaConfig:
        """Read EMOCA's ``cfg.yaml`` (``detail.model`` section, else ``coarse.model``, else ``model``)."""
        import yaml

        try:
            cfg = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidFileError(f"cannot read EMOCA config {path}: {exc}") from None
        model = None
        for section in ("detail", "coarse"):
            if isinstance(cfg, dict) and isinstance(cfg.get(section), dict) and isinstance(cfg[section].get("model"), dict):
                model = cfg[section]["model"]
                break
        if model is None and isinstance(cfg, dict):
            model = cfg.get("model", cfg)
        if not isinstance(model, dict):
            raise InvalidFileError(f"{path}: no model settings found")
        ints = ("n_shape", "n_tex", "n_exp", "n_pose", "n_cam", "n_light", "n_detail")
        values = {k: int(model[k]) for k in ints if k in model}
        for flag in ("exp_deca_jaw_pose", "exp_deca_global_pose"):
            if flag in model:
                values[flag] = bool(model[flag])
        return cls(**values)


class Bottleneck(nn.Module):
    """ResNet bottleneck block (1x1 -> 3x3 (stride) -> 1x1, x4 channels)."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


class ResNetTrunk(nn.Module):
    """ResNet trunk without the classifier: (B, 3, H, W) -> (B, 32 * width) pooled features."""

    def __init__(self, blocks: tuple[int, int, int, int] = (3, 4, 6, 3), width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_ch = width
        for i, n in enumerate(blocks):
            planes = width * 2**i
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or in_ch != planes * 4:
                down = nn.Sequential(nn.Conv2d(in_ch, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4))
            layers = [Bottleneck(in_ch, planes, stride, down)] + [Bottleneck(planes * 4, planes) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
            in_ch = planes * 4
        self.feature_size = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        # EMOCA pools with AvgPool2d(7) on the 7x7 map of a 224 input: the same as a global mean.
        return x.mean(dim=(2, 3))


class ResnetEncoder(nn.Module):
    """ResNet trunk + 2-layer regressor (EMOCA's ``ResnetEncoder``; keys ``encoder.*``, ``layers.*``)."""

    def __init__(self, out_size: int, config: EmocaConfig) -> None:
        super().__init__()
        self.encoder = ResNetTrunk(config.resnet_blocks, config.resnet_width)
        self.layers = nn.Sequential(
            nn.Linear(self.encoder.feature_size, config.hidden), nn.ReLU(), nn.Linear(config.hidden, out_size)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(self.encoder(images))


@dataclass(frozen=True)
class EmocaCodes:
    """EMOCA outputs for B crops (float32 numpy).

    Attributes:
        shape (B, 100), exp (B, 50), pose (B, 6) head + jaw, cam (B, 3), detail (B, 128),
        tex (B, 50), light (B, 9, 3).
    """

    shape: np.ndarray
    exp: np.ndarray
    pose: np.ndarray
    cam: np.ndarray
    detail: np.ndarray
    tex: np.ndarray
    light: np.ndarray = field(repr=False)


class EmocaEncoder(nn.Module):
    """EMOCA's three encoders; :meth:`forward` decodes their outputs like EMOCA's ``decompose_code``."""

    def __init__(self, config: EmocaConfig = EmocaConfig()) -> None:
        super().__init__()
        self.config = config
        self.E_flame = ResnetEncoder(config.n_flame_code, config)
        self.E_expression = ResnetEncoder(config.n_exp_code, config)
        self.E_detail = ResnetEncoder(config.n_detail, config)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> EmocaCodes:
        """images: (B, 3, 224, 224) RGB in [0, 1]."""
        c = self.config
        code = self.E_flame(images)
        sizes = [c.n_shape, c.n_tex, c.n_exp, c.n_pose, c.n_cam, c.n_light]
        shape, tex, exp, pose, cam, light = torch.split(code, sizes, dim=1)
        exp_code = self.E_expression(images)
        exp = exp_code[:, : c.n_exp]
        extra = exp_code[:, c.n_exp :]
        if c.exp_deca_global_pose and c.exp_deca_jaw_pose:
            pose = extra
        elif c.exp_deca_global_pose:
            pose = torch.cat([extra, pose[:, 3:]], dim=1)
        elif c.exp_deca_jaw_pose:
            pose = torch.cat([pose[:, :3], extra], dim=1)
        detail = self.E_detail(images)

        def np32(t: torch.Tensor) -> np.ndarray:
            return t.float().cpu().numpy()

        return EmocaCodes(np32(shape), np32(exp), np32(pose), np32(cam), np32(detail), np32(tex),
                          np32(light.reshape(-1, 9, 3)))


# ----------------------------------------------------------------------------------------------
# checkpoint loading
# ----------------------------------------------------------------------------------------------
class _Stub:
    """Stand-in for any class a checkpoint pickles besides tensors (never executes its code)."""

    def __init__(self, *args, **kwargs) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state


class _RestrictedUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch", "Size"),
        ("torch", "device"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "slice"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        if module == "torch" and (name.endswith("Storage") or name in ("float32", "float16", "bfloat16", "int64")):
            return super().find_class(module, name)
        return type(name, (_Stub,), {"__module__": f"stub.{module}"})


class _RestrictedPickle:
    """A ``pickle_module`` for :func:`torch.load` whose unpickler only builds tensors and containers."""

    Unpickler = _RestrictedUnpickler
    __name__ = "x3d_restricted_pickle"

    @staticmethod
    def load(file, **kwargs):
        return _RestrictedUnpickler(file, **kwargs).load()


def read_checkpoint_state(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a Lightning/PyTorch checkpoint (``state_dict`` if present), safely."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - Lightning checkpoints pickle config objects: retry restricted
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickle)
        except Exception as exc:  # noqa: BLE001
            raise InvalidFileError(f"cannot read EMOCA checkpoint {path}: {exc}") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise InvalidFileError(f"{path} holds no state_dict")
    return {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def map_emoca_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official ``deca.E_*`` keys -> :class:`EmocaEncoder` keys (others dropped)."""
    out = {}
    for key, value in state.items():
        k = key[len(STATE_PREFIX):] if key.startswith(STATE_PREFIX) else key
        if k.split(".", 1)[0] in ENCODERS:
            out[k] = value
    return out


def checkpoint_loss(path: Path) -> float | None:
    """The validation loss Lightning wrote into a checkpoint's name, or None.

    The value is what follows the last ``=`` of the file stem: ``dataloader_idx_0=3.25521111.ckpt``
    (Lightning turns the ``/`` of ``val_loss/dataloader_idx_0`` into a folder) gives 3.25521111.
    ``last.ckpt`` and names without a number give None.
    """
    stem = path.stem
    if stem == "last" or "=" not in stem:
        return None
    try:
        return float(stem.rsplit("=", 1)[1])
    except ValueError:
        return None


def best_checkpoint(folder: Path) -> Path | None:
    """The checkpoint under ``folder`` (searched recursively) with the lowest loss in its name.

    EMOCA's own loader picks its checkpoints this way ("best" mode): ``last.ckpt`` and names
    without a loss are skipped, and on equal losses the later one in sorted order wins. When no name
    carries a loss, the last one in sorted order is taken.
    """
    found = sorted(folder.rglob("*.ckpt"))
    if not found:
        return None
    scored = [(loss, p) for p in found if (loss := checkpoint_loss(p)) is not None]
    if not scored:
        return found[-1]
    best = min(loss for loss, _ in scored)
    return [p for loss, p in scored if loss == best][-1]


def find_emoca_checkpoint(folder: Path) -> Path:
    """The checkpoint of an EMOCA model folder: the best detail-stage one, else the best coarse one.

    The published ``EMOCA_v2_lr_mse_20`` stores it at
    ``detail/checkpoints/deca-epoch=10-val_loss/dataloader_idx_0=3.25521111.ckpt``.
    """
    if folder.is_file():
        return folder
    for stage in ("detail", "coarse"):
        stage_dir = folder / stage / "checkpoints"
        found = best_checkpoint(stage_dir) if stage_dir.is_dir() else None
        if found is not None:
            return found
    found = sorted(folder.glob("*.ckpt")) + sorted(folder.glob("*.pt"))
    if found:
        return found[-1]
    raise AssetNotFoundError(
        f"no EMOCA checkpoint in {folder}: expected detail/checkpoints/**/*.ckpt (the EMOCA_v2_lr_mse_20 download)"
    )


def load_emoca(path: str | Path | None = None, config: EmocaConfig | None = None) -> EmocaEncoder:
    """Load EMOCA's encoders from a model folder (or a checkpoint file); None resolves asset ``emoca``."""
    from ..assets import find_asset

    folder = Path(path) if path is not None else find_asset("emoca")
    if not folder.exists():
        raise AssetNotFoundError(f"EMOCA model not found: {folder}")
    if config is None:
        cfg_file = (folder if folder.is_dir() else folder.parent) / "cfg.yaml"
        config = EmocaConfig.from_yaml(cfg_file) if cfg_file.is_file() else EmocaConfig()
    ckpt = find_emoca_checkpoint(folder)
    state = map_emoca_state(read_checkpoint_state(ckpt))
    model = EmocaEncoder(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise InvalidFileError(
            f"{ckpt} is not an EMOCA v2 checkpoint: {len(missing)} encoder tensors missing (e.g. deca.{missing[0]})"
        )
    bad = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
    if bad:
        raise InvalidFileError(
            f"{ckpt}: tensor deca.{bad[0]} has shape {tuple(state[bad[0]].shape)}, expected "
            f"{tuple(expected[bad[0]].shape)} (check cfg.yaml sizes)"
        )
    model.load_state_dict({k: state[k] for k in expected})
    return model.eval()


def emoca_input(image: np.ndarray, crop: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 + square crop (x0, y0, size) -> (1, 3, 224, 224) float RGB in [0, 1].

    Resampled as EMOCA's test loader does: the similarity that maps the crop's corners onto pixels 0
    and 223, bilinear, black outside the photo. ``crop`` is in the detector's pixel coordinates
    (pixel centres at +0.5), EMOCA's are array indices, hence the half-pixel shift.
    """
    from scipy.ndimage import map_coordinates

    x0, y0, size = (float(c) for c in crop)
    step = size / (CROP_SIZE - 1)
    grid = np.arange(CROP_SIZE, dtype=np.float64) * step
    ys, xs = y0 - 0.5 + grid, x0 - 0.5 + grid
    # Only the window the crop reads is converted (a face in an 8k photo reads a small part of it).
    h, w = image.shape[:2]
    r0, c0 = int(np.clip(np.floor(ys[0]) - 1, 0, h)), int(np.clip(np.floor(xs[0]) - 1, 0, w))
    r1, c1 = int(np.clip(np.ceil(ys[-1]) + 2, 0, h)), int(np.clip(np.ceil(xs[-1]) + 2, 0, w))
    if r1 <= r0 or c1 <= c0:
        raise X3DError(f"the EMOCA crop {tuple(round(c, 1) for c in crop)} lies outside the {w}x{h} image")
    rows = (ys - r0)[:, None].repeat(CROP_SIZE, 1)
    cols = (xs - c0)[None, :].repeat(CROP_SIZE, 0)
    src = np.asarray(image[r0:r1, c0:c1], np.float64) / 255.0
    out = np.stack([map_coordinates(src[:, :, ch], [rows, cols], order=1, mode="grid-constant", cval=0.0)
                    for ch in range(3)])
    return torch.from_numpy(np.clip(out, 0.0, 1.0).astype(np.float32))[None].contiguous()
