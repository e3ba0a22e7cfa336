"""A restricted unpickler for FLAME-family files (``generic_model.pkl``, ``FLAME_masks.pkl``, DECA ``.npy``).

The official FLAME pickles are Python-2 pickles that reference ``chumpy`` arrays and ``scipy.sparse``
matrices; DECA's ``landmark_embedding.npy`` holds torch tensors. A general ``pickle.load`` of a user
file can run arbitrary code, so this loader resolves only a whitelist of globals:

* numpy array reconstruction (``ndarray``, ``dtype``, ``_reconstruct``, ``scalar``);
* ``copyreg._reconstructor`` and ``object`` (how old pickles rebuild plain objects), and
  ``_codecs.encode`` restricted to latin-1 (how protocol-2 pickles written by Python 3 store bytes);
* any ``chumpy`` class, mapped to an inert record of its pickled state (chumpy need not be installed);
* ``scipy.sparse`` matrix classes, mapped to an inert record (rebuilt as a dense array afterwards);
* torch tensor rebuilding, with storages read through ``torch.load(weights_only=True)``.

Everything else is refused with :class:`InvalidFileError`. After unpickling, :func:`to_numpy` turns
the records into plain numpy arrays.
"""

from __future__ import annotations

import collections
import copyreg
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidFileError


class DisallowedGlobal(pickle.UnpicklingError):
    """The pickle references code outside the whitelist."""


class ChumpyRecord:
    """What a pickled ``chumpy`` object leaves behind: its class name and pickled state."""

    chumpy_class = "chumpy.Ch"

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_numpy(self) -> np.ndarray:
        state = getattr(self, "state", None)
        if isinstance(state, dict) and "x" in state:
            return np.asarray(to_numpy(state["x"]))
        raise InvalidFileError(
            f"unsupported chumpy object {self.chumpy_class} (no stored array 'x'); convert the file to .npz "
            "with chumpy installed, or use `assets install-flame` on the official download"
        )


class SparseRecord:
    """What a pickled ``scipy.sparse`` matrix leaves behind; rebuilt as a dense array."""

    sparse_format = "csc"

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_numpy(self) -> np.ndarray:
        import scipy.sparse as sp

        st = self.state if isinstance(getattr(self, "state", None), dict) else {}
        shape = tuple(int(s) for s in st.get("_shape", st.get("shape", ())))
        try:
            if self.sparse_format in ("csc", "csr"):
                cls = sp.csc_matrix if self.sparse_format == "csc" else sp.csr_matrix
                mat = cls((np.asarray(st["data"]), np.asarray(st["indices"]), np.asarray(st["indptr"])), shape=shape)
            elif self.sparse_format == "coo":
                rows = st["row"] if "row" in st else st["coords"][0]
                cols = st["col"] if "col" in st else st["coords"][1]
                mat = sp.coo_matrix((np.asarray(st["data"]), (np.asarray(rows), np.asarray(cols))), shape=shape)
            else:
                raise KeyError(self.sparse_format)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise InvalidFileError(f"malformed scipy.sparse {self.sparse_format} matrix in pickle: {exc}") from None
        return np.asarray(mat.toarray())


def _chumpy_class(name: str) -> type:
    return type(f"Chumpy_{name}", (ChumpyRecord,), {"chumpy_class": f"chumpy.{name}"})


def _sparse_class(name: str) -> type:
    return type(f"Sparse_{name}", (SparseRecord,), {"sparse_format": name.split("_")[0]})


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """Python-3 protocol-2 pickles store bytes as ``_codecs.encode(text, 'latin1')``; allow only that."""
    if not isinstance(text, str) or encoding.lower().replace("-", "") != "latin1":
        raise DisallowedGlobal(f"disallowed use of _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _torch_storage_from_bytes(data: bytes) -> Any:
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)


def _torch_global(name: str) -> Any:
    import torch._utils

    allowed = {"_rebuild_tensor_v2": torch._utils._rebuild_tensor_v2, "_rebuild_tensor": torch._utils._rebuild_tensor}
    return allowed.get(name)


_NUMPY_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy.core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1_encode,
}

_SPARSE_NAMES = {"csc_matrix", "csr_matrix", "coo_matrix"}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS:
            return _NUMPY_GLOBALS[(module, name)]
        if module == "chumpy" or module.startswith("chumpy."):
            return _chumpy_class(name)
        if module.startswith("scipy.sparse") and name in _SPARSE_NAMES:
            return _sparse_class(name)
        if module == "torch._utils":
            fn = _torch_global(name)
            if fn is not None:
                return fn
        if module == "torch.storage" and name == "_load_from_bytes":
            return _torch_storage_from_bytes
        raise DisallowedGlobal(f"disallowed global '{module}.{name}'")


def to_numpy(obj: Any) -> Any:
    """Recursively replace chumpy/sparse records and torch tensors by numpy arrays."""
    if isinstance(obj, (ChumpyRecord, SparseRecord)):
        return obj.to_numpy()
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_numpy(v) for v in obj)
    if type(obj).__module__.startswith("torch") and hasattr(obj, "detach"):
        return obj.detach().cpu().numpy()
    return obj


def loads_restricted(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the whitelist above; records converted to numpy."""
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DisallowedGlobal as exc:
        raise InvalidFileError(f"refusing to load {source}: {exc} (only FLAME/numpy data is accepted)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        raise InvalidFileError(f"{source} is truncated or not a valid pickle ({type(exc).__name__}: {exc})") from None
    return to_numpy(obj)


def load_pickle(path: str | Path) -> Any:
    """Safely read a ``.pkl`` file (see module docstring)."""
    path = Path(path)
    return loads_restricted(path.read_bytes(), str(path))


def load_npy_object(path: str | Path) -> Any:
    """Safely read an ``.npy`` file whose payload may be a pickled object (DECA's embeddings).

    Plain numeric ``.npy`` files are read without pickle.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            header = (
                np.lib.format.read_array_header_1_0(fh) if version == (1, 0) else np.lib.format.read_array_header_2_0(fh)
            )
        except ValueError as exc:
            raise InvalidFileError(f"{path} is not a valid .npy file: {exc}") from None
        _, _, dtype = header
        if not dtype.hasobject:
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
        obj = loads_restricted(fh.read(), str(path))
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    return to_numpy(obj)
