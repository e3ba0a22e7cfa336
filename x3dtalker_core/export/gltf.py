"""Minimal glTF 2.0 binary (GLB) plumbing: one buffer of typed accessors, packing and unpacking.

Written by hand because no well-kept Python glTF writer does skins + morph-target animation without
pulling a scene graph library; the files are checked with the Khronos validator and Blender in the tests.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from ..errors import InvalidFileError

FLOAT, UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5121, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
GLB_MAGIC, JSON_CHUNK, BIN_CHUNK = 0x46546C67, 0x4E4F534A, 0x004E4942

COMPONENT_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UNSIGNED_BYTE,
                   np.dtype(np.uint16): UNSIGNED_SHORT, np.dtype(np.uint32): UNSIGNED_INT}
DTYPES = {v: k for k, v in COMPONENT_TYPES.items()}
WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


class GltfBuffer:
    """Appends arrays to one binary buffer and records their buffer views and accessors."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, array: np.ndarray, target: int | None = None) -> int:
        """Append raw ``array`` bytes as a 4-byte aligned buffer view; returns the view index."""
        data = np.ascontiguousarray(array)
        offset = len(self.blob)
        self.blob += data.tobytes()
        self.blob += b"\0" * (-len(self.blob) % 4)
        view = {"buffer": 0, "byteOffset": offset, "byteLength": data.nbytes}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        return len(self.views) - 1

    def add(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        """Append ``array`` ((N,) for SCALAR, (N, width) otherwise) as an accessor; returns its index."""
        data = np.ascontiguousarray(array)
        count = data.size // WIDTHS[kind]
        accessor = {"bufferView": self.view(data, target), "componentType": COMPONENT_TYPES[data.dtype],
                    "count": int(count), "type": kind}
        if bounds:
            flat = data.reshape(count, -1)
            accessor["min"] = [float(x) for x in flat.min(0)]
            accessor["max"] = [float(x) for x in flat.max(0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    def add_sparse_vec3(self, dense: np.ndarray) -> int:
        """A VEC3 float accessor of ``dense`` (N, 3) that stores only its non-zero rows (morph targets)."""
        dense = np.asarray(dense, np.float32)
        rows = np.flatnonzero(np.abs(dense).max(axis=1) > 0).astype(np.uint32)
        accessor = {"componentType": FLOAT, "count": int(dense.shape[0]), "type": "VEC3",
                    "min": [float(x) for x in dense.min(0)], "max": [float(x) for x in dense.max(0)]}
        if rows.size:
            accessor["sparse"] = {
                "count": int(rows.size),
                "indices": {"bufferView": self.view(rows), "componentType": UNSIGNED_INT},
                "values": {"bufferView": self.view(dense[rows])},
            }
        else:  # an all-zero target: glTF needs at least one sparse element or a buffer view
            accessor["bufferView"] = self.view(dense, ARRAY_BUFFER)
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def pack_glb(gltf: dict, blob: bytes) -> bytes:
    """A GLB file: header, JSON chunk (space padded), binary chunk (zero padded)."""
    gltf = {**gltf, "buffers": [{"byteLength": len(blob)}]}
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    blob = bytes(blob) + b"\0" * (-len(blob) % 4)
    total = 12 + 8 + len(js) + 8 + len(blob)
    return b"".join([
        struct.pack("<III", GLB_MAGIC, 2, total),
        struct.pack("<II", len(js), JSON_CHUNK), js,
        struct.pack("<II", len(blob), BIN_CHUNK), blob,
    ])


class GlbReader:
    """Read back a GLB's JSON and accessors (dense and sparse) as numpy arrays."""

    def __init__(self, path: str | Path) -> None:
        data = Path(path).read_bytes()
        try:
            magic, version, _ = struct.unpack_from("<III", data, 0)
            if magic != GLB_MAGIC or version != 2:
                raise ValueError("not a glTF 2.0 binary")
            js_len, _ = struct.unpack_from("<II", data, 12)
            self.gltf = json.loads(data[20 : 20 + js_len])
            bin_len, _ = struct.unpack_from("<II", data, 20 + js_len)
            self.blob = data[28 + js_len : 28 + js_len + bin_len]
        except (struct.error, ValueError) as exc:
            raise InvalidFileError(f"cannot read GLB {path}: {exc}") from None

    def _view(self, view_index: int, dtype: np.dtype, count: int, offset: int = 0) -> np.ndarray:
        view = self.gltf["bufferViews"][view_index]
        return np.frombuffer(self.blob, dtype, count, view.get("byteOffset", 0) + offset)

    def accessor(self, index: int) -> np.ndarray:
        acc = self.gltf["accessors"][index]
        dtype, width = DTYPES[acc["componentType"]], WIDTHS[acc["type"]]
        if "bufferView" in acc:
            arr = self._view(acc["bufferView"], dtype, acc["count"] * width, acc.get("byteOffset", 0)).copy()
        else:
            arr = np.zeros(acc["count"] * width, dtype)
        if "sparse" in acc:
            sp = acc["sparse"]
            idx = self._view(sp["indices"]["bufferView"], DTYPES[sp["indices"]["componentType"]], sp["count"],
                             sp["indices"].get("byteOffset", 0)).astype(np.int64)
            vals = self._view(sp["values"]["bufferView"], dtype, sp["count"] * width, sp["values"].get("byteOffset", 0))
            arr = arr.reshape(acc["count"], width)
            arr[idx] = vals.reshape(-1, width)
        return arr.reshape(acc["count"], width) if width > 1 else arr.reshape(-1)
