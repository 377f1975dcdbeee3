#!/usr/bin/env bash
# Train TV2TV and the benchmark's baselines on the same data with the same step budget, then
# benchmark them side by side (`tv2tv bench`).
#
#   bash scripts/train_baselines.sh DATA OUT [STEPS=2000] [CONFIG=small] [JUDGE=checkpoints/doom-small/judge]
#
# OUT/text (TV2TV), OUT/prompt (T2V), OUT/plan (Think2V), OUT/action_id: one run each, same
# config, batch, seed and --max-steps. Interrupted? Run the same command again: finished runs
# are skipped, an unfinished one resumes from its last checkpoint. The benchmark lands in OUT/bench.
# Runs in the background nicely: nohup bash scripts/train_baselines.sh ... > OUT.log 2>&1 &
#
# Environment:
#   CONDITIONS="text prompt plan action_id"  which runs to train (the order they start in)
#   JOBS=1             runs trained at once, one thread each when more than one (on this 2-core
#                      CPU two one-thread `small` runs made 155-165 steps/min each; one two-thread
#                      run makes 268)
#   CHECKPOINT=OUT/text   the TV2TV model the bench compares, e.g. checkpoints/doom-small when
#                      the baselines get the shipped model's step budget (CONDITIONS without text)
#   VAE=DIR TOKENIZER=DIR  other than the shipped ones; TV2TV=cmd  the tv2tv command; PYTHON=python
#   BENCH=0            stop after training (and SHIP): bench later, e.g. on fresh episodes
#   TRAIN_ARGS="..."   more `tv2tv train` flags, the same for every run (the recipe: e.g.
#                      "--lr 3e-4 --loss-action 0.1 --action-reader checkpoints/doom-small/action_reader")
#   SHIP=DIR           after the runs end, finished or stopped (SIGTERM to the script saves every
#                      run), export each one's fp16 weights to DIR/COND/model with its step
#                      (`tv2tv export-weights`), beside links to its VAE, tokenizer and start
#                      contexts: a
#                      checkpoint `tv2tv bench` loads, small enough for git (e.g.
#                      checkpoints/doom-small-baselines)
#   INIT_FROM=DIR      a run with no checkpoint of its own (a new machine) continues from the
#                      weights kept in git, DIR/COND/model (`tv2tv train --init-from`), e.g.
#                      checkpoints/doom-small-baselines; a finished one there is not retrained
#                      (SHIP=DIR INIT_FROM=DIR: a run spanning sessions, one commit of DIR each)
set -euo pipefail
DATA=${1:?usage: train_baselines.sh DATA OUT [STEPS] [CONFIG] [JUDGE]}
OUT=${2:?usage: train_baselines.sh DATA OUT [STEPS] [CONFIG] [JUDGE]}
STEPS=${3:-2000}
CONFIG=${4:-small}
JUDGE=${5:-checkpoints/doom-small/judge}
TV2TV=${TV2TV:-.venv/bin/tv2tv}   # the command to run (may be "python -m tv2tv_cli")
PYTHON=${PYTHON:-.venv/bin/python}
CONDITIONS=${CONDITIONS:-text prompt plan action_id}
JOBS=${JOBS:-1}
CHECKPOINT=${CHECKPOINT:-$OUT/text}
EXTRA=()
[ -n "${VAE:-}" ] && EXTRA+=(--vae "$VAE")
[ -n "${TOKENIZER:-}" ] && EXTRA+=(--tokenizer "$TOKENIZER")
read -r -a MORE <<< "${TRAIN_ARGS:-}"   # word-split on purpose: one string of flags
EXTRA+=("${MORE[@]}")
[ "$JOBS" -gt 1 ] && export OMP_NUM_THREADS=1
mkdir -p "$OUT"

train() {  # one conditioning; resumes an interrupted run, skips a finished one (train does)
  local COND=$1 RUN="$OUT/$1" RESUME=()
  [ -f "$RUN/ckpt/train_state.pt" ] && RESUME=(--resume)
  if [ -n "${INIT_FROM:-}" ] && [ -f "$INIT_FROM/$COND/model/model.safetensors" ]; then
    RESUME+=(--init-from "$INIT_FROM/$COND/model")
  fi
  echo "== $COND: $RUN (${STEPS} steps, config $CONFIG) $(date -u +%H:%M:%S)"
  $TV2TV train --data "$DATA" --out "$RUN" --config "$CONFIG" --max-steps "$STEPS" --batch-size 16 \
    --conditioning "$COND" --eval-every 2000 --no-samples --quiet "${RESUME[@]}" "${EXTRA[@]}" > "$RUN.log" 2>&1 \
    || { echo "!! $COND stopped or failed, see $RUN.log"; return 1; }
  echo "== $COND done $(date -u +%H:%M:%S)"
}

BASELINES=()
for COND in $CONDITIONS; do
  [ "$COND" != text ] && BASELINES+=("$OUT/$COND")
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  train "$COND" &
done
ship() {  # one conditioning's latest weights into $SHIP/COND, the layout `tv2tv bench` loads
  local COND=$1 DIR="$SHIP/$1"
  [ -f "$OUT/$COND/ckpt/train_state.pt" ] || return 0
  mkdir -p "$DIR"
  $TV2TV export-weights "$OUT/$COND" "$DIR/model"
  ln -sfn "$(realpath --relative-to="$DIR" "${VAE:-checkpoints/doom-small/vae}")" "$DIR/vae"
  ln -sfn "$(realpath --relative-to="$DIR" "${TOKENIZER:-checkpoints/doom-small/tokenizer}")" "$DIR/tokenizer"
  # start contexts (latents of the same VAE): the compared checkpoint's, else the run's own
  if [ -f "$CHECKPOINT/contexts.npz" ]; then
    ln -sfn "$(realpath --relative-to="$DIR" "$CHECKPOINT/contexts.npz")" "$DIR/contexts.npz"
  else
    cp "$OUT/$COND/contexts.npz" "$DIR/contexts.npz"
  fi
}

wait_for() {  # job $1's exit status; a trapped signal interrupts `wait`, so wait again while it runs
  local st
  while :; do wait "$1"; st=$?; kill -0 "$1" 2>/dev/null || return "$st"; done
}

# SIGTERM/SIGINT to this script: every training run saves its checkpoint and stops (then SHIP).
trap 'for J in $(jobs -p); do pkill -TERM -P "$J" || true; done' TERM INT
FAILED=0
for PID in $(jobs -p); do wait_for "$PID" || FAILED=1; done
if [ -n "${SHIP:-}" ]; then for COND in $CONDITIONS; do ship "$COND"; done; fi
[ "$FAILED" = 0 ] || { echo "!! a run failed: not benchmarking"; exit 1; }
[ "${BENCH:-1}" = 0 ] && { echo "== trained (BENCH=0: no bench) $(date -u +%H:%M:%S)"; exit 0; }
echo "== bench $(date -u +%H:%M:%S)"
$TV2TV bench --checkpoint "$CHECKPOINT" --baselines "${BASELINES[@]}" --data "$DATA" --judge "$JUDGE" --out "$OUT/bench"
