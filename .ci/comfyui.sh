#!/usr/bin/env bash
# A real ComfyUI server for the tests (tests/comfyui/, tests/test_nodes_comfy.py), from ../shared/tools.
#
# Unpacked OUTSIDE the checkout (the tests link the checkout into its custom_nodes/, so a copy inside the
# repo would make a loop), with a venv of its own: ComfyUI needs torch, torchvision and torchaudio builds
# that match each other (PyPI's 2.9.1 set runs on the CPU with --cpu), plus the pack's requirements, since
# ComfyUI loads the pack into its own Python. The unpacked tree and venv are cached by the tarball's hash;
# the pack's requirements are re-checked every run. Prints the two variables to export.
set -euo pipefail
cd "$(dirname "$0")/.."
tarball="${1:-../shared/tools/ComfyUI-0.3.64.tar.gz}"
if [ ! -f "$tarball" ]; then
  echo "no ComfyUI tarball at $tarball" >&2
  exit 1
fi
key=$(sha256sum "$tarball" | cut -c1-12)
home="${X3DTALKER_CI_CACHE:-$HOME/.cache/x3dtalker-ci}/comfyui-$key"
if [ ! -f "$home/.ready" ]; then
  rm -rf "$home"
  mkdir -p "$home"
  tar -xzf "$tarball" -C "$home"
  python3 -m venv "$home/venv"
  "$home/venv/bin/python" -m pip install -q --upgrade pip >&2
  "$home/venv/bin/pip" install -q torch==2.9.1 torchvision==0.24.1 torchaudio==2.9.1 >&2
  "$home/venv/bin/pip" install -q -r "$home/ComfyUI/requirements.txt" >&2
  touch "$home/.ready"
fi
# requests: ComfyUI 0.3.64 imports it (app/frontend_management.py) without listing it in its requirements.
"$home/venv/bin/pip" install -q -r requirements.txt pytest requests >&2
echo "export COMFYUI_DIR='$home/ComfyUI' COMFYUI_PYTHON='$home/venv/bin/python'"
