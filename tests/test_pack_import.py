"""The pack root imports outside ComfyUI without side effects and exposes only the V3 entry point."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_root_import_outside_comfyui_is_light():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('x3dtalker_pack', r'{REPO / '__init__.py'}',"
        f" submodule_search_locations=[r'{REPO}'])\n"
        "mod = importlib.util.module_from_spec(spec); sys.modules['x3dtalker_pack'] = mod\n"
        "spec.loader.exec_module(mod)\n"
        "assert callable(mod.comfy_entrypoint) and mod.WEB_DIRECTORY == './web'\n"
        "assert not hasattr(mod, 'NODE_CLASS_MAPPINGS')\n"
        "heavy = [m for m in ('torch', 'comfy_api', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_core_never_imports_comfyui():
    import re

    pattern = re.compile(r"^\s*(from|import)\s+(comfy|comfy_api|folder_paths|server|nodes)\b", re.M)
    offenders = [str(p) for p in (REPO / "x3dtalker_core").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
