"""Generator checkpoints: one ``.safetensors`` file = weights + normalisation + JSON config.

Layout (SPEC §3): tensors = the network's state dict (float32, normalisation statistics included as
``normalizer.*``); safetensors metadata::

    format          "x3dtalker-generator"
    format_version  "1"
    config          JSON of GeneratorConfig (architecture, encoder names/dims, flow, window)
    info            JSON: training data summary, steps, code version, creation time

Loading validates every part and names what is wrong (corrupt file, foreign file, missing or
mis-shaped tensors, non-finite weights); feature/encoder mismatches are checked at generation time.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .. import __version__
from ..assets import BUNDLED_CHECKPOINTS, find_asset, generator_checkpoints, search_folders
from ..errors import InvalidFileError, X3DError
from ..io_utils import atomic_path
from .config import GeneratorConfig
from .network import FlowTransformer

FORMAT = "x3dtalker-generator"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"


def save_checkpoint(path: str | os.PathLike, network: FlowTransformer, config: GeneratorConfig,
                    info: dict[str, Any] | None = None) -> Path:
    """Write ``network`` (unwrapped) with its config atomically; returns the path."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous().clone()
               for k, v in network.state_dict().items()}
    info = dict(info or {})
    info.setdefault("code_version", __version__)
    info.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(config.to_dict()),
        "info": json.dumps(info),
    }
    with atomic_path(path, suffix=SUFFIX) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def resolve_checkpoint(path_or_name: str | os.PathLike | None) -> Path:
    """A checkpoint file from a path, a file name in the model folder (``3dxtalker/``), or None (default asset)."""
    if path_or_name is None or str(path_or_name) == "":
        return find_asset("generator")
    p = Path(path_or_name).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        raise X3DError(f"checkpoint {p} is a folder; pass the .safetensors file inside it")
    if len(p.parts) == 1:
        for folder in [*search_folders("3dxtalker"), BUNDLED_CHECKPOINTS]:
            for name in (p.name, p.name + SUFFIX):
                if (folder / name).is_file():
                    return folder / name
    raise X3DError(f"generator checkpoint not found: {path_or_name} (give a .safetensors path or a file name in "
                   f"one of: {', '.join(str(f) for f in search_folders('3dxtalker'))})")


def available_checkpoints() -> list[str]:
    """File names of every installed generator checkpoint, the default first (see ``generator_checkpoints``)."""
    names: list[str] = []
    for p in generator_checkpoints():
        if p.name not in names:
            names.append(p.name)
    return names


def read_checkpoint_header(path: str | os.PathLike) -> tuple[GeneratorConfig, dict[str, Any]]:
    """Config and info of a checkpoint without loading the weights."""
    path = Path(path)
    metadata = _open_metadata(path)
    return _parse_metadata(path, metadata)


def _open_metadata(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise X3DError(f"generator checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise InvalidFileError(
            f"{path} is not a readable safetensors file (corrupt or truncated download?): {exc}") from None


def _parse_metadata(path: Path, metadata: dict[str, str]) -> tuple[GeneratorConfig, dict[str, Any]]:
    if metadata.get("format") != FORMAT:
        raise InvalidFileError(f"{path} is a safetensors file but not a 3DXTalker generator checkpoint "
                               f"(metadata 'format' is {metadata.get('format')!r}, expected {FORMAT!r})")
    try:
        version = int(metadata.get("format_version", "0"))
    except ValueError:
        version = -1
    if version != FORMAT_VERSION:
        raise InvalidFileError(f"{path} has checkpoint format version {metadata.get('format_version')!r}; this code "
                               f"reads version {FORMAT_VERSION} (update the pack or re-export the checkpoint)")
    try:
        config_dict = json.loads(metadata["config"])
        info = json.loads(metadata.get("info", "{}"))
    except (KeyError, json.JSONDecodeError) as exc:
        raise InvalidFileError(f"{path}: checkpoint config is missing or not valid JSON ({exc})") from None
    try:
        config = GeneratorConfig.from_checkpoint_dict(config_dict)
    except X3DError as exc:
        raise InvalidFileError(f"{path}: invalid checkpoint config: {exc}") from None
    except TypeError as exc:
        raise InvalidFileError(f"{path}: invalid checkpoint config: {exc}") from None
    return config, info


def load_network(path: str | os.PathLike) -> tuple[FlowTransformer, GeneratorConfig, dict[str, Any]]:
    """Build the network from a checkpoint and load its weights (on CPU, float32), validating everything."""
    path = Path(path)
    metadata = _open_metadata(path)
    config, info = _parse_metadata(path, metadata)
    network = FlowTransformer(config.model)
    expected = network.state_dict()
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
            missing = sorted(set(expected) - keys)
            unexpected = sorted(keys - set(expected))
            if missing or unexpected:
                raise InvalidFileError(
                    f"{path}: weights do not match the architecture in its config: "
                    + "; ".join(part for part in (
                        f"{len(missing)} missing (e.g. {', '.join(missing[:3])})" if missing else "",
                        f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})" if unexpected else "",
                    ) if part))
            state = {}
            for key in expected:
                tensor = f.get_tensor(key)
                if tensor.shape != expected[key].shape:
                    raise InvalidFileError(f"{path}: tensor {key} has shape {tuple(tensor.shape)}, the config's "
                                           f"architecture needs {tuple(expected[key].shape)}")
                if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    raise InvalidFileError(f"{path}: tensor {key} contains NaN or infinite values")
                state[key] = tensor
    except InvalidFileError:
        raise
    except Exception as exc:
        raise InvalidFileError(f"{path}: cannot read weights (corrupt or truncated file?): {exc}") from None
    network.load_state_dict(state)
    network.eval()
    return network, config, info
