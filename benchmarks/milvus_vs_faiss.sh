#!/usr/bin/env bash
# Retrieval from an index held in Milvus Lite (dense + Milvus' BM25 over our stems) against the local
# index (FAISS flat + bm25s), same harness, same corpora, on the public sets. The first stage is
# compared (hybrid runs with --no-rerank: the reranker reads what either store returns).
# JSON in benchmarks/results/<set>-<flat|milvus>-<mode>.json.
# Usage: bash benchmarks/milvus_vs_faiss.sh [path/to/shared/eval]
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${1:-../shared/eval}
export HF_HUB_OFFLINE=1
for set in piaf-fr squad-en; do
  for store in flat milvus; do
    for mode in lexical hybrid; do
      .venv/bin/python -m rag eval --corpus "$EVAL/$set/corpus.jsonl" --questions "$EVAL/$set/questions.jsonl" \
        --store "$store" --mode "$mode" --no-rerank --no-answers --json --output "benchmarks/results/$set-$store-$mode.json" \
        > /dev/null
    done
  done
done
.venv/bin/python - <<'PY'
import json
print("| set | retriever | R@1 FAISS / Milvus | R@5 | R@10 | MRR@10 | p50 ms |")
print("|---|---|---|---|---|---|---|")
for s in ("piaf-fr", "squad-en"):
    for mode, name in (("lexical", "BM25"), ("hybrid", "hybrid")):
        f, m = (json.load(open(f"benchmarks/results/{s}-{x}-{mode}.json")) for x in ("flat", "milvus"))
        cells = [f"{f[k]:.3f} / {m[k]:.3f}" for k in ("recall@1", "recall@5", "recall@10", "mrr@10")]
        print(f"| {s} | {name} | {' | '.join(cells)} | {f['retrieval_ms_p50']:.1f} / {m['retrieval_ms_p50']:.1f} |")
PY
