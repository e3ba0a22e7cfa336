#!/usr/bin/env bash
# Regenerate the bundled bootstrap generator v2: corpus, training (stage 1 from scratch, stage 2 fine-tune with
# portraits whose lips are apart), evaluation (about 2 h on 2 CPU cores).
#   bash recipes/bootstrap_v2.sh OUT_DIR                    # what ships (ppg)
#   LINGUISTIC=mel bash recipes/bootstrap_v2.sh OUT_DIR     # the same on 'mel' features, where hama cannot load
# Needs: apt-get install festival festvox-us-slt-hts festlex-cmu flite espeak-ng wamerican pocketsphinx-testdata;
#        pip install hama==1.7.0 pocketsphinx==5.1.1
set -euo pipefail
OUT=${1:?usage: bash recipes/bootstrap_v2.sh OUT_DIR}
PY=${PYTHON:-python}
LING=${LINGUISTIC:-ppg}
# One thread per process: on a shared machine torch's default threads oversubscribe the cores (measured: 10 s instead of 0.8 s a training step on 2 loaded cores).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
VOICES="festival:slt_hts flite:slt flite:awb flite:kal16 flite:rms espeak:en-us+m1 espeak:en-us+m3 espeak:en-us+m5
 espeak:en-us+m7 espeak:en-us+f1 espeak:en-us+f2 espeak:en-us+f3 espeak:en-us+f4 espeak:en-us+f5 espeak:en-gb-x-rp+m1
 espeak:en-gb-x-rp+f3 espeak:en-gb-x-gbclan+m4 espeak:en-gb-x-gbcwmd+f2 espeak:en-029+m2 espeak:en-us-nyc+f4
 espeak:en-us+klatt2 espeak:en-us+Andy espeak:en-us+Annie espeak:en+Michael espeak:en-gb-scotland+m2"
# shellcheck disable=SC2086
$PY -m x3dtalker_core synth --out "$OUT/synth3h" --hours 3.0 --seed 0 --workers 2 --voices $VOICES \
    --val-voices flite:rms espeak:en-gb-scotland+m2
$PY -m x3dtalker_core train --config "$HERE/bootstrap_v2.yaml" --set "train.linguistic=$LING" \
    --data "$OUT/synth3h/train" --out "$OUT/run"
$PY -m x3dtalker_core train --config "$HERE/bootstrap_v2_finetune.yaml" --set "train.linguistic=$LING" \
    --set "train.init=$OUT/run/generator.safetensors" --data "$OUT/synth3h/train" --out "$OUT/finetune"
CKPT="$OUT/finetune/generator.safetensors"   # = x3dtalker_core/checkpoints/3dxtalker_bootstrap.safetensors
LIBRIVOX=/usr/share/pocketsphinx/test/data/librivox
$PY -m x3dtalker_core eval --checkpoint "$CKPT" --mode spec --real-speech $LIBRIVOX --out "$OUT/eval_real.json"
$PY -m x3dtalker_core eval --checkpoint "$CKPT" --mode spec --real-speech $LIBRIVOX --pause-gaps 0.4 1.0 \
    --out "$OUT/eval_real_pauses.json"
$PY -m x3dtalker_core eval --checkpoint "$CKPT" --mode spec --data "$OUT/synth3h/val" --out "$OUT/eval_val.json"
