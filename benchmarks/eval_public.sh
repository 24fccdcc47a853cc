#!/usr/bin/env bash
# Retrieval (dense, BM25, hybrid) and extractive answers on the public eval sets; JSON in benchmarks/results/.
# Usage: bash benchmarks/eval_public.sh [path/to/shared/eval]
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${1:-../shared/eval}
mkdir -p benchmarks/results
export HF_HUB_OFFLINE=1
for set in piaf-fr squad-en; do
  other=$([ "$set" = piaf-fr ] && echo squad-en || echo piaf-fr)
  for mode in dense lexical; do
    .venv/bin/python -m rag eval --corpus "$EVAL/$set/corpus.jsonl" --questions "$EVAL/$set/questions.jsonl" \
      --mode "$mode" --no-answers --json "benchmarks/results/$set-$mode.json"
  done
  # Hybrid retrieval + answers; the other set's questions are the unanswerable ones for the gate.
  .venv/bin/python -m rag eval --corpus "$EVAL/$set/corpus.jsonl" --questions "$EVAL/$set/questions.jsonl" \
    --unanswerable "$EVAL/$other/questions.jsonl" --json "benchmarks/results/$set-hybrid.json"
done
