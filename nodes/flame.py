"""FLAME model nodes."""

from __future__ import annotations

import os

from comfy_api.latest import io

from ..x3dtalker_core.assets import ASSETS, find_asset
from ..x3dtalker_core.errors import X3DError
from .types import CATEGORY, FlameModelType

MODEL_EXTENSIONS = (".pkl", ".npz")
NON_MODEL_FILES = {"FLAME_masks.pkl", "FLAME_masks_plain.npz", "landmark_embedding_plain.npz",
                   "mediapipe_landmark_embedding.npz", "flame2020_joint_regressor.npz"}
AUTO = "auto (first installed FLAME model)"


def flame_model_files() -> list[str]:
    """FLAME model files in the registered ``flame`` folders (masks and embeddings left out)."""
    import folder_paths

    try:
        names = folder_paths.get_filename_list("flame")
    except KeyError:
        return []
    return [n for n in names if n.lower().endswith(MODEL_EXTENSIONS) and os.path.basename(n) not in NON_MODEL_FILES
            and _looks_like_flame(folder_paths.get_full_path("flame", n))]


def _looks_like_flame(path: str | None) -> bool:
    """Cheap check for dropdowns: an .npz must hold FLAME's arrays (reads the zip index only)."""
    if path is None:
        return False
    if not path.lower().endswith(".npz"):
        return True
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return {"shapedirs.npy", "v_template.npy", "posedirs.npy"} <= set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _resolve(model_file: str) -> str:
    if model_file == AUTO:
        return str(find_asset("flame_model"))
    import folder_paths

    path = folder_paths.get_full_path("flame", model_file)
    if path is None:
        raise X3DError(f"FLAME model '{model_file}' is not in models/flame; {ASSETS['flame_model'].source}")
    return path


class LoadFlameModel(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_LoadFlameModel",
            display_name="Load FLAME Model",
            category=f"{CATEGORY}/FLAME",
            description="Loads a FLAME head model (generic_model.pkl, flame2023.pkl or .npz) from models/flame, "
            "with its landmark embeddings when present.",
            inputs=[
                io.Combo.Input(
                    "model_file", options=[AUTO, *flame_model_files()], default=AUTO,
                    tooltip="FLAME model file in models/flame. 'auto' picks generic_model.pkl, then flame2023.pkl, "
                    "then any other installed model. Get FLAME at flame.is.tue.mpg.de (free registration).",
                ),
            ],
            outputs=[FlameModelType.Output(display_name="flame_model")],
        )

    @classmethod
    def fingerprint_inputs(cls, model_file: str) -> str:
        # A replaced file (same name, new content) must reload.
        try:
            path = _resolve(model_file)
            st = os.stat(path)
            return f"{path}:{st.st_mtime_ns}:{st.st_size}"
        except (X3DError, OSError):
            return model_file

    @classmethod
    def execute(cls, model_file: str) -> io.NodeOutput:
        from ..x3dtalker_core.flame import load_flame_model

        return io.NodeOutput(load_flame_model(_resolve(model_file)))


NODES = [LoadFlameModel]
