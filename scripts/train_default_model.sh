#!/usr/bin/env bash
# Train the default Doom world model end to end from recorded play.
#
# Usage: scripts/train_default_model.sh [DATA] [RUN] [MINUTES] [WORKERS] [EPISODES] [BATCH] [CONFIG]
#   DATA      recording directory        (default data/doom; recorded if missing)
#   RUN       run directory              (default runs/doom-small; resumed if it holds a checkpoint)
#   MINUTES   training wall time         (default 120)
#   WORKERS   recording processes        (default 2)
#   EPISODES  episodes of <= 300 chunks  (default 300)
#   BATCH     windows per step           (default 16 on a CPU; 128 suits one H100)
#   CONFIG    model config               (default small)
# Uses the shipped VAE and tokenizer (checkpoints/doom-small/{vae,tokenizer}); see
# scripts/train_default_vae.sh for how the VAE was made. Every stage skips work already done.
set -euo pipefail
DATA=${1:-data/doom}; RUN=${2:-runs/doom-small}; MIN=${3:-120}; WORKERS=${4:-2}; EPISODES=${5:-300}
BATCH=${6:-16}; CONFIG=${7:-small}
PY=${PYTHON:-python}
VAE=checkpoints/doom-small/vae; TOK=checkpoints/doom-small/tokenizer
if [ ! -f "$DATA/dataset.json" ]; then
    $PY -m tv2tv_env.cli record --game doom --episodes "$EPISODES" --max-chunks 300 --seed 0 \
        --workers "$WORKERS" --out "$DATA" --quiet
fi
$PY -m tv2tv_env.cli encode --data "$DATA" --vae "$VAE" --device auto
RESUME=""; [ -e "$RUN/ckpt/train_state.pt" ] && RESUME=--resume
$PY -m tv2tv_env.cli train --data "$DATA" --out "$RUN" --config "$CONFIG" --max-minutes "$MIN" \
    --max-steps 10000000 --batch-size "$BATCH" --eval-every 500 --quiet $RESUME
