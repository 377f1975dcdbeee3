#!/usr/bin/env bash
# Train TV2TV and the benchmark's baselines on the same data with the same step budget, one
# after another, then benchmark them side by side (`tv2tv bench`).
#
#   bash scripts/train_baselines.sh DATA OUT [STEPS=2000] [CONFIG=small] [JUDGE=checkpoints/doom-small/judge]
#
# OUT/text (TV2TV), OUT/prompt (T2V), OUT/plan (Think2V), OUT/action_id: one run each, same
# config, batch, seed and --max-steps. Interrupted? Run the same command again: finished runs
# are skipped, an unfinished one resumes from its last checkpoint. The benchmark lands in OUT/bench.
# Runs in the background nicely: nohup bash scripts/train_baselines.sh ... > OUT.log 2>&1 &
set -euo pipefail
DATA=${1:?usage: train_baselines.sh DATA OUT [STEPS] [CONFIG] [JUDGE]}
OUT=${2:?usage: train_baselines.sh DATA OUT [STEPS] [CONFIG] [JUDGE]}
STEPS=${3:-2000}
CONFIG=${4:-small}
JUDGE=${5:-checkpoints/doom-small/judge}
TV2TV=${TV2TV:-.venv/bin/tv2tv}   # the command to run (may be "python -m tv2tv_env.cli")
EXTRA=()                           # VAE=DIR TOKENIZER=DIR: other than the shipped ones
[ -n "${VAE:-}" ] && EXTRA+=(--vae "$VAE")
[ -n "${TOKENIZER:-}" ] && EXTRA+=(--tokenizer "$TOKENIZER")
mkdir -p "$OUT"
for COND in text prompt plan action_id; do
  RUN="$OUT/$COND"
  RESUME=()
  [ -f "$RUN/ckpt/train_state.pt" ] && RESUME=(--resume)
  echo "== $COND: $RUN (${STEPS} steps, config $CONFIG) $(date -u +%H:%M:%S)"
  $TV2TV train --data "$DATA" --out "$RUN" --config "$CONFIG" --max-steps "$STEPS" --batch-size 16 \
    --conditioning "$COND" --eval-every 500 --no-samples --quiet "${RESUME[@]}" "${EXTRA[@]}"
done
echo "== bench $(date -u +%H:%M:%S)"
$TV2TV bench --checkpoint "$OUT/text" --baselines "$OUT/prompt" "$OUT/plan" "$OUT/action_id" \
  --data "$DATA" --judge "$JUDGE" --out "$OUT/bench"
