#!/usr/bin/env bash
# Reproduce the shipped default model (checkpoints/doom-small) end to end, then benchmark it
# against baselines trained on the same data with the same budget.
#
#   nohup bash scripts/reproduce_default_model.sh [OUT=runs/repro] [MINUTES=75] [BASELINE_STEPS] > repro.log 2>&1 &
#
# BASELINE_STEPS defaults to the steps the TV2TV run reached in MINUTES: the same budget.
#
# Stages (each skips work already done; run the same command again after an interruption and
# training resumes from its last checkpoint):
#   1. record 400 Doom episodes for the VAE and train it     scripts/train_default_vae.sh
#   2. record 300 Doom episodes (seed 0) for the world model  tv2tv record
#   3. the tokenizer, the latent cache                        tv2tv tokenizer, tv2tv encode
#   4. the `small` TV2TV model for MINUTES minutes            tv2tv train (scripts/train_default_model.sh)
#   5. start contexts and fp16 export into OUT/doom-small     tv2tv contexts, scripts/export_weights.py
#   6. the inverse-dynamics judge, on 1,203 episodes recorded  tv2tv record, tv2tv train-judge
#      for it alone (seeds 10000+), measured on DATA's held-out split
#   7. T2V, Think2V and action-id at BASELINE_STEPS steps each (two at a time), and
#      `tv2tv bench` on them and the exported model           scripts/train_baselines.sh
# On a GPU (device tool) stage 1 takes minutes; on 2 CPU cores expect hours for stages 1 and 4.
set -euo pipefail
OUT=${1:-runs/repro}; MIN=${2:-75}; STEPS=${3:-}
PY=${PYTHON:-.venv/bin/python}
T="$PY -m tv2tv_env.cli"
DATA=$OUT/data-doom; CK=$OUT/doom-small
mkdir -p "$OUT" "$CK"
[ -f "$CK/vae/config.json" ] || { PYTHON=$PY bash scripts/train_default_vae.sh "$OUT/data-vae" "$CK/vae" 120 2 400 256; }
[ -f "$DATA/dataset.json" ] || $T record --game doom --episodes 300 --max-chunks 300 --seed 0 --workers 2 --out "$DATA" --quiet
[ -f "$CK/tokenizer/tokenizer.json" ] || $T tokenizer --game doom --data "$DATA" --out "$CK/tokenizer"
$T encode --data "$DATA" --vae "$CK/vae" --quiet
RESUME=(); [ -f "$OUT/run/ckpt/train_state.pt" ] && RESUME=(--resume)
$T train --data "$DATA" --out "$OUT/run" --config small --max-minutes "$MIN" --max-steps 10000000 --batch-size 16 \
  --vae "$CK/vae" --tokenizer "$CK/tokenizer" --eval-every 500 --quiet "${RESUME[@]}"
$PY scripts/export_weights.py "$OUT/run" "$CK/model"
cp "$OUT/run/contexts.npz" "$CK/contexts.npz"
if [ ! -f "$CK/judge/model.safetensors" ]; then
  # The shipped judge's recording was made in two runs (the first stopped after 543 episodes): the same seeds.
  [ -f "$OUT/data-doom-judge/dataset.json" ] || {
    $T record --game doom --episodes 543 --max-chunks 300 --seed 10000 --workers 2 --heldout 0.05 --out "$OUT/data-doom-judge" --quiet
    $T record --game doom --episodes 660 --max-chunks 300 --seed 11200 --workers 2 --heldout 0.05 --out "$OUT/data-doom-judge" --quiet; }
  $T train-judge --data "$OUT/data-doom-judge" --eval-data "$DATA" --out "$CK/judge" --minutes 45 --max-episodes 2000 \
    --channels 64 --quiet
fi
[ -n "$STEPS" ] || STEPS=$($PY -c "import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])['step'])" \
  "$OUT/run/metrics.jsonl")
TV2TV="$T" VAE="$CK/vae" TOKENIZER="$CK/tokenizer" CONDITIONS="prompt plan action_id" JOBS=2 CHECKPOINT="$CK" \
  bash scripts/train_baselines.sh "$DATA" "$OUT/baselines" "$STEPS" small "$CK/judge"  # bench in OUT/baselines/bench
