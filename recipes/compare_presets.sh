#!/usr/bin/env bash
# Paper design vs improved design, same data / steps / seed, at the small size (README "paper vs improved").
#   bash recipes/compare_presets.sh CORPUS_DIR OUT_DIR     (CORPUS_DIR from recipes/bootstrap_v2.sh: train/ and val/)
# About 25 min per design on 2 CPU cores. Speed at the paper's full size: python bench/generate.py --json.
set -euo pipefail
DATA=${1:?usage: bash recipes/compare_presets.sh CORPUS_DIR OUT_DIR}
OUT=${2:?usage: bash recipes/compare_presets.sh CORPUS_DIR OUT_DIR}
PY=${PYTHON:-python}
HERE=$(cd "$(dirname "$0")" && pwd)
for design in paper improved; do
  $PY -m x3dtalker_core train --config "$HERE/compare_small_$design.yaml" --data "$DATA/train" --out "$OUT/$design"
  $PY -m x3dtalker_core eval --checkpoint "$OUT/$design/generator.safetensors" --mode spec \
      --data "$DATA/val" --out "$OUT/eval_val_$design.json"
  $PY -m x3dtalker_core eval --checkpoint "$OUT/$design/generator.safetensors" --mode spec \
      --real-speech /usr/share/pocketsphinx/test/data/librivox --out "$OUT/eval_real_$design.json"
done
