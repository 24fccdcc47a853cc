#!/usr/bin/env bash
# Retrieval through Milvus Lite (dense + Milvus' BM25 over our stems) on the public sets, to compare
# with the FAISS + bm25s rows made by eval_public.sh (first stage: the stores, not the reranker, are
# compared, so hybrid runs with --no-rerank). JSON in benchmarks/results/*-milvus-*.json.
# Usage: bash benchmarks/milvus_vs_faiss.sh [path/to/shared/eval]
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${1:-../shared/eval}
export HF_HUB_OFFLINE=1
for set in piaf-fr squad-en; do
  for mode in lexical hybrid; do
    .venv/bin/python -m rag eval --corpus "$EVAL/$set/corpus.jsonl" --questions "$EVAL/$set/questions.jsonl" \
      --store milvus --mode "$mode" --no-rerank --no-answers --json "benchmarks/results/$set-milvus-$mode.json"
  done
done
