#!/usr/bin/env bash
# Regenerate the bundled bootstrap generator v2: corpus, training, evaluation (about 1.5 h on 2 CPU cores).
#   bash recipes/bootstrap_v2.sh OUT_DIR
# Needs: apt-get install festival festvox-us-slt-hts festlex-cmu flite espeak-ng wamerican pocketsphinx-testdata;
#        pip install hama==1.7.0 pocketsphinx==5.1.1
set -euo pipefail
OUT=${1:?usage: bash recipes/bootstrap_v2.sh OUT_DIR}
PY=${PYTHON:-python}
HERE=$(cd "$(dirname "$0")" && pwd)
VOICES="festival:slt_hts flite:slt flite:awb flite:kal16 flite:rms espeak:en-us+m1 espeak:en-us+m3 espeak:en-us+m5
 espeak:en-us+m7 espeak:en-us+f1 espeak:en-us+f2 espeak:en-us+f3 espeak:en-us+f4 espeak:en-us+f5 espeak:en-gb-x-rp+m1
 espeak:en-gb-x-rp+f3 espeak:en-gb-x-gbclan+m4 espeak:en-gb-x-gbcwmd+f2 espeak:en-029+m2 espeak:en-us-nyc+f4
 espeak:en-us+klatt2 espeak:en-us+Andy espeak:en-us+Annie espeak:en+Michael espeak:en-gb-scotland+m2"
# shellcheck disable=SC2086
$PY -m x3dtalker_core synth --out "$OUT/synth3h" --hours 3.0 --seed 0 --workers 2 --voices $VOICES \
    --val-voices flite:rms espeak:en-gb-scotland+m2
$PY -m x3dtalker_core train --config "$HERE/bootstrap_v2.yaml" --data "$OUT/synth3h/train" --out "$OUT/run"
$PY -m x3dtalker_core eval --checkpoint "$OUT/run/generator.safetensors" --mode spec \
    --real-speech /usr/share/pocketsphinx/test/data/librivox --out "$OUT/eval_real.json"
$PY -m x3dtalker_core eval --checkpoint "$OUT/run/generator.safetensors" --mode spec \
    --data "$OUT/synth3h/val" --out "$OUT/eval_val.json"
