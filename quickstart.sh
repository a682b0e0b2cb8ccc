#!/usr/bin/env bash
# One command from a fresh clone to a trained tiny model:
#   1. installs openpretrain (CPU torch) into .venv,
#   2. preps the embedded offline corpus (Python's own docs + stdlib sources) into WebDataset shards,
#   3. trains a tiny Llama with DeepSpeed ZeRO-2 on 2 CPU processes (W&B offline),
#   4. prints where the shards, checkpoint, metrics, report and W&B run are.
# Extra arguments are passed to training as Hydra overrides, e.g. `bash quickstart.sh max_steps=200`.
set -euo pipefail
cd "$(dirname "$0")"

bash scripts/setup_venv.sh
PYTHON=.venv/bin/python  # called by its path, so this works in any shell, now or later

# DeepSpeed JIT-builds its CPU ops once per cache: one cache per .venv, so a fresh venv never meets a
# half-written build or a stale lock that a killed process left in ~/.cache, and checkouts never race.
export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$PWD/.venv/torch_extensions}"
export DS_ACCELERATOR="${DS_ACCELERATOR:-cpu}" WANDB_MODE="${WANDB_MODE:-offline}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
DATA=runs/quickstart/data
RUN=runs/quickstart/train

"$PYTHON" -m data_prep out_dir="$DATA" seq_len=128 tokenizer.vocab_size=4096
"$PYTHON" -m torch.distributed.run --standalone --nproc-per-node=2 -m train +experiment=quickstart \
  data.path="$DATA" run_dir="$RUN" deepspeed=zero2 logger.mode=offline "$@"

echo
echo "== openpretrain quickstart done =="
echo "shards + manifest : $DATA/manifest.json ($DATA/train/, $DATA/val/)"
echo "data report       : $DATA/report.html"
echo "checkpoint        : $RUN/checkpoints/$(cat "$RUN/checkpoints/latest" 2>/dev/null || echo '?')"
echo "metrics           : $RUN/metrics.jsonl"
echo "W&B (offline) run : $(ls -d "$RUN"/wandb/offline-run-* 2>/dev/null | tail -n 1)  (upload: wandb sync <dir>)"
echo "next              : $PYTHON -m train.generate checkpoint=$RUN 'prompt=\"def \"' max_new_tokens=40"
