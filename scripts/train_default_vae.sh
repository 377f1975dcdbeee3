#!/usr/bin/env bash
# Record Doom play and train the default frame VAE on it (the first stage of the shipped model).
#
# Usage: scripts/train_default_vae.sh [DATA_DIR] [OUT_DIR] [MINUTES] [WORKERS] [EPISODES] [BATCH]
#   DATA_DIR  where the recording goes            (default data/doom-vae)
#   OUT_DIR   where the VAE goes (diffusers layout) (default runs/vae-doom)
#   MINUTES   training wall time                  (default 120; 7 on an H100 was enough for 28+ dB)
#   WORKERS   recording processes                 (default 2)
#   EPISODES  episodes of up to 300 chunks        (default 400)
#   BATCH     frames per training step            (default 256)
# Recording uses seeds from 100000, so these episodes never coincide with seed-0 test data.
set -euo pipefail
DATA=${1:-data/doom-vae}; OUT=${2:-runs/vae-doom}; MIN=${3:-120}; WORKERS=${4:-2}; EPISODES=${5:-400}; BATCH=${6:-256}
PY=${PYTHON:-python}
$PY -m tv2tv_env.cli record --game doom --episodes "$EPISODES" --max-chunks 300 --seed 100000 \
    --workers "$WORKERS" --out "$DATA" --quiet
$PY -m tv2tv_env.cli validate "$DATA"
$PY -m tv2tv_env.cli train-vae --data "$DATA" --out "$OUT" --max-minutes "$MIN" --max-steps 10000000 \
    --batch "$BATCH" --lr 1e-3 --eval-every 1000 --quiet
